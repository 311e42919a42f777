import * as tf from '@tensorflow/tfjs';
import { pooling } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

export const maxPooling2d: LayerDef<'maxPooling2d'> = {
  kind: 'maxPooling2d',
  kerasClass: 'MaxPooling2D',
  build: (a, ctx) => tf.layers.maxPooling2d({ ...common(a, ctx), poolSize: a.poolSize ?? 2, strides: a.strides, padding: a.padding ?? 'valid' }),
  graph: (ctx) => pooling(ctx, 'MaxPool'),
};
