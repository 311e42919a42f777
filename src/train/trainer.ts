import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { describeBackend, initBackend } from '../backend.js';
import { flattenConfig, type LoadedExperiment } from '../config/index.js';
import type { Experiment, OptimizerConfig } from '../config/schema/experiment.js';
import { augmentPreview, batches, prepareData, writeSplit, type PreparedData } from '../data/index.js';
import { FitspecError, isFitspecError } from '../errors.js';
import { applyTrainable, buildModel, buildOptimizer, formatSummary, getLearningRate, saveModel, setLearningRate, summarize, type BuiltModel } from '../model/index.js';
import { classificationReport, confusionMatrix, confusionMatrixPng, learningCurvesPng } from '../report/index.js';
import { createTracker, gitInfo, kerasAutologParams, standardTags, type RunStatus, type Tracker } from '../track/index.js';
import { createCallbacks } from './callbacks/index.js';
import type { Callback, TrainingHandle } from './callbacks/types.js';
import { readCheckpointState, restoreCheckpoint, saveCheckpoint } from './checkpoint.js';
import { classWeights } from './class-weights.js';
import { epochProgress, formatLogs } from './progress.js';
import { newRunId, writeJson, writeMetricsCsv, writeText, type EpochRow } from './run-folder.js';

export interface TrainOptions {
  /** Continue this run folder from its last checkpoint. */
  resume?: string;
  log?: (msg: string) => void;
  /** Live progress bar; defaults to whether stdout is a terminal. */
  tty?: boolean;
  /** Set by tests and `--dry-run`-like callers to stop after this many epochs. */
  maxEpochs?: number;
}

export interface TrainResult {
  runId: string;
  runDir: string;
  status: RunStatus;
  history: EpochRow[];
  summary: RunSummary;
  warnings: string[];
}

export interface RunSummary {
  status: RunStatus;
  epochs: number;
  best_val_accuracy?: number;
  best_val_accuracy_epoch?: number;
  min_val_loss?: number;
  min_val_loss_epoch?: number;
  final: Record<string, number>;
  test?: Record<string, number>;
  wall_time_s: number;
  data_wait_fraction?: number;
  images_per_sec?: number;
  backend: string;
  tensorflow_version?: string;
  config_hash: string;
  split_digest: string;
  /** Class names in one-hot order: what `predict` labels its outputs with. */
  classes: string[];
  skipped: { file: string; reason: string }[];
  trainable_params_per_phase: { phase: string; trainable: number; total: number }[];
}

interface Phase {
  name: string;
  epochs: number;
  optimizer: OptimizerConfig;
  freeze?: 'none' | 'base';
  unfreezeFrom?: string;
  callbacks: Experiment['train']['callbacks'];
}

/** `train.phases` if given, else one phase from `train.epochs`, `train.optimizer`, `train.callbacks`. */
export function resolvePhases(exp: Experiment): Phase[] {
  const t = exp.train;
  if (!t.phases?.length) return [{ name: 'train', epochs: t.epochs, optimizer: t.optimizer, callbacks: t.callbacks }];
  return t.phases.map((p, i) => ({
    name: p.name ?? `phase${i + 1}`,
    epochs: p.epochs,
    optimizer: p.optimizer ?? t.optimizer,
    freeze: p.freeze,
    unfreezeFrom: p.unfreezeFrom,
    callbacks: p.callbacks ?? t.callbacks,
  }));
}

const interruptSignals = ['SIGINT', 'SIGTERM'] as const;

