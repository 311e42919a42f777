import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mlflowPython, mlflowServer } from '../setup/mlflow.js';
import { cli, onlyRun, synth, tinyExperiment, tmpDir } from './helpers.js';

let uri: string;
let dataDir: string;

beforeAll(async () => {
  uri = await mlflowServer();
  dataDir = path.join(tmpDir('mlflow-data'), 'faces');
  synth(dataDir, 8);
});

describe('fitspec train with an MLflow server', () => {
  it('logs params, every epoch, tags, dataset and artifacts that MLflow itself reads back', async () => {
    const dir = tmpDir('mlflow-train');
    const file = tinyExperiment(dir, dataDir, '');
    fs.writeFileSync(
      file,
      fs
        .readFileSync(file, 'utf8')
        .replace('split: {train: 8, validation: 4}', 'split: {train: 5, validation: 3}')
        .replace('epochs: 2', 'epochs: 3')
        .replace('name: tiny', 'name: tiny\ndescription: tracked end to end'),
    );
    const r = cli(['train', file, '--no-progress'], dir, { MLFLOW_TRACKING_URI: uri });
    expect(r.code, r.stderr).toBe(0);
    const run = onlyRun(path.join(dir, 'runs'));
    const record = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    const runId = record.mlflow?.runId as string;
    expect(runId).toBeTruthy();
    // The run's page in the MLflow UI, printed when the run starts and again when it ends.
    const url = `${uri.replace(/\/+$/, '')}/#/experiments/${record.mlflow.experimentId}/runs/${runId}`;
    expect(r.stdout.split('\n').filter((l) => l === `MLflow run: ${url}`)).toHaveLength(2);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`MLflow run: ${url}`);

    const seen = await mlflowPython<any>(`
run = mlflow.get_run(${JSON.stringify(runId)})
hist = {k: [m.step for m in client.get_metric_history(run.info.run_id, k)] for k in ["loss", "accuracy", "val_loss", "val_accuracy"]}
def walk(path):
    out = []
    for a in client.list_artifacts(run.info.run_id, path):
        out += walk(a.path) if a.is_dir else [a.path]
    return out
out({
  "status": run.info.status,
  "params": run.data.params,
  "tags": run.data.tags,
  "hist": hist,
  "artifacts": walk(None),
  "datasets": [{"name": d.dataset.name, "digest": d.dataset.digest, "context": [t.value for t in d.tags if t.key == "mlflow.data.context"]} for d in run.inputs.dataset_inputs],
})
`);
    expect(seen.status).toBe('FINISHED');
    expect(seen.params['train.optimizer.learningRate']).toBe('0.01');
    expect(seen.params['model.layers.0.conv2d.filters']).toBe('4');
    expect(seen.params.optimizer_name).toBe('adam');
    expect(seen.params.epochs).toBe('3');
    for (const k of ['loss', 'accuracy', 'val_loss', 'val_accuracy']) expect(seen.hist[k], k).toEqual([0, 1, 2]);
    expect(seen.tags['mlflow.note.content']).toBe('tracked end to end');
    expect(seen.tags['fitspec.config_hash']).toMatch(/^[0-9a-f]{12,64}$/);
    expect(Number(seen.tags['fitspec.wall_time_s'])).toBe(JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8')).wall_time_s);
    expect(seen.tags['mlflow.source.name']).toContain('tiny.yaml');
    expect(seen.datasets[0].context).toEqual(['training']);
    for (const a of ['config.yaml', 'resolved.yaml', 'metrics.csv', 'model_summary.txt', 'summary.json', 'model/model.json', 'plots/learning_curves.png', 'split/train.txt']) {
      expect(seen.artifacts, a).toContain(a);
    }
  });
});

describe('tracking.logModel: auto with a conversion environment that cannot be installed', () => {
  it('tries to install it with one notice, then warns; the run stays FINISHED locally and in MLflow', async () => {
    const dir = tmpDir('mlflow-train-no-venv');
    const file = tinyExperiment(dir, dataDir, '', 'default');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('split: {train: 8, validation: 4}', 'split: {train: 4, validation: 2}').replace('epochs: 2', 'epochs: 1'));
    // An interpreter the installer refuses: the install fails at once instead of after minutes.
    const python = path.join(dir, 'old-python');
    fs.writeFileSync(python, '#!/bin/sh\necho 3.9\n', { mode: 0o755 });
    const r = cli(['train', file, '--no-progress'], dir, { MLFLOW_TRACKING_URI: uri, FITSPEC_MODELS_VENV: path.join(dir, 'venv'), FITSPEC_PYTHON: python });
    const out = r.stdout + r.stderr;
    expect(r.code, out).toBe(0);
    expect(out.split('\n').filter((l) => l.includes('installing the model conversion environment'))).toHaveLength(1);
    expect(out).toContain('`tracking.logModel: never` skips it');
    const warning = out.split('\n').find((l) => l.startsWith('warning: no MLflow Model'));
    expect(warning, out).toContain('needs Python >= 3.10');
    const run = onlyRun(path.join(dir, 'runs'));
    expect(warning).toContain(`fitspec register ${run} --name NAME`);
    expect(warning).toContain(`fitspec export ${run} --format mlflow`);
    const record = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    expect(record.status).toBe('FINISHED');
    expect(fs.existsSync(path.join(run, 'model', 'model.json'))).toBe(true);
    expect(fs.existsSync(path.join(run, 'model', 'MLmodel'))).toBe(false);
    const seen = await mlflowPython<any>(`
run = mlflow.get_run(${JSON.stringify(record.mlflow.runId)})
out({"status": run.info.status, "model": sorted(a.path for a in client.list_artifacts(run.info.run_id, "model"))})
`);
    expect(seen.status).toBe('FINISHED');
    expect(seen.model).toContain('model/model.json');
    expect(seen.model).not.toContain('model/MLmodel');
  });
});
