import * as tf from '@tensorflow/tfjs';
import { GraphUnsupported, type Ref } from '../graph/builder.js';
import { common, type LayerDef } from './types.js';

interface BN extends tf.layers.Layer {
  axis: number;
  epsilon: number;
  momentum: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable | null;
  beta: tf.LayerVariable | null;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor;
}
type BNClass = new (args: object) => BN;

/**
 * tfjs' fused batch-norm gradient fails when the normalized axis is not the last one
 * ("Input to reshape ... requested shape has N"): the notebook's `BatchNormalization(axis=1)` on
 * channels-last images hits exactly that. Off the last axis this subclass normalizes with plain ops,
 * whose gradients work for any axis; weights and the saved class name stay tfjs' own, so saved models
 * load anywhere.
 */
let AnyAxisBatchNormalization: BNClass | undefined;

function anyAxisClass(): BNClass {
  if (AnyAxisBatchNormalization) return AnyAxisBatchNormalization;
  const Base = Object.getPrototypeOf(tf.layers.batchNormalization({})).constructor as BNClass;
  const Derived = class extends Base {
    override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const ndim = x.rank;
      const axis = this.axis >= 0 ? this.axis : this.axis + ndim;
      if (axis === ndim - 1) return super.call(inputs, kwargs);
      return tf.tidy(() => {
        const shape = x.shape.map((d, i) => (i === axis ? d : 1));
        const normalize = (mean: tf.Tensor, variance: tf.Tensor) => {
          let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.epsilon)));
          if (this.scale && this.gamma) y = tf.mul(y, tf.reshape(this.gamma.read(), shape));
          if (this.center && this.beta) y = tf.add(y, tf.reshape(this.beta.read(), shape));
          return y;
        };
        // Inference too: the pure-JS backend's fused kernel assumes the last axis and gets this case wrong.
        if (!kwargs.training) return normalize(tf.reshape(this.movingMean.read(), shape), tf.reshape(this.movingVariance.read(), shape));
        const reduction = Array.from({ length: ndim }, (_, i) => i).filter((i) => i !== axis);
        const { mean, variance } = tf.moments(x, reduction, true);
        const decay = 1 - this.momentum;
        for (const [v, batch] of [
          [this.movingMean, mean],
          [this.movingVariance, variance],
        ] as const) {
          const old = v.read();
          v.write(tf.sub(old, tf.mul(tf.sub(old, tf.reshape(batch, old.shape)), decay)));
        }
        return normalize(mean, variance);
      });
    }
  };
  AnyAxisBatchNormalization = Derived;
  return Derived;
}

export const batchNormalization: LayerDef<'batchNormalization'> = {
  kind: 'batchNormalization',
  kerasClass: 'BatchNormalization',
  build: (a, ctx) => {
    const Layer = anyAxisClass();
    return new Layer({
      ...common(a, ctx),
      axis: a.axis ?? -1,
      momentum: a.momentum ?? 0.99,
      epsilon: a.epsilon ?? 0.001,
      center: a.center ?? true,
      scale: a.scale ?? true,
    });
  },
  graph: ({ g, x, layer, training, read, update }) => {
    const bn = layer as unknown as BN;
    const shape = g.shape(x);
    if (!shape) throw new GraphUnsupported('batchNormalization of an input of unknown rank');
    const ndim = shape.length;
    const axis = bn.axis >= 0 ? bn.axis : bn.axis + ndim;
    const reduction = Array.from({ length: ndim }, (_, i) => i).filter((i) => i !== axis);
    // Parameters are vectors along `axis`; broadcast them as [1, .., C, .., 1].
    const bshape = shape.map((d, i) => (i === axis ? d : 1));
    const param = (v: tf.LayerVariable) => (axis === ndim - 1 ? read(v) : g.reshape(read(v), bshape));
    let mean: Ref;
    let variance: Ref;
    if (training) {
      // tfjs' moments (biased variance), and its moving-average update: v -= (v - batch) * (1 - momentum).
      mean = g.reduce('Mean', x, reduction, true);
      variance = g.reduce('Mean', g.binary('SquaredDifference', x, mean), reduction, true);
      const decay = g.scalar(1 - bn.momentum);
      for (const [v, batch] of [[bn.movingMean, mean], [bn.movingVariance, variance]] as const) {
        const old = read(v);
        update(v, g.sub(old, g.mul(g.sub(old, g.reshape(batch, [shape[axis]!])), decay)));
      }
    } else {
      mean = param(bn.movingMean);
      variance = param(bn.movingVariance);
    }
    // x * scale + offset with per-channel scale and offset: two passes over the activation map
    // (and two in the gradient) instead of four.
    let scale = g.unary('Rsqrt', g.add(variance, g.scalar(bn.epsilon)));
    if (bn.scale && bn.gamma) scale = g.mul(scale, param(bn.gamma));
    let offset = g.unary('Neg', g.mul(mean, scale));
    if (bn.center && bn.beta) offset = g.add(offset, param(bn.beta));
    const y = g.add(g.mul(x, scale), offset);
    return y;
  },
};
