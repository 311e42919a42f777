import { symmetric, type AffineOp } from './types.js';

/** Keras `height_shift_range` (as documented): a vertical shift of a fraction of the height. */
const heightShift: AffineOp = {
  kind: 'affine',
  fields: ['heightShift'],
  active: (a) => a.heightShift > 0,
  sample(a, s, size) {
    const dy = symmetric(s, a.heightShift) * size.height;
    // The picture moves down by dy.
    return [1, 0, 0, 0, 1, -dy];
  },
};
export default heightShift;
