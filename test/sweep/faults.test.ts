import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis } from '../setup/redis.js';
import { BIN, cli, synth, tmpDir } from '../train/helpers.js';
import { tinySweep } from './helpers.js';

/**
 * Sweeps against services that misbehave: a tracking server or a Redis port that accepts connections
 * and never answers, one that speaks HTTP, and a grid too large to expand.
 */
let dataDir: string;
const servers: Server[] = [];
const sockets = new Set<Socket>();

beforeAll(() => {
  dataDir = path.join(tmpDir('data'), 'faces');
  synth(dataDir, 12);
});
afterAll(() => {
  sockets.forEach((s) => s.destroy());
  for (const s of servers) s.close();
});

/** Accepts connections (the kernel does, even while the test process waits on a child) and never answers. */
async function silentPort(): Promise<number> {
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return (server.address() as { port: number }).port;
}

async function httpPort(): Promise<number> {
  const server = createHttpServer((_, res) => res.end('hello'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server as unknown as Server);
  return (server.address() as { port: number }).port;
}

/** Like cli(), but without blocking this process, so the servers above can answer (or not). */
function run(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; seconds: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('exit', (code) => {
      clearTimeout(kill);
      resolve({ code: code ?? -1, out, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

const BLOCK = `  name: lr
  parameters:
    train.optimizer.learningRate: {values: [0.01, 0.001]}
`;

describe('a tracking server that accepts connections and never answers', () => {
  it('costs a sweep the bounded wait (FITSPEC_TRACKING_WAIT), not the 30 s request timeout per call', async () => {
    const dir = tmpDir('sweep-silent');
    const file = tinySweep(dir, dataDir, 1, BLOCK);
    const env = { MLFLOW_TRACKING_URI: `http://127.0.0.1:${await silentPort()}`, FITSPEC_TRACKING_WAIT: '1' };
    const first = await run(['sweep', file, '--parallel', '1'], dir, env);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/could not open the sweep's parent run \(MLflow server .* did not answer .* within 1 s\)/);
    // Before: 30 s for each request of the parent run and about 33 s per trial, over 130 s in all;
    // now about 1 s each, the rest is training (generous bounds for a loaded machine).
    expect(first.seconds, first.out).toBeLessThan(90);
    const again = await run(['sweep', file], dir, env);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain('2 already finished, 0 to train');
    expect(again.seconds, again.out).toBeLessThan(30);
  }, 300_000);
});

describe('--queue at a port that is not Redis', () => {
  it.each([
    ['accepts and never answers', silentPort, /no Redis answer within 2 s/],
    ['speaks HTTP', httpPort, /is not reachable \(.*\)/],
  ])(
    '%s: sweep, sweep status and worker exit 2 within seconds, one sentence',
    async (_, port, why) => {
      const dir = tmpDir('queue-silent');
      const file = tinySweep(dir, dataDir, 1, BLOCK);
      const queue = `redis://127.0.0.1:${await port()}`;
      const env = { FITSPEC_QUEUE_TIMEOUT: '2', MLFLOW_TRACKING_URI: '' };
      for (const args of [
        ['sweep', file, '--queue', queue],
        ['sweep', 'status', 'lr', '--queue', queue],
        ['worker', '--queue', queue],
      ]) {
        const r = await run(args, dir, env);
        expect(r.code, `${args.join(' ')}: ${r.out}`).toBe(2);
        expect(r.out).toContain('[queue.unreachable] Redis at redis://127.0.0.1:');
        expect(r.out).toMatch(why);
        expect(r.out).not.toMatch(/\n\s+at /);
        expect(r.out.trim().split('\n').length, r.out).toBeLessThanOrEqual(2);
        expect(r.seconds, args.join(' ')).toBeLessThan(20);
      }
    },
    300_000,
  );
});

describe('a grid of ten million trials', () => {
  it('is counted before it is expanded and refused with the count, also with --dry-run --yes', () => {
    const dir = tmpDir('sweep-huge');
    const values = Array.from({ length: 10 }, (_, i) => (i + 1) / 1000).join(', ');
    const block = `  name: huge\n  parameters:\n${[
      'train.optimizer.learningRate',
      'seed',
      'train.batchSize',
      'model.layers.0.conv2d.filters',
      'data.split.train',
      'data.split.validation',
      'train.epochs',
    ]
      .map((k, j) => `    ${k}: {values: [${j === 0 ? values : Array.from({ length: 10 }, (_, i) => i + 1).join(', ')}]}`)
      .join('\n')}\n`;
    const file = tinySweep(dir, dataDir, 1, block);
    const t0 = Date.now();
    const r = cli(['sweep', file, '--dry-run', '--yes'], dir);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain('The sweep has 10,000,000 trials; one sweep plans at most 10,000');
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(fs.existsSync(path.join(dir, 'runs'))).toBe(false);
  });
});

describe('two sweeps with one name', () => {
  it('a second search space under a name whose trials are still queued is refused, not merged; cancelled trials are called cancelled', async () => {
    const redis = await startRedis();
    try {
      const dir = tmpDir('sweep-same-name');
      const first = tinySweep(dir, dataDir, 1, BLOCK);
      const second = path.join(dir, 'other.yaml');
      fs.writeFileSync(second, fs.readFileSync(first, 'utf8').replace('[0.01, 0.001]', '[0.1, 0.05, 0.02, 0.005]'));
      const env = { MLFLOW_TRACKING_URI: '' };
      const a = await run(['sweep', first, '--queue', redis.url], dir, env);
      expect(a.code, a.out).toBe(0);
      expect(a.out).toContain('2 trials enqueued');
      const b = await run(['sweep', second, '--queue', redis.url], dir, env);
      expect(b.code, b.out).toBe(2);
      expect(b.out).toContain('[sweep.name-taken] A sweep named `lr` with another search space is in the queue');
      expect(b.out).not.toContain(redis.password);
      const again = await run(['sweep', first, '--queue', redis.url], dir, env);
      expect(again.code, again.out).toBe(0);
      expect(again.out).toContain('0 trials enqueued, 2 already queued or done');
      const status = await run(['sweep', 'status', 'lr', '--queue', redis.url], dir, env);
      expect(status.out).toMatch(/queued 2/);
      // After a cancel the removed trials are cancelled, not "missing"; then the name is free for another search.
      expect((await run(['sweep', 'cancel', 'lr', '--queue', redis.url], dir, env)).code).toBe(0);
      const cancelled = await run(['sweep', 'status', 'lr', '--queue', redis.url], dir, env);
      expect(cancelled.out).toMatch(/cancelled 2 \(of 2\)/);
      expect(cancelled.out).not.toMatch(/missing/);
      const other = await run(['sweep', second, '--queue', redis.url], dir, env);
      expect(other.code, other.out).toBe(0);
      expect(other.out).toContain('4 trials enqueued');
    } finally {
      await redis.stop();
    }
  }, 300_000);
});

describe('the sweep parent run in MLflow', () => {
  it('logs trials_finished and the best value as one step per trial outcome', async () => {
    const { closeParentRun } = await import('../../src/sweep/records.js');
    const batches: { metrics: { key: string; step: number; value: number }[] }[] = [];
    const client = {
      getRun: async () => ({ info: { runId: 'p' } }),
      logBatch: async (_: string, b: (typeof batches)[number]) => void batches.push(b),
      uploadArtifact: async () => undefined,
      updateRun: async () => undefined,
    } as never;
    const meta = { parentRunId: 'p', metric: 'val_accuracy', mode: 'max' } as never;
    const outcome = (trial: string, metric: number) => ({ trial, hash: trial, params: {}, status: 'FINISHED' as const, metric });
    const outcomes = [outcome('t001', 0.4)];
    await closeParentRun(client, meta, outcomes, '', 'RUNNING');
    outcomes.push(outcome('t002', 0.6));
    await closeParentRun(client, meta, outcomes, '', 'FINISHED');
    const finished = batches.flatMap((b) => b.metrics.filter((m) => m.key === 'trials_finished'));
    expect(finished.map((m) => [m.step, m.value])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    const best = batches.flatMap((b) => b.metrics.filter((m) => m.key === 'best_val_accuracy'));
    expect(best.map((m) => [m.step, m.value])).toEqual([
      [1, 0.4],
      [2, 0.6],
    ]);
  });
});
