import fs from 'node:fs';
import path from 'node:path';
import type { DataConfig } from '../config/schema/experiment.js';
import { FitspecError } from '../errors.js';
import type { ClassificationReport } from '../report/confusion.js';
import { loadExperiment } from './config.js';

/** One image's prediction. */
export interface Prediction {
  file: string;
  /** The most probable class. */
  class: string;
  /** Every class's probability, in the model's class order. */
  probabilities: Record<string, number>;
}

/**
 * Class probabilities of images from the trained model of a finished run, the images decoded exactly as
 * in training. As `fitspec predict`.
 *
 * @param model a finished run folder (`runs/<experiment>/<run id>`), a model folder, or an MLflow model
 *   (`runs:/<run id>`, `models:/<name>/<version>`, `models:/<name>@<alias>`)
 * @param images image files, folders (every image inside) or glob patterns (`photos/*.jpg`)
 */
export async function predict(model: string, images: string[]): Promise<{ classes: string[]; predictions: Prediction[] }> {
  const { locateModel } = await import('../track/model-ref.js');
  // Located first: an MLflow model that cannot be read is the one error, whatever the images.
  const where = await locateModel(model);
  const files = (await import('../data/sources.js')).expandImagePaths(images);
  const { initBackend } = await import('../backend.js');
  await initBackend(where.backend ?? 'auto', where.threads);
  await registerRunPlugins(where.runDir);
  const { loadTrainedModel, predictFiles } = await import('../train/predict.js');
  const run = await loadTrainedModel(where.modelDir);
  try {
    const probs = await predictFiles(run, files);
    const predictions = files.map((file, i) => {
      const p = probs[i]!;
      const best = p.indexOf(Math.max(...p));
      return { file, class: run.classes[best]!, probabilities: Object.fromEntries(run.classes.map((c, j) => [c, p[j]!])) };
    });
    return { classes: run.classes, predictions };
  } finally {
    run.model.dispose();
  }
}

/** A run's layer plugins (its own copies, named by its resolved.yaml) register their classes before its model is read. */
async function registerRunPlugins(runDir: string | undefined): Promise<void> {
  const resolved = runDir && path.join(runDir, 'resolved.yaml');
  if (!resolved || !fs.existsSync(resolved)) return;
  const loaded = loadExperiment(resolved);
  if (loaded.plugins.length) (await import('../model/build.js')).registerPluginLayers(loaded.experiment, loaded.plugins);
}

/** What {@link evaluate} evaluates on. */
export interface EvaluateOptions {
  /** A split of the run, when `data` is not given (default: `validation`). */
  part?: 'validation' | 'test' | 'train';
  /** Other labelled images: a folder with one subfolder per class, or a labels CSV (same class names as the run). */
  data?: string;
  /** With a CSV `data`: the folder of the images (default: the CSV's folder). */
  images?: string;
  /** With a CSV `data`: the column of image ids (default: the run's, else `ID`). */
  idColumn?: string;
  /** With a CSV `data`: the column of labels (default: the run's, else `Class`). */
  labelColumn?: string;
}

/** Per-class and overall figures of an evaluation, as written to `reports/evaluate-*.json`. */
export interface EvaluationReport extends ClassificationReport {
  /** The split name, or the `data` path. */
  data: string;
  images: number;
  classes: string[];
  /** `matrix[true][predicted]` counts. */
  matrix: number[][];
  /** Where the report was written. */
  file: string;
}

/** `data` as a data source: a CSV file is a `csv` source, anything else a folder of class folders. */
function otherSource(opts: EvaluateOptions, runSource: DataConfig['source']): DataConfig['source'] {
  const data = opts.data!;
  const isCsv = fs.existsSync(data) && fs.statSync(data).isFile();
  if (!isCsv) {
    if (opts.images || opts.idColumn || opts.labelColumn)
      throw new FitspecError({ code: 'cli.usage', message: '--images, --id-column and --label-column go with a labels CSV as --data, not a folder.', received: data });
    return { type: 'directory', path: data };
  }
  const csv = runSource.type === 'csv' ? runSource : undefined;
  return {
    type: 'csv',
    labels: data,
    images: opts.images ?? path.dirname(data),
    idColumn: opts.idColumn ?? csv?.idColumn ?? 'ID',
    labelColumn: opts.labelColumn ?? csv?.labelColumn ?? 'Class',
  } as DataConfig['source'];
}

/**
 * Evaluates a run's trained model (a run folder or an MLflow model URI, as {@link predict} takes) on one of its own splits or on other labelled images: confusion matrix,
 * accuracy, per-class precision / recall / F1. Writes `reports/evaluate-<part|data>.json` in the run
 * folder. As `fitspec evaluate`.
 */
export async function evaluate(model: string, opts: EvaluateOptions = {}): Promise<EvaluationReport> {
  const part = opts.part ?? 'validation';
  const { locateModel } = await import('../track/model-ref.js');
  const where = await locateModel(model);
  const resolved = where.runDir && path.join(where.runDir, 'resolved.yaml');
  if (!resolved || !fs.existsSync(resolved))
    throw new FitspecError({
      code: 'evaluate.no-run',
      message: `${model} has no resolved.yaml beside its model: evaluate needs the run's data settings.`,
      expected: 'a run folder or an MLflow model logged by fitspec',
      received: model,
    });
  const runDir = where.runDir!;
  const loaded = loadExperiment(resolved);
  const exp = loaded.experiment;
  const { initBackend } = await import('../backend.js');
  await initBackend(exp.train.backend, exp.train.threads);
  if (loaded.plugins.length) (await import('../model/build.js')).registerPluginLayers(exp, loaded.plugins);
  const { loadTrainedModel, predictFiles } = await import('../train/predict.js');
  const { confusionMatrix, classificationReport } = await import('../report/index.js');
  const run = await loadTrainedModel(where.modelDir);
  let truth: number[];
  let pred: number[];
  let label: string;
  try {
    if (opts.data) {
      const { listSource } = await import('../data/sources.js');
      const listing = listSource({ ...exp.data, source: otherSource(opts, exp.data.source), classes: run.classes });
      if (listing.problems.length && exp.data.onError === 'fail') throw new FitspecError(listing.problems);
      const probs = await predictFiles(
        run,
        listing.items.map((i) => i.file),
      );
      truth = listing.items.map((i) => i.label);
      pred = probs.map((p) => p.indexOf(Math.max(...p)));
      label = opts.data;
    } else {
      const { prepareData } = await import('../data/index.js');
      const { predictPart } = await import('../train/trainer.js');
      const data = await prepareData(exp.data, exp.seed);
      if (!data.parts[part]?.ids.length)
        throw new FitspecError({ code: 'evaluate.empty-part', message: `The run has no ${part} split (data.split.${part} is 0).`, path: `data.split.${part}` });
      ({ truth, pred } = await predictPart(run.model, data, part, exp));
      label = part;
    }
  } finally {
    run.model.dispose();
  }
  const matrix = confusionMatrix(truth, pred, run.classes.length);
  const report = { data: label, images: truth.length, classes: run.classes, matrix, ...classificationReport(matrix, run.classes) };
  const out = path.join(runDir, 'reports', `evaluate-${opts.data ? 'data' : part}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  return { ...report, file: out };
}
