import * as tf from '@tensorflow/tfjs';
import { channelsLast, layerConfig, pair, regularize, tfPadding, type GraphLayerContext } from '../graph/builder.js';
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
    const { g, layer } = ctx;
    const c = layerConfig(layer);
    channelsLast(c, 'conv2d');
    const [sh, sw] = pair(c.strides);
    const [dh, dw] = pair(c.dilationRate ?? 1);
    const l = layer as unknown as { kernel: tf.LayerVariable; bias?: tf.LayerVariable };
    const kernel = ctx.read(l.kernel);
    regularize(ctx, c.kernelRegularizer, kernel);
    let y = g.op('Conv2D', [ctx.x, kernel], [
      ['T', 'type', 'float32'], ['strides', 'ints', [1, sh, sw, 1]], ['padding', 'string', tfPadding(c.padding)],
      ['data_format', 'string', 'NHWC'], ['dilations', 'ints', [1, dh, dw, 1]], ['use_cudnn_on_gpu', 'bool', true],
    ]);
    if (c.useBias && l.bias) y = g.biasAdd(y, ctx.read(l.bias));
    return g.activation(String(c.activation), y);
  },
};
