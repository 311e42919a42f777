/**
 * fitspec as a library: the functions the `fitspec` CLI is built on.
 *
 * ```ts
 * import { loadExperiment, train } from 'fitspec';
 * const result = await train(loadExperiment('experiments/demo.yaml', { set: ['train.epochs=2'] }));
 * console.log(result.summary.best_val_accuracy);
 * ```
 *
 * Loading and validating never load TensorFlow; training, prediction and evaluation load it on first use.
 * Every user mistake is thrown as a {@link FitspecError} whose `problems` carry a code, a message, and a
 * file:line:col when there is one.
 *
 * @packageDocumentation
 */
export { loadExperiment, loadExperimentText, validateExperiment, type LoadOptions, type ValidateOptions } from './api/config.js';
export { train, type TrainOptions, type TrainCallbacks } from './api/train.js';
export { predict, evaluate, type Prediction, type EvaluateOptions, type EvaluationReport } from './api/runs.js';
export { planSweep, runSweep, type PlanOptions, type SweepPlan, type SweepOptions, type SweepResult } from './api/sweep.js';
export { compare, type CompareOptions } from './api/compare.js';
export { demoExperimentFile, generateImages, type GenerateImagesOptions } from './api/demo.js';
export type { ExperimentInput, DeepPartial, ModelConfig } from './api/types.js';

export { FitspecError, isFitspecError, formatProblem, type Problem, type Severity } from './errors.js';
export type { LoadedExperiment } from './config/load.js';
export { ExperimentSchema } from './config/schema/experiment.js';
export type {
  Experiment,
  DataConfig,
  Augment,
  TrainConfig,
  OptimizerConfig,
  CallbackSpecT as CallbackSpec,
  LayerSpecT as LayerSpec,
  TrackingConfig,
  SweepConfig,
} from './config/schema/experiment.js';
export type { TrainResult, RunSummary, EpochRow } from './train/index.js';
export type { Session } from './train/run-folder.js';
export type { ClassMetrics } from './report/confusion.js';
export type { RunStatus } from './track/index.js';
export type { SweepMeta, TrialOutcome, TrialStatus, EarlyStopRule } from './sweep/records.js';
export type { Trial } from './sweep/plan.js';
export type { Comparison, CompareRow, RunData } from './report/compare.js';
export type { EpochRow as HistoryRow } from './report/history.js';
