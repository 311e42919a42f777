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
    if ((g.shape(ctx.x)?.length ?? 0) !== 2) throw new GraphUnsupported('dense on an input of rank other than 2 (add a flatten before it)');
    const l = layer as unknown as { kernel: tf.LayerVariable; bias?: tf.LayerVariable };
    const kernel = ctx.read(l.kernel);
    regularize(ctx, c.kernelRegularizer, kernel);
    let y = g.matmul(ctx.x, kernel);
    if (c.useBias && l.bias) y = g.biasAdd(y, ctx.read(l.bias));
    return g.activation(String(c.activation), y);
  },
};
