import * as tf from '@tensorflow/tfjs';
import type { Merge } from '../../config/blocks.js';
import { GraphUnsupported, layerConfig, type GraphLayerContext, type Ref } from '../../graph-builder.js';

/** A merge layer of a block (`residual` adds, `parallel` merges): not a stack entry of its own. */
export interface MergeDef {
  kind: Merge;
  kerasClass: string;
  build(args: { axis?: number }, ctx: { name: string }): tf.layers.Layer;
  graph(ctx: GraphLayerContext): Ref;
}

const inputsOf = (ctx: GraphLayerContext): Ref[] => ctx.xs ?? [ctx.x];

/** Elementwise merges broadcast like Keras' (and TensorFlow's) binary ops. */
function fold(ctx: GraphLayerContext, op: 'AddV2' | 'Mul'): Ref {
  const [first, ...rest] = inputsOf(ctx);
  return rest.reduce((acc, x) => ctx.g.binary(op, acc, x), first!);
}

export const add: MergeDef = {
  kind: 'add',
  kerasClass: 'Add',
  build: (_a, ctx) => tf.layers.add({ name: ctx.name }),
  graph: (ctx) => fold(ctx, 'AddV2'),
};

export const multiply: MergeDef = {
  kind: 'multiply',
  kerasClass: 'Multiply',
  build: (_a, ctx) => tf.layers.multiply({ name: ctx.name }),
  graph: (ctx) => fold(ctx, 'Mul'),
};

export const concatenate: MergeDef = {
  kind: 'concatenate',
  kerasClass: 'Concatenate',
  build: (a, ctx) => tf.layers.concatenate({ name: ctx.name, axis: a.axis ?? -1 }),
  graph: (ctx) => {
    const xs = inputsOf(ctx);
    const rank = ctx.g.shape(xs[0]!)?.length;
    const axis = Number(layerConfig(ctx.layer).axis ?? -1);
    if (rank === undefined && axis < 0) throw new GraphUnsupported('concatenate of inputs of unknown rank');
    return ctx.g.op(
      'ConcatV2',
      [xs, ctx.g.constant(new Int32Array([axis < 0 ? axis + rank! : axis]), [])],
      [
        ['N', 'int', xs.length],
        ['T', 'type', 'float32'],
        ['Tidx', 'type', 'int32'],
      ],
    );
  },
};

export const mergeDefs: MergeDef[] = [add, concatenate, multiply];
