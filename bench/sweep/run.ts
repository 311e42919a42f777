/**
 * Sweep scheduling benchmark: tiny trials (32x32 synthetic images, one short epoch) so that the time
 * around a trial (handing it to a worker, loading its config, checking exactly-once, recording the
 * result) is visible next to the training itself.
 *
 *   npm run bench:sweep [-- --trials 8]
 *
 * For each runner (embedded worker processes; BullMQ workers on a temporary redis-server when one is
 * installed) and 1 vs 2 workers, prints the wall time, throughput (trials/min), the start-up time
 * (planning, enqueuing, worker processes loading TensorFlow: paid once per sweep) and the per-trial
 * scheduling overhead: the median gap on a worker between the end of one trial and the start of the
 * next (handing it over, loading its config, the exactly-once check). Goal: under 1 s. The load
 * average is printed with every line: numbers taken on a busy machine are not results.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// `--search`: the search strategies on synthetic objectives (search.ts), not the runners' overhead.
if (process.argv.includes('--search')) {
  await import('./search.js');
  process.exit(0);
}
// `--notebook`: the notebook's search space with real training, grid vs random vs ASHA vs TPE+ASHA (notebook.ts).
if (process.argv.includes('--notebook')) {
  await import('./notebook.js');
  process.exit(0);
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'fitspec.js');
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const TRIALS = arg('trials', 8);
const work = fs.mkdtempSync(path.join(tmpdir(), 'fitspec-bench-sweep-'));
const env = { ...process.env, MLFLOW_TRACKING_URI: '', TF_CPP_MIN_LOG_LEVEL: '2' };
const load = () => loadavg()[0]!.toFixed(1);

function fitspec(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fitspec ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

fitspec(['data', 'synth', '--out', path.join(work, 'faces'), '--per-class', '8', '--layout', 'directory', '--seed', '5']);
fs.writeFileSync(
  path.join(work, 'tiny.yaml'),
  `name: bench-tiny
data:
  source: {type: directory, path: ${path.join(work, 'faces')}}
  image: {height: 32, width: 32}
  split: {train: 5, validation: 3}
model:
  layers:
    - conv2d: {filters: 4, kernelSize: 3, activation: relu}
    - maxPooling2d: {poolSize: 2}
    - flatten: {}
    - dense: {units: 3, activation: softmax}
train: {epochs: 1, batchSize: 8}
`,
);

/** A sweep of TRIALS learning rates with its own name and run store, so nothing is skipped. */
function sweepFile(name: string): string {
  const lrs = Array.from({ length: TRIALS }, (_, i) => Number((0.001 * (i + 1)).toFixed(4)));
  const file = path.join(work, `${name}.yaml`);
  fs.writeFileSync(
    file,
    `extends: tiny.yaml\ntracking: {runsDir: ${path.join(work, name)}}\nsweep:\n  name: ${name}\n  parameters:\n    train.optimizer.learningRate: {values: [${lrs.join(', ')}]}\n`,
  );
  return file;
}

interface Row {
  runner: string;
  workers: number;
  wall: number;
  inTrials: number;
  startup: number;
  gap?: number;
  load0: string;
  load1: string;
}

interface TrialResult {
  status: string;
  seconds?: number;
  worker?: string;
  startedAt?: number;
  endedAt?: number;
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : undefined);

/** Gaps between consecutive trials of the same worker process. */
function gaps(trials: TrialResult[]): number[] {
  const byWorker = new Map<string, TrialResult[]>();
  for (const t of trials) if (t.worker && t.startedAt && t.endedAt) byWorker.set(t.worker, [...(byWorker.get(t.worker) ?? []), t]);
  return [...byWorker.values()].flatMap((list) => {
    const s = list.sort((a, b) => a.startedAt! - b.startedAt!);
    return s.slice(1).map((t, i) => (t.startedAt! - s[i]!.endedAt!) / 1000);
  });
}

function summarize(name: string, runner: string, workers: number, t0: number, load0: string): Row {
  const wall = (Date.now() - t0) / 1000;
  const results = JSON.parse(fs.readFileSync(path.join(work, name, 'sweeps', name, 'results.json'), 'utf8')) as { trials: TrialResult[] };
  const done = results.trials.filter((t) => t.status === 'FINISHED');
  if (done.length !== TRIALS) throw new Error(`${runner} x${workers}: ${done.length} of ${TRIALS} trials finished`);
  const startup = (Math.min(...done.map((t) => t.startedAt ?? Infinity)) - t0) / 1000;
  const row = { runner, workers, wall, inTrials: done.reduce((s, t) => s + (t.seconds ?? 0), 0), startup, gap: median(gaps(done)), load0, load1: load() };
  print(row);
  return row;
}

function print(r: Row) {
  console.log(
    `${r.runner.padEnd(9)} ${String(r.workers).padStart(7)}  ${r.wall.toFixed(1).padStart(6)} s  ${((TRIALS / r.wall) * 60).toFixed(1).padStart(10)}  ${(r.inTrials / TRIALS).toFixed(2).padStart(12)} s  ${r.startup.toFixed(1).padStart(7)} s  ${r.gap === undefined ? '      -' : r.gap.toFixed(2).padStart(11) + ' s'}   ${r.load0} -> ${r.load1}`,
  );
}

function embedded(workers: number): Row {
  const name = `embedded-${workers}`;
  const file = sweepFile(name);
  const load0 = load();
  const t0 = Date.now();
  fitspec(['sweep', file, '--parallel', String(workers), '--threads', '1']);
  return summarize(name, 'embedded', workers, t0, load0);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function startRedis(): Promise<{ url: string; child: ChildProcess } | undefined> {
  const bin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!bin) return undefined;
  const port = await freePort();
  const dir = path.join(work, 'redis');
  fs.mkdirSync(dir);
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) =>
      net
        .connect(port, '127.0.0.1')
        .once('connect', function (this: net.Socket) {
          this.destroy();
          resolve(true);
        })
        .once('error', () => resolve(false)),
    );
    if (up) return { url: `redis://127.0.0.1:${port}`, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  return undefined;
}

async function queued(url: string, workers: number): Promise<Row> {
  const name = `queue-${workers}`;
  const file = sweepFile(name);
  const load0 = load();
  const t0 = Date.now();
  fitspec(['sweep', file, '--queue', url]);
  await Promise.all(
    Array.from({ length: workers }, () => {
      const w = spawn(process.execPath, [BIN, 'worker', '--queue', url, '--threads', '1', '--exit-when-empty'], { cwd: work, env, stdio: 'ignore' });
      return new Promise<void>((resolve, reject) => w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`)))));
    }),
  );
  return summarize(name, 'bullmq', workers, t0, load0);
}

console.log(`fitspec sweep benchmark: ${TRIALS} tiny trials per line, ${availableParallelism()} cores, load average ${load()}`);
console.log('runner    workers    wall   trials/min  s in a trial  start-up  overhead/trial  load (1 min)');
const rows: Row[] = [embedded(1), embedded(2)];
const redis = await startRedis();
if (redis) {
  rows.push(await queued(redis.url, 1), await queued(redis.url, 2));
  redis.child.kill();
} else console.log('bullmq: skipped (redis-server is not installed: apt-get install redis-server)');
for (const runner of ['embedded', 'bullmq']) {
  const [one, two] = [1, 2].map((w) => rows.find((r) => r.runner === runner && r.workers === w));
  if (one && two) console.log(`${runner}: 2 workers / 1 worker throughput = ${(one.wall / two.wall).toFixed(2)}x`);
}
fs.rmSync(work, { recursive: true, force: true });
