import { symmetric, type PixelOp } from './types.js';

/**
 * Keras `channel_shift_range`: one value in [-r, r] pixel units added to every channel, then
 * clipped to the image's own minimum and maximum (as Keras does).
 */
const channelShift: PixelOp = {
  kind: 'pixel',
  fields: ['channelShift'],
  active: (a) => a.channelShift > 0,
  sample: (a, s) => symmetric(s, a.channelShift),
  apply: (t, x, v) =>
    t.tidy(() => {
      const lo = t.min(x, [1, 2, 3], true);
      const hi = t.max(x, [1, 2, 3], true);
      return t.minimum(t.maximum(t.add(x, v), lo), hi) as typeof x;
    }),
};
export default channelShift;
