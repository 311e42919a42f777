import type { Augment } from '../../config/schema/experiment.js';
import type { AffineOp } from './types.js';

export function zoomRange(z: Augment['zoom']): [number, number] {
  return typeof z === 'number' ? [1 - z, 1 + z] : [z[0], z[1]];
}

/**
 * Keras `zoom_range`: separate factors for width and height, uniform in the range. The factor
 * scales the sampled input area, so above 1 the picture shrinks (zooms out), as in Keras.
 */
const zoom: AffineOp = {
  kind: 'affine',
  fields: ['zoom'],
  active: (a) => {
    const [lo, hi] = zoomRange(a.zoom);
    return !(lo === 1 && hi === 1);
  },
  sample(a, s) {
    const [lo, hi] = zoomRange(a.zoom);
    const zx = s.uniform(lo, hi);
    const zy = s.uniform(lo, hi);
    return [zx, 0, 0, 0, zy, 0];
  },
};
export default zoom;
