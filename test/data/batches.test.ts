import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Augment } from '../../src/config/schema/experiment.js';
import { batches, prepareData, type PreparedData } from '../../src/data/index.js';
import { batchIndices } from '../../src/data/batches.js';
import { storeFor } from '../../src/data/prepare.js';
import { dataConfig, makeDirectoryDataset, tempDir } from './fixtures.js';

let data: PreparedData;
let cleanup: () => void;

beforeAll(async () => {
  await tf.setBackend('cpu');
  const t = tempDir();
  cleanup = t.cleanup;
  await makeDirectoryDataset(join(t.dir, 'faces'), ['a', 'b', 'c'], 7);
  data = await prepareData(dataConfig({ source: { type: 'directory', path: join(t.dir, 'faces') }, split: { train: 5, validation: 2 } }), 3);
});
afterAll(() => cleanup());

async function collect(it: AsyncIterableIterator<{ xs: tf.Tensor4D; ys: tf.Tensor2D; size: number }>) {
  const out: { xs: number[][][][]; ys: number[][]; size: number }[] = [];
  for await (const b of it) {
    out.push({ xs: b.xs.arraySync(), ys: b.ys.arraySync(), size: b.size });
    b.xs.dispose();
    b.ys.dispose();
  }
  return out;
}

const base = { batchSize: 4, shuffle: false, seed: 1, epoch: 0, rescale: 1 / 255 };

describe('batchIndices', () => {
  it('covers a part once per epoch, last batch short, like Keras', () => {
    const b = batchIndices(10, { batchSize: 4, shuffle: false, seed: 1, epoch: 0 });
    expect(b).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
  });
  it('shuffles per epoch, reproducibly', () => {
    const e0 = batchIndices(20, { batchSize: 5, shuffle: true, seed: 1, epoch: 0 }).flat();
    expect([...e0].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(batchIndices(20, { batchSize: 5, shuffle: true, seed: 1, epoch: 0 }).flat()).toEqual(e0);
    expect(batchIndices(20, { batchSize: 5, shuffle: true, seed: 1, epoch: 1 }).flat()).not.toEqual(e0);
  });
  it('steps caps the epoch and wraps around with a new order past the end', () => {
    const b = batchIndices(6, { batchSize: 4, shuffle: true, seed: 2, epoch: 0, steps: 5 });
    expect(b.map((x) => x.length)).toEqual([4, 2, 4, 2, 4]);
    expect([...b[0]!, ...b[1]!].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...b[2]!, ...b[3]!].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(batchIndices(6, { batchSize: 4, shuffle: false, seed: 2, epoch: 0, steps: 1 })).toEqual([[0, 1, 2, 3]]);
  });
});

describe('batches', () => {
  it('yields rescaled float32 images and one-hot labels for the whole part', async () => {
    const got = await collect(batches(data, 'train', base));
    expect(got.map((b) => b.size)).toEqual([4, 4, 4, 3]);
    const first = got[0]!;
    expect(first.xs).toHaveLength(4);
    expect(first.xs[0]).toHaveLength(6);
    expect(first.xs[0]![0]).toHaveLength(8);
    expect(first.xs[0]![0]![0]).toHaveLength(3);
    const flat = got.flatMap((b) => b.xs.flat(3));
    expect(Math.max(...flat)).toBeLessThanOrEqual(1);
    expect(Math.max(...flat)).toBeGreaterThan(0.5);
    const labels = got.flatMap((b) => b.ys.map((y) => y.indexOf(1)));
    expect(labels).toEqual(data.parts.train.labels);
    expect(got.flatMap((b) => b.ys).every((y) => y.reduce((a, v) => a + v, 0) === 1)).toBe(true);
  });

  it('pixels match the decoded image (solid-colour fixtures)', async () => {
    const [b] = await collect(batches(data, 'validation', { ...base, rescale: 1 }));
    const px = b!.xs[0]![3]![4]!;
    expect(px[1]).toBe(120);
  });

  it('augmented batches are reproducible from seed, epoch and batch index', async () => {
    const augment: Augment = {
      rotation: 40,
      widthShift: 0.2,
      heightShift: 0.2,
      shear: 10,
      zoom: 0.2,
      horizontalFlip: true,
      verticalFlip: false,
      fill: 'nearest',
      fillValue: 0,
      channelShift: 30,
      interpolation: 'bilinear',
    };
    const opts = { ...base, shuffle: true, augment };
    const a = await collect(batches(data, 'train', opts));
    const b = await collect(batches(data, 'train', opts));
    const c = await collect(batches(data, 'train', { ...opts, epoch: 1 }));
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    const plain = await collect(batches(data, 'train', { ...opts, augment: undefined }));
    expect(plain.map((x) => x.ys)).toEqual(a.map((x) => x.ys));
    expect(plain.map((x) => x.xs)).not.toEqual(a.map((x) => x.xs));
  });

  it('a consumer that stops early leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    for await (const b of batches(data, 'train', { ...base, prefetch: 3 })) {
      b.xs.dispose();
      b.ys.dispose();
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('prepares prefetch + 1 batches while the consumer works, and none while it takes a ready one', async () => {
    const store = storeFor(data);
    const original = store.reader;
    let reads = 0;
    store.reader = async () => {
      const r = await original.call(store);
      return { read: (files, out) => (reads++, r.read(files, out)), close: () => r.close() };
    };
    const consumerWorks = () => new Promise((r) => setImmediate(r));
    try {
      // 15 images in batches of 4: batches 0-3.
      const it = batches(data, 'train', { ...base, prefetch: 1 });
      const got: number[] = [];
      const take = async () => {
        const n = await it.next();
        if (n.done) return false;
        got.push(n.value.size);
        n.value.xs.dispose();
        n.value.ys.dispose();
        return true;
      };
      await take();
      // Only the batch asked for was started before the consumer had it.
      expect(reads).toBe(1);
      await consumerWorks();
      // While the consumer works on batch 0, batches 1 and 2 are prepared.
      expect(reads).toBe(3);
      await take();
      // Taking a ready batch starts nothing in the consumer's wait...
      expect(reads).toBe(3);
      await consumerWorks();
      // ...the window is refilled while it works.
      expect(reads).toBe(4);
      while (await take()) await consumerWorks();
      expect(got).toEqual([4, 4, 4, 3]);
      expect(reads).toBe(4);
    } finally {
      store.reader = original;
    }
  });

  it('an empty part is a user error', async () => {
    await expect(collect(batches(data, 'test', base))).rejects.toThrow(/test part is empty/);
  });
});
