import * as tf from '@tensorflow/tfjs';
import type { OptimizerConfig } from '../config/schema/experiment.js';

type Build = (o: OptimizerConfig) => tf.Optimizer;

/** Keras defaults where tfjs' differ (rho 0.9, epsilon 1e-7), so a config means what it means in Keras. */
const builders: Record<OptimizerConfig['name'], Build> = {
  sgd: (o) => (o.momentum ? tf.train.momentum(o.learningRate, o.momentum, o.nesterov ?? false) : tf.train.sgd(o.learningRate)),
  adam: (o) => tf.train.adam(o.learningRate, o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.epsilon ?? 1e-7),
  rmsprop: (o) => tf.train.rmsprop(o.learningRate, o.rho ?? 0.9, o.momentum ?? 0, o.epsilon ?? 1e-7, o.centered ?? false),
  adagrad: (o) => tf.train.adagrad(o.learningRate, o.initialAccumulatorValue ?? 0.1),
  adadelta: (o) => tf.train.adadelta(o.learningRate, o.rho ?? 0.95, o.epsilon ?? 1e-7),
  adamax: (o) => tf.train.adamax(o.learningRate, o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.epsilon ?? 1e-7, 0),
};

export function buildOptimizer(o: OptimizerConfig): tf.Optimizer {
  return builders[o.name](o);
}

/** tfjs optimizers keep the rate in different places; SGD caches it in a scalar, hence setLearningRate. */
export function getLearningRate(opt: tf.Optimizer): number {
  return (opt as unknown as { learningRate: number }).learningRate;
}

export function setLearningRate(opt: tf.Optimizer, lr: number): void {
  const o = opt as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

/**
 * Before each step: what makes tfjs' update Keras' where the two differ. Adam: Keras (and TensorFlow's
 * fused op) divide by sqrt(v) + epsilon with a bias-corrected rate, tfjs by sqrt(v_hat) + epsilon; the
 * same update as Keras' once tfjs' epsilon is epsilon / sqrt(1 - beta2^t). The slots are the same,
 * so checkpoints do not change.
 */
export function prepareStep(opt: tf.Optimizer, o: OptimizerConfig): void {
  if (o.name !== 'adam') return;
  const a = opt as unknown as { epsilon: number; iterations: number };
  const t = a.iterations + 1;
  a.epsilon = (o.epsilon ?? 1e-7) / Math.sqrt(1 - (o.beta2 ?? 0.999) ** t);
}
