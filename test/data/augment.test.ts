import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Augment } from '../../src/config/schema/experiment.js';
import { augmentBatch, augmentOps, drawBatch } from '../../src/data/augment/index.js';
import { Rng, type Sampler } from '../../src/data/random.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Pins every draw: uniform(lo, hi) gives lo + t (hi - lo); bernoulli gives `coin`. */
const pinned = (t = 1, coin = true): Sampler => ({ uniform: (lo, hi) => lo + t * (hi - lo), bernoulli: () => coin });

const none: Augment = {
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
const aug = (over: Partial<Augment>): Augment => ({ ...none, ...over });

/** v(y, x) = 10 y + x: linear, so bilinear sampling inside the image reproduces 10 y' + x' exactly. */
function ramp(h: number, w: number, c = 1): number[][][] {
  return Array.from({ length: h }, (_, y) => Array.from({ length: w }, (_, x) => Array.from({ length: c }, (_, k) => 10 * y + x + 100 * k)));
}

function run(img: number[][][], a: Augment, s: Sampler): number[][][] {
  const x = tf.tensor4d([img]);
  const y = augmentBatch(x, a, s);
  const out = (y.arraySync() as number[][][][])[0]!;
  x.dispose();
  y.dispose();
  return out;
}

const channel0 = (img: number[][][]) => img.map((row) => row.map((px) => px[0]!));
const close = (a: number[][], b: number[][]) => a.forEach((row, y) => row.forEach((v, x) => expect(v, `pixel (${y}, ${x})`).toBeCloseTo(b[y]![x]!, 4)));

describe('augmentation ops', () => {
  it('are listed once each, covering every augment field except fill options', () => {
    const fields = augmentOps.flatMap((o) => o.fields).sort();
    expect(fields).toEqual(['brightness', 'channelShift', 'heightShift', 'horizontalFlip', 'rotation', 'shear', 'verticalFlip', 'widthShift', 'zoom']);
  });

  it('rotation 90 (range pinned) turns the picture counter-clockwise exactly, like np.rot90', () => {
    const img = ramp(5, 5);
    const out = channel0(run(img, aug({ rotation: 90 }), pinned(1)));
    const expected = img.map((_, i) => img.map((__, j) => img[j]![4 - i]![0]!));
    close(out, expected);
    const back = channel0(run(img, aug({ rotation: 90 }), pinned(0)));
    close(
      back,
      img.map((_, i) => img.map((__, j) => img[4 - j]![i]![0]!)),
    );
  });

  it('rotation by other angles samples the rotated point (checked on a linear image at the centre region)', () => {
    const img = ramp(7, 7);
    const out = channel0(run(img, aug({ rotation: 30 }), pinned(1)));
    const t = Math.PI / 6;
    for (const [y, x] of [
      [3, 3],
      [2, 3],
      [3, 4],
      [4, 2],
    ] as const) {
      const xc = x - 3;
      const yc = y - 3;
      const sx = Math.cos(t) * xc - Math.sin(t) * yc + 3;
      const sy = Math.sin(t) * xc + Math.cos(t) * yc + 3;
      expect(out[y]![x]).toBeCloseTo(10 * sy + sx, 4);
    }
  });

  it('widthShift moves the picture by exactly k pixels (fraction of the width), heightShift by rows', () => {
    const img = ramp(4, 5);
    const right2 = channel0(run(img, aug({ widthShift: 2 / 5 }), pinned(1)));
    expect(right2[1]).toEqual([10, 10, 10, 11, 12]);
    const left1 = channel0(run(img, aug({ widthShift: 1 / 5 }), pinned(0)));
    expect(left1[2]).toEqual([21, 22, 23, 24, 24]);
    const down1 = channel0(run(img, aug({ heightShift: 1 / 4 }), pinned(1)));
    expect(down1.map((r) => r[3])).toEqual([3, 3, 13, 23]);
  });

  it('fill modes: nearest, reflect, wrap, constant', () => {
    const img = ramp(3, 5);
    const row = (fill: Augment['fill'], fillValue = 0) => channel0(run(img, aug({ widthShift: 2 / 5, fill, fillValue }), pinned(1)))[0];
    expect(row('nearest')).toEqual([0, 0, 0, 1, 2]);
    expect(row('reflect')).toEqual([1, 0, 0, 1, 2]);
    expect(row('wrap')).toEqual([3, 4, 0, 1, 2]);
    expect(row('constant', 99)).toEqual([99, 99, 0, 1, 2]);
    expect(row('constant')).toEqual([0, 0, 0, 1, 2].map((v, i) => (i < 2 ? 0 : v)));
  });

  it('horizontalFlip and verticalFlip mirror when the coin says so, and not otherwise', () => {
    const img = ramp(3, 4);
    expect(channel0(run(img, aug({ horizontalFlip: true }), pinned(1, true)))[1]).toEqual([13, 12, 11, 10]);
    expect(channel0(run(img, aug({ horizontalFlip: true }), pinned(1, false)))[1]).toEqual([10, 11, 12, 13]);
    expect(channel0(run(img, aug({ verticalFlip: true }), pinned(1, true))).map((r) => r[0])).toEqual([20, 10, 0]);
  });

  it('zoom above 1 zooms out (Keras), below 1 zooms in with bilinear sampling, and the draw is per axis', () => {
    const img = ramp(5, 5);
    const out2 = channel0(run(img, aug({ zoom: [2, 2], fill: 'reflect' }), pinned(1)));
    // Output column 1 samples input column 2 * (1 - 2) + 2 = 0; column 0 samples -2, reflected to 1.
    expect(out2[2]!.slice(0, 3)).toEqual([21, 20, 22]);
    const half = channel0(run(img, aug({ zoom: [0.5, 0.5] }), pinned(1)));
    expect(half[2]![1]).toBeCloseTo(21.5, 5);
    expect(half[1]![2]).toBeCloseTo(17, 5);
    // Scalar zoom z is the range [1 - z, 1 + z]; with t = 0 both factors are 1 - z.
    const z = channel0(run(img, aug({ zoom: 0.5 }), pinned(0)));
    close(z, half);
    // Separate x and y draws: the first uniform draw is zx, the second zy.
    const draws = [0.5, 2];
    const seq: Sampler = { uniform: () => draws.shift()!, bernoulli: () => false };
    const xy = channel0(run(img, aug({ zoom: [0.5, 2] }), seq));
    expect(xy[2]![1]).toBeCloseTo(21.5, 5);
    expect(xy[3]![2]).toBeCloseTo(42, 5);
  });

  it('shear is an angle in degrees: x samples x - sin(s) y, y samples cos(s) y (Keras matrix)', () => {
    const img = ramp(7, 7);
    const out = channel0(run(img, aug({ shear: 30 }), pinned(1)));
    close([out[3]!], [img[3]!.map((p) => p[0]!)]);
    for (const [y, x] of [
      [4, 3],
      [2, 4],
      [4, 1],
    ] as const) {
      const sx = x - Math.sin(Math.PI / 6) * (y - 3);
      const sy = Math.cos(Math.PI / 6) * (y - 3) + 3;
      expect(out[y]![x]).toBeCloseTo(10 * sy + sx, 4);
    }
  });

  it('nearest interpolation rounds instead of blending', () => {
    const img = ramp(5, 5);
    const out = channel0(run(img, aug({ zoom: [0.5, 0.5], interpolation: 'nearest' }), pinned(1)));
    expect(out[2]![1]).toBe(22);
  });

  it('brightness multiplies and clips to [0, 255]', () => {
    const img = [[[10, 100, 200]]];
    expect(run(img, aug({ brightness: [1.5, 1.5] }), pinned(1))[0]![0]).toEqual([15, 150, 255]);
    const dim = run(img, aug({ brightness: [0.5, 1.5] }), pinned(0))[0]![0]!;
    expect(dim).toEqual([5, 50, 100]);
  });

  it("channelShift adds one value to every channel, clipped to the image's own range", () => {
    const img = [
      [
        [10, 100, 200],
        [50, 60, 70],
      ],
    ];
    expect(run(img, aug({ channelShift: 20 }), pinned(1))[0]).toEqual([
      [30, 120, 200],
      [70, 80, 90],
    ]);
    expect(run(img, aug({ channelShift: 20 }), pinned(0))[0]).toEqual([
      [10, 80, 180],
      [30, 40, 50],
    ]);
  });

  it('no augmentation leaves the batch unchanged', () => {
    const img = ramp(3, 4, 3);
    expect(run(img, none, pinned(1))).toEqual(img);
  });
});

describe('seeding', () => {
  const notebook = aug({ rotation: 40, widthShift: 0.2, heightShift: 0.2, shear: 0.2, zoom: 0.2, horizontalFlip: true, channelShift: 10, brightness: [0.8, 1.2] });

  it('same seed, epoch and batch give the same batch; another key gives another; images in a batch differ', () => {
    const x = tf.tensor4d([ramp(6, 6, 3), ramp(6, 6, 3)]);
    const a = augmentBatch(x, notebook, Rng.from(1, 'augment', 0, 0)).arraySync() as number[][][][];
    const b = augmentBatch(x, notebook, Rng.from(1, 'augment', 0, 0)).arraySync() as number[][][][];
    const c = augmentBatch(x, notebook, Rng.from(1, 'augment', 1, 0)).arraySync() as number[][][][];
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(a[1]).not.toEqual(a[0]);
  });

  it('draws stay inside the Keras ranges', () => {
    const r = Rng.from(3);
    const d = drawBatch(aug({ rotation: 40 }), r, 200, 8, 8);
    const angles = d.maps.map((m) => (Math.atan2(m[3], m[0]) * 180) / Math.PI);
    expect(Math.max(...angles)).toBeLessThanOrEqual(40);
    expect(Math.min(...angles)).toBeGreaterThanOrEqual(-40);
    expect(Math.max(...angles) - Math.min(...angles)).toBeGreaterThan(60);
    const flips = drawBatch(aug({ horizontalFlip: true }), r, 400, 8, 8).maps.filter((m) => m[0] === -1).length;
    expect(flips).toBeGreaterThan(150);
    expect(flips).toBeLessThan(250);
  });
});
