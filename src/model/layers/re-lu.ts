import * as tf from '@tensorflow/tfjs';
import { layerConfig } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

export const reLU: LayerDef<'reLU'> = {
  kind: 'reLU',
  kerasClass: 'ReLU',
  build: (a, ctx) => tf.layers.reLU({ ...common(a, ctx), ...(a.maxValue !== undefined ? { maxValue: a.maxValue } : {}) }),
  graph: ({ g, x, layer }) => {
    const max = layerConfig(layer).maxValue as number | null | undefined;
    if (max === null || max === undefined) return g.activation('relu', x);
    // Relu6 is one fused op (and the gradient the addon reads from the output, see graph-gradients.test).
    if (max === 6) return g.activation('relu6', x);
    return g.binary('Minimum', g.activation('relu', x), g.scalar(max));
  },
};
