import type * as tf from '@tensorflow/tfjs';
import type { Affine } from './types.js';

export type FillMode = 'nearest' | 'reflect' | 'wrap' | 'constant';

/** Maps an integer index outside [0, n) into it; -1 marks "use the fill value". */
function fillIndex(i: number, n: number, mode: FillMode): number {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case 'nearest':
      return i < 0 ? 0 : n - 1;
    case 'wrap':
      return ((i % n) + n) % n;
    case 'reflect': {
      // Half-sample symmetric (d c b a | a b c d | d c b a), as scipy and TensorFlow `reflect`.
      const m = ((i % (2 * n)) + 2 * n) % (2 * n);
      return m < n ? m : 2 * n - 1 - m;
    }
    default:
      return -1;
  }
}

/**
 * Sampling plan for a batch: for every output pixel the flat indices of the input pixels it reads
 * (4 for bilinear, 1 for nearest) and their weights. Computed in plain JavaScript (a few
 * multiply-adds per pixel); the heavy part, gathering and blending every channel, runs on the
 * backend in `applyPlan`.
 */
export interface Plan {
  taps: number;
  indices: Int32Array[];
  weights: Float32Array[];
  /** Weight that goes to the fill value (constant mode only). */
  fillWeight?: Float32Array;
}

export function plan(maps: Affine[], height: number, width: number, mode: FillMode, interpolation: 'bilinear' | 'nearest'): Plan {
  const B = maps.length;
  const P = height * width;
  const taps = interpolation === 'bilinear' ? 4 : 1;
  const indices = Array.from({ length: taps }, () => new Int32Array(B * P));
  const weights = Array.from({ length: taps }, () => new Float32Array(B * P));
  const fillWeight = mode === 'constant' ? new Float32Array(B * P) : undefined;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  // Snap coordinates that are integers up to float error (a 90 degree turn) onto the grid.
  const snap = (v: number) => {
    const r = Math.round(v);
    return Math.abs(v - r) < 1e-6 ? r : v;
  };
  for (let b = 0; b < B; b++) {
    const [a, bb, c, d, e, f] = maps[b]!;
    const base = b * P;
    for (let y = 0; y < height; y++) {
      const yc = y - cy;
      for (let x = 0; x < width; x++) {
        const xc = x - cx;
        const sx = snap(a * xc + bb * yc + c + cx);
        const sy = snap(d * xc + e * yc + f + cy);
        const o = base + y * width + x;
        if (taps === 1) {
          const ix = fillIndex(Math.round(sx), width, mode);
          const iy = fillIndex(Math.round(sy), height, mode);
          if (ix < 0 || iy < 0) {
            indices[0]![o] = base;
            fillWeight![o] = 1;
          } else {
            indices[0]![o] = base + iy * width + ix;
            weights[0]![o] = 1;
          }
          continue;
        }
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const fx = sx - x0;
        const fy = sy - y0;
        const xs = [fillIndex(x0, width, mode), fillIndex(x0 + 1, width, mode)];
        const ys = [fillIndex(y0, height, mode), fillIndex(y0 + 1, height, mode)];
        const ws = [(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy];
        for (let k = 0; k < 4; k++) {
          const ix = xs[k & 1]!;
          const iy = ys[k >> 1]!;
          if (ix < 0 || iy < 0) {
            indices[k]![o] = base;
            fillWeight![o] += ws[k]!;
          } else {
            indices[k]![o] = base + iy * width + ix;
            weights[k]![o] = ws[k]!;
          }
        }
      }
    }
  }
  return { taps, indices, weights, fillWeight };
}

/** x: [B, H, W, C] float32 in pixel units; returns the resampled batch. */
export function applyPlan(t: typeof tf, x: tf.Tensor4D, p: Plan, fillValue: number): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  return t.tidy(() => {
    const flat = t.reshape(x, [B * H * W, C]);
    let out: tf.Tensor2D | undefined;
    for (let k = 0; k < p.taps; k++) {
      const g = t.gather(flat, t.tensor1d(p.indices[k]!, 'int32'));
      const w = t.tensor2d(p.weights[k]!, [B * H * W, 1]);
      const term = t.mul(g, w) as tf.Tensor2D;
      out = out ? (t.add(out, term) as tf.Tensor2D) : term;
    }
    if (p.fillWeight && fillValue !== 0) out = t.add(out!, t.mul(t.tensor2d(p.fillWeight, [B * H * W, 1]), fillValue)) as tf.Tensor2D;
    return t.reshape(out!, [B, H, W, C]) as tf.Tensor4D;
  });
}
