import type { Experiment } from '../config/schema/experiment.js';

/**
 * Every key optional, all the way down: what an experiment file (or object) may hold before `extends`
 * and the schema's defaults complete it. Tuples and arrays keep their shape.
 */
export type DeepPartial<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly unknown[]
    ? { [K in keyof T]: DeepPartial<T[K]> }
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

/**
 * An experiment as a TypeScript or JavaScript object: the same keys and values as an experiment YAML file,
 * with completion for every key and enumerated value. Keys with a default (and everything an `extends`
 * file provides) may be left out; {@link validateExperiment} fills the defaults and reports what is
 * missing or wrong. The result is an {@link Experiment}.
 *
 * @example
 * ```ts
 * const config: ExperimentInput = {
 *   name: 'small-cnn',
 *   data: { source: { type: 'directory', path: 'data/faces' }, image: { height: 64, width: 64 } },
 *   model: { layers: [{ conv2d: { filters: 16, kernelSize: 3, activation: 'relu' } }, { flatten: {} }, { dense: { units: 3, activation: 'softmax' } }] },
 *   train: { epochs: 5, optimizer: { name: 'adam', learningRate: 0.001 } },
 * };
 * ```
 */
export type ExperimentInput = DeepPartial<Experiment>;

/** The `model` block of a validated experiment: its layer stack, and a pretrained base when there is one. */
export type ModelConfig = Experiment['model'];