export async function train(loaded: LoadedExperiment, opts: TrainOptions = {}): Promise<TrainResult> {
  const log = opts.log ?? ((m: string) => process.stdout.write(m + '\n'));
  const exp = loaded.experiment;
  const backend = await initBackend(exp.train.backend, exp.train.threads);
  log(describeBackend(backend));

  const data = await prepareData(exp.data, exp.seed, { log });
  const classes = data.classes;
  const trainSize = data.parts.train.ids.length;
  if (trainSize === 0) throw new FitspecError({ code: 'data.empty-train', message: 'The training split is empty: check data.split and the data folder.', path: 'data.split' });

  // A new run, or the run being resumed.
  const resumeState = opts.resume ? readCheckpointState(opts.resume) : undefined;
  if (opts.resume && !resumeState) throw new FitspecError({ code: 'train.no-checkpoint', message: `${opts.resume} has no checkpoint to resume from (checkpoint/state.json).`, file: opts.resume });
  const runId = opts.resume ? path.basename(opts.resume) : newRunId();
  const runDir = opts.resume ?? path.join(exp.tracking.runsDir, exp.name, runId);
  fs.mkdirSync(runDir, { recursive: true });

  const tracker = createTracker({ tracking: exp.tracking, log });
  const started = Date.now();
  const artifacts: string[] = [];
  const artifact = (rel: string) => {
    artifacts.push(rel);
    tracker.logArtifact(rel);
  };

  if (!opts.resume) {
    writeText(runDir, 'config.yaml', loaded.sourceText);
    writeText(runDir, 'resolved.yaml', loaded.resolvedYaml);
    writeSplit(data, path.join(runDir, 'split'));
  }
  const git = gitInfo(process.cwd());
  const params = { ...flattenConfig(exp), ...kerasAutologParams(exp) };
  const tags = standardTags({
    runName: exp.tracking.runName ?? `${exp.name}-${runId}`,
    sourceName: loaded.file,
    git,
    description: exp.description,
    backend: backend.name,
    tensorflowVersion: backend.tensorflowVersion,
    configHash: loaded.hash,
    chain: loaded.chain,
    overrides: loaded.overrides,
    runId,
    extra: exp.tracking.tags,
  });
  await tracker.start({
    experimentName: exp.tracking.experiment ?? exp.name,
    runName: exp.tracking.runName ?? `${exp.name}-${runId}`,
    runDir,
    runId,
    params,
    tags,
    dataset: {
      name: `${exp.name}-data`,
      digest: data.splitDigest.slice(0, 8),
      sourceType: data.source.type,
      source: JSON.stringify(data.source),
      profile: data.profile,
      context: 'training',
    },
    startTime: started,
  });
  for (const rel of ['config.yaml', 'resolved.yaml', 'split']) if (fs.existsSync(path.join(runDir, rel))) artifact(rel);
  if (exp.augment && !opts.resume) {
    // The notebook's figure: one training image and its random variants, so a reviewer sees what the model saw.
    await augmentPreview(exp.data, exp.augment, { n: 8, seed: exp.seed, out: path.join(runDir, 'plots', 'augment_preview.png') });
    artifact('plots/augment_preview.png');
  }

  // Ctrl-C / SIGTERM: finish the current step, checkpoint, mark the run KILLED. A second signal exits at once.
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = sig;
    log(`\n${sig}: stopping after this step; the run can be continued with \`fitspec train --resume ${runDir}\``);
  };
  for (const s of interruptSignals) process.on(s, onSignal);

  const state = { history: (resumeState?.history ?? []) as EpochRow[], dataWait: 0, stepTime: 0, images: 0 };
  let built: BuiltModel | undefined;
  let status: RunStatus = 'FINISHED';
  const trainableLog: RunSummary['trainable_params_per_phase'] = [];
  let testMetrics: Record<string, number> | undefined;
  try {
    built = await buildModel(exp);
    const model = built.model;
    const phases = resolvePhases(exp);
    const cw = classWeights(exp.train.classWeight, classes, data.parts.train.labels);
    const loss = exp.train.loss;
    const metrics = exp.train.metrics;

    const totalEpochs = phases.reduce((n, p) => n + p.epochs, 0);
    let epoch = 0;
    let first = true;
    for (let pi = 0; pi < phases.length && !interrupted; pi++) {
      const phase = phases[pi]!;
      const phaseStart = epoch;
      epoch += phase.epochs;
      // Resuming: skip phases that were complete at the checkpoint.
      if (resumeState && resumeState.epoch >= epoch - 1) continue;
      applyTrainable(built, phase.freeze, phase.unfreezeFrom);
      const optimizer = buildOptimizer(phase.optimizer);
      model.compile({ optimizer, loss, metrics: [...metrics] });
      const s = summarize(built);
      trainableLog.push({ phase: phase.name, trainable: s.trainable, total: s.total });
      if (first) {
        artifact(writeText(runDir, 'model_summary.txt', formatSummary(s, exp.name) + '\n'));
        first = false;
      }
      if (phases.length > 1) log(`phase ${pi + 1}/${phases.length} \`${phase.name}\`: ${phase.epochs} epochs, ${phase.optimizer.name} lr ${phase.optimizer.learningRate}, ${s.trainable.toLocaleString('en-US')} trainable params`);

      let startEpoch = phaseStart;
      if (resumeState && resumeState.epoch >= phaseStart) {
        const restored = await restoreCheckpoint(runDir, model, optimizer);
        setLearningRate(optimizer, resumeState.learningRate);
        startEpoch = resumeState.epoch + 1;
        log(`resuming at epoch ${startEpoch + 1}${restored ? '' : ' (optimizer state was not saved for this optimizer and restarts from zero)'}`);
      }

      const handle = makeHandle(model, optimizer, runDir, log);
      const callbacks: Callback[] = createCallbacks(phase.callbacks as never, { totalEpochs: phase.epochs, initialLearningRate: phase.optimizer.learningRate, firstEpoch: phaseStart });
      if (resumeState?.phase === pi && resumeState.callbacks) callbacks.forEach((cb, i) => cb.setState?.(resumeState.callbacks![i] as never));
      for (const cb of callbacks) await cb.onTrainBegin?.(handle);

      for (let e = startEpoch; e < epoch; e++) {
        if (opts.maxEpochs !== undefined && state.history.length >= opts.maxEpochs) break;
        for (const cb of callbacks) await cb.onEpochBegin?.(e, handle);
        const t0 = Date.now();
        const trainLogs = await trainEpoch({ model, data, exp, epoch: e, totalEpochs, cw, callbacks, handle, state, tty: opts.tty, log, stop: () => Boolean(interrupted) || handle.stopTraining });
        if (interrupted) {
          status = 'KILLED';
          break;
        }
        const valLogs = data.parts.validation?.ids.length ? await evaluatePart(model, data, 'validation', exp) : {};
        const seconds = (Date.now() - t0) / 1000;
        const logs: EpochRow = {
          epoch: e,
          ...trainLogs.logs,
          ...Object.fromEntries(Object.entries(valLogs).map(([k, v]) => [`val_${k}`, v])),
          lr: getLearningRate(optimizer),
          epoch_time: seconds,
          images_per_sec: trainLogs.images / trainLogs.stepSeconds,
        };
        state.history.push(logs);
        trainLogsLine(log, e, totalEpochs, logs, phases.length > 1 ? phase.name : undefined);
        for (const cb of callbacks) await cb.onEpochEnd?.(e, logs, handle);
        // Checkpoint before logging so a crash never logs an epoch the checkpoint does not have.
        await saveCheckpoint(runDir, model, optimizer, { epoch: e, phase: pi, learningRate: getLearningRate(optimizer), history: state.history, callbacks: callbacks.map((cb) => cb.getState?.() ?? null) });
        writeMetricsCsv(runDir, state.history);
        const { epoch: _e, ...metricValues } = logs;
        tracker.logMetrics(e, metricValues, Date.now());
        if (handle.stopTraining) {
          log(`stopped early at epoch ${e + 1}`);
          break;
        }
      }
      for (const cb of callbacks) await cb.onTrainEnd?.(handle);
      if (status === 'KILLED') break;
    }
    if (interrupted) status = 'KILLED';

    if (status === 'FINISHED') {
      await saveModel(model, path.join(runDir, 'model'));
      artifact('model');
      if (state.history.length) artifact('metrics.csv');
      let first = 0;
      const phaseStarts = phases.map((p) => ({ name: p.name, firstEpoch: (first += p.epochs) - p.epochs }));
      await writeReports(built, data, exp, runDir, state.history, phases.length > 1 ? phaseStarts : undefined, artifact, log);
      if (data.parts.test?.ids.length) {
        testMetrics = await evaluatePart(model, data, 'test', exp);
        const lastEpoch = state.history.at(-1)?.epoch ?? 0;
        tracker.logMetrics(lastEpoch, Object.fromEntries(Object.entries(testMetrics).map(([k, v]) => [`test_${k}`, v])), Date.now());
      }
    }
  } catch (e) {
    status = 'FAILED';
    const message = isFitspecError(e) ? e.message : `${(e as Error).message ?? e}`;
    const summary = buildSummary();
    writeJson(runDir, 'summary.json', summary);
    await tracker.end('FAILED', message).catch(() => undefined);
    for (const s of interruptSignals) process.off(s, onSignal);
    throw e;
  }

  const summary = buildSummary();
  artifact(writeJson(runDir, 'summary.json', summary));
  await tracker.end(status, status === 'KILLED' ? `interrupted by ${interrupted}` : undefined);
  for (const s of interruptSignals) process.off(s, onSignal);
  built?.model.dispose();
  log(`${status === 'FINISHED' ? 'run finished' : `run ${status.toLowerCase()}`}: ${runDir}`);
  return { runId, runDir, status, history: state.history, summary, warnings: tracker.warnings() };

  function buildSummary(): RunSummary {
    const h = state.history;
    const best = (key: string, better: (a: number, b: number) => boolean) => {
      let idx = -1;
      h.forEach((r, i) => {
        const v = r[key];
        if (v !== undefined && Number.isFinite(v) && (idx < 0 || better(v, h[idx]![key]!))) idx = i;
      });
      return idx < 0 ? undefined : { value: h[idx]![key]!, epoch: h[idx]!.epoch };
    };
    const acc = best('val_accuracy', (a, b) => a > b);
    const vl = best('val_loss', (a, b) => a < b);
    const last = h.at(-1) ?? ({} as EpochRow);
    return {
      status,
      epochs: h.length,
      best_val_accuracy: acc?.value,
      best_val_accuracy_epoch: acc?.epoch,
      min_val_loss: vl?.value,
      min_val_loss_epoch: vl?.epoch,
      final: Object.fromEntries(Object.entries(last).filter(([k]) => k !== 'epoch')),
      test: testMetrics,
      wall_time_s: (Date.now() - started) / 1000,
      data_wait_fraction: state.stepTime > 0 ? state.dataWait / state.stepTime : undefined,
      images_per_sec: state.stepTime > 0 ? state.images / state.stepTime : undefined,
      backend: backend.name,
      tensorflow_version: backend.tensorflowVersion,
      config_hash: loaded.hash,
      split_digest: data.splitDigest,
      classes,
      skipped: data.skipped,
      trainable_params_per_phase: trainableLog,
    };
  }
}

