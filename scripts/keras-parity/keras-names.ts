/**
 * fitspec's built layers and optimizer settings as Keras 3 classes and constructor arguments: what the
 * Keras side of the step-parity harness (test/train/keras-parity) and of bench:keras-curves builds.
 */
import type * as tf from '@tensorflow/tfjs';
import type { OptimizerConfig } from '../../src/config/schema/experiment.js';
import { leafLayers, type BuiltModel } from '../../src/model/index.js';

/**
 * Per leaf layer (InputLayer left out): whether it trains as fitspec has set it (applyTrainable), for
 * Keras' `layer.trainable`. A layer of a frozen base does not, whatever its own flag says.
 */
export function trainableLeaves(built: BuiltModel): boolean[] {
  const leaves = leafLayers(built.model).filter((l) => l.getClassName() !== 'InputLayer');
  const base = new Set(built.base ? leafLayers(built.base) : []);
  return leaves.map((l) => l.trainable && (!base.has(l) || built.base!.trainable));
}

/** fitspec's optimizer config as the Keras class and its constructor arguments. */
export function kerasOptimizer(o: OptimizerConfig): { className: string; config: Record<string, unknown> } {
  const lr = o.learningRate;
  switch (o.name) {
    case 'sgd':
      return { className: 'SGD', config: { learning_rate: lr, momentum: o.momentum ?? 0, nesterov: o.nesterov ?? false } };
    case 'rmsprop':
      return { className: 'RMSprop', config: { learning_rate: lr, rho: o.rho ?? 0.9, momentum: o.momentum ?? 0, epsilon: o.epsilon ?? 1e-7, centered: o.centered ?? false } };
    case 'adam':
      return { className: 'Adam', config: { learning_rate: lr, beta_1: o.beta1 ?? 0.9, beta_2: o.beta2 ?? 0.999, epsilon: o.epsilon ?? 1e-7 } };
    case 'adamax':
      return { className: 'Adamax', config: { learning_rate: lr, beta_1: o.beta1 ?? 0.9, beta_2: o.beta2 ?? 0.999, epsilon: o.epsilon ?? 1e-7 } };
    case 'adagrad':
      return { className: 'Adagrad', config: { learning_rate: lr, initial_accumulator_value: o.initialAccumulatorValue ?? 0.1, epsilon: 1e-7 } };
    case 'adadelta':
      return { className: 'Adadelta', config: { learning_rate: lr, rho: o.rho ?? 0.95, epsilon: o.epsilon ?? 1e-7 } };
  }
}

/** tfjs activation names where Keras spells them otherwise. */
const KERAS_ACTIVATION: Record<string, string> = { hardSigmoid: 'hard_sigmoid', linear: 'linear' };

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * A built tfjs layer as a Keras layer: the class name and the constructor arguments from its tfjs
 * config, camelCase to snake_case. Initializers are left out (the weights are copied); regularizers
 * become Keras' serialized form. A layer kind whose arguments do not translate this way adds an entry
 * to KERAS_ARGS.
 */
export function kerasLayer(layer: tf.layers.Layer): { className: string; config: Record<string, unknown> } {
  const cfg = layer.getConfig() as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (v === null || v === undefined || /(Initializer|Constraint)$/.test(k) || k === 'dataFormat' || k === 'dtype' || k === 'trainable') continue;
    if (k.endsWith('Regularizer')) {
      const r = v as { className: string; config: Record<string, number> };
      out[snake(k)] = { class_name: r.className, config: r.config };
    } else if (k === 'activation') out[k] = KERAS_ACTIVATION[v as string] ?? v;
    else out[snake(k)] = v;
  }
  const className = layer.getClassName();
  return { className, config: (KERAS_ARGS[className] ?? ((c) => c))(out) };
}

/** Per Keras class: arguments that need more than a rename. */
const KERAS_ARGS: Record<string, (c: Record<string, unknown>) => Record<string, unknown>> = {
  // fitspec's dropout seed picks its masks, which the Keras side replays (MaskedDropout).
  Dropout: ({ seed: _seed, ...c }) => c,
};
