import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import type { Experiment } from '../config/schema/experiment.js';
import { batches, type PreparedData } from '../data/index.js';
import { describeModel, saveModel, writeDescriptor, type BuiltModel } from '../model/index.js';
import { classificationReport, confusionMatrix, confusionMatrixPng, learningCurvesPng } from '../report/index.js';
import { trackingUri } from '../track/index.js';
import type { Engine } from './engine/index.js';
import { evaluate } from './fit.js';
import { resolvePhases } from './phases.js';
import { artifact, errorMessage, evalBatches, sessionsSoFar, type TrainRun } from './run-context.js';
import { writeJson, type EpochRow } from './run-folder.js';
import type { RunSummary } from './trainer.js';

/** The trained model, reports and test metrics of a finished run. */
export async function finishRun(run: TrainRun, built: BuiltModel, engine: Engine): Promise<void> {
  const { exp, runDir, history } = run;
  await engine.syncToModel();
  await saveModel(built.model, path.join(runDir, 'model'));
  const last = built.model.layers.at(-1)?.getConfig() as { activation?: string } | undefined;
  writeDescriptor(
    path.join(runDir, 'model'),
    describeModel(exp.data, run.data.classes, {
      configHash: run.loaded.hash,
      experiment: exp.name,
      runId: run.runId,
      inputName: built.model.inputNames[0],
      outputName: built.model.outputNames[0],
      softmax: last?.activation === 'softmax',
    }),
  );
  const { logModel } = exp.tracking;
  if (logModel === 'always' || (logModel === 'auto' && trackingUri(exp.tracking))) await (await import('../export/index.js')).logMlflowModel(path.join(runDir, 'model'), run.log);
  artifact(run, 'model');
  if (history.length) artifact(run, 'metrics.csv');
  const phases = resolvePhases(exp);
  let first = 0;
  const phaseStarts = phases.map((p) => ({ name: p.name, firstEpoch: (first += p.epochs) - p.epochs }));
  await writeReports(built, run.data, exp, runDir, history, phases.length > 1 ? phaseStarts : undefined, (rel) => artifact(run, rel), run.log);
  if (run.data.parts.test?.ids.length) {
    run.testMetrics = await evaluate(engine, evalBatches(run, 'test'));
    const lastEpoch = history.at(-1)?.epoch ?? 0;
    run.tracker.logMetrics(lastEpoch, Object.fromEntries(Object.entries(run.testMetrics).map(([k, v]) => [`test_${k}`, v])), Date.now());
  }
}

/** tracking.register: the finished run's model as a version of the registered model; a failure leaves the run as it is. */
export async function registerFromConfig(run: TrainRun, reg: { name: string; alias?: string }): Promise<void> {
  const { log } = run;
  try {
    const { registerModel } = await import('../track/register.js');
    const { writeMlflowModel } = await import('../export/index.js');
    const r = await registerModel({ ref: run.runDir, name: reg.name, alias: reg.alias, log, writeMlflowModel: (dir) => writeMlflowModel(dir, log) });
    log(`registered: models:/${r.name}/${r.version}${r.alias ? ` (alias ${r.alias})` : ''}`);
  } catch (e) {
    log(`warning: the model was not registered as ${reg.name}: ${errorMessage(e)}`);
  }
}

export function buildSummary(run: TrainRun): RunSummary {
  const { history: h, timing, backend, data } = run;
  const best = (key: string, better: (a: number, b: number) => boolean) => {
    let idx = -1;
    h.forEach((r, i) => {
      const v = r[key];
      if (v !== undefined && Number.isFinite(v) && (idx < 0 || better(v, h[idx]![key]!))) idx = i;
    });
    return idx < 0 ? undefined : { value: h[idx]![key]!, epoch: h[idx]!.epoch + 1 };
  };
  const acc = best('val_accuracy', (a, b) => a > b);
  const vl = best('val_loss', (a, b) => a < b);
  const last = h.at(-1) ?? ({} as EpochRow);
  const sessions = sessionsSoFar(run);
  return {
    status: run.status,
    epochs: h.length,
    best_val_accuracy: acc?.value,
    best_val_accuracy_epoch: acc?.epoch,
    min_val_loss: vl?.value,
    min_val_loss_epoch: vl?.epoch,
    final: Object.fromEntries(Object.entries(last).filter(([k]) => k !== 'epoch')),
    test: run.testMetrics,
    wall_time_s: sessions.reduce((s, x) => s + x.wall_time_s, 0),
    sessions,
    data_wait_fraction: timing.stepTime > 0 ? timing.dataWait / timing.stepTime : undefined,
    images_per_sec: timing.stepTime > 0 ? timing.images / timing.stepTime : undefined,
    backend: backend.name,
    tensorflow_version: backend.tensorflowVersion,
    kernels: backend.kernels?.name,
    threads: backend.threads,
    engine: run.runtime?.engine,
    config_hash: run.loaded.hash,
    split_digest: data.splitDigest,
    classes: data.classes,
    skipped: data.skipped,
    trainable_params_per_phase: run.trainableLog,
  };
}

/** Predicted and true class of every image in a split. */
export async function predictPart(model: tf.LayersModel, data: PreparedData, part: 'validation' | 'test' | 'train', exp: Experiment): Promise<{ truth: number[]; pred: number[] }> {
  const truth: number[] = [];
  const pred: number[] = [];
  for await (const { xs, ys } of batches(data, part, { batchSize: exp.train.batchSize, shuffle: false, seed: exp.seed, epoch: 0, rescale: exp.data.image.rescale })) {
    const [p, t] = tf.tidy(() => [(model.predict(xs) as tf.Tensor).argMax(-1), ys.argMax(-1)]);
    pred.push(...(await p!.data()));
    truth.push(...(await t!.data()));
    p!.dispose();
    t!.dispose();
    xs.dispose();
    ys.dispose();
  }
  return { truth, pred };
}

async function writeReports(
  built: BuiltModel,
  data: PreparedData,
  exp: Experiment,
  runDir: string,
  history: EpochRow[],
  phases: { name: string; firstEpoch: number }[] | undefined,
  artifact: (rel: string) => void,
  log: (m: string) => void,
): Promise<void> {
  fs.mkdirSync(path.join(runDir, 'plots'), { recursive: true });
  if (history.length) {
    await learningCurvesPng(history, path.join(runDir, 'plots', 'learning_curves.png'), { title: exp.name, phases });
    artifact('plots/learning_curves.png');
  }
  for (const part of ['validation', 'test'] as const) {
    if (!data.parts[part]?.ids.length) continue;
    const { truth, pred } = await predictPart(built.model, data, part, exp);
    const matrix = confusionMatrix(truth, pred, data.classes.length);
    const report = { part, classes: data.classes, matrix, ...classificationReport(matrix, data.classes) };
    artifact(writeJson(runDir, `reports/${part}_classification.json`, report));
    await confusionMatrixPng(matrix, data.classes, path.join(runDir, 'plots', `${part}_confusion_matrix.png`), { title: `${exp.name}: ${part}` });
    artifact(`plots/${part}_confusion_matrix.png`);
    log(`${part}: accuracy ${report.accuracy.toFixed(4)} (${truth.length} images)`);
  }
}
