export { DATASETS, SCALES, STEPS, datasetDir, type NotebookStep, type Scale } from './plan.js';
export { formatNotebookTable, runNotebook, type NotebookOptions, type NotebookResult } from './run.js';
