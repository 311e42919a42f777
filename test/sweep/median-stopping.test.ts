import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { medianStopping } from '../../src/sweep/early-stop.js';
import type { TrialJob } from '../../src/sweep/records.js';
import { tmpDir } from '../train/helpers.js';

/** Run folders as a trained trial leaves them: run.json and metrics.jsonl (step = 0-based epoch). */
function run(runsDir: string, id: string, hash: string, status: string, values: number[], metric = 'val_accuracy') {
  const dir = path.join(runsDir, 'exp', id);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'run.json'),
    JSON.stringify({ runId: id, experimentName: 'exp', status, startTime: 1, tags: { 'fitspec.sweep': 's', 'fitspec.config_hash': hash } }),
  );
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), values.map((value, step) => JSON.stringify({ key: metric, value, step, timestamp: 1 })).join('\n') + '\n');
  return dir;
}

function job(mode: 'max' | 'min', afterEpoch: number, minTrials: number): TrialJob {
  return { sweep: 's', hash: 'me', mode, metric: 'val_accuracy', earlyStop: { type: 'medianStopping', metric: 'val_accuracy', afterEpoch, minTrials } } as TrialJob;
}

describe('medianStopping', () => {
  it('compares the best value so far with the median of the completed trials at the same epoch, from afterEpoch on, once minTrials have one', () => {
    const runsDir = tmpDir('median');
    run(runsDir, 'a', 'h1', 'FINISHED', [0.5, 0.6, 0.7]);
    run(runsDir, 'b', 'h2', 'FINISHED', [0.4, 0.8, 0.9]);
    run(runsDir, 'c', 'h3', 'RUNNING', [0.1, 0.1, 0.1]); // not completed: not counted
    run(runsDir, 'd', 'h4', 'FINISHED', [0.3]); // no value at later epochs
    const logs: string[] = [];
    const rule = medianStopping(job('max', 2, 2), runsDir, 'exp', (m) => logs.push(m));
    // Epoch 1 is before afterEpoch, even though 0.2 is below the median 0.4 there.
    expect(rule.shouldStop(0, { val_accuracy: 0.2 })).toBe(false);
    // Epoch 2: best 0.72 vs median(0.6, 0.8) = 0.7: not worse.
    expect(rule.shouldStop(1, { val_accuracy: 0.72 })).toBe(false);
    // Epoch 3: best is still 0.72 vs median(0.7, 0.9) = 0.8: stopped.
    expect(rule.shouldStop(2, { val_accuracy: 0.5 })).toBe(true);
    expect(rule.state.stoppedAt).toBe(3);
    expect(logs.join('\n')).toContain('stopped by medianStopping at epoch 3');

    // Three completed trials needed: only two have a value at epoch 3.
    expect(medianStopping(job('max', 1, 3), runsDir, 'exp', () => {}).shouldStop(2, { val_accuracy: 0 })).toBe(false);
  });

  it('mode min: a larger value is worse; a resumed trial counts its earlier epochs', () => {
    const runsDir = tmpDir('median-min');
    run(runsDir, 'a', 'h1', 'FINISHED', [1.0, 0.8]);
    run(runsDir, 'b', 'h2', 'FINISHED', [1.0, 0.6]);
    expect(medianStopping(job('min', 1, 2), runsDir, 'exp', () => {}).shouldStop(1, { val_accuracy: 0.75 })).toBe(true);
    expect(medianStopping(job('min', 1, 2), runsDir, 'exp', () => {}).shouldStop(1, { val_accuracy: 0.65 })).toBe(false);
    // The trial's own earlier attempt reached 0.5 at epoch 1 (its folder is skipped as "other" by its hash).
    const mine = run(runsDir, 'm', 'me', 'RUNNING', [0.5]);
    expect(medianStopping(job('min', 1, 2), runsDir, 'exp', () => {}, mine).shouldStop(1, { val_accuracy: 0.75 })).toBe(false);
  });
});
