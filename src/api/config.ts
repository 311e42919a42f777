import YAML from 'yaml';
import { loadDetailed, textReader, type LoadedExperiment } from '../config/index.js';
import { discoverClasses } from '../data/sources.js';
import type { ExperimentInput } from './types.js';

/** How an experiment is read: `--set` overrides, and whether its classes are read from the data. */
export interface LoadOptions {
  /** Overrides, as `fitspec --set` takes them: `train.epochs=5`, `model.layers.3.dropout.rate=0.3`. */
  set?: string[];
  /**
   * Also read the class names from the data source (class folders, or the label column of the CSV; no
   * image is decoded) and check the model against them, e.g. the units of the last softmax layer.
   * As `fitspec validate --data`; `fitspec train` always does it.
   */
  data?: boolean;
}

/** {@link LoadOptions} for an experiment given as an object. */
export interface ValidateOptions extends LoadOptions {
  /**
   * The name the object goes by in problems, run folders and MLflow tags; relative `extends` paths are
   * resolved from its folder. Default: `experiment.yaml` (in the current directory).
   */
  file?: string;
}

const discoverer = (data: boolean | undefined) => (data ? discoverClasses : undefined);

/**
 * Reads an experiment file: parses it with source positions, merges its `extends` chain, applies the
 * `set` overrides, validates it against the schema, fills the defaults, runs the cross-field checks,
 * and hashes it. Never loads TensorFlow.
 *
 * @param file path of the experiment YAML file
 * @returns the typed, frozen experiment with its hash, resolved YAML and warnings
 * @throws {@link FitspecError} listing every problem, each with a code, a message, and a file:line:col
 *   when there is one: the same problems `fitspec validate` prints
 */
export function loadExperiment(file: string, opts: LoadOptions = {}): LoadedExperiment {
  return loadDetailed(file, { set: opts.set, discoverClasses: discoverer(opts.data) }).loaded;
}

/**
 * {@link loadExperiment} from text in memory: `text` stands for the content of `file` (the name used in
 * problems; files it `extends` are read from disk, relative to it).
 */
export function loadExperimentText(text: string, file: string, opts: LoadOptions = {}): LoadedExperiment {
  return loadDetailed(file, { set: opts.set, discoverClasses: discoverer(opts.data) }, textReader(text, file)).loaded;
}

/**
 * Validates an experiment built as an object, exactly as an experiment file: `extends`, `set`, the schema,
 * defaults, cross-field checks and the hash. The object is rendered as YAML first, so a problem has the
 * dotted `path` of the value and a line:col in that rendering (shown in its `excerpt`).
 *
 * @example
 * ```ts
 * const loaded = validateExperiment({ name: 'tiny', extends: 'experiments/demo.yaml', train: { epochs: 2 } });
 * loaded.experiment.train.batchSize; // 32, from demo.yaml
 * ```
 * @throws {@link FitspecError} listing every problem
 */
export function validateExperiment(config: ExperimentInput, opts: ValidateOptions = {}): LoadedExperiment {
  const file = opts.file ?? 'experiment.yaml';
  return loadExperimentText(YAML.stringify(config), file, opts);
}
