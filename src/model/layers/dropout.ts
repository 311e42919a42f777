import * as tf from '@tensorflow/tfjs';
import { GraphUnsupported, layerConfig } from '../graph/builder.js';
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

  constructor(args: { name: string; trainable: boolean; rate: number; seed: number }) {
    super({ name: args.name, trainable: args.trainable });
    this.rate = Math.max(Math.min(args.rate, 1), 0);
    this.seed = args.seed;
    this.supportsMasking = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    // As tfjs: dropout only for 0 < rate < 1 and only while training (predict and evaluate pass no `training`).
    if (kwargs.training !== true || !(this.rate > 0 && this.rate < 1)) return x;
    return tf.tidy(() => tf.dropout(x, this.rate, undefined, `${maskSeed(this.seed, this.name)}/${this.step}`));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { rate: this.rate, seed: this.seed, ...super.getConfig() };
  }
}

export const dropout: LayerDef<'dropout'> = {
  kind: 'dropout',
  kerasClass: 'Dropout',
  build: (a, ctx) => new SteppedDropout({ ...common(a, ctx), rate: a.rate, seed: a.seed ?? ctx.seed }),
  graph: ({ g, x, layer, training, step }) => {
    const c = layerConfig(layer);
    const rate = Number(c.rate);
    // tfjs applies dropout only for 0 < rate < 1 and only while training.
    if (!training || !(rate > 0 && rate < 1)) return x;
    if (c.noiseShape) throw new GraphUnsupported('dropout with noiseShape');
    // The mask is a pure function of (the layer's seed, its name, the global step): the layer's seed
    // (its own, or the experiment's plus its index) and its name make the first half of the stateless
    // seed, the step the second. Nothing lives in the session, so rebuilding it (a phase change, a
    // resumed run) changes no mask. The mask differs from the eager engine's (another generator).
    const seed = g.constant(new Int32Array([maskSeed(Number(c.seed ?? 0), layer.name)]), []);
    const seeds = g.op('Pack', [[seed, step]], [['N', 'int', 2], ['T', 'type', 'int32'], ['axis', 'int', 0]]);
    const shape = g.op('Shape', [x], [['T', 'type', 'float32'], ['out_type', 'type', 'int32']]);
    const u = g.op('StatelessRandomUniform', [shape, seeds], [['dtype', 'type', 'float32'], ['T', 'type', 'int32'], ['Tseed', 'type', 'int32']]);
    const keep = g.cast(g.op('GreaterEqual', [u, g.scalar(rate)], [['T', 'type', 'float32']]), 'bool', 'float32');
    return g.mul(g.mul(x, keep), g.scalar(1 / (1 - rate)));
  },
};

/** The step-independent half of a dropout layer's mask seed: layers sharing a seed still draw different masks. */
export function maskSeed(seed: number, name: string): number {
  let h = 17;
  for (const ch of `${seed}/${name}`) h = (h * 31 + ch.charCodeAt(0)) % 2_000_000_011;
  return h;
}
