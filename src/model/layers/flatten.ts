import * as tf from '@tensorflow/tfjs';
import { GraphUnsupported } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

export const flatten: LayerDef<'flatten'> = {
  kind: 'flatten',
  kerasClass: 'Flatten',
  build: (a, ctx) => tf.layers.flatten({ ...common(a, ctx) }),
  graph: ({ g, x }) => {
    const shape = g.shape(x);
    if (!shape || shape.slice(1).some((d) => d < 0)) throw new GraphUnsupported('flatten of an input without a static shape');
    return g.reshape(x, [-1, shape.slice(1).reduce((a, b) => a * b, 1)]);
  },
};
