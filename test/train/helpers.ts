import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'fitspec.js');

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `fitspec-${prefix}-`));
}

/** Runs the CLI as a user would and returns its exit code and output. */
export function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the CLI and resolves when `until` matches its output; the caller decides what to do with the process. */
export function cliUntil(args: string[], cwd: string, until: RegExp, env: NodeJS.ProcessEnv = {}) {
  const p = cliProcess(args, cwd, env);
  const matched = new Promise<void>((resolve, reject) => {
    const check = () => until.test(p.output()) && resolve();
    p.child.stdout.on('data', check);
    p.child.stderr.on('data', check);
    p.child.on('exit', (code) => reject(new Error(`exited with ${code} before matching ${until}:\n${p.output()}`)));
  });
  return { ...p, matched };
}

/** fitspec running in the background: its stdout and stderr together, and its exit code to come. */
export function cliProcess(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  return { child, exited, output: () => out };
}

/**
 * A tiny experiment in `dir`/tiny.yaml: 32x32 images, a two-layer CNN, a couple of epochs. Its tracking block says `logModel: never` unless `logModel` asks otherwise
 * (`'default'`: no line): a tracked run would otherwise convert its model, and on a fresh machine
 * install the conversion environment first (minutes), which only the model tests want.
 */
export function tinyExperiment(dir: string, dataDir: string, extra = '', logModel: 'auto' | 'always' | 'never' | 'default' = 'never'): string {
  const file = path.join(dir, 'tiny.yaml');
  fs.writeFileSync(
    file,
    `name: tiny
seed: 3
data:
  source: {type: directory, path: ${dataDir}}
  image: {height: 32, width: 32}
  split: {train: 8, validation: 4}
model:
  layers:
    - conv2d: {filters: 4, kernelSize: 3, activation: relu}
    - maxPooling2d: {poolSize: 2}
    - flatten: {}
    - dense: {units: 3, activation: softmax}
train:
  epochs: 2
  batchSize: 8
  optimizer: {name: adam, learningRate: 0.01}
tracking:
  runsDir: ${path.join(dir, 'runs')}
${logModel === 'default' ? '' : `  logModel: ${logModel}\n`}${extra}`,
  );
  return file;
}

export function onlyRun(runsDir: string, name = 'tiny'): string {
  const dirs = fs.readdirSync(path.join(runsDir, name));
  if (dirs.length !== 1) throw new Error(`expected one run, found ${dirs.join(', ')}`);
  return path.join(runsDir, name, dirs[0]!);
}

export function isPng(file: string): boolean {
  const b = fs.readFileSync(file);
  return b.length > 100 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
}

export function synth(out: string, perClass = 12): void {
  const r = cli(['data', 'synth', '--out', out, '--per-class', String(perClass), '--layout', 'directory', '--seed', '5'], ROOT);
  if (r.code !== 0) throw new Error(`synth failed: ${r.stderr}`);
}

/** Every point of a run's metrics.jsonl but the timings, as sorted `step key value` lines: what a rerun must repeat. */
export function repeatableMetrics(runDir: string): string[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { key: string; value: number; step: number })
    .filter((p) => !['epoch_time', 'images_per_sec'].includes(p.key))
    .map((p) => `${p.step} ${p.key} ${p.value}`)
    .sort();
}
