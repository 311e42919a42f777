import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import type { Augment } from '../../src/config/schema/experiment.js';
import { Rng } from '../../src/data/random.js';
import { loadGraphAddon, type GraphAddon } from '../../src/native-addon.js';
import { dataConfig, makeDirectoryDataset, tempDir } from './fixtures.js';

// The graph assembler (cast + affine augmentation + rescale in one graph run off the main thread)
// must give the batches the tfjs ops path gives, from the same draws.
let tf: typeof import('@tensorflow/tfjs');
let aug: typeof import('../../src/data/augment/index.js');
let graph: typeof import('../../src/data/augment-graph.js');
let addon: GraphAddon;

beforeAll(async () => {
  expect((await initBackend('auto')).native).toBe(true);
  tf = await import('@tensorflow/tfjs');
  aug = await import('../../src/data/augment/index.js');
  graph = await import('../../src/data/augment-graph.js');
  const a = loadGraphAddon();
  if (typeof a === 'string') throw new Error(a);
  addon = a;
});

const notebook: Augment = {
  rotation: 40,
  widthShift: 0.2,
  heightShift: 0.2,
  shear: 0.2,
  zoom: 0.2,
  horizontalFlip: true,
  verticalFlip: false,
  fill: 'nearest',
  fillValue: 0,
  channelShift: 0,
  interpolation: 'bilinear',
};

/** Random pixels of `count` images, in a buffer padded as the assembler takes it. */
function pixels(count: number, h: number, w: number, seed: number): Uint8Array {
  const bytes = count * h * w * 3;
  const out = new Uint8Array(graph.paddedLength(bytes));
  const r = Rng.from(seed, 'pixels');
  for (let i = 0; i < bytes; i++) out[i] = Math.floor(r.uniform(0, 256));
  // Padding past the images must not leak into them.
  out.fill(255, bytes);
  return out;
}

function viaTfjs(px: Uint8Array, count: number, h: number, w: number, a: Augment | undefined, bi: number, rescale: number): Float32Array {
  return tf.tidy(() => {
    let x = tf.tensor4d(Float32Array.from(px.subarray(0, count * h * w * 3)), [count, h, w, 3]);
    if (a)
      x = aug.augmentBatch(x, a, Rng.from(1, 'augment', 0, bi), {
        resampler: 'native',
      });
    return tf.mul(x, rescale).dataSync() as Float32Array;
  });
}

