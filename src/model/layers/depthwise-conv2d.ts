import * as tf from '@tensorflow/tfjs';
import { convolution } from '../../graph-builder.js';
import { common, initializer, type LayerDef } from './types.js';

export const depthwiseConv2d: LayerDef<'depthwiseConv2d'> = {
  kind: 'depthwiseConv2d',
  kerasClass: 'DepthwiseConv2D',
  build: (a, ctx) =>
    tf.layers.depthwiseConv2d({
      ...common(a, ctx),
      kernelSize: a.kernelSize,
      strides: a.strides ?? 1,
      padding: a.padding ?? 'valid',
      depthMultiplier: a.depthMultiplier ?? 1,
      activation: a.activation ?? 'linear',
      useBias: a.useBias ?? true,
      depthwiseInitializer: initializer(tf, a.depthwiseInitializer, 'glorotUniform', ctx.seed),
    }),
  graph: (ctx) => {
    const l = ctx.layer as unknown as { depthwiseKernel: tf.LayerVariable; bias?: tf.LayerVariable };
    return convolution(ctx, 'DepthwiseConv2dNative', ctx.read(l.depthwiseKernel), l.bias);
  },
};
