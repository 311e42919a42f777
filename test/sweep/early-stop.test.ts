import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, synth, tmpDir } from '../train/helpers.js';
import { tinySweep } from './helpers.js';

let dataDir: string;

beforeAll(() => {
  dataDir = path.join(tmpDir('sweep-early-data'), 'faces');
  synth(dataDir, 8);
});

function runs(dir: string) {
  return fs
    .readdirSync(path.join(dir, 'runs', 'tiny'))
    .map((r) => JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'tiny', r, 'run.json'), 'utf8')) as { status: string; tags: Record<string, string>; runId: string })
    .map((r) => ({
      ...r,
      epochs:
        fs
          .readFileSync(path.join(dir, 'runs', 'tiny', r.runId, 'metrics.csv'), 'utf8')
          .trim()
          .split('\n').length - 1,
    }));
}

describe('sweep.earlyStop: medianStopping', () => {
  it('stops a trial that does not learn at afterEpoch, once enough trials completed; the others train every epoch', () => {
    const dir = tmpDir('sweep-early');
    // A learning rate of 1e-9 leaves the loss where it starts; the two working trials run first (parallel 1).
    const file = tinySweep(
      dir,
      dataDir,
      4,
      `  name: es
  metric: loss
  mode: min
  parallel: 1
  earlyStop: {type: medianStopping, afterEpoch: 2, minTrials: 2}
  parameters:
    train.optimizer.learningRate: {values: [0.01, 0.005, 1.0e-9]}
`,
    );
    const r = cli(['sweep', file], dir, { MLFLOW_TRACKING_URI: '' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const byTrial = Object.fromEntries(runs(dir).map((x) => [x.tags['fitspec.sweep_trial'], x]));
    expect(byTrial.t003!.status).toBe('FINISHED');
    expect(byTrial.t003!.epochs).toBe(2);
    expect(byTrial.t003!.tags['fitspec.stopped_by']).toBe('medianStopping');
    for (const t of ['t001', 't002']) {
      expect(byTrial[t]!.status).toBe('FINISHED');
      expect(byTrial[t]!.epochs).toBe(4);
      expect(byTrial[t]!.tags['fitspec.stopped_by']).toBeUndefined();
    }
    expect(r.stdout).toMatch(/t003\] stopped by medianStopping at epoch 2/);
    const csv = fs
      .readFileSync(path.join(dir, 'runs', 'sweeps', 'es', 'results.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe('trial,train.optimizer.learningRate,loss,status,stopped_by,run,hash,error');
    expect(csv.slice(1).map((l) => l.split(',').slice(3, 5).join(','))).toEqual(['FINISHED,', 'FINISHED,', 'FINISHED,medianStopping']);
  });
});
