import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FitspecError } from '../../src/errors.js';
import { checkpointStatus, readCheckpointState, restoreCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
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
    // The previous complete copy is kept as `checkpoint.old`, to fall back to if the newest is damaged.
    const previous = Object.values(layout).filter((what) => what === 1 || what === 2).length === 2;
    expect(fs.readdirSync(dir).sort()).toEqual(previous ? ['checkpoint', 'checkpoint.old'] : ['checkpoint']);

    await saveCheckpoint(dir, model(3), engine, { epoch: 3, phase: 0, learningRate: 0.01, history: [] });
    expect(fs.readdirSync(dir).sort()).toEqual(['checkpoint', 'checkpoint.old']);
    expect(readCheckpointState(path.join(dir))?.epoch).toBe(3);
    expect(readCheckpointState(dir)?.epoch).toBe(3);
  });

  it('a save after an interrupted one keeps the newest complete copy until the new one is in place', async () => {
    const dir = fs.mkdtempSync(path.join(root, 'run-'));
    lay(dir, { 'checkpoint.old': 1, 'checkpoint.tmp': 2 });
    await saveCheckpoint(dir, model(3), engine, { epoch: 3, phase: 0, learningRate: 0.01, history: [] });
    expect(fs.readdirSync(dir).sort()).toEqual(['checkpoint', 'checkpoint.old']);
    expect(readCheckpointState(dir)?.epoch).toBe(3);
  });

  it('no complete copy: nothing to resume', () => {
    const dir = fs.mkdtempSync(path.join(root, 'run-'));
    lay(dir, { 'checkpoint.tmp': 'partial' });
    expect(readCheckpointState(dir)).toBeUndefined();
  });
});

/** An engine whose optimizer has one slot, so optimizer.json and optimizer.bin have content. */
const withSlots = {
  ...engine,
  getOptimizerState: async () => [{ name: 'dense/kernel/m', tensor: tf.fill([3, 2], 0.5) }],
} as unknown as Engine;

describe('a damaged checkpoint is never trusted', () => {
  const damages: [string, string, (file: string) => void][] = [
    ['weights.bin truncated', 'model/weights.bin', (f) => fs.truncateSync(f, 10)],
    [
      'four bytes of weights.bin flipped',
      'model/weights.bin',
      (f) => {
        const b = fs.readFileSync(f);
        for (let i = 4; i < 8; i++) b[i] = b[i]! ^ 0xff;
        fs.writeFileSync(f, b);
      },
    ],
    ['optimizer.bin emptied', 'optimizer.bin', (f) => fs.writeFileSync(f, '')],
    ['optimizer.json truncated', 'optimizer.json', (f) => fs.writeFileSync(f, fs.readFileSync(f, 'utf8').slice(0, 12))],
    ['state.json not JSON', 'state.json', (f) => fs.writeFileSync(f, '{"epoch": 2, "pha')],
  ];

  async function twoSaves(): Promise<string> {
    const dir = fs.mkdtempSync(path.join(root, 'damaged-'));
    await saveCheckpoint(dir, model(1), withSlots, { epoch: 1, phase: 0, learningRate: 0.01, history: [] });
    await saveCheckpoint(dir, model(2), withSlots, { epoch: 2, phase: 0, learningRate: 0.01, history: [] });
    return dir;
  }

  it('every file is in the manifest state.json carries', async () => {
    const dir = await twoSaves();
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint', 'state.json'), 'utf8'));
    expect(Object.keys(state.files).sort()).toEqual(['model/model.json', 'model/weights.bin', 'optimizer.bin', 'optimizer.json']);
    expect(state.files['optimizer.bin'].size).toBe(24);
    expect(state.files['model/weights.bin'].sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each(damages)('%s: falls back to the previous good checkpoint and says which file was damaged', async (_, rel, damage) => {
    const dir = await twoSaves();
    damage(path.join(dir, 'checkpoint', rel));
    const status = checkpointStatus(dir);
    expect(status.usable?.name).toBe('checkpoint.old');
    expect(status.usable?.state.epoch).toBe(1);
    expect(status.damaged.map((d) => d.file)).toEqual([`checkpoint/${rel}`]);
    const m = model(0);
    await restoreCheckpoint(dir, m, withSlots);
    for (const w of m.getWeights()) expect(Array.from(w.dataSync()).every((v) => v === 1)).toBe(true);
  });

  it.each(damages)('%s with no earlier checkpoint kept: one error naming the file', async (_, rel, damage) => {
    const dir = await twoSaves();
    fs.rmSync(path.join(dir, 'checkpoint.old'), { recursive: true });
    damage(path.join(dir, 'checkpoint', rel));
    expect(readCheckpointState(dir)).toBeUndefined();
    const err = await restoreCheckpoint(dir, model(0), withSlots).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FitspecError);
    expect((err as FitspecError).code).toBe('checkpoint.damaged');
    expect((err as FitspecError).message).toContain(path.join(dir, 'checkpoint', rel));
  });
});
