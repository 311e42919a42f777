import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTracker, mlflowClient, readRun, standardTags, syncRun, type RunStart } from '../../src/track/index.js';
import type { MlflowTracker } from '../../src/track/mlflow-tracker.js';
import { main } from '../../src/cli/main.js';
import { freePort, mlflowPython, mlflowServer } from '../setup/mlflow.js';

const root = mkdtempSync(join(tmpdir(), 'fitspec-track-mlflow-'));
let uri: string;
beforeAll(async () => {
  uri = await mlflowServer();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Quick retries so a dead server is noticed in well under a second. */
const ENV = { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1', MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.05', MLFLOW_HTTP_REQUEST_TIMEOUT: '10' };
const KEYS = ['loss', 'accuracy', 'val_loss', 'val_accuracy'];
let seq = 0;

function newRun(experiment: string, over: Partial<RunStart> = {}): RunStart {
  const runId = `20250102-0000${String(seq).padStart(2, '0')}-${(seq++).toString(16).padStart(4, '0')}`;
  const runDir = join(root, 'runs', experiment, runId);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'config.yaml'), `name: ${experiment}\n`);
  mkdirSync(join(runDir, 'model'));
  writeFileSync(join(runDir, 'model/model.json'), '{"format":"layers-model"}');
  writeFileSync(join(runDir, 'model/group1-shard1of1.bin'), Buffer.alloc(3000, 7));
  return {
    experimentName: experiment,
    runName: `${experiment}-${runId}`,
    runDir,
    runId,
    params: { 'train.epochs': 5, 'train.optimizer.learningRate': 0.001, epochs: 5, batch_size: 32, optimizer_name: 'rmsprop' },
    tags: standardTags({ runName: `${experiment}-${runId}`, sourceName: `experiments/${experiment}.yaml`, description: 'a *test* run', configHash: 'cafe01', runId }),
    dataset: {
      name: `${experiment}-data`,
      digest: 'd1g35t00',
      sourceType: 'directory',
      source: JSON.stringify({ type: 'directory', path: 'data/faces' }),
      profile: { classes: { young: 4, middle: 3, old: 2 } },
      context: 'training',
    },
    startTime: Date.now() - 60_000,
    ...over,
  };
}

const epochMetrics = (e: number) => ({ loss: 1 / (e + 1), accuracy: 0.3 + e * 0.1, val_loss: 1.2 / (e + 1), val_accuracy: 0.25 + e * 0.1 });

/**
 * What MLflow's own Python client sees for the given runs, and for the runs of `byTag`
 * (experiment name, local run id) found by their fitspec.run_id tag. One Python process per call.
 */
async function readBack(runIds: string[], opts: { keys?: string[]; byTag?: [string, string] } = {}): Promise<{ runs: any[]; tagged: string[] }> {
  return mlflowPython(
    `
def read(rid):
    run = client.get_run(rid)
    files = []
    def walk(p):
        for f in client.list_artifacts(rid, p):
            walk(f.path) if f.is_dir else files.append(f.path)
    walk(None)
    return {
      "id": rid, "status": run.info.status, "start_time": run.info.start_time, "end_time": run.info.end_time, "name": run.info.run_name,
      "params": run.data.params, "tags": run.data.tags,
      "history": {k: sorted([[m.step, m.value, m.timestamp] for m in client.get_metric_history(rid, k)]) for k in ${JSON.stringify(opts.keys ?? KEYS)}},
      "inputs": [{"name": d.dataset.name, "digest": d.dataset.digest, "source_type": d.dataset.source_type, "source": d.dataset.source,
                  "profile": d.dataset.profile, "tags": {t.key: t.value for t in d.tags}} for d in run.inputs.dataset_inputs],
      "artifacts": sorted(files),
    }
tagged = []
by_tag = ${JSON.stringify(opts.byTag ?? null)}
if by_tag:
    e = client.get_experiment_by_name(by_tag[0])
    tagged = [r.info.run_id for r in client.search_runs([e.experiment_id], "tags.\`fitspec.run_id\` = '%s'" % by_tag[1])]
out({"runs": [read(r) for r in ${JSON.stringify(runIds)} + tagged], "tagged": tagged})`,
    { uri },
  );
}

