import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlflowServer } from '../setup/mlflow.js';
import { cli, onlyRun, repeatableMetrics, synth, tinyExperiment, tmpDir } from './helpers.js';

const dir = tmpDir('rerun');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const env = { MLFLOW_TRACKING_URI: '', NO_COLOR: '1' };
let run = '';

beforeAll(() => {
  synth(path.join(dir, 'data'));
  const file = tinyExperiment(dir, path.join(dir, 'data'));
  const r = cli(['train', file, '--no-progress'], dir, env);
  expect(r.code, r.stderr).toBe(0);
  run = onlyRun(path.join(dir, 'runs'));
}, 300_000);

describe('fitspec verify and rerun', () => {
  it('verify retrains the run in a scratch folder and finds every metric identical', () => {
    const r = cli(['verify', run, '--epochs', '2'], dir, env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`identical: 2 epochs of ${path.basename(run)} retrained, 5 metrics each, bit for bit`);
    expect(fs.readdirSync(path.join(dir, 'runs', 'tiny'))).toEqual([path.basename(run)]);
  }, 300_000);

  it('verify fails (exit 1) on a run whose metrics history was altered, naming the first difference', () => {
    const altered = path.join(dir, 'runs', 'tiny', 'altered');
    fs.cpSync(run, altered, { recursive: true });
    const file = path.join(altered, 'metrics.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('"key":"val_loss"') && l.includes('"step":1'));
    const p = JSON.parse(lines[i]!);
    lines[i] = JSON.stringify({ ...p, value: p.value + 1e-6 });
    fs.writeFileSync(file, lines.join('\n'));
    const r = cli(['verify', altered], dir, env);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^differs at epoch 2, val_loss: logged [\d.]+, retrained [\d.]+$/m);

    // Trained with other kernels: a difference is expected, said before training, and not a failure.
    const record = JSON.parse(fs.readFileSync(path.join(altered, 'run.json'), 'utf8'));
    record.tags['fitspec.kernels'] = 'SomeOtherKernels';
    fs.writeFileSync(path.join(altered, 'run.json'), JSON.stringify(record));
    const other = cli(['verify', altered, '--epochs', '2'], dir, env);
    expect(other.code).toBe(0);
    expect(other.stdout).toMatch(/^the metrics cannot be expected to be identical:\n {2}- CPU kernels: the run had SomeOtherKernels, this machine has \w+\n/);
    fs.rmSync(altered, { recursive: true });
  }, 300_000);

  it('rerun trains a new run from the logged config and split, tagged with the run it repeats, with the same metrics', () => {
    const id = path.basename(run);
    const r = cli(['rerun', id, '--runs-dir', path.join(dir, 'runs'), '--no-progress'], dir, env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const again = fs.readdirSync(path.join(dir, 'runs', 'tiny')).filter((d) => d !== id);
    expect(again).toHaveLength(1);
    const rerunDir = path.join(dir, 'runs', 'tiny', again[0]!);
    const record = JSON.parse(fs.readFileSync(path.join(rerunDir, 'run.json'), 'utf8'));
    expect(record.status).toBe('FINISHED');
    expect(record.tags['fitspec.rerun_of']).toBe(id);
    expect(fs.readFileSync(path.join(rerunDir, 'split', 'train.txt'), 'utf8')).toBe(fs.readFileSync(path.join(run, 'split', 'train.txt'), 'utf8'));
    expect(repeatableMetrics(rerunDir)).toEqual(repeatableMetrics(run));
    expect(r.stdout).toContain(`repeats every metric of ${id} exactly (2 epochs)`);
  }, 300_000);

  it('an unknown run is a user error (exit 2)', () => {
    const r = cli(['verify', 'no-such-run', '--runs-dir', path.join(dir, 'runs')], dir, env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('run.not-found');
  });
});

describe('fitspec verify of a run only the tracking server has', () => {
  it('downloads its config, split and metrics through MLflow, and finds them identical', async () => {
    const uri = await mlflowServer();
    const mdir = path.join(dir, 'tracked');
    fs.mkdirSync(mdir);
    const file = tinyExperiment(mdir, path.join(dir, 'data'), `  experiment: verify-${process.pid}\n`);
    const trained = cli(['train', file, '--no-progress'], mdir, { ...env, MLFLOW_TRACKING_URI: uri });
    expect(trained.code, trained.stderr).toBe(0);
    const local = onlyRun(path.join(mdir, 'runs'));
    const id = JSON.parse(fs.readFileSync(path.join(local, 'run.json'), 'utf8')).mlflow.runId as string;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    // The run folder is gone: only the server has the run.
    fs.rmSync(path.join(mdir, 'runs'), { recursive: true });
    const r = cli(['verify', `runs:/${id}`, '--epochs', '1'], mdir, { ...env, MLFLOW_TRACKING_URI: uri });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`identical: 1 epoch of ${path.basename(local)} retrained, 5 metrics each, bit for bit`);
  }, 900_000);
});
