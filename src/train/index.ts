export { train, resolvePhases, predictPart, type TrainOptions, type TrainResult, type RunSummary } from './trainer.js';
export type { EpochRow } from './run-folder.js';
