import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTracker, mlflowClient, readMetrics, readRun, syncRun, type RunStart } from '../../src/track/index.js';
import type { MlflowTracker } from '../../src/track/mlflow-tracker.js';
import { mlflowServer } from '../setup/mlflow.js';

// Tracking against servers that misbehave: small fake servers on 127.0.0.1 for each fault, the real
// MLflow test server for what `fitspec sync` uploads afterwards.
const root = mkdtempSync(join(tmpdir(), 'fitspec-track-faults-'));
const closers: (() => Promise<void>)[] = [];
let mlflow: string;
beforeAll(async () => {
  mlflow = await mlflowServer();
});
afterAll(async () => {
  for (const c of closers) await c();
  rmSync(root, { recursive: true, force: true });
});

/** One second of waiting on the server at start and at exit (the default is 5). */
const WAIT = { FITSPEC_TRACKING_WAIT: '1' };
const KEYS = ['loss', 'accuracy'];
let seq = 0;

function newRun(experiment: string): RunStart {
  const runId = `20250104-000000-${(seq++).toString(16).padStart(4, '0')}`;
  const runDir = join(root, 'runs', experiment, runId);
  mkdirSync(join(runDir, 'model'), { recursive: true });
  writeFileSync(join(runDir, 'config.yaml'), `name: ${experiment}\n`);
  writeFileSync(join(runDir, 'model/weights.bin'), Buffer.alloc(2000, 3));
  return { experimentName: experiment, runName: `${experiment}-${runId}`, runDir, runId, params: { epochs: 4 }, tags: {}, startTime: Date.now() - 10_000 };
}

const epoch = (e: number) => ({ loss: 1 / (e + 1), accuracy: 0.2 * e });

/** A server that accepts connections and never answers; counts the requests still waiting on an open connection. */
async function silentServer(): Promise<{ uri: string; open: () => number }> {
  const sockets = new Set<Socket>();
  const waiting = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.once('data', () => waiting.add(s));
    s.on('close', () => (sockets.delete(s), waiting.delete(s))).on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
  return { uri: `http://127.0.0.1:${(server.address() as { port: number }).port}`, open: () => waiting.size };
}

async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/**
 * Forwards to `target` until told to hang; then requests get no answer. With `swallow`, a hanging
 * request still reaches the server and only the answer is lost (the server did the work).
 */
async function hangingProxy(target: string, swallow: boolean): Promise<{ uri: string; hang(): void }> {
  let hanging = false;
  const t = new URL(target);
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (hanging && !swallow) return;
      const up = request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
        const body: Buffer[] = [];
        ur.on('data', (c) => body.push(c));
        ur.on('end', () => {
          if (hanging) return;
          res.writeHead(ur.statusCode!, ur.headers);
          res.end(Buffer.concat(body));
        });
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))));
  return { uri: `http://127.0.0.1:${(server.address() as { port: number }).port}`, hang: () => (hanging = true) };
}