async function viaGraph(px: Uint8Array, count: number, h: number, w: number, a: Augment | undefined, bi: number, rescale: number): Promise<Float32Array> {
  const asm = graph.graphAssembler(addon, { height: h, width: w, channels: 3 }, a?.fill ?? 'nearest', a?.interpolation ?? 'bilinear');
  try {
    const d = a ? aug.drawBatch(a, Rng.from(1, 'augment', 0, bi), count, h, w) : undefined;
    const maps = d && !d.maps.every(aug.isIdentity) ? d.maps : undefined;
    return await asm.assemble(px, count, maps, a?.fill === 'constant' ? a.fillValue : 0, rescale);
  } finally {
    asm.close();
  }
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('graph assembler', () => {
  it('without augmentation: the rescaled pixels, whatever the padding', async () => {
    // 3 x 5 x 7 x 3 = 315 bytes: one byte of padding.
    const px = pixels(3, 5, 7, 1);
    const out = await viaGraph(px, 3, 5, 7, undefined, 0, 1 / 255);
    expect(out).toHaveLength(315);
    expect(maxDiff(out, viaTfjs(px, 3, 5, 7, undefined, 0, 1 / 255))).toBe(0);
  });

  it("the notebook's augmentation matches the tfjs path batch for batch", async () => {
    for (const bi of [0, 1, 2]) {
      const px = pixels(4, 24, 20, bi);
      const g = await viaGraph(px, 4, 24, 20, notebook, bi, 1 / 255);
      const t = viaTfjs(px, 4, 24, 20, notebook, bi, 1 / 255);
      expect(maxDiff(g, t)).toBeLessThan(1e-6);
      // The transform did something.
      expect(maxDiff(g, viaTfjs(px, 4, 24, 20, undefined, bi, 1 / 255))).toBeGreaterThan(0.1);
    }
  });

  it("batches() on native TensorFlow gives the tfjs path's augmented batches", async () => {
    const t = tempDir();
    try {
      await makeDirectoryDataset(join(t.dir, 'faces'), ['a', 'b', 'c'], 4);
      const { batches, prepareData } = await import('../../src/data/index.js');
      const { storeFor } = await import('../../src/data/prepare.js');
      const data = await prepareData(
        dataConfig({
          source: { type: 'directory', path: join(t.dir, 'faces') },
          image: { height: 16, width: 16 },
          split: { train: 4, validation: 0, test: 0 },
          cache: 'memory',
        }),
        1,
      );
      const part = data.parts.train;
      const reader = await storeFor(data).reader();
      const { batchIndices } = await import('../../src/data/batches.js');
      const plan = batchIndices(part.ids.length, {
        batchSize: 5,
        shuffle: true,
        seed: 1,
        epoch: 0,
      });
      let bi = 0;
      for await (const b of batches(data, 'train', {
        batchSize: 5,
        shuffle: true,
        seed: 1,
        epoch: 0,
        augment: notebook,
        rescale: 1 / 255,
      })) {
        const files = plan[bi]!.map((i) => part.files[i]!);
        const px = new Uint8Array(files.length * 16 * 16 * 3);
        await reader.read(files, px);
        const want = viaTfjs(px, files.length, 16, 16, notebook, bi, 1 / 255);
        expect(maxDiff(b.xs.dataSync() as Float32Array, want)).toBeLessThan(1e-6);
        tf.dispose([b.xs, b.ys]);
        bi++;
      }
      expect(bi).toBe(3);
      await reader.close();
    } finally {
      t.cleanup();
    }
  });

  it('with cache: disk the store holds only the prefetch window of pixels while batches are assembled in the graph', async () => {
    const t = tempDir();
    const oldXdg = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = join(t.dir, 'xdg');
    try {
      await makeDirectoryDataset(join(t.dir, 'faces'), ['a', 'b', 'c'], 12);
      const { batches, prepareData } = await import('../../src/data/index.js');
      const { storeFor } = await import('../../src/data/prepare.js');
      const data = await prepareData(
        dataConfig({ source: { type: 'directory', path: join(t.dir, 'faces') }, image: { height: 16, width: 16 }, split: { train: 12, validation: 0, test: 0 }, cache: 'disk' }),
        1,
      );
      const store = storeFor(data);
      // Only the batches' window from here on (the fill decodes in chunks of its own).
      expect(store.resident).toBe(0);
      store.peakResident = 0;
      const img = 16 * 16 * 3;
      const batchSize = 4;
      let n = 0;
      for (let epoch = 0; epoch < 2; epoch++) {
        for await (const b of batches(data, 'train', { batchSize, shuffle: true, seed: 1, epoch, augment: notebook, rescale: 1 / 255, prefetch: 1 })) {
          n += b.size;
          tf.dispose([b.xs, b.ys]);
          // The consumer's step: the window is refilled meanwhile.
          await new Promise((r) => setImmediate(r));
        }
      }
      expect(n).toBe(72);
      // prefetch 1: at most two batches being read and assembled, and the window was used.
      expect(store.peakResident).toBe(2 * batchSize * img);
      expect(store.resident).toBe(0);
    } finally {
      if (oldXdg === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = oldXdg;
      t.cleanup();
    }
  });

  it('every fill mode and nearest interpolation, constant fill with its value', async () => {
    for (const fill of ['nearest', 'reflect', 'wrap', 'constant'] as const) {
      for (const interpolation of ['bilinear', 'nearest'] as const) {
        const a: Augment = { ...notebook, fill, interpolation, fillValue: 77 };
        const px = pixels(2, 9, 11, 7);
        expect(maxDiff(await viaGraph(px, 2, 9, 11, a, 3, 1), viaTfjs(px, 2, 9, 11, a, 3, 1)), `${fill} ${interpolation}`).toBeLessThan(1e-4);
      }
    }
  });
});
