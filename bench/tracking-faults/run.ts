/**
 * What a bad tracking server costs a training run: `fitspec train` of a tiny experiment with no
 * server, with a server that accepts connections and never answers, and with one that answers like
 * MLflow at start and then hangs mid-run. Wall time of the whole command (start to process exit).
 *
 *   npm run bench:tracking [-- --epochs=10 --rounds=2]
 *
 * Goal: each faulty server costs under 1.05x the time without a server plus a fixed few seconds
 * (FITSPEC_TRACKING_WAIT, 5 s by default, at start or at exit). Times on a busy machine are not
 * results: the load average is printed next to them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'fitspec.js');
const work = join(root, '.bench', 'tracking-faults');
const opts = Object.fromEntries(process.argv.slice(2).map((a) => /^--([\w-]+)=(.*)$/.exec(a)?.slice(1) ?? [a, '']));
const epochs = Number(opts.epochs ?? 10);
const rounds = Number(opts.rounds ?? 2);

function prepare(): string {
  const data = join(work, 'data');
  if (!existsSync(data)) {
    const r = spawnSync(process.execPath, [bin, 'data', 'synth', '--out', data, '--per-class', '16', '--layout', 'directory', '--seed', '5'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('fitspec data synth failed');
  }
  const file = join(work, 'tiny.yaml');
  writeFileSync(
    file,
    `name: tracking-bench
seed: 3
data:
  source: {type: directory, path: ${data}}
  image: {height: 32, width: 32}
  split: {train: 12, validation: 4}
model:
  layers:
    - conv2d: {filters: 8, kernelSize: 3, activation: relu}
    - maxPooling2d: {poolSize: 2}
    - flatten: {}
    - dense: {units: 3, activation: softmax}
train:
  epochs: ${epochs}
  batchSize: 8
  optimizer: {name: adam, learningRate: 0.01}
tracking:
  runsDir: ${join(work, 'runs')}
`,
  );
  return file;
}

/** Accepts connections, reads the requests, never answers. */
async function silentServer(): Promise<{ uri: string; close(): void }> {
  const sockets = new Set<Socket>();
  const s = createNetServer((c) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c)).on('error', () => undefined);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { uri: `http://127.0.0.1:${(s.address() as { port: number }).port}`, close: () => (sockets.forEach((c) => c.destroy()), s.close()) };
}

/** Answers the few MLflow calls a run starts with, then stops answering anything. */
async function hangsMidRun(): Promise<{ uri: string; close(): void }> {
  let logBatches = 0;
  const reply = (res: ServerResponse, body: unknown) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const info = { run_id: 'r1', experiment_id: '1', status: 'RUNNING', artifact_uri: 'mlflow-artifacts:/1/r1/artifacts', lifecycle_stage: 'active' };
  const s = createHttpServer((req: IncomingMessage, res) => {
    req.resume();
    req.on('end', () => {
      const p = req.url ?? '';
      // The first log-batch carries params and tags; the first metrics batch comes after an epoch.
      if (p.includes('runs/log-batch') && ++logBatches > 1) return;
      if (logBatches > 1) return;
      if (p.includes('experiments/get-by-name')) return reply(res, { experiment: { experiment_id: '1', name: 'tracking-bench', lifecycle_stage: 'active' } });
      if (p.includes('runs/create')) return reply(res, { run: { info } });
      if (p.includes('runs/search')) return reply(res, { runs: [] });
      reply(res, {});
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { uri: `http://127.0.0.1:${(s.address() as { port: number }).port}`, close: () => (s.closeAllConnections(), s.close()) };
}

function train(file: string, uri: string | undefined): Promise<{ seconds: number; warning?: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.MLFLOW_TRACKING_URI;
  if (uri) env.MLFLOW_TRACKING_URI = uri;
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, 'train', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((res, rej) =>
    child.on('exit', (code) => {
      if (code !== 0) return rej(new Error(`fitspec train exited ${code}:\n${out}`));
      res({ seconds: (performance.now() - t0) / 1000, warning: out.split('\n').find((l) => /MLflow|Not an MLflow/.test(l)) });
    }),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function main() {
  mkdirSync(work, { recursive: true });
  const file = prepare();
  console.log(`tracking faults: ${epochs} epochs, ${rounds} rounds, ${availableParallelism()} cores, load average ${load()}`);
  const scenarios: [string, () => Promise<{ uri: string; close(): void } | undefined>][] = [
    ['no server', async () => undefined],
    ['never answers', silentServer],
    ['hangs mid-run', hangsMidRun],
  ];
  const times = new Map<string, number[]>(scenarios.map(([n]) => [n, []]));
  const warnings = new Map<string, string | undefined>();
  // Rounds interleave the scenarios so that a change in machine load hits each of them alike.
  for (let r = 0; r < rounds; r++) {
    for (const [name, start] of scenarios) {
      const server = await start();
      try {
        const t = await train(file, server?.uri);
        times.get(name)!.push(t.seconds);
        warnings.set(name, t.warning);
        console.log(`  round ${r + 1} ${name.padEnd(14)} ${t.seconds.toFixed(1)} s   (load ${load()})`);
      } finally {
        server?.close();
      }
    }
  }
  rmSync(join(work, 'runs'), { recursive: true, force: true });
  const base = median(times.get('no server')!);
  console.log(`\n${'scenario'.padEnd(16)}${'median s'.padStart(10)}${'ratio'.padStart(8)}${'extra s'.padStart(9)}`);
  for (const [name] of scenarios) {
    const m = median(times.get(name)!);
    console.log(`${name.padEnd(16)}${m.toFixed(1).padStart(10)}${(m / base).toFixed(2).padStart(8)}x${(m - base).toFixed(1).padStart(8)}`);
  }
  for (const [name] of scenarios.slice(1)) console.log(`  ${name}: ${warnings.get(name) ?? '(no warning printed)'}`);
  console.log(`goal: under 1.05x plus a few seconds (FITSPEC_TRACKING_WAIT, default 5 s); load average now ${load()}`);
}

await main();
