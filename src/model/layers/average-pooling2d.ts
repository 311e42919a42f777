import * as tf from '@tensorflow/tfjs';
import { pooling } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

export const averagePooling2d: LayerDef<'averagePooling2d'> = {
  kind: 'averagePooling2d',
  kerasClass: 'AveragePooling2D',
  build: (a, ctx) => tf.layers.averagePooling2d({ ...common(a, ctx), poolSize: a.poolSize ?? 2, strides: a.strides, padding: a.padding ?? 'valid' }),
  graph: (ctx) => pooling(ctx, 'AvgPool'),
};
