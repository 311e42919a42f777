import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointStatus } from '../../src/train/checkpoint-files.js';
import { cli, cliUntil, onlyRun, synth, tinyExperiment, tmpDir } from './helpers.js';

/**
 * A damaged run folder (a checkpoint file truncated or with flipped bytes, a torn metrics line) and a
 * full disk, as a user meets them: through the CLI. The full disk is a real one: a small tmpfs
 * (tests run as root, as CI does).
 */
let dataDir: string;
const mounts: string[] = [];

beforeAll(() => {
  dataDir = path.join(tmpDir('data'), 'faces');
  synth(dataDir, 12);
});
afterAll(() => {
  for (const m of mounts) spawnSync('umount', ['-l', m]);
});

const EPOCHS = 4;

function experiment(dir: string, extra = ''): string {
  const file = tinyExperiment(dir, dataDir, extra);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('epochs: 2', `epochs: ${EPOCHS}`));
  return file;
}

/** A run stopped by SIGTERM after its second epoch: `checkpoint` (epoch 2 or later) and `checkpoint.old` (the one before). */
async function killedRun(): Promise<string> {
  const dir = tmpDir('damaged');
  const p = cliUntil(['train', experiment(dir), '--no-progress'], dir, new RegExp(`epoch 2/${EPOCHS}:`));
  await p.matched;
  p.child.kill('SIGTERM');
  expect(await p.exited).toBe(130);
  const run = onlyRun(path.join(dir, 'runs'));
  expect(fs.existsSync(path.join(run, 'checkpoint.old', 'state.json'))).toBe(true);
  return run;
}

function losses(run: string): number[][] {
  const rows = parse(fs.readFileSync(path.join(run, 'metrics.csv')), { columns: true }) as Record<string, string>[];
  return rows.map((r) => [Number(r.loss), Number(r.val_loss)]);
}

function flipBytes(file: string): void {
  const b = fs.readFileSync(file);
  for (let i = 100; i < 104; i++) b[i] = b[i]! ^ 0xff;
  fs.writeFileSync(file, b);
}

function stateJson(run: string): string {
  return JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).status;
}

