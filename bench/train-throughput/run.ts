/**
 * Training throughput of the notebook's models: fitspec on native TensorFlow (graph engine and
 * eager engine) vs Keras 3 on TensorFlow vs fitspec's pure-JS backend, on the same generated
 * images, in one run. The baseline CNN at every size; the BN/Dropout model and the small ResNet
 * of step 06 at 128x128 and the frozen VGG16 head at 64x64.
 *
 *   npm run bench:train [-- --seconds=15 --steps=N --warmup=3 --rounds=3 --eager-rounds=1 --paired-seconds=40 --settle=20 --max-others=0.1 --retries=3 --retry-wait=30 --sizes=128,64
 *                           --models=baseline,bn-dropout,vgg16-head,resnet --engines=graph,eager
 *                           --cpu-size=64 --cpu-batch=4 --no-keras --no-keras-onednn --no-cpu]
 *
 * Every worker times at least `--seconds` of training (and at least 5 steps) after its warm-up
 * steps; `--steps=N` times exactly N steps instead. Rounds alternate the order of fitspec and Keras
 * (fitspec first, Keras first, ...) so a slow minute of the machine hits both sides alike; each row
 * reports the median and the best of its rounds, and the ratios against Keras come from the medians,
 * followed by the ratio within each round and the median of those (a virtual machine whose host
 * slows it down without showing steal moves a whole round, both sides alike).
 * The eager engine, a reference far from Keras, runs `--eager-rounds` rounds (default 1).
 *
 * Then the paired phase (`--paired-seconds` of steps per side, 0 leaves it out; `--rounds=0` runs it
 * alone): per row, the graph engine and Keras (and Keras with oneDNN, below) are all started and
 * warmed up, then take one timed step each in turn, in alternating order, until every side has
 * trained that long. Rounds of separate processes minutes apart cannot tell a 10% difference on a
 * host whose speed drifts by 40% over minutes; neighbouring steps share the host's state. The
 * waiting workers sleep on stdin; `others` (the CPU the rest of the machine, waiting workers included,
 * used during a side's steps) shows whether they really did.
 *
 * Before each worker the runner waits (at most `--settle` seconds) until the whole machine has been
 * idle for a second: the previous worker's exit, freeing a gigabyte, or other work can keep a core
 * busy for seconds, and a worker that starts timing then loses part of a core. Each worker reports
 * the CPU the rest of the machine used during its timed steps (`others`); a worker during which that
 * exceeded `--max-others` cores (host steal included) is disturbed: it runs again after `--retry-wait`
 * seconds (at most `--retries` times), and a disturbed round never enters a median; the table shows
 * it with a `!`, and a row with only disturbed rounds says it is not a result.
 *
 * The pure-JS step uses a batch of 4 by default: one batch of 32 at 64x64 takes over five minutes,
 * and that single-threaded backend's images/s hardly depends on the batch size.
 *
 * fitspec turns TensorFlow's oneDNN kernels on where TensorFlow leaves them off (see src/backend.ts);
 * every worker reports which kernels it ran (`kernels`). When Keras ran on Eigen by default, each
 * Keras round runs a second time with TF_ENABLE_ONEDNN_OPTS=1 (unless `--no-keras-onednn`): the
 * ratios are given against Keras as installed and against Keras on the same kernels as fitspec.
 * TF_ENABLE_ONEDNN_OPTS=0 (or 1) in the runner's environment sets the kernels of every side.
 *
 * Keras runs in the bench-local virtual environment .bench/venv (created on first use with
 * `pip install tensorflow-cpu==<pinned> keras`). Each worker is its own process and reports its peak RSS.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { TF_VERSION } from '../../scripts/native/layout.mjs';
import { BATCH, BENCH_MODELS, busyCores, generate, imagesFile, labelsFile, machineTicks, type BenchModel, type WorkerResult } from './common.js';

const root = resolve(import.meta.dirname, '..', '..');
const benchDir = join(root, '.bench');
const dataDir = join(benchDir, 'train-throughput');
const venv = join(benchDir, 'venv');
const venvPython = join(venv, 'bin', 'python');

const opts = parseArgs(process.argv.slice(2));
const sizes = String(opts.sizes ?? '128,64')
  .split(',')
  .map(Number);
const warmup = Number(opts.warmup ?? 3);
const rounds = Number(opts.rounds ?? 3);
const eagerRounds = Math.min(rounds, Number(opts['eager-rounds'] ?? 1));
const settleSeconds = Number(opts.settle ?? 20);
/**
 * A worker during which the rest of the machine used more than this many cores is disturbed: it is
 * run again after `--retry-wait` seconds, at most `--retries` times, and never counted in a median.
 */
