import { IDENTITY, type AffineOp } from './types.js';

/** Keras `horizontal_flip`: half of the images mirrored left-right (folded into the affine map). */
const horizontalFlip: AffineOp = {
  kind: 'affine',
  fields: ['horizontalFlip'],
  active: (a) => a.horizontalFlip,
  sample: (_a, s) => (s.bernoulli(0.5) ? [-1, 0, 0, 0, 1, 0] : IDENTITY),
};
export default horizontalFlip;
