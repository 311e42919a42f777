import * as tf from '@tensorflow/tfjs';
import { common, initializer, regularizer, type LayerDef } from './types.js';

export const dense: LayerDef<'dense'> = {
  kind: 'dense',
  kerasClass: 'Dense',
  build: (a, ctx) =>
    tf.layers.dense({
      ...common(a, ctx),
      units: a.units,
      activation: a.activation ?? 'linear',
      useBias: a.useBias ?? true,
      kernelInitializer: initializer(tf, a.kernelInitializer, 'glorotUniform', ctx.seed),
      biasInitializer: initializer(tf, a.biasInitializer, 'zeros', ctx.seed),
      kernelRegularizer: regularizer(tf, a.kernelRegularizer),
    }),
};
