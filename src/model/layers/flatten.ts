import * as tf from '@tensorflow/tfjs';
import { common, type LayerDef } from './types.js';

export const flatten: LayerDef<'flatten'> = {
  kind: 'flatten',
  kerasClass: 'Flatten',
  build: (a, ctx) => tf.layers.flatten({ ...common(a, ctx) }),
};
