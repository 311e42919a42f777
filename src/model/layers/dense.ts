import * as tf from '@tensorflow/tfjs';
import { GraphUnsupported, layerConfig, regularize } from '../../graph-builder.js';
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
  graph: (ctx) => {
    const { g, layer } = ctx;
    const c = layerConfig(layer);
    const shape = g.shape(ctx.x);
    if (!shape || shape.length < 2) throw new GraphUnsupported('dense on an input of unknown rank or rank 1');
    // Keras applies Dense to the last axis of a larger input (a squeeze-and-excitation gate after a
    // reshape to 1x1): the same matmul on the rows of a 2-D view, shaped back afterwards.
    const inner = shape.slice(1);
    if (inner.some((d) => d < 0)) throw new GraphUnsupported('dense on an input whose shape is not static');
    const l = layer as unknown as { kernel: tf.LayerVariable; bias?: tf.LayerVariable };
    const kernel = ctx.read(l.kernel);
    regularize(ctx, c.kernelRegularizer, kernel);
    let y = g.matmul(inner.length > 1 ? g.reshape(ctx.x, [-1, inner.at(-1)!]) : ctx.x, kernel);
    if (c.useBias && l.bias) y = g.biasAdd(y, ctx.read(l.bias));
    y = g.activation(String(c.activation), y);
    return inner.length > 1 ? g.reshape(y, [-1, ...inner.slice(0, -1), Number(c.units)]) : y;
  },
};
