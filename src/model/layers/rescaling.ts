import * as tf from '@tensorflow/tfjs';
import { layerConfig } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

export const rescaling: LayerDef<'rescaling'> = {
  kind: 'rescaling',
  kerasClass: 'Rescaling',
  build: (a, ctx) => tf.layers.rescaling({ ...common(a, ctx), scale: a.scale, offset: a.offset ?? 0 }),
  graph: ({ g, x, layer }) => {
    const c = layerConfig(layer);
    const y = g.mul(x, g.scalar(Number(c.scale)));
    return Number(c.offset) ? g.add(y, g.scalar(Number(c.offset))) : y;
  },
};
