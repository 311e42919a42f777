import * as tf from '@tensorflow/tfjs';
import { common, type LayerDef } from './types.js';

export const activation: LayerDef<'activation'> = {
  kind: 'activation',
  kerasClass: 'Activation',
  build: (a, ctx) => tf.layers.activation({ ...common(a, ctx), activation: a.activation }),
};