/** A TCP proxy in front of the real server, to make the server vanish mid-run. */
async function proxy(target: string): Promise<{ uri: string; drop(): Promise<void> }> {
  const { port } = new URL(target);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(port), '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    uri: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    drop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('tracking to a real MLflow server', () => {
  it('a run reads back with MLflow’s own client: params, every epoch, tags, dataset, artifacts, status', async () => {
    const run = newRun('track-full');
    run.params['model.layers.0.conv2d.filters'] = 32;
    for (let i = 0; i < 150; i++) run.params[`extra.p${i}`] = i;
    run.params['model.summary'] = 'L'.repeat(7000);
    const logs: string[] = [];
    const tracker = createTracker({ tracking: { uri, tags: {}, runsDir: join(root, 'runs') }, env: ENV, log: (m) => logs.push(m) });
    expect(tracker.kind).toBe('local+mlflow');
    await tracker.start(run);
    for (let e = 0; e < 5; e++) tracker.logMetrics(e, epochMetrics(e), run.startTime + e * 1000);
    tracker.logMetrics(4, { lr: NaN, grad_norm: Infinity }, run.startTime + 4000);
    tracker.setTags({ 'fitspec.best_epoch': '4' });
    tracker.logArtifact('config.yaml');
    tracker.logArtifact('model');
    await tracker.end('FINISHED');
    expect(tracker.warnings()).toEqual([]);
    expect(logs).toEqual([]);

    const local = readRun(run.runDir).record;
    expect(local.status).toBe('FINISHED');
    expect(local.mlflow).toMatchObject({ uri, synced: true, metricsUploaded: 22 });
    const [r] = (await readBack([local.mlflow!.runId!], { keys: [...KEYS, 'lr', 'grad_norm'] })).runs;
    expect(r.status).toBe('FINISHED');
    expect(r.name).toBe(run.runName);
    expect(r.start_time).toBe(run.startTime);
    expect(r.end_time).toBe(local.endTime);
    expect(Object.keys(r.params)).toHaveLength(Object.keys(run.params).length);
    expect(r.params).toMatchObject({
      'train.optimizer.learningRate': '0.001',
      epochs: '5',
      batch_size: '32',
      optimizer_name: 'rmsprop',
      'extra.p149': '149',
      'model.layers.0.conv2d.filters': '32',
    });
    expect(r.params['model.summary']).toMatch(/^sha256:[0-9a-f]{12}$/);
    for (const k of KEYS) {
      expect(r.history[k].map((h: number[]) => h[0])).toEqual([0, 1, 2, 3, 4]);
      expect(r.history[k].map((h: number[]) => h[1])).toEqual([0, 1, 2, 3, 4].map((e) => (epochMetrics(e) as Record<string, number>)[k]).map((v) => expect.closeTo(v, 9)));
      expect(r.history[k].map((h: number[]) => h[2])).toEqual([0, 1, 2, 3, 4].map((e) => run.startTime + e * 1000));
    }
    // NaN is kept; the SQL store turns infinities into the largest finite double.
    expect(r.history.lr).toEqual([[4, 'nan', run.startTime + 4000]]);
    expect(r.history.grad_norm).toEqual([[4, Number.MAX_VALUE, run.startTime + 4000]]);
    expect(r.tags).toMatchObject({
      'mlflow.runName': run.runName,
      'mlflow.source.name': 'experiments/track-full.yaml',
      'mlflow.source.type': 'LOCAL',
      'mlflow.note.content': 'a *test* run',
      'fitspec.config_hash': 'cafe01',
      'fitspec.run_id': run.runId,
      'fitspec.best_epoch': '4',
    });
    expect(r.inputs).toEqual([
      {
        name: 'track-full-data',
        digest: 'd1g35t00',
        source_type: 'directory',
        source: run.dataset!.source,
        profile: JSON.stringify(run.dataset!.profile),
        tags: { 'mlflow.data.context': 'training' },
      },
    ]);
    expect(r.artifacts).toEqual(['config.yaml', 'model/group1-shard1of1.bin', 'model/model.json', 'params/model.summary.txt']);
  });

  it('FAILED carries the error in fitspec.error; KILLED is recorded as such', async () => {
    const a = newRun('track-status');
    const t1 = createTracker({ tracking: { uri, tags: {}, runsDir: 'runs' }, env: ENV });
    await t1.start(a);
    t1.logMetrics(0, epochMetrics(0));
    await t1.end('FAILED', 'out of memory in epoch 1');
    const b = newRun('track-status');
    const t2 = createTracker({ tracking: { uri, tags: {}, runsDir: 'runs' }, env: ENV });
    await t2.start(b);
    await t2.end('KILLED', 'interrupted by SIGINT');
    const [ra, rb] = (await readBack([readRun(a.runDir).record.mlflow!.runId!, readRun(b.runDir).record.mlflow!.runId!])).runs;
    expect(ra.status).toBe('FAILED');
    expect(ra.tags['fitspec.error']).toBe('out of memory in epoch 1');
    expect(ra.history.loss).toHaveLength(1);
    expect(rb.status).toBe('KILLED');
  });

  it('the server dropping mid-run: training goes on, the run is complete locally, sync uploads the rest once', async () => {
    const p = await proxy(uri);
    const run = newRun('track-drop');
    const logs: string[] = [];
    const tracker = createTracker({ tracking: { uri: p.uri, tags: {}, runsDir: 'runs' }, env: ENV, log: (m) => logs.push(m) }) as MlflowTracker;
    await tracker.start(run);
    for (let e = 0; e < 2; e++) tracker.logMetrics(e, epochMetrics(e), run.startTime + e * 1000);
    await tracker.drain();
    const mlflowRunId = tracker.mlflowRunId!;
    expect(readRun(run.runDir).record.mlflow?.metricsUploaded).toBe(8);
    await p.drop();
    // logging never waits on the network: each point is on disk when the call returns
    for (let e = 2; e < 6; e++) expect(tracker.logMetrics(e, epochMetrics(e), run.startTime + e * 1000)).toBeUndefined();
    expect(readFileSync(join(run.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(24);
    tracker.logArtifact('config.yaml');
    tracker.logArtifact('model');
    await tracker.end('FINISHED');
    expect(tracker.warnings()).toHaveLength(1);
    expect(tracker.warnings()[0]).toContain(`MLflow unreachable: run kept locally, upload later with \`fitspec sync ${run.runDir}\``);
    expect(logs).toEqual(tracker.warnings());
    const local = readRun(run.runDir).record;
    expect(local.status).toBe('FINISHED');
    expect(local.mlflow).toMatchObject({ synced: false, metricsUploaded: 8, runId: mlflowRunId });
    expect(readFileSync(join(run.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(24);

    const first = await syncRun(run.runDir, { uri, env: ENV });
    expect(first).toMatchObject({ mlflowRunId, created: false, metrics: 16, artifacts: 3, status: 'FINISHED' });
    const second = await syncRun(run.runDir, { uri, env: ENV });
    expect(second).toMatchObject({ mlflowRunId, created: false, metrics: 0, artifacts: 0 });
    const back = await readBack([], { byTag: ['track-drop', run.runId] });
    expect(back.tagged).toEqual([mlflowRunId]);
    const r = back.runs[0];
    for (const k of KEYS) expect(r.history[k].map((h: number[]) => h[0])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(r.status).toBe('FINISHED');
    expect(r.artifacts).toEqual(['config.yaml', 'model/group1-shard1of1.bin', 'model/model.json']);
    expect(readRun(run.runDir).record.mlflow?.synced).toBe(true);
  });

  it('a server unreachable from the start: `fitspec sync` uploads the finished run, and again creates nothing new', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const runsDir = join(root, 'offline-runs');
    const run = newRun('track-offline', {});
    const dir = join(runsDir, 'track-offline', run.runId);
    mkdirSync(join(runsDir, 'track-offline'), { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    const { renameSync } = await import('node:fs');
    renameSync(run.runDir, dir);
    run.runDir = dir;
    const tracker = createTracker({ tracking: { uri: dead, tags: {}, runsDir }, env: ENV });
    await tracker.start(run);
    for (let e = 0; e < 3; e++) tracker.logMetrics(e, epochMetrics(e), run.startTime + e * 1000);
    tracker.logArtifact('model');
    await tracker.end('KILLED', 'interrupted by SIGTERM');
    expect(tracker.warnings()[0]).toMatch(/^MLflow unreachable: run kept locally/);
    expect(tracker.warnings()[0]).toContain('ECONNREFUSED');
    expect(readRun(dir).record).toMatchObject({ status: 'KILLED', mlflow: { uri: dead, synced: false } });

    const saved = { ...process.env };
    Object.assign(process.env, ENV, { MLFLOW_TRACKING_URI: uri });
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    try {
      expect(await main(['sync', '--runs-dir', runsDir])).toBe(0);
      expect(await main(['sync', '--runs-dir', runsDir])).toBe(0);
      expect(await main(['sync', dir])).toBe(0);
    } finally {
      process.stdout.write = write;
      process.env = saved;
    }
    expect(out[0]).toContain(`${dir} -> ${uri}/#/experiments/`);
    expect(out[0]).toContain('created; 12 metric points, 2 files sent; KILLED');
    expect(out[1]).toContain('nothing to upload');
    expect(out[2]).toContain('updated; 0 metric points, 0 files sent');
    const back = await readBack([], { byTag: ['track-offline', run.runId] });
    const ids = back.tagged;
    expect(ids).toHaveLength(1);
    const r = back.runs[0];
    expect(r.status).toBe('KILLED');
    expect(r.tags['fitspec.error']).toBe('interrupted by SIGTERM');
    for (const k of KEYS) expect(r.history[k]).toHaveLength(3);
    expect(r.inputs).toHaveLength(1);
    expect(readRun(dir).record.mlflow).toMatchObject({ uri, runId: ids[0], synced: true });
  });

  it('a param changed on resume, a rejected metric key, a deleted experiment: clear messages, local run intact', async () => {
    const run = newRun('track-bad');
    const t = createTracker({ tracking: { uri, tags: {}, runsDir: 'runs' }, env: ENV });
    await t.start(run);
    t.logMetrics(0, epochMetrics(0));
    await t.end('FINISHED');
    const runJson = join(run.runDir, 'run.json');
    const rec = JSON.parse(readFileSync(runJson, 'utf8'));
    rec.params['train.optimizer.learningRate'] = '0.01';
    rec.mlflow.synced = false;
    writeFileSync(runJson, JSON.stringify(rec));
    const err = await syncRun(run.runDir, { uri, env: ENV }).catch((e) => e);
    expect(err.code).toBe('mlflow.param-changed');
    expect(err.problems[0].received).toContain("'old_value': '0.001', 'new_value': '0.01'");
    expect(readRun(run.runDir).record.mlflow?.lastError).toContain('params cannot change');

    // A resumed run with a changed param keeps training and says why MLflow refused it.
    const resumed = createTracker({ tracking: { uri, tags: {}, runsDir: 'runs' }, env: ENV });
    await resumed.start({ ...run, params: { ...run.params, 'train.optimizer.learningRate': 0.01 } });
    resumed.logMetrics(1, epochMetrics(1));
    await resumed.end('FINISHED');
    expect(resumed.warnings()[0]).toContain('params cannot change');
    expect(readRun(run.runDir).record.status).toBe('FINISHED');

    const bad = newRun('track-bad');
    const t2 = createTracker({ tracking: { uri, tags: {}, runsDir: 'runs' }, env: ENV });
    await t2.start(bad);
    t2.logMetrics(0, { 'val acc!': 0.5, loss: 1 });
    await t2.end('FINISHED');
    expect(t2.warnings()[0]).toMatch(/MLflow did not accept the run .*INVALID_PARAMETER_VALUE.*val acc!/);
    expect(readRun(bad.runDir).record.status).toBe('FINISHED');
    expect(readFileSync(join(bad.runDir, 'metrics.jsonl'), 'utf8')).toContain('val acc!');

    const gone = newRun('track-deleted');
    const client = mlflowClient(uri, ENV);
    const exp = await client.getOrCreateExperiment('track-deleted');
    await client.http.request('POST', '/api/2.0/mlflow/experiments/delete', { json: { experiment_id: exp.experimentId } });
    const t3 = createTracker({ tracking: { uri, tags: {}, runsDir: 'runs' }, env: ENV });
    await t3.start(gone);
    await t3.end('FINISHED');
    expect(t3.warnings()[0]).toContain('MLflow experiment "track-deleted" was deleted');
    const err3 = await syncRun(gone.runDir, { uri, env: ENV }).catch((e) => e);
    expect(err3.code).toBe('mlflow.experiment-deleted');
  });

  it('log-batch beyond the per-request limits and metric history through the REST client', async () => {
    const client = mlflowClient(uri, ENV);
    const exp = await client.getOrCreateExperiment('track-limits');
    // get-or-create again finds the same experiment
    expect((await client.getOrCreateExperiment('track-limits')).experimentId).toBe(exp.experimentId);
    const info = await client.createRun({ experimentId: exp.experimentId, runName: 'limits', startTime: 1 });
    const metrics = Array.from({ length: 2300 }, (_, i) => ({ key: i % 2 ? 'a' : 'b', value: i, step: i, timestamp: 1000 + i }));
    const params = Array.from({ length: 230 }, (_, i) => ({ key: `p${i}`, value: String(i) }));
    const tags = Array.from({ length: 120 }, (_, i) => ({ key: `t${i}`, value: 'x' }));
    await client.logBatch(info.runId, { metrics, params, tags });
    // a repeated batch (as after a lost answer) is merged by the server, not doubled
    await client.logBatch(info.runId, { metrics: metrics.slice(0, 1000) });
    const a = await client.getMetricHistory(info.runId, 'a');
    expect(a).toHaveLength(1150);
    expect(a.map((m) => m.step).sort((x, y) => x - y)[0]).toBe(1);
    const run = await client.getRun(info.runId);
    expect(Object.keys(run!.params)).toHaveLength(230);
    expect(Object.keys(run!.tags).filter((k) => k.startsWith('t'))).toHaveLength(120);
    expect(await client.getMetricHistory(info.runId, 'b')).toHaveLength(1150);
  });

  it('mlflow-inspect prints what the Python client sees for the last run', async () => {
    const { stdout } = await promisify(execFile)('node', ['scripts/mlflow-inspect.mjs', '--runs-dir', join(root, 'offline-runs')], {
      env: { ...process.env, MLFLOW_TRACKING_URI: uri },
    });
    expect(stdout).toContain('status KILLED');
    expect(stdout).toMatch(/params: 5\n/);
    expect(stdout).toContain('  loss: 3 steps (0..2)');
    expect(stdout).toContain('  val_accuracy: 3 steps (0..2)');
    expect(stdout).toContain('dataset: track-offline-data  digest d1g35t00  source directory  context training');
    expect(stdout).toContain('artifacts: 2 files');
    expect(stdout).toContain('  model/model.json  25 B');
  });
});
