import * as tf from '@tensorflow/tfjs';
import { layerConfig } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

export const activation: LayerDef<'activation'> = {
  kind: 'activation',
  kerasClass: 'Activation',
  build: (a, ctx) => tf.layers.activation({ ...common(a, ctx), activation: a.activation }),
  graph: (ctx) => ctx.g.activation(String(layerConfig(ctx.layer).activation), ctx.x),
};
