import type { PixelOp } from './types.js';

/** Keras `brightness_range`: pixel values times a factor in [min, max], clipped to [0, 255] like PIL. */
const brightness: PixelOp = {
  kind: 'pixel',
  fields: ['brightness'],
  active: (a) => a.brightness !== undefined,
  sample: (a, s) => s.uniform(a.brightness![0], a.brightness![1]),
  apply: (t, x, v) => t.tidy(() => t.clipByValue(t.mul(x, v), 0, 255) as typeof x),
};
export default brightness;