const maxOthers = Number(opts['max-others'] ?? 0.1);
const retries = Number(opts.retries ?? 3);
// On a shared host, steal comes in spells of minutes and shows only under load: an idle check
// before the retry cannot see it, a pause can outlast it.
const retryWait = Number(opts['retry-wait'] ?? 30);
const cpuSize = Number(opts['cpu-size'] ?? 64);
const cpuBatch = Number(opts['cpu-batch'] ?? 4);
/** Timed work per worker: at least `minSteps` steps and at least `seconds` seconds. */
const timed = opts.steps !== undefined ? { minSteps: Number(opts.steps), seconds: 0 } : { minSteps: 5, seconds: Number(opts.seconds ?? 15) };
const timedLabel = timed.seconds ? `>= ${timed.seconds} s (>= ${timed.minSteps} steps)` : `${timed.minSteps} steps`;
/** Timed work per side in the paired phase (0: no paired phase). */
const pairedSeconds = Number(opts['paired-seconds'] ?? 40);
const models = String(opts.models ?? Object.keys(BENCH_MODELS).join(',')).split(',') as BenchModel[];
const engines = String(opts.engines ?? 'graph,eager').split(',');
/** Which sizes each model runs at: the baseline at all, the others where the notebook comparison needs them. */
const sizesOf = (m: BenchModel): number[] => (m === 'baseline' ? sizes : sizes.filter((s) => s === (m === 'vgg16-head' ? 64 : 128)));

function parseArgs(argv: string[]): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const a of argv) {
    const m = /^--(no-)?([\w-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    out[m[2]!] = m[1] ? false : (m[3] ?? true);
  }
  return out;
}

function ensureData(): void {
  mkdirSync(dataDir, { recursive: true });
  for (const size of new Set([...sizes, cpuSize])) {
    if (existsSync(imagesFile(dataDir, size))) continue;
    const { images, labels } = generate(size);
    writeFileSync(imagesFile(dataDir, size), images);
    writeFileSync(labelsFile(dataDir), labels);
  }
}

function ensureVenv(): string {
  const check = (): string | undefined => {
    if (!existsSync(venvPython)) return undefined;
    const r = spawnSync(venvPython, ['-c', 'import keras, tensorflow as tf; print(keras.__version__, tf.__version__)'], {
      encoding: 'utf8',
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
    });
    return r.status === 0 ? r.stdout.trim() : undefined;
  };
  const have = check();
  if (have?.endsWith(TF_VERSION)) return have;
  const python = process.env.FITSPEC_PYTHON ?? 'python3';
  console.log(`setting up ${venv} (tensorflow-cpu==${TF_VERSION}, keras); once only...`);
  if (!existsSync(venvPython)) run(python, ['-m', 'venv', venv], 'python -m venv');
  run(venvPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `tensorflow-cpu==${TF_VERSION}`, 'keras'], 'pip install');
  const now = check();
  if (!now) throw new Error('keras / tensorflow do not import in .bench/venv after installing them');
  return now;
}

