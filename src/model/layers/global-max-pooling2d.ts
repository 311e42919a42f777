import * as tf from '@tensorflow/tfjs';
import { channelsLast, layerConfig } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

export const globalMaxPooling2d: LayerDef<'globalMaxPooling2d'> = {
  kind: 'globalMaxPooling2d',
  kerasClass: 'GlobalMaxPooling2D',
  build: (a, ctx) => tf.layers.globalMaxPooling2d({ ...common(a, ctx) }),
  graph: (ctx) => {
    channelsLast(layerConfig(ctx.layer), 'globalMaxPooling2d');
    return ctx.g.reduce('Max', ctx.x, [1, 2]);
  },
};
