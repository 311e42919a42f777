import * as tf from '@tensorflow/tfjs';
import { channelsLast, layerConfig, pair, tfPadding } from '../graph/builder.js';
import { common, type LayerDef } from './types.js';

export const averagePooling2d: LayerDef<'averagePooling2d'> = {
  kind: 'averagePooling2d',
  kerasClass: 'AveragePooling2D',
  build: (a, ctx) => tf.layers.averagePooling2d({ ...common(a, ctx), poolSize: a.poolSize ?? 2, strides: a.strides, padding: a.padding ?? 'valid' }),
  graph: (ctx) => {
    const c = layerConfig(ctx.layer);
    channelsLast(c, 'averagePooling2d');
    const [ph, pw] = pair(c.poolSize);
    const [sh, sw] = pair(c.strides ?? c.poolSize);
    return ctx.g.op('AvgPool', [ctx.x], [
      ['T', 'type', 'float32'], ['ksize', 'ints', [1, ph, pw, 1]], ['strides', 'ints', [1, sh, sw, 1]],
      ['padding', 'string', tfPadding(c.padding)], ['data_format', 'string', 'NHWC'],
    ]);
  },
};
