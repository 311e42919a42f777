import * as tf from '@tensorflow/tfjs';
import type { Augment } from '../../config/schema/experiment.js';
import type { Sampler } from '../random.js';
import brightness from './brightness.js';
import channelShift from './channel-shift.js';
import heightShift from './height-shift.js';
import horizontalFlip from './horizontal-flip.js';
import { transformBatch } from './resample.js';
import rotation from './rotation.js';
import shear from './shear.js';
import { compose, IDENTITY, type Affine, type AffineOp, type AugmentOp, type PixelOp } from './types.js';
import verticalFlip from './vertical-flip.js';
import widthShift from './width-shift.js';
import zoom from './zoom.js';

/**
 * Every augmentation op, in the order Keras `ImageDataGenerator` draws and applies them: the
 * geometric ones compose into one affine map per image (rotation . shift . shear . zoom, then the
 * flips, which Keras applies after the transform), then the per-pixel ones.
 */
export const augmentOps: AugmentOp[] = [rotation, widthShift, heightShift, shear, zoom, horizontalFlip, verticalFlip, channelShift, brightness];

export interface Draws {
  maps: Affine[];
  pixel: { op: PixelOp; values: Float32Array }[];
}

/** Draws every random parameter of a batch, image by image, op by op (a fixed order: reproducible). */
export function drawBatch(a: Augment, s: Sampler, batch: number, height: number, width: number): Draws {
  const active = augmentOps.filter((op) => op.active(a));
  const pixelOps = active.filter((op): op is PixelOp => op.kind === 'pixel');
  const pixel = pixelOps.map((op) => ({ op, values: new Float32Array(batch) }));
  const maps: Affine[] = [];
  for (let i = 0; i < batch; i++) {
    let m = IDENTITY;
    for (const op of active) {
      if (op.kind === 'affine') m = compose(m, (op as AffineOp).sample(a, s, { height, width }));
      else pixel[pixelOps.indexOf(op)]!.values[i] = op.sample(a, s);
    }
    maps.push(m);
  }
  return { maps, pixel };
}

export const isIdentity = (m: Affine) => m.every((v, i) => v === IDENTITY[i]);

/** Augments a batch in pixel units (before rescale, as Keras does). Returns a new tensor. */
export function augmentBatch(x: tf.Tensor4D, a: Augment, s: Sampler, opts: { resampler?: 'native' | 'portable' } = {}): tf.Tensor4D {
  const [B, H, W] = x.shape;
  return applyDraws(x, a, drawBatch(a, s, B, H, W), opts);
}

/** Applies the draws of `drawBatch` to a batch in pixel units. Returns a new tensor. */
export function applyDraws(x: tf.Tensor4D, a: Augment, d: Draws, opts: { resampler?: 'native' | 'portable' } = {}): tf.Tensor4D {
  const B = x.shape[0];
  let out = x.clone();
  if (!d.maps.every(isIdentity)) {
    const next = transformBatch(tf, out, d.maps, a.fill, a.interpolation ?? 'bilinear', a.fill === 'constant' ? a.fillValue : 0, opts.resampler);
    out.dispose();
    out = next;
  }
  for (const { op, values } of d.pixel) {
    const v = tf.tensor4d(values, [B, 1, 1, 1]);
    const next = op.apply(tf, out, v);
    v.dispose();
    out.dispose();
    out = next;
  }
  return out;
}
