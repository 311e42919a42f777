import * as tf from '@tensorflow/tfjs';
import { channelsLast, layerConfig, pair, tfPadding } from '../graph/builder.js';
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
    const { g, layer } = ctx;
    const c = layerConfig(layer);
    channelsLast(c, 'depthwiseConv2d');
    const [sh, sw] = pair(c.strides);
    const [dh, dw] = pair(c.dilationRate ?? 1);
    const l = layer as unknown as { depthwiseKernel: tf.LayerVariable; bias?: tf.LayerVariable };
    let y = g.op('DepthwiseConv2dNative', [ctx.x, ctx.read(l.depthwiseKernel)], [
      ['T', 'type', 'float32'], ['strides', 'ints', [1, sh, sw, 1]], ['padding', 'string', tfPadding(c.padding)],
      ['data_format', 'string', 'NHWC'], ['dilations', 'ints', [1, dh, dw, 1]],
    ]);
    if (c.useBias && l.bias) y = g.biasAdd(y, ctx.read(l.bias));
    return g.activation(String(c.activation), y);
  },
};
