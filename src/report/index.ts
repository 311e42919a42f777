export type { EpochRow } from './history.js';
export { bestIndex, pickMetric } from './history.js';
export { learningCurvesPng, learningCurvesSpec, type CurvesOptions, type PhaseMark } from './curves.js';
export { classificationReport, confusionMatrix, confusionMatrixPng, confusionMatrixSpec, type ClassificationReport, type ClassMetrics } from './confusion.js';
export { vegaLiteToPng, vegaLiteToSvg } from './render.js';
export {
  compareCurvesPng,
  compareCurvesSpec,
  compareRuns,
  canonicalValue,
  configParams,
  differingParams,
  runLabels,
  formatComparison,
  formatDuration,
  historyFromPoints,
  parseMetricsCsv,
  type Comparison,
  type CompareRow,
  type FormatOptions,
  type ReferenceLine,
  type RunData,
} from './compare.js';
export { loadLocalRun } from './local-run.js';
