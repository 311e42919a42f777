import * as tf from '@tensorflow/tfjs';
import { common, type LayerDef } from './types.js';

export const dropout: LayerDef<'dropout'> = {
  kind: 'dropout',
  kerasClass: 'Dropout',
  build: (a, ctx) => tf.layers.dropout({ ...common(a, ctx), rate: a.rate, seed: a.seed ?? ctx.seed }),
};
