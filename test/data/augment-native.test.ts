import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import type { Augment } from '../../src/config/schema/experiment.js';
import type { Sampler } from '../../src/data/random.js';
import { Rng } from '../../src/data/random.js';

// The native backend resamples with TensorFlow's ImageProjectiveTransformV3 op; every other backend
// with the portable gather path that augment.test.ts pins down. Both must give the same pixels.
let tf: typeof import('@tensorflow/tfjs');
let augmentBatch: typeof import('../../src/data/augment/index.js').augmentBatch;

beforeAll(async () => {
  const info = await initBackend('auto');
  expect(info.native).toBe(true);
  tf = await import('@tensorflow/tfjs');
  ({ augmentBatch } = await import('../../src/data/augment/index.js'));
});

const base: Augment = {
  rotation: 0,
  widthShift: 0,
  heightShift: 0,
  shear: 0,
  zoom: 0,
  horizontalFlip: false,
  verticalFlip: false,
  fill: 'nearest',
  fillValue: 0,
  channelShift: 0,
  interpolation: 'bilinear',
};
const pinned = (t: number, coin = true): Sampler => ({ uniform: (lo, hi) => lo + t * (hi - lo), bernoulli: () => coin });

function both(a: Augment, s: () => Sampler, shape: [number, number, number, number] = [3, 9, 7, 3]) {
  const x = tf.tidy(() => tf.round(tf.randomUniform(shape, 0, 255, 'float32', 5))) as import('@tensorflow/tfjs').Tensor4D;
  const n = augmentBatch(x, a, s(), { resampler: 'native' });
  const p = augmentBatch(x, a, s(), { resampler: 'portable' });
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(n, p))).dataSync()[0]!);
  const out = { native: n.arraySync(), diff };
  tf.dispose([x, n, p]);
  return out;
}

describe('native and portable resampling agree', () => {
  it('rotation by 90 degrees, integer shifts and flips, exactly (every fill mode)', () => {
    for (const fill of ['nearest', 'reflect', 'wrap', 'constant'] as const) {
      expect(both({ ...base, rotation: 90, fill }, () => pinned(1), [2, 7, 7, 3]).diff, fill).toBeLessThan(1e-3);
      expect(both({ ...base, widthShift: 2 / 7, heightShift: 3 / 9, fill, fillValue: 77 }, () => pinned(1)).diff, fill).toBeLessThan(1e-3);
      expect(both({ ...base, horizontalFlip: true, verticalFlip: true, fill }, () => pinned(1)).diff, fill).toBeLessThan(1e-3);
    }
  });

  it('the notebook augmentation with random draws, bilinear and nearest', () => {
    const notebook: Augment = { ...base, rotation: 40, widthShift: 0.2, heightShift: 0.2, shear: 0.2, zoom: 0.2, horizontalFlip: true };
    for (const interpolation of ['bilinear', 'nearest'] as const) {
      for (const fill of ['nearest', 'reflect', 'constant'] as const) {
        const r = both({ ...notebook, interpolation, fill }, () => Rng.from(1, fill, interpolation), [4, 16, 12, 3]);
        // Sample points exactly half-way between pixels may round differently; nothing else differs.
        expect(r.diff, `${interpolation} ${fill}`).toBeLessThan(interpolation === 'bilinear' ? 0.05 : 255);
      }
    }
  });
});