function trainLogsLine(log: (m: string) => void, e: number, total: number, logs: EpochRow, phase?: string) {
  log(`epoch ${e + 1}/${total}${phase ? ` (${phase})` : ''}: ${formatLogs(logs)}`);
}

function makeHandle(model: tf.LayersModel, optimizer: tf.Optimizer, runDir: string, log: (m: string) => void): TrainingHandle {
  return {
    stopTraining: false,
    getLearningRate: () => getLearningRate(optimizer),
    setLearningRate: (lr) => setLearningRate(optimizer, lr),
    snapshotWeights: () => model.getWeights().map((w) => w.clone()),
    restoreWeights: (snap) => model.setWeights(snap as tf.Tensor[]),
    disposeSnapshot: (snap) => (snap as tf.Tensor[]).forEach((t) => t.dispose()),
    saveModel: (subdir) => saveModel(model, path.join(runDir, subdir)),
    runDir,
    log,
  };
}

interface EpochState {
  dataWait: number;
  stepTime: number;
  images: number;
}

async function trainEpoch(a: {
  model: tf.LayersModel;
  data: PreparedData;
  exp: Experiment;
  epoch: number;
  totalEpochs: number;
  cw: number[] | undefined;
  callbacks: Callback[];
  handle: TrainingHandle;
  state: EpochState;
  tty?: boolean;
  log: (m: string) => void;
  stop: () => boolean;
}): Promise<{ logs: Record<string, number>; images: number; stepSeconds: number }> {
  const { model, data, exp, epoch } = a;
  const t = exp.train;
  const steps = t.stepsPerEpoch ?? Math.ceil(data.parts.train.ids.length / t.batchSize);
  const progress = epochProgress(`epoch ${epoch + 1}/${a.totalEpochs}`, steps, { tty: a.tty });
  const sums: Record<string, number> = {};
  let seen = 0;
  let step = 0;
  let waitMs = 0;
  const t0 = performance.now();
  const it = batches(data, 'train', { batchSize: t.batchSize, shuffle: t.shuffle, seed: exp.seed, epoch, augment: exp.augment, rescale: exp.data.image.rescale, steps });
  const classWeight = a.cw ? Object.fromEntries(a.cw.map((w, i) => [i, w])) : undefined;
  while (true) {
    const w0 = performance.now();
    const next = await it.next();
    waitMs += performance.now() - w0;
    if (next.done) break;
    const { xs, ys, size } = next.value;
    let values: number[];
    try {
      if (classWeight) {
        // trainOnBatch has no class weights in tfjs; a one-batch fit applies them with Keras semantics.
        const h = await model.fit(xs, ys, { batchSize: size, epochs: 1, verbose: 0, shuffle: false, classWeight });
        values = model.metricsNames.map((n) => (h.history[n === 'acc' ? 'acc' : n]?.[0] as number) ?? NaN);
      } else {
        const r = await model.trainOnBatch(xs, ys);
        values = Array.isArray(r) ? r : [r];
      }
    } finally {
      xs.dispose();
      ys.dispose();
    }
    const batchLogs = namedMetrics(model.metricsNames, values);
    for (const [k, v] of Object.entries(batchLogs)) sums[k] = (sums[k] ?? 0) + v * size;
    seen += size;
    step++;
    const running = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / seen]));
    progress.update(step, running);
    for (const cb of a.callbacks) await cb.onBatchEnd?.(step - 1, batchLogs, a.handle);
    // tfjs-node resolves its promises as microtasks, so without this the loop never reaches the event
    // loop: Ctrl-C / SIGTERM would wait for the end of training, and so would MLflow uploads and the bar.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (a.stop()) break;
  }
  const stepSeconds = (performance.now() - t0) / 1000;
  a.state.dataWait += waitMs / 1000;
  a.state.stepTime += stepSeconds;
  a.state.images += seen;
  const logs = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(seen, 1)]));
  progress.stop();
  return { logs, images: seen, stepSeconds };
}