describe('a damaged checkpoint', () => {
  let whole: number[][];
  let killed: string;
  beforeAll(async () => {
    const dir = tmpDir('whole');
    expect(cli(['train', experiment(dir), '--no-progress'], dir).code).toBe(0);
    whole = losses(onlyRun(path.join(dir, 'runs')));
    killed = await killedRun();
  }, 300_000);

  function copy(): string {
    const to = path.join(tmpDir('copy'), path.basename(killed));
    fs.cpSync(killed, to, { recursive: true });
    return to;
  }

  it('four flipped bytes in weights.bin: resume says so, falls back to the previous checkpoint and repeats the uninterrupted run', () => {
    const run = copy();
    const kept = checkpointStatus(run).usable!.state.epoch;
    flipBytes(path.join(run, 'checkpoint', 'model', 'weights.bin'));
    const r = cli(['train', '--resume', run, '--no-progress'], path.dirname(run));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${path.join(run, 'checkpoint', 'model', 'weights.bin')} does not match the checksum recorded when it was written`);
    expect(r.stdout).toContain(`resuming from the previous good checkpoint instead (epoch ${kept}, ${path.join(run, 'checkpoint.old')})`);
    const resumed = losses(run);
    expect(resumed).toHaveLength(EPOCHS);
    resumed.forEach(([loss, val], i) => {
      expect(loss, `loss, epoch ${i + 1}`).toBeCloseTo(whole[i]![0]!, 5);
      expect(val, `val_loss, epoch ${i + 1}`).toBeCloseTo(whole[i]![1]!, 5);
    });
    // No epoch logged twice although the damaged epoch was trained again.
    const points = fs
      .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; step: number });
    const loss = points.filter((p) => p.key === 'loss').map((p) => p.step);
    expect(loss).toEqual([0, 1, 2, 3]);
  }, 300_000);

  it('a resume with other threads than the checkpoint was written with warns that it will not repeat the run', () => {
    const run = copy();
    const state = JSON.parse(fs.readFileSync(path.join(run, 'checkpoint', 'state.json'), 'utf8'));
    expect(state.runtime.threads.intraOp).toBeGreaterThan(0);
    const other = state.runtime.threads.intraOp === 1 ? '2' : '1';
    const r = cli(['train', '--resume', run, '--no-progress'], path.dirname(run), { TF_NUM_INTRAOP_THREADS: other });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `warning: this session runs with ${other} intra-op / ${state.runtime.threads.interOp} inter-op threads instead of ${state.runtime.threads.intraOp} intra-op`,
    );
    const record = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    expect(record.tags['fitspec.threads']).toBe(`${other}/${state.runtime.threads.interOp}`);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8')).threads.intraOp).toBe(Number(other));
  }, 120_000);

  it.each([
    ['weights.bin truncated', 'model/weights.bin', (f: string) => fs.truncateSync(f, 64), 'has 64 bytes'],
    ['optimizer.bin empty', 'optimizer.bin', (f: string) => fs.writeFileSync(f, ''), 'has 0 bytes'],
    ['optimizer.json truncated', 'optimizer.json', (f: string) => fs.truncateSync(f, 20), 'has 20 bytes'],
    ['state.json corrupt', 'state.json', (f: string) => fs.writeFileSync(f, '{"epoch": 1, "hist'), 'is not a checkpoint state'],
  ])(
    '%s and no earlier checkpoint: exit 2 naming the file, the run left as it was',
    (_, rel, damage, why) => {
      const run = copy();
      fs.rmSync(path.join(run, 'checkpoint.old'), { recursive: true });
      damage(path.join(run, 'checkpoint', rel));
      const before = stateJson(run);
      const r = cli(['train', '--resume', run, '--no-progress'], path.dirname(run));
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain('[checkpoint.damaged]');
      expect(r.stderr).toContain(`${path.join(run, 'checkpoint', rel)} ${why}`);
      expect(r.stderr).not.toMatch(/internal error|before its first epoch/);
      expect(stateJson(run)).toBe(before);
    },
    120_000,
  );

  it('a torn last line of metrics.jsonl is cut back on resume, the epoch relogged, and sync reads the file', () => {
    const run = copy();
    const file = path.join(run, 'metrics.jsonl');
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    // The last epoch's last point torn mid-write.
    fs.writeFileSync(file, lines.slice(0, -1).join('\n') + '\n' + lines.at(-1)!.slice(0, 15));
    const r = cli(['train', '--resume', run, '--no-progress'], path.dirname(run));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/torn line/);
    const points = fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; step: number });
    for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy'])
      expect(
        points.filter((p) => p.key === key).map((p) => p.step),
        key,
      ).toEqual([0, 1, 2, 3]);
  }, 120_000);
});

/** A tmpfs of `size` mounted at a new folder. */
function smallDisk(size: string): string {
  const dir = tmpDir('disk');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`this test mounts a small tmpfs and needs root (as CI has): ${r.stderr}`);
  mounts.push(dir);
  return dir;
}

/** Writes until the filesystem is full. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = fs.openSync(file, 'w');
  const chunks = [Buffer.alloc(65536, 1), Buffer.alloc(512, 1), Buffer.alloc(1, 1)];
  for (const c of chunks) {
    try {
      for (;;) fs.writeSync(fd, c);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    }
  }
  fs.closeSync(fd);
  return file;
}

function allFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('a full disk', () => {
  it('runs folder: exit 2 naming the full path and the space needed; FAILED, last checkpoint intact, no half-written file; resumable once there is space', async () => {
    const disk = smallDisk('2m');
    const dir = tmpDir('full');
    const file = tinyExperiment(dir, dataDir);
    fs.writeFileSync(
      file,
      fs
        .readFileSync(file, 'utf8')
        .replace('epochs: 2', 'epochs: 40')
        .replace(`runsDir: ${path.join(dir, 'runs')}`, `runsDir: ${disk}`),
    );
    const p = cliUntil(['train', file, '--no-progress'], dir, /epoch 2\/40:/);
    await p.matched;
    const filler = fill(disk);
    const code = await p.exited;
    const out = p.output();
    expect(code, out).toBe(2);
    expect(out).toContain('[disk.full] No space left on the filesystem of ');
    expect(out).toMatch(/needs about [\d.]+ (KB|bytes)/);
    expect(out).not.toMatch(/internal error|\n\s+at /);
    const run = onlyRun(disk);
    const record = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    expect(record.status).toBe('FAILED');
    expect(record.error).toMatch(/No space left/);
    expect(fs.existsSync(path.join(run, 'checkpoint.tmp'))).toBe(false);
    const files = allFiles(run);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    for (const f of files.filter((f) => f.endsWith('.json'))) expect(() => JSON.parse(fs.readFileSync(f, 'utf8')), f).not.toThrow();
    const status = checkpointStatus(run);
    expect(status.damaged).toEqual([]);
    expect(status.usable?.name).toBe('checkpoint');

    fs.rmSync(filler);
    const r = cli(['train', '--resume', run, '--no-progress'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).status).toBe('FINISHED');
  }, 300_000);

  it('decode cache: a warning and training without the cache', () => {
    const cache = smallDisk('64k');
    const dir = tmpDir('cachefull');
    const file = tinyExperiment(dir, dataDir);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('  image: {height: 32, width: 32}', '  image: {height: 32, width: 32}\n  cache: disk'));
    const r = cli(['train', file, '--no-progress'], dir, { XDG_CACHE_HOME: cache });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/no space left for the image cache in .* \(it needs about [\d.]+ KB, [\d.]+ (KB|bytes) free\): decoding every epoch without the cache/);
    expect(allFiles(cache).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 120_000);
});

describe('the native addon', () => {
  it('is found with XDG_CACHE_HOME set elsewhere than at install: training runs on the graph engine', () => {
    const dir = tmpDir('xdg');
    const r = cli(['train', tinyExperiment(dir, dataDir), '--no-progress'], dir, { XDG_CACHE_HOME: tmpDir('xdg-cache') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/engine: graph/);
    expect(r.stdout + r.stderr).not.toMatch(/eager engine/);
  }, 120_000);
});
