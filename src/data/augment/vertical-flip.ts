import { IDENTITY, type AffineOp } from './types.js';

/** Keras `vertical_flip`: half of the images mirrored top-bottom (folded into the affine map). */
const verticalFlip: AffineOp = {
  kind: 'affine',
  fields: ['verticalFlip'],
  active: (a) => a.verticalFlip,
  sample: (_a, s) => (s.bernoulli(0.5) ? [1, 0, 0, 0, -1, 0] : IDENTITY),
};
export default verticalFlip;
