import * as tf from '@tensorflow/tfjs';
import { GraphUnsupported, layerConfig, type GraphLayerContext, type Ref } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

/**
 * tfjs' Dropout with a seed draws the same mask at every call (its random stream restarts from the
 * seed), which prunes a fixed set of units instead of dropping out. This one seeds each training
 * step's mask from (the layer's seed, its name, the run's global step), like the graph engine, so the
 * mask changes every step and a resumed run draws the masks of the uninterrupted one. The eager engine
 * sets `step` before each training step. It saves as tfjs' own `Dropout` (same class name and config),
 * so a saved model loads in plain tfjs.
 */
export class SteppedDropout extends tf.layers.Layer {
  static className = 'Dropout';
  /** The run's global training step the next training call draws its mask for. */
  step = 0;
  readonly rate: number;
  readonly seed: number;
  /** tfjs' / Keras' noise shape: null takes the input's size, 1 shares one draw along that axis (SpatialDropout2D: [null, 1, 1, null]). */
  readonly noiseShape?: (number | null)[];

  constructor(args: { name: string; trainable: boolean; rate: number; seed: number; noiseShape?: (number | null)[] }) {
    super({ name: args.name, trainable: args.trainable });
    this.rate = Math.max(Math.min(args.rate, 1), 0);
    this.seed = args.seed;
    if (args.noiseShape) this.noiseShape = args.noiseShape;
    this.supportsMasking = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    // As tfjs: dropout only for 0 < rate < 1 and only while training (predict and evaluate pass no `training`).
    if (kwargs.training !== true || !(this.rate > 0 && this.rate < 1)) return x;
    return tf.tidy(() => tf.dropout(x, this.rate, this.noiseShape as number[] | undefined, `${maskSeed(this.seed, this.name)}/${this.step}`));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { rate: this.rate, seed: this.seed, ...(this.noiseShape ? { noiseShape: this.noiseShape } : {}), ...super.getConfig() };
  }
}

export const dropout: LayerDef<'dropout'> = {
  kind: 'dropout',
  kerasClass: 'Dropout',
  build: (a, ctx) => new SteppedDropout({ ...common(a, ctx), rate: a.rate, seed: a.seed ?? ctx.seed }),
  graph: (ctx) => dropoutGraph(ctx),
};

/** Dropout as graph ops, for `dropout` and `spatialDropout2d` (both build a SteppedDropout, saved as tfjs' `Dropout`). */
export function dropoutGraph({ g, x, layer, training, step }: GraphLayerContext): Ref {
  const c = layerConfig(layer);
  const rate = Number(c.rate);
  // tfjs applies dropout only for 0 < rate < 1 and only while training.
  if (!training || !(rate > 0 && rate < 1)) return x;
  // The mask is a pure function of (the layer's seed, its name, the global step): the layer's seed
  // (its own, or the experiment's plus its index) and its name make the first half of the stateless
  // seed, the step the second. Nothing lives in the session, so rebuilding it (a phase change, a
  // resumed run) changes no mask. The mask differs from the eager engine's (another generator).
  const seed = g.constant(new Int32Array([maskSeed(Number(c.seed ?? 0), layer.name)]), []);
  const seeds = g.op(
    'Pack',
    [[seed, step]],
    [
      ['N', 'int', 2],
      ['T', 'type', 'int32'],
      ['axis', 'int', 0],
    ],
  );
  let shape = g.op(
    'Shape',
    [x],
    [
      ['T', 'type', 'float32'],
      ['out_type', 'type', 'int32'],
    ],
  );
  const noise = c.noiseShape as (number | null)[] | undefined;
  if (noise) {
    const rank = g.shape(x)?.length;
    if (rank !== noise.length) throw new GraphUnsupported(`dropout noiseShape ${JSON.stringify(noise)} for an input of rank ${rank}`);
    // The input's size where the noise shape says null, the given size elsewhere.
    const I = ['T', 'type', 'int32'] as const;
    shape = g.op('Mul', [shape, g.ints(noise.map((d) => (d === null ? 1 : 0)))], [I]);
    shape = g.op('AddV2', [shape, g.ints(noise.map((d) => d ?? 0))], [I]);
  }
  const u = g.op(
    'StatelessRandomUniform',
    [shape, seeds],
    [
      ['dtype', 'type', 'float32'],
      ['T', 'type', 'int32'],
      ['Tseed', 'type', 'int32'],
    ],
  );
  const keep = g.cast(g.op('GreaterEqual', [u, g.scalar(rate)], [['T', 'type', 'float32']]), 'bool', 'float32');
  return g.mul(g.mul(x, keep), g.scalar(1 / (1 - rate)));
}

/** The step-independent half of a dropout layer's mask seed: layers sharing a seed still draw different masks. */
export function maskSeed(seed: number, name: string): number {
  let h = 17;
  for (const ch of `${seed}/${name}`) h = (h * 31 + ch.charCodeAt(0)) % 2_000_000_011;
  return h;
}