/** tfjs calls accuracy `acc`; Keras and MLflow autolog call it `accuracy`. */
function namedMetrics(names: string[], values: number[]): Record<string, number> {
  return Object.fromEntries(names.map((n, i) => [n === 'acc' ? 'accuracy' : n, values[i] ?? NaN]));
}

/** Mean loss and metrics over a whole split (or `validationSteps` batches), weighted by batch size. */
async function evaluatePart(model: tf.LayersModel, data: PreparedData, part: 'validation' | 'test', exp: Experiment): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  let seen = 0;
  const steps = part === 'validation' ? exp.train.validationSteps : undefined;
  for await (const { xs, ys, size } of batches(data, part, { batchSize: exp.train.batchSize, shuffle: false, seed: exp.seed, epoch: 0, rescale: exp.data.image.rescale, steps })) {
    const out = model.evaluate(xs, ys, { batchSize: size }) as tf.Scalar | tf.Scalar[];
    const scalars = Array.isArray(out) ? out : [out];
    const values = await Promise.all(scalars.map(async (s) => (await s.data())[0]!));
    scalars.forEach((s) => s.dispose());
    xs.dispose();
    ys.dispose();
    for (const [k, v] of Object.entries(namedMetrics(model.metricsNames, values))) sums[k] = (sums[k] ?? 0) + v * size;
    seen += size;
  }
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(seen, 1)]));
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
