import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { driveSweep } from '../../src/sweep/drive.js';
import { planSweep } from '../../src/sweep/plan.js';
import { sweepMeta, type TrialJob, type TrialOutcome } from '../../src/sweep/records.js';
import { MINIMAL } from '../config/helpers.js';

// The driver of tpe sweeps (Optuna asks and tells) with jobs answered at once, to place a cancel exactly.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-drive-cancel-'));
fs.writeFileSync(path.join(dir, 'base.yaml'), `${MINIMAL.replace('name: t', 'name: base')}train: {epochs: 2}\n`);
const file = path.join(dir, 'tpe.yaml');
fs.writeFileSync(
  file,
  `extends: base.yaml
sweep:
  method: tpe
  count: 4
  seed: 3
  metric: val_accuracy
  mode: max
  parameters:
    train.optimizer.learningRate: {distribution: logUniform, min: 0.001, max: 0.1}
`,
);

describe('a tpe sweep cancelled while it draws a trial', () => {
  it('keeps the point drawn when the cancel is seen (on its save) but starts no job for it, and reports it cancelled', async () => {
    const plan = planSweep(file);
    const meta = sweepMeta(plan, undefined);
    const ran: string[] = [];
    const logs: string[] = [];
    let cancelled = false;
    const r = await driveSweep(plan, meta, {
      executor: {
        run: async (job: TrialJob): Promise<TrialOutcome> => {
          ran.push(job.trial);
          return { trial: job.trial, hash: job.hash, params: job.params, status: 'FINISHED', values: [0.3, 0.4], epochs: 2 };
        },
      },
      parallel: 1,
      log: (m) => logs.push(m),
      recovered: new Map(),
      // The third trial's save is where the sweep's flag, set by `fitspec sweep cancel` meanwhile, is read.
      persist: (m) => {
        if (m.trials.length === 3) cancelled = true;
      },
      stopping: () => cancelled,
    });
    expect(ran).toEqual(['t001', 't002']);
    expect(meta.trials.map((t) => t.id)).toEqual(['t001', 't002', 't003']);
    expect(r.outcomes.map((o) => [o.trial, o.status, o.rungState])).toEqual([
      ['t001', 'FINISHED', 'finished'],
      ['t002', 'FINISHED', 'finished'],
      ['t003', 'CANCELLED', 'cancelled'],
    ]);
    expect(logs.filter((l) => l.includes('drawn by tpe'))).toHaveLength(2);
    expect(logs.at(-1)).toMatch(/^\[base t003\] train\.optimizer\.learningRate=[\d.e-]+: kept for a re-run, not started \(the sweep stops\)$/);
  }, 60_000);
});
