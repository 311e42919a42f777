import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { epochsToReach, key, replaySweep } from '../../bench/sweep/notebook-replay.js';
import { planSweep } from '../../src/sweep/plan.js';
import { MINIMAL } from '../config/helpers.js';

// The notebook benchmark's replay (bench/sweep/notebook-replay.ts): fitspec's sweep driver run on recorded curves.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-bench-replay-'));
fs.writeFileSync(path.join(dir, 'base.yaml'), `${MINIMAL.replace('name: t', 'name: base')}train: {epochs: 9}\n`);
const E = 9;
const parameters = `  parameters:
    train.optimizer.learningRate: {values: [0.1, 0.01, 0.001]}
    model.layers.1.dense.units: {values: [3, 4, 5]}
`;
function sweepFile(name: string, block: string): string {
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, `extends: base.yaml\nsweep:\n  metric: val_accuracy\n  mode: max\n${block}${parameters}`);
  return file;
}
const asha = `  scheduler: {type: asha, minEpochs: 1, maxEpochs: ${E}, reductionFactor: 3}\n`;

// Recorded curves of the 9 grid trials: trial i rises to 0.4 + 0.05 i, so the last one is the best.
const grid = planSweep(sweepFile('grid', '  method: grid\n'));
const curves = new Map(grid.trials.map((t, i) => [key(t.params), { values: Array.from({ length: E }, (_, e) => 0.3 + (0.1 + 0.05 * i) * ((e + 1) / E)) }]));
const best = 0.4 + 0.05 * 8;

describe('notebook benchmark replay', () => {
  it('replays the grid in order, every trial to maxEpochs', async () => {
    const trained = await replaySweep(grid.file, [], curves, E);
    expect(trained).toEqual(grid.trials.flatMap((t) => curves.get(key(t.params))!.values));
    expect(epochsToReach(trained, best)).toBe(9 * E);
    expect(epochsToReach(trained, 2)).toBeUndefined();
  });

  it('replays ASHA through the scheduler: fewer epochs, each one a recorded value, one trial to maxEpochs', async () => {
    const file = sweepFile('asha', `  method: random\n  count: 9\n  seed: 3\n${asha}`);
    const plan = planSweep(file);
    const trained = await replaySweep(file, [], curves, E);
    expect(trained.length).toBeGreaterThanOrEqual(plan.trials.length);
    expect(trained.length).toBeLessThan(plan.trials.length * E);
    const recorded = new Set([...curves.values()].flatMap((c) => c.values));
    for (const v of trained) expect(recorded.has(v)).toBe(true);
    // The last epoch of some trial was trained: the curves end at their own top value.
    expect(trained.some((v) => [...curves.values()].some((c) => c.values[E - 1] === v))).toBe(true);
    expect(await replaySweep(file, [], curves, E)).toEqual(trained);
    // A trial without a recording fails the replay (the driver alone would mark it failed and go on).
    await expect(replaySweep(file, [], new Map([...curves].slice(0, 1)), E)).rejects.toThrow(/no recorded curve/);
  });

  it('replays TPE + ASHA: Optuna draws from the grid values (a value off the grid has no curve and fails)', { timeout: 60_000 }, async () => {
    const file = sweepFile('tpe', `  method: tpe\n  count: 11\n  seed: 1\n${asha}`);
    const trained = await replaySweep(file, [], curves, E);
    expect(trained.length).toBeGreaterThanOrEqual(11);
    expect(trained.length).toBeLessThan(11 * E);
  });
});
