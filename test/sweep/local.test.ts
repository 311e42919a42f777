import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, synth, tinyExperiment, tmpDir } from '../train/helpers.js';
import { tinySweep } from './helpers.js';

let dataDir: string;

beforeAll(() => {
  dataDir = path.join(tmpDir('sweep-data'), 'faces');
  synth(dataDir, 8);
});

describe('fitspec sweep (embedded runner, no Redis, no tracking server)', () => {
  it('trains each trial once in worker processes, writes the results table, and trains nothing the second time', () => {
    const dir = tmpDir('sweep-local');
    const file = tinySweep(
      dir,
      dataDir,
      1,
      `  name: lr
  parameters:
    train.optimizer.learningRate: {values: [0.01, 0.001]}
    model.layers.0.conv2d.filters: {values: [2]}
`,
    );
    const dry = cli(['sweep', file, '--dry-run'], dir);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/t001\s+0\.01\s+2\s+[0-9a-f]{12}\s+to train/);
    expect(fs.existsSync(path.join(dir, 'runs'))).toBe(false);

    const first = cli(['sweep', file, '--parallel', '2'], dir, { MLFLOW_TRACKING_URI: '' });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('2 to train with 2 worker process(es)');
    const runs = fs.readdirSync(path.join(dir, 'runs', 'tiny'));
    expect(runs).toHaveLength(2);
    const records = runs.map((r) => JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'tiny', r, 'run.json'), 'utf8')));
    expect(records.map((r) => r.status)).toEqual(['FINISHED', 'FINISHED']);
    expect(records.map((r) => r.tags['fitspec.sweep'])).toEqual(['lr', 'lr']);
    expect(new Set(records.map((r) => r.tags['fitspec.sweep_trial']))).toEqual(new Set(['t001', 't002']));
    const csv = fs
      .readFileSync(path.join(dir, 'runs', 'sweeps', 'lr', 'results.csv'), 'utf8')
      .trim()
      .split('\n');
    // Parameters in the order the sweep block lists them.
    expect(csv[0]).toBe('trial,train.optimizer.learningRate,model.layers.0.conv2d.filters,val_accuracy,status,run,hash,error');
    expect(csv.slice(1).map((l) => l.split(',')[4])).toEqual(['FINISHED', 'FINISHED']);

    const again = cli(['sweep', file], dir, { MLFLOW_TRACKING_URI: '' });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('2 already finished, 0 to train');
    expect(fs.readdirSync(path.join(dir, 'runs', 'tiny'))).toHaveLength(2);

    const status = cli(['sweep', 'status', 'lr', '--runs-dir', path.join(dir, 'runs')], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('done 2, failed 0');
  });

  it('a trial that fails with a user error is reported once with its message; the others still run', () => {
    const dir = tmpDir('sweep-fail');
    tinyExperiment(dir, dataDir, '');
    const file = path.join(dir, 'sweep.yaml');
    // 8 + 4 images per class is more than the 8 there are: the data check fails when training starts.
    fs.writeFileSync(file, 'extends: tiny.yaml\nsweep:\n  parameters:\n    data.split.train: {values: [8, 4]}\n    train.epochs: {values: [1]}\n');
    const r = cli(['sweep', file], dir, { MLFLOW_TRACKING_URI: '' });
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/t001\] failed: Class \w+ has 8 usable images/);
    expect(r.stdout).toMatch(/t002\s+4\s+1\s+[\d.]+\s+FINISHED/);
    expect(r.stdout.match(/failed:/g)).toHaveLength(1);
  });
});
