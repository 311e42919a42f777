import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpointState, restoreCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import type { Engine } from '../../src/train/engine/types.js';

/**
 * A kill during a save leaves the folders as they were at that moment; each case below rebuilds one
 * such moment from two real saves (epoch 1, then epoch 2) and checks that resuming reads the newest
 * complete copy, weights included, and that the next save cleans up.
 */
const engine = {
  syncToModel: async () => {},
  syncFromModel: async () => {},
  getOptimizerState: async () => [],
  setOptimizerState: async () => {},
} as unknown as Engine;

function model(fill: number): tf.LayersModel {
  const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
  m.setWeights(m.getWeights().map((w) => tf.fill(w.shape, fill)));
  return m;
}

let root: string;
const saved: Record<1 | 2, string> = { 1: '', 2: '' };

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-ckpt-'));
  for (const epoch of [1, 2] as const) {
    const dir = path.join(root, `saved-${epoch}`);
    await saveCheckpoint(dir, model(epoch), engine, { epoch, phase: 0, learningRate: 0.01, history: [] });
    saved[epoch] = path.join(dir, 'checkpoint');
  }
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

type Layout = Record<string, 1 | 2 | 'partial' | 'partial-state'>;
const cases: [string, Layout, 1 | 2][] = [
  ['while the new copy is written', { checkpoint: 1, 'checkpoint.tmp': 'partial' }, 1],
  ['while the new state.json is written', { checkpoint: 1, 'checkpoint.tmp': 'partial-state' }, 1],
  ['after the new copy is complete', { checkpoint: 1, 'checkpoint.tmp': 2 }, 2],
  ['after the old copy is renamed aside', { 'checkpoint.old': 1, 'checkpoint.tmp': 2 }, 2],
  ['after the new copy is in place', { checkpoint: 2, 'checkpoint.old': 1 }, 2],
  ['while the old copy is removed', { checkpoint: 2, 'checkpoint.old': 'partial' }, 2],
];

function lay(dir: string, layout: Layout) {
  for (const [name, what] of Object.entries(layout)) {
    const to = path.join(dir, name);
    if (what === 1 || what === 2) fs.cpSync(saved[what], to, { recursive: true });
    else {
      fs.cpSync(saved[2], to, { recursive: true });
      fs.rmSync(path.join(to, 'state.json'));
      if (what === 'partial-state') fs.writeFileSync(path.join(to, 'state.json.part'), '{"epoch": 2, "pha');
    }
  }
}

describe('checkpoint saves survive a kill at any point', () => {
  it.each(cases)('killed %s: resume reads the newest complete checkpoint', async (_, layout, expected) => {
    const dir = fs.mkdtempSync(path.join(root, 'run-'));
    lay(dir, layout);
    expect(readCheckpointState(dir)?.epoch).toBe(expected);

    const m = model(0);
    await restoreCheckpoint(dir, m, engine);
    for (const w of m.getWeights()) expect(Array.from(w.dataSync()).every((v) => v === expected)).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['checkpoint']);

    await saveCheckpoint(dir, model(3), engine, { epoch: 3, phase: 0, learningRate: 0.01, history: [] });
    expect(fs.readdirSync(dir)).toEqual(['checkpoint']);
    expect(readCheckpointState(dir)?.epoch).toBe(3);
  });

  it('a save after an interrupted one keeps the newest complete copy until the new one is in place', async () => {
    const dir = fs.mkdtempSync(path.join(root, 'run-'));
    lay(dir, { 'checkpoint.old': 1, 'checkpoint.tmp': 2 });
    await saveCheckpoint(dir, model(3), engine, { epoch: 3, phase: 0, learningRate: 0.01, history: [] });
    expect(fs.readdirSync(dir)).toEqual(['checkpoint']);
    expect(readCheckpointState(dir)?.epoch).toBe(3);
  });

  it('no complete copy: nothing to resume', () => {
    const dir = fs.mkdtempSync(path.join(root, 'run-'));
    lay(dir, { 'checkpoint.tmp': 'partial' });
    expect(readCheckpointState(dir)).toBeUndefined();
  });
});
