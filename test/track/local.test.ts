import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTracker, gitInfo, kerasAutologParams, listRuns, LocalTracker, readMetrics, readRun, standardTags } from '../../src/track/index.js';
import { MAX_PARAM_LENGTH, prepareParams } from '../../src/track/local.js';
import { artifactFiles } from '../../src/track/runs.js';
import { FitspecError } from '../../src/errors.js';
import { rmSync } from 'node:fs';

const root = mkdtempSync(join(tmpdir(), 'fitspec-track-local-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const start = (runDir: string, runId: string, extra: Partial<Parameters<LocalTracker['start']>[0]> = {}) => ({
  experimentName: 'exp',
  runName: `exp-${runId}`,
  runDir,
  runId,
  params: { 'train.epochs': 3, 'train.optimizer.name': 'adam', 'train.shuffle': true },
  tags: { 'mlflow.runName': `exp-${runId}` },
  startTime: 1_700_000_000_000,
  ...extra,
});

describe('local run store', () => {
  it('without a tracking URI only the run folder is written', () => {
    expect(createTracker({ tracking: { tags: {}, runsDir: 'runs' }, env: {} }).kind).toBe('local');
    expect(createTracker({ tracking: { tags: {}, runsDir: 'runs' }, env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:1' } }).kind).toBe('local+mlflow');
    expect(createTracker({ tracking: { uri: 'http://127.0.0.1:1', tags: {}, runsDir: 'runs' }, env: {} }).kind).toBe('local+mlflow');
  });

  it('keeps run.json current and appends every metric point to metrics.jsonl', async () => {
    const dir = join(root, 'runs/exp/20250101-000000-aaaa');
    mkdirSync(dir, { recursive: true });
    const t = new LocalTracker();
    await t.start(
      start(dir, '20250101-000000-aaaa', {
        dataset: { name: 'faces', digest: 'abcd1234', sourceType: 'directory', source: 'data/faces', profile: { young: 3 }, context: 'training' },
      }),
    );
    let r = readRun(dir).record;
    expect(r.status).toBe('RUNNING');
    expect(r.params).toEqual({ 'train.epochs': '3', 'train.optimizer.name': 'adam', 'train.shuffle': 'true' });
    expect(r.dataset?.digest).toBe('abcd1234');
    t.logMetrics(0, { loss: 1.5, accuracy: 0.25 }, 1000);
    t.logMetrics(1, { loss: NaN, accuracy: Infinity }, 2000);
    t.setTags({ 'fitspec.note': 'x' });
    writeFileSync(join(dir, 'summary.json'), '{}');
    t.logArtifact('summary.json');
    t.logArtifact('./summary.json');
    await t.end('FAILED', 'boom');
    r = readRun(dir).record;
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('boom');
    expect(r.tags['fitspec.error']).toBe('boom');
    expect(r.tags['fitspec.note']).toBe('x');
    expect(r.artifacts).toEqual(['summary.json']);
    expect(r.endTime).toBeGreaterThanOrEqual(r.startTime);
    const points = readMetrics(dir);
    expect(points).toHaveLength(4);
    expect(points[0]).toEqual({ key: 'loss', value: 1.5, step: 0, timestamp: 1000 });
    expect(Number.isNaN(points[2].value)).toBe(true);
    expect(points[3].value).toBe(Infinity);
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8')).toContain('"value":"NaN"');
  });

  it('replaces a param value too long for MLflow by its hash and keeps the text as an artifact', async () => {
    const dir = join(root, 'runs/exp/20250101-000001-bbbb');
    const long = 'x'.repeat(MAX_PARAM_LENGTH + 1);
    const t = new LocalTracker();
    await t.start(start(dir, '20250101-000001-bbbb', { params: { 'model/layers': long, short: 'y'.repeat(MAX_PARAM_LENGTH) } }));
    const r = readRun(dir).record;
    expect(r.params['model/layers']).toMatch(/^sha256:[0-9a-f]{12}$/);
    expect(r.params.short).toHaveLength(MAX_PARAM_LENGTH);
    expect(r.artifacts).toEqual(['params/model_layers.txt']);
    expect(readFileSync(join(dir, 'params/model_layers.txt'), 'utf8')).toBe(long);
    expect(prepareParams({ a: long }).params.a).toBe(r.params['model/layers']);
  });

  it('a resumed run keeps its start time, artifacts and MLflow link', async () => {
    const dir = join(root, 'runs/exp/20250101-000002-cccc');
    const t = new LocalTracker();
    await t.start(start(dir, '20250101-000002-cccc'));
    t.logMetrics(0, { loss: 1 }, 1);
    writeFileSync(join(dir, 'a.txt'), 'a');
    t.logArtifact('a.txt');
    t.setMlflow({ uri: 'http://h', experimentId: '1', runId: 'r1', synced: true, metricsUploaded: 1 });
    await t.end('KILLED');
    const t2 = new LocalTracker();
    await t2.start(start(dir, '20250101-000002-cccc', { startTime: 1_800_000_000_000 }));
    t2.logMetrics(1, { loss: 0.5 }, 2);
    const r = readRun(dir).record;
    expect(r.status).toBe('RUNNING');
    expect(r.startTime).toBe(1_700_000_000_000);
    expect(r.artifacts).toEqual(['a.txt']);
    expect(r.mlflow).toMatchObject({ runId: 'r1', synced: false, metricsUploaded: 1 });
    expect(readMetrics(dir).map((p) => p.step)).toEqual([0, 1]);
  });

  it('lists runs oldest first, per experiment, skipping foreign folders', async () => {
    mkdirSync(join(root, 'runs/other/not-a-run'), { recursive: true });
    const d = join(root, 'runs/other/20240101-000000-dddd');
    await new LocalTracker().start(start(d, '20240101-000000-dddd', { experimentName: 'other', startTime: 1 }));
    const all = listRuns(join(root, 'runs'));
    expect(all[0].record.runId).toBe('20240101-000000-dddd');
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(listRuns(join(root, 'runs'), 'other').map((r) => r.record.runId)).toEqual(['20240101-000000-dddd']);
    expect(listRuns(join(root, 'nowhere'))).toEqual([]);
    expect(() => readRun(join(root, 'runs/other/not-a-run'))).toThrow(FitspecError);
  });

  it('ignores a torn last line of metrics.jsonl but not a broken one in the middle', () => {
    const dir = join(root, 'torn');
    mkdirSync(dir);
    writeFileSync(join(dir, 'metrics.jsonl'), '{"key":"loss","value":1,"step":0,"timestamp":1}\n{"key":"lo');
    expect(readMetrics(dir)).toHaveLength(1);
    appendFileSync(join(dir, 'metrics.jsonl'), '\n{"key":"loss","value":1,"step":1,"timestamp":1}\n');
    expect(() => readMetrics(dir)).toThrow(/line 2/);
  });

  it('expands artifact folders into their files', () => {
    const dir = join(root, 'art');
    mkdirSync(join(dir, 'model/sub'), { recursive: true });
    writeFileSync(join(dir, 'model/model.json'), '{}');
    writeFileSync(join(dir, 'model/sub/w.bin'), 'w');
    expect(artifactFiles(dir, 'model')).toEqual(['model/model.json', 'model/sub/w.bin']);
    expect(artifactFiles(dir, 'missing')).toEqual([]);
  });
});

describe('tags and params', () => {
  it('standard tags use MLflow names, and tracking.tags win', () => {
    const t = standardTags({
      runName: 'r',
      sourceName: 'experiments/02.yaml',
      description: 'adds BatchNorm',
      git: { commit: 'abc', dirty: true, branch: 'main' },
      user: 'ana',
      backend: 'tensorflow',
      tensorflowVersion: '2.18.0',
      kernels: 'oneDNN',
      configHash: 'h1',
      chain: ['experiments/01.yaml', 'experiments/02.yaml'],
      overrides: ['train.epochs=2'],
      runId: 'id1',
      extra: { team: 'vision', 'mlflow.user': 'bot' },
    });
    expect(t).toMatchObject({
      'mlflow.runName': 'r',
      'mlflow.source.name': 'experiments/02.yaml',
      'mlflow.source.type': 'LOCAL',
      'mlflow.source.git.commit': 'abc',
      'mlflow.source.git.branch': 'main',
      'fitspec.git.dirty': 'true',
      'mlflow.user': 'bot',
      'mlflow.note.content': 'adds BatchNorm',
      'fitspec.backend': 'tensorflow',
      'fitspec.tensorflow_version': '2.18.0',
      'fitspec.kernels': 'oneDNN',
      'fitspec.config_hash': 'h1',
      'fitspec.extends': '["experiments/01.yaml","experiments/02.yaml"]',
      'fitspec.overrides': '["train.epochs=2"]',
      'fitspec.run_id': 'id1',
      team: 'vision',
    });
    expect(t['fitspec.version']).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    expect(standardTags({ runName: 'r', description: '' })['mlflow.note.content']).toBeUndefined();
  });

  it('Keras autolog params: fit arguments, optimizer_* and EarlyStopping arguments', () => {
    const train = {
      epochs: 30,
      batchSize: 32,
      stepsPerEpoch: 10,
      shuffle: true,
      optimizer: { name: 'rmsprop', learningRate: 0.0001, rho: 0.9 },
      callbacks: [{ earlyStopping: { monitor: 'val_loss', minDelta: 0, patience: 5, mode: 'auto', restoreBestWeights: true, startFromEpoch: 0 } }],
    } as any;
    expect(kerasAutologParams({ train })).toEqual({
      epochs: 30,
      batch_size: 32,
      steps_per_epoch: 10,
      shuffle: 'True',
      optimizer_name: 'rmsprop',
      optimizer_learning_rate: 0.0001,
      optimizer_rho: 0.9,
      monitor: 'val_loss',
      min_delta: 0,
      patience: 5,
      baseline: 'None',
      restore_best_weights: 'True',
    });
    const phased = { ...train, callbacks: [], phases: [{ epochs: 5, optimizer: { name: 'sgd', learningRate: 0.01, momentum: 0.9 } }, { epochs: 7 }] };
    const p = kerasAutologParams({ train: phased });
    expect(p).toMatchObject({ epochs: 12, optimizer_name: 'SGD', optimizer_learning_rate: 0.01, optimizer_momentum: 0.9 });
    expect(p.patience).toBeUndefined();
  });

  it('git info: commit, dirty flag and branch; nothing outside a repository', () => {
    const repo = join(root, 'repo');
    mkdirSync(repo);
    const git = (...a: string[]) =>
      execFileSync('git', a, {
        cwd: repo,
        stdio: 'pipe',
        env: { ...process.env, GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@b', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@b' },
      })
        .toString()
        .trim();
    git('init', '-q', '-b', 'trunk');
    writeFileSync(join(repo, 'f.txt'), '1');
    git('add', 'f.txt');
    git('commit', '-qm', 'c');
    const head = git('rev-parse', 'HEAD');
    expect(gitInfo(repo)).toEqual({ commit: head, dirty: false, branch: 'trunk' });
    writeFileSync(join(repo, 'f.txt'), '2');
    expect(gitInfo(repo).dirty).toBe(true);
    const outside = mkdtempSync(join(tmpdir(), 'fitspec-nogit-'));
    expect(existsSync(join(outside, '.git'))).toBe(false);
    expect(gitInfo(outside)).toEqual({});
  });
});
