import type * as tf from '@tensorflow/tfjs';

type Initializer = ReturnType<typeof tf.initializers.zeros>;
import type { Static } from '@sinclair/typebox';
import type { LayerKind, layerSchemas } from '../../config/schema/layers.js';
import type { GraphLayerContext, Ref } from '../../graph-builder.js';

export type LayerArgs<K extends LayerKind> = Static<(typeof layerSchemas)[K]>;

/** How one layer kind of the config becomes a tfjs layer. One file per kind, listed in ./index.ts. */
export interface LayerDef<K extends LayerKind = LayerKind> {
  kind: K;
  /** Keras class name, shown by `fitspec summary`. */
  kerasClass: string;
  build(args: LayerArgs<K>, ctx: { name: string; seed: number }): tf.layers.Layer;
  /** The same layer's forward pass as TensorFlow graph ops (graph engine), from the built tfjs layer. */
  graph(ctx: GraphLayerContext): Ref;
  /** A layer class of fitspec's own that saved models name; registered with tfjs before a model is loaded. */
  layerClass?: tf.serialization.SerializableConstructor<tf.serialization.Serializable>;
}

/** Options every layer kind shares, translated to tfjs. */
export function common(args: { trainable?: boolean }, ctx: { name: string }) {
  return { name: ctx.name, trainable: args.trainable ?? true };
}

/** Keras-style `l1_l2` regularizer, or nothing. */
export function regularizer(tfm: typeof tf, r?: { l1?: number; l2?: number }) {
  if (!r || (!r.l1 && !r.l2)) return undefined;
  return tfm.regularizers.l1l2({ l1: r.l1 ?? 0, l2: r.l2 ?? 0 });
}

/** Seeded initializer so that the same config and seed give the same starting weights. */
export function initializer(tfm: typeof tf, name: string | undefined, fallback: string, seed: number): Initializer {
  const id = name ?? fallback;
  const factory = (tfm.initializers as unknown as Record<string, (c?: object) => Initializer>)[id];
  if (id === 'zeros' || id === 'ones') return factory();
  if (id === 'identity') return factory({ gain: 1 });
  return factory({ seed });
}
