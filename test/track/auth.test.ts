import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTracker, mlflowClient, readRun, syncRun, type RunStart } from '../../src/track/index.js';
import { mlflowAuthServer } from '../setup/mlflow.js';

/** The second real test server: the basic-auth app, without artifact serving (artifacts in a local folder). */
const root = mkdtempSync(join(tmpdir(), 'fitspec-track-auth-'));
let ADMIN: { username: string; password: string };
const VIEWER = { username: 'viewer', password: 'v1ewer-Pa55-word' };
const FAST = { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1', MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.05' };
let server: { uri: string };

beforeAll(async () => {
  const started = await mlflowAuthServer();
  server = started;
  ADMIN = started.admin;
  const admin = mlflowClient(server.uri, { ...FAST, MLFLOW_TRACKING_USERNAME: ADMIN.username, MLFLOW_TRACKING_PASSWORD: ADMIN.password });
  await admin.http.request('POST', '/api/2.0/mlflow/users/create', { json: VIEWER });
  await admin.getOrCreateExperiment('auth-owned-by-admin');
});
afterAll(async () => {
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
function newRun(experiment: string): RunStart {
  const runId = `20250103-000000-${(n++).toString(16).padStart(4, '0')}`;
  const runDir = join(root, 'runs', experiment, runId);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'config.yaml'), 'name: x\n');
  return { experimentName: experiment, runName: `${experiment}-${runId}`, runDir, runId, params: { epochs: 2 }, tags: {}, startTime: Date.now() };
}

describe('MLflow server with basic auth and without artifact serving', () => {
  it('missing or wrong credentials: a clear 401 message, the run is kept locally, no password anywhere', async () => {
    const run = newRun('auth-401');
    const t = createTracker({ tracking: { uri: server.uri, tags: {}, runsDir: 'runs' }, env: FAST });
    await t.start(run);
    t.logMetrics(0, { loss: 1 });
    t.logMetrics(1, { loss: 0.5 });
    await t.end('FINISHED');
    expect(t.warnings()).toHaveLength(1);
    expect(t.warnings()[0]).toContain('it requires credentials (401)');
    expect(t.warnings()[0]).toContain('MLFLOW_TRACKING_USERNAME');
    expect(readRun(run.runDir).record).toMatchObject({ status: 'FINISHED', mlflow: { synced: false } });

    const wrong = newRun('auth-401');
    const withCreds = server.uri.replace('http://', `http://${ADMIN.username}:not-${ADMIN.password}@`);
    const t2 = createTracker({ tracking: { uri: withCreds, tags: {}, runsDir: 'runs' }, env: FAST });
    await t2.start(wrong);
    await t2.end('FINISHED');
    expect(t2.warnings()[0]).toContain('wrong credentials (401)');
    const saved = readFileSync(join(wrong.runDir, 'run.json'), 'utf8');
    expect(readRun(wrong.runDir).record.mlflow?.uri).toBe(server.uri);
    for (const text of [saved, ...t2.warnings()]) expect(text).not.toContain(ADMIN.password);

    const err = await syncRun(run.runDir, { uri: server.uri, env: { ...FAST, MLFLOW_TRACKING_USERNAME: 'admin', MLFLOW_TRACKING_PASSWORD: 'nope' } }).catch((e) => e);
    expect(err.code).toBe('mlflow.unauthorized');
    expect(err.message).not.toContain('nope');
  });

  it('a user without permission on the experiment gets a clear 403', async () => {
    const run = newRun('auth-owned-by-admin');
    const local = createTracker({ tracking: { tags: {}, runsDir: 'runs' }, env: {} });
    await local.start(run);
    await local.end('FINISHED');
    const err = await syncRun(run.runDir, { uri: server.uri, env: { ...FAST, MLFLOW_TRACKING_USERNAME: VIEWER.username, MLFLOW_TRACKING_PASSWORD: VIEWER.password } }).catch(
      (e) => e,
    );
    expect(err.code).toBe('mlflow.forbidden');
    expect(err.message).toContain('permission denied (403)');
  });

  it('with credentials, everything but artifacts is uploaded and the artifact store problem is explained', async () => {
    const run = newRun('auth-ok');
    const env = { ...FAST, MLFLOW_TRACKING_USERNAME: ADMIN.username, MLFLOW_TRACKING_PASSWORD: ADMIN.password };
    const t = createTracker({ tracking: { uri: server.uri, tags: {}, runsDir: 'runs' }, env });
    await t.start(run);
    t.logMetrics(0, { loss: 1 });
    t.logArtifact('config.yaml');
    await t.end('FINISHED');
    expect(t.warnings()).toHaveLength(1);
    expect(t.warnings()[0]).toContain('MLflow did not accept the artifacts');
    expect(t.warnings()[0]).toContain('which a REST client cannot write to');
    expect(t.warnings()[0]).toContain('file://');
    const link = readRun(run.runDir).record.mlflow!;
    expect(link.synced).toBe(false);
    const client = mlflowClient(server.uri, env);
    expect((await client.getMetricHistory(link.runId!, 'loss')).map((m) => m.value)).toEqual([1]);
    expect((await client.getRun(link.runId!))!.params).toEqual({ epochs: '2' });
    const err = await syncRun(run.runDir, { env }).catch((e) => e);
    expect(err.code).toBe('mlflow.artifact-store');
    const onServer = await client.getRun(link.runId!);
    expect(onServer!.info.status).toBe('FINISHED');
    expect(readRun(run.runDir).record.mlflow?.synced).toBe(false);
  });
});
