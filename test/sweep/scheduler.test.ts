import { describe, expect, it } from 'vitest';
import { decide, promotable, rungsOf, type SchedulerRule, type TrialProgress } from '../../src/sweep/scheduler.js';

const asha: SchedulerRule = { type: 'asha', minEpochs: 1, maxEpochs: 9, reductionFactor: 3 };

function trial(position: number, values: number[], phase: TrialProgress['phase'] = 'paused', target?: number): TrialProgress {
  return { id: `t${position + 1}`, position, epochs: values.length, values, phase, target };
}

describe('successive halving decisions', () => {
  it('rungs grow by the reduction factor and end at maxEpochs', () => {
    expect(rungsOf(asha)).toEqual([1, 3, 9]);
    expect(rungsOf({ minEpochs: 1, maxEpochs: 4, reductionFactor: 3 })).toEqual([1, 3, 4]);
    expect(rungsOf({ minEpochs: 2, maxEpochs: 2, reductionFactor: 2 })).toEqual([2]);
  });

  it('promotes the top 1/eta of a rung, one at a time, never the same trial twice', () => {
    const ts = [trial(0, [0.5]), trial(1, [0.9]), trial(2, [0.1])];
    expect(promotable(ts, asha, 0, 1, 'max').map((t) => t.id)).toEqual(['t2']);
    expect(decide(ts, asha, 9, 'max')).toEqual({ kind: 'promote', trial: 't2', from: 1, to: 3 });
    // Once promoted (running to 3), the rung has nothing more to give until it grows: a new trial starts.
    ts[1] = { ...ts[1]!, phase: 'running', target: 3 };
    expect(decide(ts, asha, 9, 'max')).toEqual({ kind: 'start', to: 1, bracket: 0 });
    // In min mode the smallest value is the best.
    expect(decide([trial(0, [0.5]), trial(1, [0.9]), trial(2, [0.1])], asha, 9, 'min')).toMatchObject({ kind: 'promote', trial: 't3' });
  });

  it('the highest rung goes first; with every trial started and nothing running, the best paused one is finished and the rest stopped', () => {
    const ts = [trial(0, [0.5, 0.6, 0.7]), trial(1, [0.9]), trial(2, [0.1]), trial(3, [0.2]), trial(4, [0.3, 0.3, 0.35]), trial(5, [0.4, 0.1, 0.2])];
    // Rung 3 has three trials: its best (t1, 0.7) goes to 9 before anything of rung 1.
    expect(decide(ts, asha, 6, 'max')).toEqual({ kind: 'promote', trial: 't1', from: 3, to: 9 });
    ts[0] = { ...trial(0, [0.5, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.8]), phase: 'finished' };
    // Rung 1: six trials reached it, top two are t2 (0.9) and t1 (done); t2 waits at 1.
    expect(decide(ts, asha, 6, 'max')).toEqual({ kind: 'promote', trial: 't2', from: 1, to: 3 });
    // At rung 3, t2 ranks by its best so far (0.9 after epoch 1): the top one of four there.
    ts[1] = { ...trial(1, [0.9, 0.2, 0.25]), phase: 'paused' };
    expect(decide(ts, asha, 6, 'max')).toEqual({ kind: 'promote', trial: 't2', from: 3, to: 9 });
    ts[1] = { ...trial(1, [0.9, 0.2, 0.25, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]), phase: 'finished' };
    // Nothing more can be promoted and a trial has trained maxEpochs: the paused ones stop where they are.
    expect(decide(ts, asha, 6, 'max')).toEqual({ kind: 'stop', trial: 't3', at: 1 });
    ts[2] = { ...ts[2]!, phase: 'running', target: 1 };
    expect(decide(ts, asha, 6, 'max')).toEqual({ kind: 'wait' });
  });

  it('a sweep whose rule promotes nobody to the last rung still trains its best trial to maxEpochs', () => {
    const rule: SchedulerRule = { type: 'asha', minEpochs: 1, maxEpochs: 4, reductionFactor: 3 };
    const ts = [trial(0, [0.1, 0.2, 0.3]), trial(1, [0.4, 0.5, 0.6]), trial(2, [0.2]), trial(3, [0.1])];
    expect(decide(ts, rule, 4, 'max')).toEqual({ kind: 'promote', trial: 't2', from: 3, to: 4 });
  });

  it('hyperband shares trials between brackets that start at later rungs', () => {
    const hb: SchedulerRule = { ...asha, type: 'hyperband' };
    const ts: TrialProgress[] = [];
    const starts = [];
    for (let i = 0; i < 3; i++) {
      const d = decide(ts, hb, 9, 'max');
      starts.push(d);
      ts.push(trial(i, [], 'running', d.kind === 'start' ? d.to : undefined));
    }
    expect(starts).toEqual([
      { kind: 'start', to: 1, bracket: 0 },
      { kind: 'start', to: 3, bracket: 1 },
      { kind: 'start', to: 9, bracket: 2 },
    ]);
  });
});
