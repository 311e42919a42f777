// A finished run's model in MLflow: model/MLmodel logged by training with the default
// tracking.logModel, tracking.register, `fitspec register` (tags, alias, once per run; a sweep's best
// trial), predict from runs:/ and models:/ URIs, and the real `mlflow models serve` answering
// /invocations with the probabilities of `fitspec predict`.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModelsVenv } from '../../scripts/models/venv.mjs';
import { freePort, mlflowPython, mlflowServer } from '../setup/mlflow.js';
import { tinySweep } from '../sweep/helpers.js';
import { cli, onlyRun, synth, tinyExperiment, tmpDir } from '../train/helpers.js';

const dir = tmpDir('mlflow-models');
const dataDir = path.join(dir, 'faces');
const cache = path.join(dir, 'cache');
let uri = '';
let run = '';
let runId = '';
let images: string[] = [];
let python = '';
let trainOutput = '';
const NAME = `tiny-${path.basename(dir).slice(-6)}`;
let serving: ChildProcess | undefined;

const env = () => ({ MLFLOW_TRACKING_URI: uri, XDG_CACHE_HOME: cache });
const probabilities = (ref: string, extraEnv: Record<string, string> = {}) => {
  const r = cli(['predict', ref, ...images, '--json'], dir, { ...env(), ...extraEnv });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { file: string; class: string; probabilities: Record<string, number> }[];
};

beforeAll(async () => {
  [uri, python] = await Promise.all([mlflowServer(), ensureModelsVenv({ log: () => {} })]);
  synth(dataDir, 6);
  // A repository, so that the run has a git commit for the version's tags.
  const git = (...a: string[]) => execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...a], { cwd: dir, stdio: 'ignore' });
  git('init', '-q');
  git('commit', '-q', '--allow-empty', '-m', 'experiments');
  // The default tracking.logModel (auto), and tracking.register after training.
  const file = tinyExperiment(dir, dataDir, `  register: {name: ${NAME}-auto, alias: staging}\n`, 'default');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('split: {train: 8, validation: 4}', 'split: {train: 4, validation: 2}').replace('epochs: 2', 'epochs: 1'));
  const r = cli(['train', file, '--no-progress'], dir, env());
  if (r.code !== 0) throw new Error(r.stderr + r.stdout);
  trainOutput = r.stdout + r.stderr;
  run = onlyRun(path.join(dir, 'runs'));
  runId = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).mlflow.runId;
  images = fs
    .readdirSync(path.join(dataDir, 'old'))
    .sort()
    .slice(0, 3)
    .map((f) => path.join(dataDir, 'old', f));
}, 900_000);

