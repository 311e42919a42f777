import * as tf from '@tensorflow/tfjs';
import { GraphUnsupported, type Ref } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

interface BN extends tf.layers.Layer {
  inFrozenBase?: boolean;
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
 * Keras runs a BatchNormalization layer that is not trainable (its own `trainable: false`, or a
 * frozen base around it: `inFrozenBase`, set by applyTrainable) in inference mode, also while the
 * rest of the model trains: moving statistics normalize, and they are not updated. tfjs would
 * normalize with the batch's statistics.
 */
export function frozen(bn: { trainable: boolean; inFrozenBase?: boolean }): boolean {
  return !bn.trainable || bn.inFrozenBase === true;
}

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
      kwargs = { ...kwargs, training: kwargs.training === true && !frozen(this) };
      // tfjs' own path fails in training without gamma or beta (it reads the missing variable).
      if (axis === ndim - 1 && this.center && this.scale) return super.call(inputs, kwargs);
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
  graph: ({ g, x, layer, training: modelTraining, kernels, read, update }) => {
    const bn = layer as unknown as BN;
    const training = modelTraining && !frozen(bn);
    const shape = g.shape(x);
    if (!shape || shape.slice(1).some((d) => d < 0)) throw new GraphUnsupported('batchNormalization of an input without a static shape');
    const ndim = shape.length;
    const axis = bn.axis >= 0 ? bn.axis : bn.axis + ndim;
    const channels = shape[axis]!;
    const decay = g.scalar(1 - bn.momentum);
    const movingUpdate = (v: tf.LayerVariable, batch: Ref) => {
      // tfjs' moving average: v -= (v - batch) * (1 - momentum).
      const old = read(v);
      update(v, g.sub(old, g.mul(g.sub(old, batch), decay)));
    };
    const last = axis === ndim - 1;
    const bshape = shape.map((d, i) => (i === axis ? d : 1));
    if (training && !last && kernels === 'Eigen') {
      // Eigen's fused kernel runs NHWC only and wraps NCHW in two transposes of the whole activation,
      // forward and backward: a quarter of a BN/Dropout step of the notebook's CNN. Plain ops instead
      // (tfjs' moments: the mean, then the mean squared deviation), as Keras builds this case.
      const reduction = shape.map((_, i) => i).filter((i) => i !== axis);
      const mean = g.reduce('Mean', x, reduction, true);
      const centered = g.sub(x, mean);
      const variance = g.reduce('Mean', g.unary('Square', centered), reduction, true);
      movingUpdate(bn.movingMean, g.reshape(mean, [channels]));
      movingUpdate(bn.movingVariance, g.reshape(variance, [channels]));
      let scale = g.unary('Rsqrt', g.add(variance, g.scalar(bn.epsilon)));
      if (bn.scale && bn.gamma) scale = g.mul(scale, g.reshape(read(bn.gamma), bshape));
      const y = g.mul(centered, scale);
      return bn.center && bn.beta ? g.add(y, g.reshape(read(bn.beta), bshape)) : y;
    }
    if (training) {
      // TensorFlow's fused kernel (and its fused gradient) on any axis: viewed as [outer, C, inner, 1]
      // in NCHW, the normalized axis is the kernel's channel axis; the last axis is plain NHWC.
      const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      const view = last ? g.reshape(x, [-1, 1, 1, channels]) : g.reshape(x, [-1, channels, inner, 1]);
      const vec = (v: tf.LayerVariable | null, fill: number) => (v ? read(v) : g.constant(new Float32Array(channels).fill(fill), [channels]));
      const out = g.op(
        'FusedBatchNormV3',
        [view, vec(bn.scale ? bn.gamma : null, 1), vec(bn.center ? bn.beta : null, 0), read(bn.movingMean), read(bn.movingVariance)],
        [
          ['T', 'type', 'float32'],
          ['U', 'type', 'float32'],
          ['epsilon', 'float', bn.epsilon],
          ['data_format', 'string', last ? 'NHWC' : 'NCHW'],
          ['is_training', 'bool', true],
          ['exponential_avg_factor', 'float', 1],
        ],
      );
      // The kernel's batch variance is Bessel-corrected; tfjs' moments (the moving statistics) are not.
      const n = g.div(
        g.cast(
          g.op(
            'Size',
            [x],
            [
              ['T', 'type', 'float32'],
              ['out_type', 'type', 'int32'],
            ],
          ),
          'int32',
          'float32',
        ),
        g.scalar(channels),
      );
      movingUpdate(bn.movingMean, [out[0], 1]);
      movingUpdate(bn.movingVariance, g.mul([out[0], 2], g.div(g.sub(n, g.scalar(1)), n)));
      return g.reshape(
        out,
        shape.map((d, i) => (i === 0 ? -1 : d)),
      );
    }
    // Inference: x * scale + offset with per-channel scale and offset from the moving statistics.
    const param = (v: tf.LayerVariable) => (last ? read(v) : g.reshape(read(v), bshape));
    let scale = g.unary('Rsqrt', g.add(param(bn.movingVariance), g.scalar(bn.epsilon)));
    if (bn.scale && bn.gamma) scale = g.mul(scale, param(bn.gamma));
    let offset = g.unary('Neg', g.mul(param(bn.movingMean), scale));
    if (bn.center && bn.beta) offset = g.add(offset, param(bn.beta));
    return g.add(g.mul(x, scale), offset);
  },
};
