import * as tf from '@tensorflow/tfjs';
import { convolution, layerConfig, regularize } from '../../graph-builder.js';
import { common, initializer, regularizer, type LayerDef } from './types.js';

export const conv2d: LayerDef<'conv2d'> = {
  kind: 'conv2d',
  kerasClass: 'Conv2D',
  build: (a, ctx) =>
    tf.layers.conv2d({
      ...common(a, ctx),
      filters: a.filters,
      kernelSize: a.kernelSize,
      strides: a.strides ?? 1,
      padding: a.padding ?? 'valid',
      activation: a.activation ?? 'linear',
      useBias: a.useBias ?? true,
      kernelInitializer: initializer(tf, a.kernelInitializer, 'glorotUniform', ctx.seed),
      biasInitializer: initializer(tf, a.biasInitializer, 'zeros', ctx.seed),
      kernelRegularizer: regularizer(tf, a.kernelRegularizer),
    }),
  graph: (ctx) => {
    const l = ctx.layer as unknown as { kernel: tf.LayerVariable; bias?: tf.LayerVariable };
    const kernel = ctx.read(l.kernel);
    regularize(ctx, layerConfig(ctx.layer).kernelRegularizer, kernel);
    return convolution(ctx, 'Conv2D', kernel, l.bias);
  },
};