afterAll(() => {
  if (serving?.pid) {
    try {
      process.kill(-serving.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('a finished run logs an MLflow Model', () => {
  it('with the default tracking.logModel: model/MLmodel among the run artifacts, no warning', async () => {
    const listed = await mlflowPython<string[]>(`out(sorted(a.path for a in client.list_artifacts(${JSON.stringify(runId)}, "model")))`);
    expect(listed).toEqual(expect.arrayContaining(['model/MLmodel', 'model/model.json', 'model/fitspec-model.json', 'model/data']));
    expect(trainOutput).toMatch(/model: MLflow Model \(keras flavor\) written to model\/MLmodel/);
    expect(trainOutput).not.toMatch(/warning: no MLflow Model|installing the model conversion environment/);
  });

  it('tracking.logModel: always writes it for a local-only run too', () => {
    const ldir = path.join(dir, 'local');
    fs.mkdirSync(ldir);
    const file = tinyExperiment(ldir, dataDir, '', 'always');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('split: {train: 8, validation: 4}', 'split: {train: 4, validation: 2}').replace('epochs: 2', 'epochs: 1'));
    const r = cli(['train', file, '--no-progress'], ldir, { MLFLOW_TRACKING_URI: '', XDG_CACHE_HOME: cache });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const local = onlyRun(path.join(ldir, 'runs'));
    expect(JSON.parse(fs.readFileSync(path.join(local, 'run.json'), 'utf8')).mlflow).toBeUndefined();
    expect(fs.readFileSync(path.join(local, 'model', 'MLmodel'), 'utf8')).toMatch(/^ {2}keras:$/m);
  }, 600_000);

  it('model/MLmodel with the keras flavor, the signature, classes, preprocessing and config hash', async () => {
    const seen = await mlflowPython<any>(`
from mlflow.models import Model
import mlflow.artifacts, os
local = mlflow.artifacts.download_artifacts(run_id=${JSON.stringify(runId)}, artifact_path="model")
m = Model.load(os.path.join(local, "MLmodel"))
out({"flavors": list(m.flavors), "keras": m.flavors.get("keras"), "inputs": m.signature.inputs.to_dict(), "outputs": m.signature.outputs.to_dict(), "metadata": m.metadata, "files": sorted(os.listdir(local))})
`);
    expect(seen.flavors).toEqual(expect.arrayContaining(['keras', 'python_function']));
    expect(seen.files).toEqual(expect.arrayContaining(['MLmodel', 'data', 'model.json', 'fitspec-model.json']));
    expect(seen.inputs[0]).toMatchObject({ type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 32, 32, 3] } });
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    expect(seen.outputs.map((o: { name: string }) => o.name)).toEqual(summary.classes);
    expect(seen.metadata.fitspec.classes).toEqual(summary.classes);
    expect(seen.metadata.fitspec.preprocessing).toMatchObject({ height: 32, width: 32, channels: 3, resize: 'stretch', interpolation: 'lanczos3' });
    expect(seen.metadata.fitspec.config_hash).toBe(summary.config_hash);
  });
});

describe('tracking.register', () => {
  it('registered the finished run as a version with its tags and the alias', async () => {
    expect(trainOutput).toContain(`registered: models:/${NAME}-auto/1 (alias staging)`);
    const seen = await mlflowPython<any>(`
vs = client.search_model_versions("name='${NAME}-auto'")
mv = client.get_model_version_by_alias("${NAME}-auto", "staging")
out({"versions": [v.version for v in vs], "alias": mv.version, "tags": mv.tags, "run_id": mv.run_id, "source": mv.source})
`);
    expect(seen.versions).toEqual(['1']);
    expect(seen.alias).toBe('1');
    expect(seen.run_id).toBe(runId);
    expect(seen.source).toMatch(/\/model$/);
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    expect(seen.tags['fitspec.config_hash']).toBe(summary.config_hash);
    expect(Number(seen.tags['fitspec.best_val_accuracy'])).toBeCloseTo(summary.best_val_accuracy, 6);
    expect(seen.tags['mlflow.source.git.commit']).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('fitspec register and models:/ URIs', () => {
  it('registers once per run, with tags and an alias', async () => {
    const r1 = cli(['register', run, '--name', NAME, '--alias', 'champion', '--json'], dir, env());
    expect(r1.code, r1.stderr).toBe(0);
    const v1 = JSON.parse(r1.stdout);
    expect(v1).toMatchObject({ name: NAME, version: '1', created: true, alias: 'champion', runId });
    const r2 = cli(['register', `runs:/${runId}`, '--name', NAME, '--json'], dir, env());
    expect(r2.code, r2.stderr).toBe(0);
    expect(JSON.parse(r2.stdout)).toMatchObject({ version: '1', created: false });
    const seen = await mlflowPython<any>(`
vs = client.search_model_versions("name='${NAME}'")
mv = client.get_model_version_by_alias("${NAME}", "champion")
out({"versions": [v.version for v in vs], "alias": mv.version, "tags": mv.tags, "run_id": mv.run_id})
`);
    expect(seen.versions).toEqual(['1']);
    expect(seen.alias).toBe('1');
    expect(seen.run_id).toBe(runId);
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    expect(seen.tags['fitspec.config_hash']).toBe(summary.config_hash);
    expect(seen.tags['fitspec.experiment_file']).toMatch(/tiny\.yaml$/);
    expect(Number(seen.tags['fitspec.best_val_accuracy'])).toBeCloseTo(summary.best_val_accuracy, 6);
    expect(seen.tags['mlflow.source.git.commit']).toBe(execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim());
  });

  it('predict from runs:/, models:/NAME/VERSION and models:/NAME@ALIAS prints what the run folder gives', () => {
    const local = probabilities(run).map((r) => r.probabilities);
    for (const ref of [`runs:/${runId}`, `models:/${NAME}/1`, `models:/${NAME}@champion`])
      expect(
        probabilities(ref).map((r) => r.probabilities),
        ref,
      ).toEqual(local);
    // Cached by run: a damaged file is noticed by its size and fetched again.
    const weights = fs.readdirSync(cache, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('weights.bin'));
    expect(weights).toHaveLength(1);
    fs.truncateSync(path.join(cache, weights[0]!), 10);
    expect(probabilities(`models:/${NAME}@champion`).map((r) => r.probabilities)).toEqual(local);
  });

  it('evaluate takes models:/NAME@ALIAS', () => {
    const r = cli(['evaluate', `models:/${NAME}@champion`, '--data', dataDir, '--json'], dir, env());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).images).toBe(18);
  });

  it.each([`models:/${NAME}@nobody`, `models:/${NAME}/7`, 'models:/no-such-model/1', 'runs:/0123456789abcdef0123456789abcdef'])('%s: one clear error, exit 2', (ref) => {
    const r = cli(['predict', ref, images[0]!], dir, env());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[model\.not-found\]/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe("fitspec register with a sweep's run", () => {
  it("registers the trial with the best value of the sweep's own metric and direction, tagged with the sweep", async () => {
    const sdir = path.join(dir, 'sweep');
    fs.mkdirSync(sdir);
    const sweepName = `best-${path.basename(dir).slice(-6)}`;
    const file = tinySweep(sdir, dataDir, 1, `  name: ${sweepName}\n  metric: val_loss\n  mode: min\n  parameters:\n    train.optimizer.learningRate: {values: [0.01, 0.0001]}\n`);
    const base = path.join(sdir, 'tiny.yaml');
    fs.writeFileSync(base, fs.readFileSync(base, 'utf8').replace('split: {train: 5, validation: 3}', 'split: {train: 4, validation: 2}'));
    const s = cli(['sweep', file, '--no-progress'], sdir, env());
    expect(s.code, s.stdout + s.stderr).toBe(0);
    const parentId = /MLflow sweep run: \S+\/runs\/([0-9a-f]{32})/.exec(s.stdout)![1]!;
    // The expected trial, from MLflow's own client: the lowest val_loss of any epoch of any trial.
    const want = await mlflowPython<{ runId: string; trial: string; value: number; n: number }>(`
parent = client.get_run(${JSON.stringify(parentId)})
kids = client.search_runs([parent.info.experiment_id], filter_string="tags.\`mlflow.parentRunId\` = '${parentId}'")
best = min(((min(m.value for m in client.get_metric_history(k.info.run_id, "val_loss")), k) for k in kids), key=lambda x: x[0])
out({"runId": best[1].info.run_id, "trial": best[1].data.tags["fitspec.sweep_trial"], "value": best[0], "n": len(kids)})
`);
    expect(want.n).toBe(2);
    // By the sweep's folder, then by its MLflow run: one version.
    const r = cli(['register', path.join(sdir, 'runs', 'sweeps', sweepName), '--name', `${NAME}-sweep`, '--alias', 'best', '--json'], sdir, env());
    expect(r.code, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v).toMatchObject({ name: `${NAME}-sweep`, version: '1', created: true, runId: want.runId, alias: 'best' });
    expect(v.sweep).toMatchObject({ name: sweepName, runId: parentId, trial: want.trial, metric: 'val_loss', mode: 'min' });
    expect(v.sweep.value).toBeCloseTo(want.value, 6);
    const again = cli(['register', `runs:/${parentId}`, '--name', `${NAME}-sweep`], sdir, env());
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`sweep ${sweepName}: best trial ${want.trial} by val_loss (min)`);
    expect(again.stdout).toContain(`already registered: models:/${NAME}-sweep/1 (run ${want.runId})`);
    const seen = await mlflowPython<any>(`
mv = client.get_model_version_by_alias("${NAME}-sweep", "best")
out({"version": mv.version, "run_id": mv.run_id, "tags": mv.tags, "files": sorted(a.path for a in client.list_artifacts(mv.run_id, "model"))})
`);
    expect(seen).toMatchObject({ version: '1', run_id: want.runId });
    expect(seen.tags).toMatchObject({ 'fitspec.sweep': sweepName, 'fitspec.sweep_run_id': parentId, 'fitspec.sweep_trial': want.trial, 'fitspec.sweep_metric': 'val_loss' });
    // The trials did not log their MLflow Model (logModel: never); registering wrote and uploaded it.
    expect(seen.files).toContain('model/MLmodel');
  }, 600_000);
});

describe('mlflow models serve', () => {
  it('/invocations answers the probabilities of fitspec predict', async () => {
    const port = await freePort();
    serving = spawn(python, ['-m', 'mlflow', 'models', 'serve', '-m', `models:/${NAME}@champion`, '--env-manager', 'local', '-h', '127.0.0.1', '-p', String(port), '-w', '1'], {
      // As in an activated venv: the server starts its workers by command name.
      env: { ...process.env, ...env(), TF_CPP_MIN_LOG_LEVEL: '2', PATH: `${path.dirname(python)}${path.delimiter}${process.env.PATH}` },
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    serving.stderr!.on('data', (d) => (log += d));
    const { initBackend } = await import('../../src/backend.js');
    await initBackend('auto');
    const { decodeLikeTraining } = await import('../../src/data/prepare.js');
    const d = JSON.parse(fs.readFileSync(path.join(run, 'model', 'fitspec-model.json'), 'utf8'));
    const p = d.preprocessing;
    const u8 = await decodeLikeTraining(images, { height: p.height, width: p.width, channels: p.channels, resize: p.resize, interpolation: p.interpolation });
    const flat = Array.from(u8, (v) => Math.fround(v * Math.fround(p.rescale)));
    const tensor = images.map((_, n) =>
      Array.from({ length: p.height }, (_, y) =>
        Array.from({ length: p.width }, (_, x) => flat.slice(((n * p.height + y) * p.width + x) * p.channels, ((n * p.height + y) * p.width + x + 1) * p.channels)),
      ),
    );
    const t0 = Date.now();
    let answer: { predictions: number[][] | Record<string, number>[] } | undefined;
    while (Date.now() - t0 < 600_000) {
      if (serving.exitCode !== null) throw new Error(`mlflow models serve exited ${serving.exitCode}:\n${log.slice(-3000)}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/invocations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: tensor }),
        });
        if (res.ok) {
          answer = await res.json();
          break;
        }
        throw new Error(`HTTP ${res.status}: ${await res.text()}`);
      } catch (e) {
        if (!/ECONNREFUSED|fetch failed/.test(String((e as Error).cause ?? e))) throw e;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(answer, log.slice(-2000)).toBeDefined();
    const rows = (answer!.predictions as unknown[]).map((r) => (Array.isArray(r) ? (r as number[]) : Object.values(r as Record<string, number>)));
    const want = probabilities(run).map((r) => d.classes.map((c: string) => r.probabilities[c]!));
    expect(rows).toHaveLength(images.length);
    const diff = Math.max(...rows.flatMap((row, i) => row.map((v, j) => Math.abs(v - want[i]![j]!))));
    expect(diff).toBeLessThanOrEqual(1e-4);
  }, 900_000);
});
