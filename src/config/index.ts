import { loadDetailed, textReader, type LoadedExperiment, type LoadOptions } from './load.js';

export type { LoadedExperiment, LoadOptions, ConfigReader } from './load.js';
export { loadDetailed, fsReader, textReader } from './load.js';
export { canonicalHash, canonicalJson, configHash, trainingConfig, UNHASHED_PATHS, UNHASHED_CALLBACKS } from './hash.js';
export { flattenConfig, flattenValue } from './flatten.js';
export { defaultLayerNames } from './names.js';
export { diffExperiments, formatDiff, type ConfigDiff } from './diff.js';
export { toExplainedYaml, toResolvedYaml } from './output.js';
export type { Experiment } from './schema/experiment.js';

/** Reads, extends, overrides, validates and hashes an experiment file; throws a FitspecError listing every problem. */
export function loadExperiment(file: string, opts?: LoadOptions): LoadedExperiment {
  return loadDetailed(file, opts).loaded;
}

/** The same from memory: `text` stands for the content of `file` (files it extends are read from disk). */
export function loadExperimentText(text: string, file: string, opts?: LoadOptions): LoadedExperiment {
  return loadDetailed(file, opts, textReader(text, file)).loaded;
}
