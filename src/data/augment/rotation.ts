import type { AffineOp } from './types.js';

/** Keras `rotation_range`: degrees, uniform in [-rotation, rotation]; positive turns counter-clockwise. */
const rotation: AffineOp = {
  kind: 'affine',
  fields: ['rotation'],
  active: (a) => a.rotation > 0,
  sample(a, s) {
    const t = (s.uniform(-a.rotation, a.rotation) * Math.PI) / 180;
    const c = Math.cos(t);
    const n = Math.sin(t);
    // With y pointing down, sampling the input at R(t) . p turns the picture counter-clockwise on screen.
    return [c, -n, 0, n, c, 0];
  },
};
export default rotation;
