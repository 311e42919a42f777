import { symmetric, type AffineOp } from './types.js';

/**
 * Keras `shear_range`: an angle in degrees (Keras 2+), uniform in [-shear, shear]. Same matrix as
 * Keras' `apply_affine_transform` in (x, y) order: x' = x - sin(s) y, y' = cos(s) y.
 */
const shear: AffineOp = {
  kind: 'affine',
  fields: ['shear'],
  active: (a) => a.shear > 0,
  sample(a, s) {
    const t = (symmetric(s, a.shear) * Math.PI) / 180;
    return [1, -Math.sin(t), 0, 0, Math.cos(t), 0];
  },
};
export default shear;