function run(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${what} failed with ${r.status ?? r.signal}`);
}

/** Blocks the runner (nothing else runs in it between workers). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Blocks until the machine has been idle (under 0.15 cores busy) for two half-second samples in a row, or `settleSeconds` passed. */
function settle(): string {
  if (!settleSeconds) return '';
  const t0 = Date.now();
  let quiet = 0;
  while (Date.now() - t0 < settleSeconds * 1000) {
    const a = machineTicks();
    sleepSync(500);
    const busy = busyCores(a, machineTicks(), availableParallelism());
    if (busy === undefined) return '';
    quiet = busy < 0.15 ? quiet + 1 : 0;
    if (quiet === 2) return `, idle after ${((Date.now() - t0) / 1000).toFixed(1)} s`;
  }
  return `, NOT idle after ${settleSeconds} s`;
}

function worker(cmd: string, args: string[], label: string, env: Record<string, string> = {}): WorkerResult | undefined {
  for (let attempt = 1; ; attempt++) {
    const idle = settle();
    process.stdout.write(`  running ${label} (load ${loadavg()[0]!.toFixed(1)}${idle})... `);
    const started = Date.now();
    const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', ...env } });
    const last = r.stdout.trim().split('\n').pop() ?? '';
    let res: WorkerResult;
    try {
      res = JSON.parse(last) as WorkerResult;
    } catch {
      console.log('FAILED');
      console.log(
        `${r.stderr}`
          .trim()
          .split('\n')
          .slice(-12)
          .map((l) => `    ${l}`)
          .join('\n'),
      );
      return undefined;
    }
    res.disturbed = (res.otherCores ?? 0) > maxOthers;
    const again = res.disturbed && attempt <= retries;
    console.log(
      `${((Date.now() - started) / 1000).toFixed(0)} s, ${res.imagesPerSec.toFixed(1)} images/s, ${res.coresUsed?.toFixed(2) ?? '?'} cores used, others ${res.otherCores?.toFixed(2) ?? '?'}` +
        (again
          ? ` - disturbed (others above ${maxOthers}): not counted, again in ${retryWait} s`
          : res.disturbed
            ? ` - disturbed (others above ${maxOthers}), no retries left: shown, not counted`
            : ''),
    );
    if (!again) return res;
    sleepSync(retryWait * 1000);
  }
}
/** The command line of each side's worker; the paired phase starts the same ones in serve mode. */
const fitspecCommand = (backend: string, size: number, w: number, t: typeof timed, batch: number, engine: string, model: BenchModel): [string, string[]] => [
  process.execPath,
  [
    '--import',
    'tsx',
    join(import.meta.dirname, 'fitspec-worker.ts'),
    backend,
    String(size),
    String(w),
    String(t.minSteps),
    String(t.seconds),
    dataDir,
    String(batch),
    engine,
    model,
  ],
];
const kerasCommand = (size: number, t: typeof timed, model: BenchModel): [string, string[]] => [
  venvPython,
  [join(import.meta.dirname, 'keras_worker.py'), String(size), String(warmup), String(t.minSteps), String(t.seconds), dataDir, model],
];
const fitspecWorker = (backend: string, size: number, w: number, t: typeof timed, batch = BATCH, engine = 'eager', model: BenchModel = 'baseline'): WorkerResult | undefined =>
  worker(
    ...fitspecCommand(backend, size, w, t, batch, engine, model),
    `fitspec ${backend} ${engine} engine, ${model} ${size}x${size}, batch ${batch}, ${w} warm-up + ${t === timed ? timedLabel : `${t.minSteps} steps`}`,
  );
const kerasWorker = (size: number, model: BenchModel, onednn = false): WorkerResult | undefined =>
  worker(
    ...kerasCommand(size, timed, model),
    `keras${onednn ? ' with TF_ENABLE_ONEDNN_OPTS=1' : ''} ${model} ${size}x${size}, ${warmup} warm-up + ${timedLabel}`,
    onednn ? { TF_ENABLE_ONEDNN_OPTS: '1' } : {},
  );
/** Keras again with oneDNN forced on, when its default was Eigen and the environment does not set the kernels. */
const kerasOnednn = opts['keras-onednn'] !== false && process.env.TF_ENABLE_ONEDNN_OPTS === undefined;

// ---------------------------------------------------------------------------------------------

const load0 = loadavg()[0]!;
console.log(
  "train-throughput: the notebook's models, RMSprop lr 1e-4 (resnet: Adam lr 1e-3), categorical crossentropy, batch 32, same generated uint8 images (/255) on every side",
);
console.log('  baseline: Conv2D 32-64-128-128-128 3x3 relu + MaxPool 2, Dense 512 relu, Dense 3 softmax (128x128: valid padding as in the notebook; below: same)');
console.log('  bn-dropout: the baseline with BatchNormalization(axis=1) after every conv and Dense 512, Dropout 0.3 (128x128)');
console.log('  vgg16-head: VGG16 base frozen, Flatten, Dense 256 relu, Dense 3 softmax (64x64)');
console.log('  resnet: experiments/06-resnet.yaml, stem + 3 stages of 2 basic residual blocks (32-64-128), BatchNormalization, global pooling, Dropout 0.3 (128x128)');
console.log('  fitspec engines: graph = one TensorFlow session run per step; eager = tfjs op by op');
ensureData();
let kerasVersion: string | undefined;
if (opts.keras !== false) kerasVersion = ensureVenv();

const started = Date.now();
const results: WorkerResult[] = [];
for (const model of models) {
  for (const size of sizesOf(model)) {
    for (let r = 0; r < rounds; r++) {
      const fitspec = () => {
        for (const engine of engines) {
          if (engine === 'eager' && r >= eagerRounds) continue;
          const a = fitspecWorker('tensorflow', size, warmup, timed, BATCH, engine, model);
          if (a) results.push({ ...a, round: r });
        }
      };
      const keras = () => {
        const b = kerasVersion ? kerasWorker(size, model) : undefined;
        if (b) results.push({ ...b, round: r });
        if (b?.kernels === 'Eigen' && kerasOnednn) {
          const c = kerasWorker(size, model, true);
          if (c) results.push({ ...c, round: r });
        }
      };
      // fitspec, Keras | Keras, fitspec | ...: a slow minute of the machine hits both sides of a row.
      if (r % 2 === 0) {
        fitspec();
        keras();
      } else {
        keras();
        fitspec();
      }
    }
  }
}
if (opts.cpu !== false) {
  const c = fitspecWorker('cpu', cpuSize, 0, { minSteps: 1, seconds: 0 }, cpuBatch);
  if (c) results.push(c);
}

/** User + system CPU time of a process in clock ticks (/proc/<pid>/stat, as /proc/stat counts), else undefined. */
function processTicks(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

/** A worker kept running between timed steps (FITSPEC_BENCH_SERVE=1): one step per `step()`, its milliseconds back. */
interface Served {
  label: string;
  /** The CPU kernels the worker runs on, from its `ready <kernels>` line. */
  kernels: string;
  ms: number[];
  /** Cores the rest of the machine (the waiting sides included) kept busy during this side's steps, on average. */
  others(): number | undefined;
  step(): Promise<number>;
  end(): Promise<WorkerResult | undefined>;
}

async function serve(cmd: string, args: string[], label: string, env: Record<string, string> = {}): Promise<Served | undefined> {
  process.stdout.write(`  starting ${label}... `);
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', FITSPEC_BENCH_SERVE: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  const lines: string[] = [];
  const waiting: ((line: string | undefined) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => (waiting.length ? waiting.shift()!(l) : lines.push(l)));
  child.on('close', () => {
    while (waiting.length) waiting.shift()!(undefined);
  });
  const next = (): Promise<string | undefined> =>
    lines.length ? Promise.resolve(lines.shift()) : child.exitCode !== null ? Promise.resolve(undefined) : new Promise((r) => waiting.push(r));
  // Other output of the libraries may come first; the worker's own lines are `ready <kernels>` and JSON.
  const until = async (ok: (l: string) => boolean): Promise<string | undefined> => {
    for (let l = await next(); l !== undefined; l = await next()) if (ok(l)) return l;
    return undefined;
  };
  const started = Date.now();
  const ready = await until((l) => l.startsWith('ready'));
  if (ready === undefined) {
    console.log('FAILED');
    console.log(
      stderr
        .trim()
        .split('\n')
        .slice(-12)
        .map((l) => `    ${l}`)
        .join('\n'),
    );
    return undefined;
  }
  console.log(`ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const ms: number[] = [];
  let otherTicks = 0;
  let wallTicks = 0;
  return {
    label,
    kernels: ready.slice('ready'.length).trim(),
    ms,
    others: () => (wallTicks > 0 ? otherTicks / wallTicks : undefined),
    async step() {
      const m0 = machineTicks();
      const c0 = processTicks(child.pid);
      child.stdin.write('step\n');
      const l = await until((x) => x.startsWith('{"ms"'));
      if (l === undefined) throw new Error(`${label} stopped: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
      const m1 = machineTicks();
      const c1 = processTicks(child.pid);
      if (m0 && m1 && c0 !== undefined && c1 !== undefined && m1.total > m0.total) {
        otherTicks += Math.max(0, m1.busy - m0.busy - (c1 - c0));
        wallTicks += (m1.total - m0.total) / availableParallelism();
      }
      const t = (JSON.parse(l) as { ms: number }).ms;
      ms.push(t);
      return t;
    },
    async end() {
      child.stdin.end('end\n');
      const l = await until((x) => x.startsWith('{"framework"'));
      return l === undefined ? undefined : (JSON.parse(l) as WorkerResult);
    },
  };
}

/**
 * The paired phase: the graph engine and Keras (as installed, and with oneDNN when that is not its
 * default) all loaded at once, taking one step each in turn (A B C, then C B A, ...) until each has
 * trained `pairedSeconds`. A step of one side is never more than a few seconds from a step of the
 * other, so a host whose speed drifts over minutes moves both alike; only the stepping process runs.
 */
interface PairedRow {
  model: BenchModel;
  size: number;
  sides: { served: Served; result?: WorkerResult }[];
}
const pairedRows: PairedRow[] = [];
if (pairedSeconds > 0 && engines.includes('graph') && kerasVersion) {
  console.log(`paired phase: graph engine and Keras one step each in turn, >= ${pairedSeconds} s of steps per side`);
  for (const model of models) {
    for (const size of sizesOf(model)) {
      // Serve mode: the step count and seconds are the runner's, not the worker's.
      const untimed = { minSteps: 0, seconds: 0 };
      const sides: (Served | undefined)[] = [];
      settle();
      sides.push(await serve(...fitspecCommand('tensorflow', size, warmup, untimed, BATCH, 'graph', model), `fitspec graph engine, ${model} ${size}x${size}`));
      sides.push(await serve(...kerasCommand(size, untimed, model), `keras ${model} ${size}x${size}`));
      if (kerasOnednn && sides[1] && sides[1].kernels !== 'oneDNN') {
        sides.push(await serve(...kerasCommand(size, untimed, model), `keras with TF_ENABLE_ONEDNN_OPTS=1 ${model} ${size}x${size}`, { TF_ENABLE_ONEDNN_OPTS: '1' }));
      }
      const ok = sides.filter((x): x is Served => x !== undefined);
      if (ok.length === sides.length && ok.length > 1) {
        const idle = settle();
        process.stdout.write(`  stepping in turn (load ${loadavg()[0]!.toFixed(1)}${idle})... `);
        const t0 = Date.now();
        const total = (x: Served) => x.ms.reduce((a, b) => a + b, 0);
        for (let cycle = 0; cycle < 5 || ok.some((x) => total(x) < pairedSeconds * 1000); cycle++) {
          for (const x of cycle % 2 === 0 ? ok : [...ok].reverse()) await x.step();
        }
        console.log(`${((Date.now() - t0) / 1000).toFixed(0)} s, ${ok[0]!.ms.length} steps each`);
      }
      const row: PairedRow = { model, size, sides: [] };
      for (const x of ok) row.sides.push({ served: x, result: await x.end() });
      if (ok.length === sides.length && ok.length > 1) pairedRows.push(row);
    }
  }
}
const load1 = loadavg()[0]!;

// Every round of a (model, size, framework, backend, engine) row.
const keyOf = (r: { model?: string; size: number; framework: string; backend: string; engine?: string; kernels?: string }) =>
  `${r.model ?? 'baseline'}|${r.size}|${r.framework}|${r.backend}|${r.engine ?? ''}|${r.kernels ?? ''}`;
const byRow = new Map<string, WorkerResult[]>();
for (const r of results) byRow.set(keyOf(r), [...(byRow.get(keyOf(r)) ?? []), r]);
/**
 * The median round by images/s (the lower middle one for an even count), its best, and every round's
 * figure; from the undisturbed rounds only, unless every round was disturbed (`disturbed` then).
 */
interface Row {
  median: WorkerResult;
  best: WorkerResult;
  all: WorkerResult[];
  peakRssMB: number;
  disturbed: boolean;
}
const rowsByKey = new Map<string, Row>();
for (const [key, all] of byRow) {
  const clean = all.filter((r) => !r.disturbed);
  const sorted = [...(clean.length ? clean : all)].sort((a, b) => a.imagesPerSec - b.imagesPerSec);
  const rss = sorted.map((r) => r.peakRssMB).sort((a, b) => a - b);
  rowsByKey.set(key, {
    median: sorted[Math.floor((sorted.length - 1) / 2)]!,
    best: sorted.at(-1)!,
    all,
    peakRssMB: rss[Math.floor((rss.length - 1) / 2)]!,
    disturbed: !clean.length,
  });
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const ips = (v: number): string => v.toFixed(v < 1 ? 3 : 1);
console.log('');
console.log(`machine: ${cpu}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GB RAM, ${process.platform}-${process.arch}, Node ${process.version}`);
console.log(
  `load average (1 min): ${load0.toFixed(1)} at start, ${load1.toFixed(1)} at end; ${rounds} round${rounds > 1 ? 's' : ''} (eager engine: ${eagerRounds}), fitspec and Keras alternating${pairedRows.length ? `, then the paired phase (${pairedSeconds} s per side)` : ''}; ${((Date.now() - started) / 60000).toFixed(1)} min`,
);
/** The row of these fields whatever its kernels; `kernels` picks one when a side ran on both. */
const rowOf = (f: { model: string; size: number; framework: string; backend: string; engine?: string }, kernels?: string): Row | undefined =>
  [...rowsByKey.values()].find(({ median: r }) => keyOf({ ...r, kernels: undefined }) === keyOf(f) && (kernels === undefined || r.kernels === kernels));
if (rowsByKey.size) {
  console.log(
    `timed work per worker: ${timedLabel} after ${warmup} warm-up steps; images/s: median of the rounds${rounds % 2 === 0 ? ' (the lower middle one)' : ''} (best, then every round in run order); ms/step and peak RSS: median`,
  );
  console.log(
    `cores: CPU time / wall time of the median round's timed steps (${availableParallelism()} here; lower means other work took the CPU); others: cores the rest of the machine used meanwhile`,
  );
  console.log(`a round marked ! was disturbed (others above ${maxOthers}, host steal included) and is left out of median and best`);
  const header = [
    'model',
    'size',
    'framework',
    'engine',
    'backend',
    'kernels',
    'versions',
    'batch',
    'steps',
    'images/s',
    'best',
    'rounds',
    'ms/step',
    'cores',
    'others',
    'peak RSS',
  ];
  const rows: string[][] = [];
  for (const { median: r, best, all, peakRssMB } of rowsByKey.values()) {
    const versions = Object.entries(r.versions)
      .filter(([k]) => k !== 'python')
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    rows.push([
      r.model ?? 'baseline',
      `${r.size}x${r.size}`,
      r.framework,
      r.engine ?? '-',
      r.backend,
      r.kernels ?? '-',
      versions,
      String(r.batch),
      String(r.steps),
      ips(r.imagesPerSec),
      ips(best.imagesPerSec),
      all.map((a) => ips(a.imagesPerSec) + (a.disturbed ? '!' : '')).join(' '),
      ((r.seconds / r.steps) * 1000).toFixed(0),
      r.coresUsed?.toFixed(2) ?? '-',
      r.otherCores?.toFixed(2) ?? '-',
      `${peakRssMB.toFixed(0)} MB`,
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]): string => row.map((c, i) => (i >= 7 && i !== 11 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  console.log(fmt(header));
  for (const row of rows) console.log(fmt(row));
  console.log('');
  console.log('ratios against Keras from the median rounds (best of the rounds in brackets):');
  /**
   * The ratio within each round (the two sides ran minutes apart at most, in alternating order), and
   * their median: a host whose speed drifts over the run moves both sides of a round alike, which a
   * ratio of medians taken from different rounds does not cancel.
   */
  function perRound(f: Row, k: Row): string {
    const ratios: number[] = [];
    for (const a of f.all) {
      const b = k.all.find((x) => x.round === a.round);
      if (b && !a.disturbed && !b.disturbed) ratios.push(a.imagesPerSec / b.imagesPerSec);
    }
    if (ratios.length < 2) return '';
    const sorted = [...ratios].sort((x, y) => x - y);
    return `; per round ${ratios.map((x) => x.toFixed(2)).join(' ')}, median ${sorted[Math.floor((sorted.length - 1) / 2)]!.toFixed(2)}x`;
  }
  // Keras as installed: the kernels its first (default) worker ran on.
  const kerasDefault = results.find((r) => r.framework === 'keras')?.kernels;
  for (const model of models) {
    for (const size of sizesOf(model)) {
      const peers = [
        { label: 'keras', row: rowOf({ model, size, framework: 'keras', backend: 'tensorflow' }, kerasDefault) },
        { label: 'keras with TF_ENABLE_ONEDNN_OPTS=1', row: kerasDefault === 'oneDNN' ? undefined : rowOf({ model, size, framework: 'keras', backend: 'tensorflow' }, 'oneDNN') },
      ];
      for (const engine of engines) {
        const f = rowOf({ model, size, framework: 'fitspec', backend: 'tensorflow', engine });
        for (const { label, row: k } of peers) {
          if (!f || !k) continue;
          console.log(
            `ratio fitspec ${engine}/${label}, ${model} ${size}x${size}: ${(f.median.imagesPerSec / k.median.imagesPerSec).toFixed(2)}x images/s ` +
              `(best ${(f.best.imagesPerSec / k.best.imagesPerSec).toFixed(2)}x${perRound(f, k)}), ${(f.peakRssMB / k.peakRssMB).toFixed(2)}x peak RSS` +
              (f.disturbed || k.disturbed ? ' - NOT a result: every round of a side was disturbed' : ''),
          );
        }
      }
    }
  }
}

if (pairedRows.length) {
  console.log('');
  console.log('paired phase (one step each in turn; images/s from the summed step times; per step: the ratio of each pair of neighbouring steps):');
  const q = (xs: number[], p: number): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
  };
  for (const { model, size, sides } of pairedRows) {
    const [f, ...peers] = sides;
    const total = (x: Served) => x.ms.reduce((a, b) => a + b, 0);
    const ipsOf = (x: Served) => (x.ms.length * BATCH * 1000) / total(x);
    const describe = ({ served: x, result }: { served: Served; result?: WorkerResult }) =>
      `${ipsOf(x).toFixed(1)} images/s (${x.kernels}, ${x.ms.length} steps, ${Math.floor(total(x) / x.ms.length)} ms/step, ` +
      `cores ${result?.coresUsed?.toFixed(2) ?? '?'}, others ${x.others()?.toFixed(2) ?? '?'}, peak RSS ${result?.peakRssMB.toFixed(0) ?? '?'} MB)`;
    console.log(`${model} ${size}x${size}: ${f!.served.label.split(',')[0]} ${describe(f!)}`);
    for (const k of peers) {
      const per = f!.served.ms.map((m, i) => k.served.ms[i]! / m);
      console.log(
        `  vs ${k.served.label.split(` ${model}`)[0]} ${describe(k)}: ${(ipsOf(f!.served) / ipsOf(k.served)).toFixed(2)}x images/s` +
          `; per step median ${q(per, 0.5).toFixed(2)}x, quartiles ${q(per, 0.25).toFixed(2)}-${q(per, 0.75).toFixed(2)}x; ` +
          `${f!.result && k.result ? (f!.result.peakRssMB / k.result.peakRssMB).toFixed(2) : '?'}x peak RSS`,
      );
    }
  }
}
const c = rowOf({ model: 'baseline', size: cpuSize, framework: 'fitspec', backend: 'cpu', engine: 'eager' });
const n = rowOf({ model: 'baseline', size: cpuSize, framework: 'fitspec', backend: 'tensorflow', engine: engines[0] });
if (c && n) console.log(`native (${engines[0]} engine) vs pure JS at ${cpuSize}x${cpuSize}: ${(n.median.imagesPerSec / c.median.imagesPerSec).toFixed(0)}x faster`);
if (results.length === 0 && pairedRows.length === 0) process.exitCode = 1;
