import * as tf from '@tensorflow/tfjs';
import { common, type LayerDef } from './types.js';

export const batchNormalization: LayerDef<'batchNormalization'> = {
  kind: 'batchNormalization',
  kerasClass: 'BatchNormalization',
  build: (a, ctx) =>
    tf.layers.batchNormalization({
      ...common(a, ctx),
      axis: a.axis ?? -1,
      momentum: a.momentum ?? 0.99,
      epsilon: a.epsilon ?? 0.001,
      center: a.center ?? true,
      scale: a.scale ?? true,
    }),
};
