import * as tf from '@tensorflow/tfjs';
import { channelsLast, layerConfig } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

export const globalAveragePooling2d: LayerDef<'globalAveragePooling2d'> = {
  kind: 'globalAveragePooling2d',
  kerasClass: 'GlobalAveragePooling2D',
  build: (a, ctx) => tf.layers.globalAveragePooling2d({ ...common(a, ctx) }),
  graph: (ctx) => {
    channelsLast(layerConfig(ctx.layer), 'globalAveragePooling2d');
    return ctx.g.reduce('Mean', ctx.x, [1, 2]);
  },
};
