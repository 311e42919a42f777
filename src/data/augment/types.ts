import type * as tf from '@tensorflow/tfjs';
import type { Augment } from '../../config/schema/experiment.js';
import type { Sampler } from '../random.js';

/**
 * A 2-D affine map [a, b, c, d, e, f]: x' = a x + b y + c, y' = d x + e y + f, in pixel
 * coordinates centred on the image (x to the right, y down). Ops return the map from an OUTPUT
 * pixel to the INPUT point it samples, as Keras / scipy `affine_transform` do.
 */
export type Affine = [number, number, number, number, number, number];

export const IDENTITY: Affine = [1, 0, 0, 0, 1, 0];

/** m1 then applied to the result of m2: (m1 . m2)(p) = m1(m2(p)). */
export function compose(m1: Affine, m2: Affine): Affine {
  const [a1, b1, c1, d1, e1, f1] = m1;
  const [a2, b2, c2, d2, e2, f2] = m2;
  return [a1 * a2 + b1 * d2, a1 * b2 + b1 * e2, a1 * c2 + b1 * f2 + c1, d1 * a2 + e1 * d2, d1 * b2 + e1 * e2, d1 * c2 + e1 * f2 + f1];
}

export interface ImageSize {
  height: number;
  width: number;
}

/** Geometric op: its draws become one factor of the single per-image affine transform. */
export interface AffineOp {
  kind: 'affine';
  /** The `augment` field(s) it reads. */
  fields: (keyof Augment)[];
  active(a: Augment): boolean;
  /** Draws this op's random parameters for one image and returns its output -> input map. */
  sample(a: Augment, s: Sampler, size: ImageSize): Affine;
}

/** Per-pixel op applied to the whole batch on the backend after the affine transform. */
export interface PixelOp {
  kind: 'pixel';
  fields: (keyof Augment)[];
  active(a: Augment): boolean;
  /** One random value per image. */
  sample(a: Augment, s: Sampler): number;
  /** x in pixel units (0..255), values shaped [batch, 1, 1, 1]. */
  apply(t: typeof tf, x: tf.Tensor4D, values: tf.Tensor4D): tf.Tensor4D;
}

export type AugmentOp = AffineOp | PixelOp;

/** Keras draws `uniform(-r, r)` for symmetric ranges. */
export const symmetric = (s: Sampler, r: number) => s.uniform(-r, r);
