// The path a new user takes with the shipped demo, as docs/models.md tells it: train
// experiments/demo.yaml against a tracking server (the run logs model/MLmodel with the default
// tracking.logModel), register it with an alias, predict from models:/NAME@ALIAS and get what the run
// folder gives, and rerun it with every metric repeated.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModelsVenv } from '../../scripts/models/venv.mjs';
import { mlflowPython, mlflowServer } from '../setup/mlflow.js';
import { cli, ROOT, repeatableMetrics, tmpDir } from '../train/helpers.js';

const dir = tmpDir('demo-path');
const cache = path.join(dir, 'cache');
const NAME = `age-detector-${path.basename(dir).slice(-6)}`;
let uri = '';
let run = '';
let runId = '';
let trainOutput = '';
let images: string[] = [];

const env = () => ({ MLFLOW_TRACKING_URI: uri, XDG_CACHE_HOME: cache, NO_COLOR: '1' });

const predicted = (ref: string) => {
  const r = cli(['predict', ref, ...images, '--json'], dir, env());
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { class: string; probabilities: Record<string, number> }[]).map((p) => p.probabilities);
};

beforeAll(async () => {
  [uri] = await Promise.all([mlflowServer(), ensureModelsVenv({ log: () => {} })]);
  // A project of the user's own: the shipped demo file, the images `npm run demo` makes, a git commit.
  fs.mkdirSync(path.join(dir, 'experiments'));
  fs.copyFileSync(path.join(ROOT, 'experiments', 'demo.yaml'), path.join(dir, 'experiments', 'demo.yaml'));
  const synth = cli(['data', 'synth', '--out', 'data/demo', '--per-class', '400', '--layout', 'directory', '--seed', '7'], dir);
  if (synth.code !== 0) throw new Error(synth.stderr);
  const git = (...a: string[]) => execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...a], { cwd: dir, stdio: 'ignore' });
  git('init', '-q');
  git('add', 'experiments');
  git('commit', '-q', '-m', 'demo');
  const r = cli(['train', 'experiments/demo.yaml', '--no-progress'], dir, env());
  if (r.code !== 0) throw new Error(r.stderr + r.stdout);
  trainOutput = r.stdout + r.stderr;
  const runs = fs.readdirSync(path.join(dir, 'runs', 'demo'));
  expect(runs).toHaveLength(1);
  run = path.join(dir, 'runs', 'demo', runs[0]!);
  runId = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).mlflow.runId;
  images = ['young', 'middle', 'old'].map((c) => {
    const first = fs.readdirSync(path.join(dir, 'data', 'demo', c)).sort()[0]!;
    return path.join('data', 'demo', c, first);
  });
}, 900_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the demo from training to the registry', () => {
  it('fitspec train experiments/demo.yaml logs model/MLmodel among the run artifacts', async () => {
    expect(trainOutput).toMatch(/model: MLflow Model \(keras flavor\) written to model\/MLmodel/);
    const listed = await mlflowPython<string[]>(`out(sorted(a.path for a in client.list_artifacts(${JSON.stringify(runId)}, "model")))`);
    expect(listed).toContain('model/MLmodel');
  });

  it('fitspec register makes a version tagged with the config hash, file, commit and best metrics, and the alias', async () => {
    const r = cli(['register', run, '--name', NAME, '--alias', 'champion', '--json'], dir, env());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: NAME, version: '1', created: true, alias: 'champion', runId });
    const seen = await mlflowPython<any>(`
mv = client.get_model_version_by_alias("${NAME}", "champion")
out({"version": mv.version, "tags": mv.tags, "run_id": mv.run_id})
`);
    expect(seen).toMatchObject({ version: '1', run_id: runId });
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    expect(seen.tags['fitspec.config_hash']).toBe(summary.config_hash);
    expect(seen.tags['fitspec.experiment_file']).toMatch(/experiments\/demo\.yaml$/);
    expect(seen.tags['mlflow.source.git.commit']).toBe(execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim());
    expect(Number(seen.tags['fitspec.best_val_accuracy'])).toBeCloseTo(summary.best_val_accuracy, 6);
  });

  it('fitspec predict models:/NAME@champion prints the probabilities the run folder gives', () => {
    const local = predicted(run);
    expect(local).toHaveLength(3);
    expect(predicted(`models:/${NAME}@champion`)).toEqual(local);
  });

  it('fitspec rerun of the demo run repeats every metric exactly', () => {
    const id = path.basename(run);
    const r = cli(['rerun', run, '--no-progress'], dir, { ...env(), MLFLOW_TRACKING_URI: '' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const again = fs.readdirSync(path.join(dir, 'runs', 'demo')).filter((d) => d !== id);
    expect(again).toHaveLength(1);
    const rerunDir = path.join(dir, 'runs', 'demo', again[0]!);
    expect(JSON.parse(fs.readFileSync(path.join(rerunDir, 'run.json'), 'utf8')).tags['fitspec.rerun_of']).toBe(id);
    expect(repeatableMetrics(rerunDir)).toEqual(repeatableMetrics(run));
    expect(repeatableMetrics(run).length).toBeGreaterThan(10);
    expect(r.stdout).toMatch(new RegExp(`repeats every metric of ${id} exactly \\(\\d+ epochs\\)`));
  }, 600_000);
});