/** `fitspec sync` as a user runs it. */
function cliSync(dir: string, env: Record<string, string>): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((res) =>
    execFile(process.execPath, [resolve('bin/fitspec.js'), 'sync', dir], { env: { ...process.env, ...env }, timeout: 90_000 }, (e, stdout, stderr) =>
      res({ code: e ? ((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

const seconds = (t0: number) => (Date.now() - t0) / 1000;

function expectOneCleanLine(text: string) {
  expect(text.split('\n')).toHaveLength(1);
  // Nothing stack-like: no "at fn (file:line:col)" frames, no source paths.
  expect(text).not.toMatch(/\bat .+:\d+:\d+|node_modules|\.ts:\d+|TypeError|SyntaxError/);
}

describe('a bad tracking server never stalls training', () => {
  it('a server that accepts connections and never answers: start and exit wait about a second, then the run is offline', async () => {
    const silent = await silentServer();
    const run = newRun('fault-silent');
    const logs: string[] = [];
    const tracker = createTracker({ tracking: { uri: silent.uri, tags: {}, runsDir: 'runs' }, env: WAIT, log: (m) => logs.push(m) });
    let t0 = Date.now();
    await tracker.start(run);
    // One second of waiting at most (four while the server keeps answering); generous for a loaded machine.
    expect(seconds(t0)).toBeLessThan(15);
    for (let e = 0; e < 3; e++) tracker.logMetrics(e, epoch(e), run.startTime + e);
    tracker.logArtifact('model');
    t0 = Date.now();
    await tracker.end('FINISHED');
    expect(seconds(t0)).toBeLessThan(5);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain(`MLflow not answering: run kept locally, upload later with \`fitspec sync ${run.runDir}\``);
    expect(logs[0]).toContain(`MLflow server ${silent.uri} did not answer within 1 s when the run started`);
    expectOneCleanLine(logs[0]);
    // Abandoned requests do not stay open (they would hold the process at exit until their timeout).
    for (let i = 0; i < 50 && silent.open() > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(silent.open()).toBe(0);
    const rec = readRun(run.runDir).record;
    expect(rec).toMatchObject({ status: 'FINISHED', mlflow: { synced: false, uri: silent.uri } });
    expectOneCleanLine(rec.mlflow!.lastError!);
    expect(readMetrics(run.runDir)).toHaveLength(6);

    // `fitspec sync` against the same server gives up after its per-request timeout with exit 2;
    // against a real server it uploads the run.
    const stuck = await cliSync(run.runDir, { MLFLOW_HTTP_REQUEST_TIMEOUT: '1', MLFLOW_TRACKING_URI: '' });
    expect(stuck.code).toBe(2);
    expect(stuck.stderr).toContain(`MLflow server ${silent.uri} did not answer GET /api/2.0/mlflow/experiments/get-by-name within 1 s`);
    const up = await syncRun(run.runDir, { uri: mlflow });
    expect(up).toMatchObject({ created: true, metrics: 6, artifacts: 1, status: 'FINISHED' });
  });

  for (const swallow of [false, true]) {
    it(`a server that starts hanging mid-run (${swallow ? 'doing the work but never answering' : 'never seeing the requests'}): exit waits a few seconds, sync uploads the rest exactly once`, async () => {
      const proxy = await hangingProxy(mlflow, swallow);
      const run = newRun(`fault-hang-${swallow ? 'answer' : 'request'}`);
      // A real server on a loaded machine may take more than a second to answer; three are plenty.
      const tracker = createTracker({ tracking: { uri: proxy.uri, tags: {}, runsDir: 'runs' }, env: { FITSPEC_TRACKING_WAIT: '3' } }) as MlflowTracker;
      await tracker.start(run);
      for (let e = 0; e < 2; e++) tracker.logMetrics(e, epoch(e), run.startTime + e);
      await tracker.drain();
      expect(readRun(run.runDir).record.mlflow?.metricsUploaded).toBe(4);
      proxy.hang();
      for (let e = 2; e < 5; e++) tracker.logMetrics(e, epoch(e), run.startTime + e);
      tracker.logArtifact('model');
      const t0 = Date.now();
      await tracker.end('FINISHED');
      expect(seconds(t0)).toBeLessThan(15);
      expect(tracker.warnings()).toHaveLength(1);
      expect(tracker.warnings()[0]).toMatch(
        /^MLflow not answering: run kept locally, upload later with `fitspec sync .*` \(MLflow server http:\/\/127\.0\.0\.1:\d+ did not answer within 3 s for the last uploads/,
      );
      expectOneCleanLine(tracker.warnings()[0]);

      const first = await syncRun(run.runDir, { uri: mlflow });
      expect(first).toMatchObject({ created: false, status: 'FINISHED' });
      const second = await syncRun(run.runDir, { uri: mlflow });
      expect(second).toMatchObject({ created: false, metrics: 0, artifacts: 0 });
      const client = mlflowClient(mlflow);
      const id = readRun(run.runDir).record.mlflow!.runId!;
      for (const k of KEYS) expect((await client.getMetricHistory(id, k)).map((m) => m.step).sort()).toEqual([0, 1, 2, 3, 4]);
      expect((await client.getRun(id))!.info.status).toBe('FINISHED');
      expect((await client.listArtifacts(id, 'model')).map((f) => f.path)).toEqual(['model/weights.bin']);
    });
  }

  const SYNC_ENV = { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1', MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.05' };
  const cases: { name: string; handler: (req: IncomingMessage, res: ServerResponse) => void; warning: (uri: string, dir: string) => string; sync: (uri: string) => string }[] = [
    {
      name: 'HTML with status 200 (a login page, a proxy)',
      handler: (_q, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!DOCTYPE html>\n<html><head><title>Sign in · Example SSO</title></head>\n<body><form>...</form></body></html>');
      },
      warning: (uri, dir) =>
        `Not an MLflow server: run kept locally; after fixing the tracking URI, upload with \`fitspec sync ${dir}\` (${uri} is not an MLflow tracking server: it answered GET /api/2.0/mlflow/experiments/get-by-name with HTTP 200 and an HTML page titled "Sign in · Example SSO")`,
      sync: (uri) =>
        `${uri} is not an MLflow tracking server: it answered GET /api/2.0/mlflow/experiments/get-by-name with HTTP 200 and an HTML page titled "Sign in · Example SSO"`,
    },
    {
      name: 'JSON that is not MLflow’s',
      handler: (_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"ok","service":"inventory"}');
      },
      warning: (uri) =>
        `(${uri} is not an MLflow tracking server: it answered GET /api/2.0/mlflow/experiments/get-by-name with HTTP 200 and JSON {"status":"ok","service":"inventory"} without experiment.experiment_id)`,
      sync: (uri) =>
        `${uri} is not an MLflow tracking server: it answered GET /api/2.0/mlflow/experiments/get-by-name with HTTP 200 and JSON {"status":"ok","service":"inventory"} without experiment.experiment_id`,
    },
    {
      name: 'a 500 with MLflow’s error JSON',
      handler: (_q, res) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error_code: 'INTERNAL_ERROR', message: 'database is locked' }));
      },
      warning: (_uri, dir) => `MLflow server error (HTTP 500): run kept locally, upload later with \`fitspec sync ${dir}\``,
      sync: (uri) => `MLflow server ${uri} failed on GET /api/2.0/mlflow/experiments/get-by-name with HTTP 500 INTERNAL_ERROR: database is locked`,
    },
    {
      name: 'a 502 HTML page from a proxy',
      handler: (_q, res) => {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>');
      },
      warning: () => `MLflow server error (HTTP 502): run kept locally`,
      sync: (uri) => `MLflow server ${uri} failed on GET /api/2.0/mlflow/experiments/get-by-name with HTTP 502: an HTML page titled "502 Bad Gateway"`,
    },
  ];
  for (const c of cases) {
    it(`a server answering ${c.name}: one warning line naming the URL and what came back; sync exits 2 with that sentence`, async () => {
      const uri = await httpServer(c.handler);
      const run = newRun('fault-answer');
      const tracker = createTracker({ tracking: { uri, tags: {}, runsDir: 'runs' }, env: { ...WAIT, ...SYNC_ENV } });
      await tracker.start(run);
      tracker.logMetrics(0, epoch(0));
      await tracker.end('FINISHED');
      expect(tracker.warnings()).toHaveLength(1);
      const w = tracker.warnings()[0];
      expect(w).toContain(c.warning(uri, run.runDir));
      expect(w).not.toContain('unreachable');
      expectOneCleanLine(w);
      const rec = readRun(run.runDir).record;
      expect(rec.status).toBe('FINISHED');
      expectOneCleanLine(rec.mlflow!.lastError!);

      const r = await cliSync(run.runDir, { ...SYNC_ENV, MLFLOW_TRACKING_URI: '' });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(c.sync(uri));
      expect(r.stderr).not.toMatch(/internal error|\bat .+:\d+:\d+/);
    });
  }
});
