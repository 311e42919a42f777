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

describe('an ASHA sweep cancelled at a promotion', () => {
  const asha = path.join(dir, 'asha.yaml');
  fs.writeFileSync(
    asha,
    `extends: base.yaml
sweep:
  method: grid
  metric: val_accuracy
  mode: max
  scheduler: {type: asha, minEpochs: 1, maxEpochs: 4, reductionFactor: 2}
  parameters:
    train.optimizer.learningRate: {values: [0.1, 0.01, 0.001, 0.0001]}
`,
  );
  // Trial i's curve rises with i: the scheduler's choices are fixed.
  const curve = (job: TrialJob, epochs: number) => Array.from({ length: epochs }, (_, e) => 0.3 + 0.05 * job.index * ((e + 1) / 4));
  /** Jobs answered from the curves, each trial's epochs kept by its config hash as its run folder would. */
  const executor = (trained: Map<string, number>, calls: string[], removeFirstPromotion: { armed: boolean; cancelled: boolean }) => ({
    run: async (job: TrialJob, key: string): Promise<TrialOutcome> => {
      const base = { trial: job.trial, hash: job.hash, params: job.params };
      const from = trained.get(job.hash) ?? 0;
      if (removeFirstPromotion.armed && from > 0 && job.pauseAt !== undefined && job.pauseAt > from) {
        // `fitspec sweep cancel` removed this queued job before a worker took it.
        removeFirstPromotion.armed = false;
        removeFirstPromotion.cancelled = true;
        calls.push(`${job.trial} ${key} removed`);
        return { ...base, status: 'CANCELLED' };
      }
      if (job.finishAt !== undefined) return { ...base, status: 'FINISHED', stoppedBy: 'scheduler', epochs: from, values: curve(job, from) };
      const to = job.pauseAt ?? 4;
      trained.set(job.hash, to);
      calls.push(`${job.trial} ${from}->${to}`);
      return { ...base, status: to >= 4 ? 'FINISHED' : 'PAUSED', epochs: to, values: curve(job, to) };
    },
  });

  it('leaves the trial paused at its rung with its run, starts nothing more; a re-run promotes it from that rung', async () => {
    const plan = planSweep(asha);
    const meta = sweepMeta(plan, undefined);
    const trained = new Map<string, number>();
    const calls: string[] = [];
    const flag = { armed: true, cancelled: false };
    const first = await driveSweep(plan, meta, {
      executor: executor(trained, calls, flag),
      parallel: 1,
      log: () => undefined,
      recovered: new Map(),
      persist: () => undefined,
      stopping: () => flag.cancelled,
    });
    const removed = calls.at(-1)!;
    expect(removed).toMatch(/^t00\d e\d removed$/);
    const promoted = removed.split(' ')[0]!;
    // Nothing ran after the removed promotion; the trial is where its last rung left it.
    const at = first.outcomes.find((o) => o.trial === promoted)!;
    expect([at.status, at.rungState, at.epochs]).toEqual(['PAUSED', 'paused', trained.get(at.hash)]);
    expect(at.epochs).toBeGreaterThan(0);

    // Run again, as the coordinator does: the finished jobs' outcomes recovered from the queue.
    const recovered = new Map(first.outcomes.filter((o) => o.status !== 'CANCELLED').map((o) => [o.trial, o]));
    const again: string[] = [];
    const second = await driveSweep(planSweep(asha), meta, {
      executor: executor(trained, again, { armed: false, cancelled: false }),
      parallel: 1,
      log: () => undefined,
      recovered,
      persist: () => undefined,
    });
    // The promotion the cancel removed comes first, resumed from the epoch its trial had reached.
    expect(again[0]).toBe(`${promoted} ${at.epochs}->${removed.split(' ')[1]!.slice(1)}`);
    // No trial trains an epoch twice: every job starts where the trial's run ended.
    for (const c of [...calls, ...again].filter((c) => c.includes('->'))) expect(Number(c.split(' ')[1]!.split('->')[0])).toBeLessThan(Number(c.split('->')[1]));
    // And the sweep ends as ASHA ends it: the best trial (the highest curve) trained to maxEpochs.
    expect(second.outcomes.find((o) => o.trial === 't004')).toMatchObject({ status: 'FINISHED', epochs: 4, rungState: 'finished' });
    expect(second.outcomes.every((o) => o.rungState === 'finished' || o.rungState === 'stopped')).toBe(true);
    expect(second.outcomes.map((o) => o.trial)).toEqual(['t001', 't002', 't003', 't004']);
  }, 60_000);
});
