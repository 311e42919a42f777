import type * as tf from '@tensorflow/tfjs';
import type { Affine } from './types.js';

export type FillMode = 'nearest' | 'reflect' | 'wrap' | 'constant';

/**
 * cos(90 degrees) is 6e-17, not 0: such coefficients are snapped so that right-angle turns land
 * exactly on pixels instead of a hair outside the image (where `wrap` would jump to the far edge).
 */
export function snapCoefficient(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - r) < 1e-9 ? r : v;
}

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
  const tap = (k: number, o: number, base: number, ix: number, iy: number, w: number, weight: number) => {
    if (ix < 0 || iy < 0) {
      indices[k]![o] = base;
      fillWeight![o] += weight;
    } else {
      indices[k]![o] = base + iy * w + ix;
      weights[k]![o] = weight;
    }
  };
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  // Snap coordinates that are integers up to float error (a 90 degree turn) onto the grid.
  const snap = (v: number) => {
    const r = Math.round(v);
    return Math.abs(v - r) < 1e-6 ? r : v;
  };
  for (let b = 0; b < B; b++) {
    const [a, bb, c, d, e, f] = maps[b]!.map(snapCoefficient);
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
        const xa = fillIndex(x0, width, mode);
        const xb = fillIndex(x0 + 1, width, mode);
        const ya = fillIndex(y0, height, mode);
        const yb = fillIndex(y0 + 1, height, mode);
        tap(0, o, base, xa, ya, width, (1 - fx) * (1 - fy));
        tap(1, o, base, xb, ya, width, fx * (1 - fy));
        tap(2, o, base, xa, yb, width, (1 - fx) * fy);
        tap(3, o, base, xb, yb, width, fx * fy);
      }
    }
  }
  return { taps, indices, weights, fillWeight };
}

/** x: [B, H, W, C] float32 in pixel units; returns the resampled batch (any backend). */
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

/**
 * The centred output -> input maps as TensorFlow's projective transform rows
 * [a0, a1, a2, b0, b1, b2, 0, 0] in plain pixel indices.
 */
export function toTensorflowTransforms(maps: Affine[], height: number, width: number): Float32Array {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const out = new Float32Array(maps.length * 8);
  maps.forEach((m, i) => {
    const [a, b, c, d, e, f] = m.map(snapCoefficient);
    out.set([a, b, c + cx - a * cx - b * cy, d, e, f + cy - d * cx - e * cy, 0, 0], i * 8);
  });
  return out;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * On the native backend the whole batch goes through TensorFlow's own `ImageProjectiveTransformV3`
 * op: tfjs-node has no kernel for `tf.image.transform`, and the pure-JS `cpu` kernel transforms only
 * the first image of a batch, so other backends use `plan` + `applyPlan` (same sampling and fill
 * rules: bilinear or nearest, nearest / reflect / wrap / constant).
 */
export function transformBatch(
  t: typeof tf,
  x: tf.Tensor4D,
  maps: Affine[],
  mode: FillMode,
  interpolation: 'bilinear' | 'nearest',
  fillValue: number,
  force?: 'native' | 'portable',
): tf.Tensor4D {
  const [B, H, W] = x.shape;
  // biome-ignore lint/suspicious/noExplicitAny: tfjs-node's backend class (its binding) has no public type
  const backend = t.backend() as any;
  const native = t.getBackend() === 'tensorflow' && typeof backend?.executeSingleOutput === 'function' && backend.binding;
  if ((native && force !== 'portable') || force === 'native') {
    if (!native) throw new Error('the native TensorFlow backend is not active');
    const binding = backend.binding;
    const transforms = t.tensor2d(toTensorflowTransforms(maps, H, W), [B, 8]);
    const shape = t.tensor1d([H, W], 'int32');
    const fill = t.scalar(fillValue, 'float32');
    try {
      return backend.executeSingleOutput(
        'ImageProjectiveTransformV3',
        [
          { name: 'dtype', type: binding.TF_ATTR_TYPE, value: binding.TF_FLOAT },
          { name: 'interpolation', type: binding.TF_ATTR_STRING, value: interpolation.toUpperCase() },
          { name: 'fill_mode', type: binding.TF_ATTR_STRING, value: mode.toUpperCase() },
        ],
        [x, transforms, shape, fill],
      ) as tf.Tensor4D;
    } finally {
      t.dispose([transforms, shape, fill]);
    }
  }
  return applyPlan(t, x, plan(maps, H, W, mode, interpolation), fillValue);
}
