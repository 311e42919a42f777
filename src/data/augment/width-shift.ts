import { symmetric, type AffineOp } from './types.js';

/** Keras `width_shift_range` (as documented): a horizontal shift of a fraction of the width. */
const widthShift: AffineOp = {
  kind: 'affine',
  fields: ['widthShift'],
  active: (a) => a.widthShift > 0,
  sample(a, s, size) {
    const dx = symmetric(s, a.widthShift) * size.width;
    // The picture moves right by dx: output x shows input x - dx.
    return [1, 0, -dx, 0, 1, 0];
  },
};
export default widthShift;
