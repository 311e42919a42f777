import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { describeBackend, initBackend } from '../backend.js';
import { softmaxUnits } from '../config/checks/softmax-units.js';
import { toResolvedYaml, type LoadedExperiment } from '../config/index.js';
import type { Experiment, OptimizerConfig } from '../config/schema/experiment.js';
import { augmentPreview, batches, prepareData, writeSplit, type PreparedData } from '../data/index.js';
import { diskFullError, isDiskFull } from '../disk.js';
import { FitspecError, isFitspecError } from '../errors.js';
import { redactCredentials, redactValues } from '../redact.js';
import { applyTrainable, buildModel, describeModel, formatSummary, saveModel, summarize, writeDescriptor, type BuiltModel } from '../model/index.js';
import { classificationReport, confusionMatrix, confusionMatrixPng, learningCurvesPng } from '../report/index.js';
import {
  createTracker,
  cutTornTail,
  dropMetricsAfter,
  gitInfo,
  kerasAutologParams,
  lockRun,
  readableParams,
  readMetrics,
  readRun,
  standardTags,
  trackingUri,
  type RunLock,
  type RunStatus,
} from '../track/index.js';
import { createCallbacks } from './callbacks/index.js';
import { CallbackList } from './callbacks/list.js';
import { checkpointStatus, damagedCheckpoint, describeDamage, phaseResume, restoreCheckpoint, saveCheckpoint } from './checkpoint.js';
import { runtimeChanges, type Runtime } from './checkpoint-files.js';
import { classWeights } from './class-weights.js';
import { createEngine, resolveEngine, type Engine } from './engine/index.js';
import { evaluate, fitPhase, type FitTiming } from './fit.js';
import { makeHandle } from './handle.js';
import { trapInterrupts } from './interrupts.js';
import { formatLogs } from './progress.js';
import { newRunId, previousSessions, writeJson, writeMetricsCsv, writeText, type EpochRow, type Session } from './run-folder.js';

export interface TrainOptions {
  /** Continue this run folder from its last checkpoint. */
  resume?: string;
  log?: (msg: string) => void;
  /** Live progress bar; defaults to whether stdout is a terminal. */
  tty?: boolean;
  /** Set by tests and `--dry-run`-like callers to stop after this many epochs. */
  maxEpochs?: number;
  /**
   * Asked at the end of each epoch (0-based global epoch, Keras' logs) once the epoch is saved: true
   * ends the run there as FINISHED, as Keras' EarlyStopping does (a sweep stopping weak trials).
   */
  shouldStop?: (epoch: number, logs: Record<string, number>) => boolean | Promise<boolean>;
  /** Stops the run after the current step, as Ctrl-C does: a checkpoint is kept, the run ends KILLED and can be resumed. */
  signal?: AbortSignal;
  /**
   * Pauses the run once this many epochs are done (a sweep scheduler's rung): it checkpoints and ends
   * as SCHEDULED, without a model or reports, to be continued by a later `resume`.
   */
  pauseAfter?: number;
  /** Params not to log (a sweep trial logs each searched path once, under its config path). */
  omitParams?: (key: string) => boolean;
  /** Train on these image ids per part (a logged split) instead of splitting by the seed: `fitspec rerun`. */
  split?: Partial<Record<'train' | 'validation' | 'test', string[]>>;
}

/** How a run ended: its id and folder, its status, the epoch history and the summary written to summary.json. */
export interface TrainResult {
  runId: string;
  runDir: string;
  status: RunStatus;
  history: EpochRow[];
  summary: RunSummary;
  /** What the tracker wants the user to know, e.g. that the run was kept locally and how to upload it later. */
  warnings: string[];
}

/** A run's final figures, as in its summary.json. */
export interface RunSummary {
  status: RunStatus;
  epochs: number;
  best_val_accuracy?: number;
  /** Epoch numbers count from 1, as the terminal, the plots and metrics.csv show them. */
  best_val_accuracy_epoch?: number;
  min_val_loss?: number;
  min_val_loss_epoch?: number;
  final: Record<string, number>;
  test?: Record<string, number>;
  /** Seconds of every session of the run summed: a resumed run counts each `train --resume` too. */
  wall_time_s: number;
  sessions: Session[];
  data_wait_fraction?: number;
  images_per_sec?: number;
  backend: string;
  tensorflow_version?: string;
  /** CPU kernels of a native backend: `oneDNN` or `Eigen`. */
  kernels?: string;
  /** TensorFlow's thread pools of the last session; with the kernels and the engine, what equal config hashes do not fix. */
  threads?: { intraOp: number; interOp: number };
  engine?: string;
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

export async function train(loaded: LoadedExperiment, opts: TrainOptions = {}): Promise<TrainResult> {
  let lock: RunLock | undefined;
  try {
    if (opts.resume) lock = openForResume(opts.resume);
    return await trainLocked(loaded, opts, (runDir) => (lock ??= lockRun(runDir, 'fitspec train')));
  } finally {
    lock?.release();
  }
}

/**
 * Takes the run folder's lock, then checks that it can be resumed: a FINISHED run is final (resuming
 * would replace its trained model and reports with an earlier checkpoint's).
 */
function openForResume(runDir: string): RunLock {
  readRun(runDir);
  const lock = lockRun(runDir, 'fitspec train --resume');
  try {
    const { record } = readRun(runDir);
    if (record.status === 'FINISHED') {
      throw new FitspecError({
        code: 'train.resume-finished',
        message: `${runDir} already finished${record.endTime ? ` (${new Date(record.endTime).toISOString()})` : ''}: there is nothing to resume, and its trained model and reports stay as they are`,
        file: runDir,
        hint: `to train the same experiment again, start a new run: fitspec train ${path.join(runDir, 'resolved.yaml')}`,
      });
    }
    const checkpoints = checkpointStatus(runDir);
    if (!checkpoints.usable && checkpoints.damaged.length) throw damagedCheckpoint(runDir, checkpoints.damaged.map((d) => describeDamage(runDir, d)).join('; '));
    if (!checkpoints.usable) {
      throw new FitspecError({
        code: 'train.no-checkpoint',
        message: `${runDir} was ${record.status === 'RUNNING' ? 'stopped' : record.status} before its first epoch ended: it has no checkpoint to resume from`,
        file: runDir,
        hint: `start it again as a new run: fitspec train ${path.join(runDir, 'resolved.yaml')}`,
      });
    }
    return lock;
  } catch (e) {
    lock.release();
    throw e;
  }
}

async function trainLocked(loaded: LoadedExperiment, opts: TrainOptions, lockNewRun: (runDir: string) => void): Promise<TrainResult> {
  const print = opts.log ?? ((m: string) => process.stdout.write(m + '\n'));
  const log = (m: string) => print(redactCredentials(m));
  const exp = loaded.experiment;
  const backend = await initBackend(exp.train.backend, exp.train.threads);
  log(describeBackend(backend));

  const data = await prepareData(exp.data, exp.seed, { log, split: opts.split });
  const classes = data.classes;
  // `fitspec train` checks this before loading anything; callers of train() get the same error instead of a shape error mid-run.
  const [mismatch] = softmaxUnits.run(exp, {
    classes,
    from: data.source.type === 'csv' ? `the labels of ${data.source.location}` : `the class folders of ${data.source.location}`,
  });
  if (mismatch)
    throw new FitspecError({
      code: mismatch.code,
      message: mismatch.message,
      hint: mismatch.hint,
      file: loaded.file,
      path: mismatch.path.join('.'),
      expected: mismatch.expected,
      received: mismatch.received,
    });
  const trainSize = data.parts.train.ids.length;
  if (trainSize === 0) throw new FitspecError({ code: 'data.empty-train', message: 'The training split is empty: check data.split and the data folder.', path: 'data.split' });

  // A new run, or the run being resumed.
  const checkpoints = opts.resume ? checkpointStatus(opts.resume) : undefined;
  const resumeState = checkpoints?.usable?.state;
  if (opts.resume && checkpoints?.usable) {
    const order = ['checkpoint.tmp', 'checkpoint', 'checkpoint.old'];
    const newer = checkpoints.damaged.filter((d) => order.indexOf(d.copy) < order.indexOf(checkpoints.usable!.name));
    if (newer.length)
      log(
        `warning: ${newer.map((d) => describeDamage(opts.resume!, d)).join('; ')}: resuming from the previous good checkpoint instead (epoch ${checkpoints.usable.state.epoch + 1}, ${path.join(opts.resume, checkpoints.usable.name)})`,
      );
  }
  const runId = opts.resume ? path.basename(opts.resume) : newRunId();
  const runDir = opts.resume ?? path.join(exp.tracking.runsDir, exp.name, runId);
  fs.mkdirSync(runDir, { recursive: true });
  lockNewRun(runDir);

  if (opts.resume && resumeState) {
    // A crash mid-write leaves a torn last line; a fallback to an earlier checkpoint trains later epochs again.
    if (cutTornTail(runDir) > 0) log(`metrics.jsonl ended in a torn line (a crash while it was written): cut back to its last whole record`);
    const dropped = dropMetricsAfter(runDir, resumeState.epoch);
    if (dropped > 0) log(`metrics.jsonl: removed ${dropped} points of epochs after ${resumeState.epoch + 1}, which are trained again`);
  }
  const tracker = createTracker({ tracking: exp.tracking, log });
  const started = Date.now();
  const earlierSessions = opts.resume ? previousSessions(runDir, resumeState?.sessions) : [];
  const sessionsSoFar = (now = Date.now()) => [...earlierSessions, { start: started, end: now, wall_time_s: (now - started) / 1000 }];
  const printRunUrl = () => {
    const url = tracker.runUrl?.();
    if (url) log(`MLflow run: ${url}`);
  };
  let trackingStarted = false;
  const artifact = (rel: string) => {
    if (trackingStarted) tracker.logArtifact(rel);
  };

  if (!opts.resume) {
    // The files as written, but without URL credentials: a run folder is shared, its config is logged to MLflow.
    writeText(runDir, 'config.yaml', redactCredentials(loaded.sourceText));
    // A run keeps its plugins' code (below) and its resolved config names those copies, so that
    // `evaluate` and `predict` load what was trained.
    const runPlugins = (loaded.plugins ?? []).map((p, i) => `./plugins/${i}-${path.basename(p.file)}`);
    writeText(runDir, 'resolved.yaml', redactCredentials(runPlugins.length ? toResolvedYaml({ ...exp, plugins: runPlugins }) : loaded.resolvedYaml));
    writeSplit(data, path.join(runDir, 'split'));
    // The layer plugins' code as it was trained (their hashes are in the config hash).
    (loaded.plugins ?? []).forEach((p, i) => writeText(runDir, runPlugins[i]!, p.source));
  }
  const runName = exp.tracking.runName ?? `${exp.name}-${runId}`;
  const pluginParams = Object.fromEntries((loaded.plugins ?? []).map((p) => [`plugin.${p.plugin.kind}.sha256`, p.sha256]));
  const allParams = { ...readableParams(exp), ...kerasAutologParams(exp), ...pluginParams };
  const params = redactValues(opts.omitParams ? Object.fromEntries(Object.entries(allParams).filter(([k]) => !opts.omitParams!(k))) : allParams);
  const tags = redactValues(
    standardTags({
      runName,
      sourceName: loaded.file,
      git: gitInfo(process.cwd()),
      description: exp.description,
      backend: backend.name,
      tensorflowVersion: backend.tensorflowVersion,
      kernels: backend.kernels?.name,
      threads: `${backend.threads.intraOp}/${backend.threads.interOp}`,
      configHash: loaded.hash,
      chain: loaded.chain,
      overrides: loaded.overrides,
      runId,
      extra: {
        ...(loaded.plugins?.length ? { 'fitspec.plugins': JSON.stringify(loaded.plugins.map((p) => ({ kind: p.plugin.kind, module: p.entry, sha256: p.sha256 }))) } : {}),
        ...exp.tracking.tags,
      },
    }),
  );

  // From here on the run exists: whatever happens, the `finally` below records how it ended,
  // removes the signal handlers and frees the model and the engine.
  // run.json exists once start() began (it is written before any request); ending it is synchronous up to the network.
  let trackingBegun = false;
  const interrupts = trapInterrupts(
    log,
    runDir,
    (sig) => {
      if (trackingBegun) void tracker.end('KILLED', `interrupted by ${sig}`).catch(() => undefined);
    },
    opts.signal,
  );
  const history: EpochRow[] = resumeState?.history ?? [];
  const timing: FitTiming = { dataWait: 0, stepTime: 0, images: 0 };
  const trainableLog: RunSummary['trainable_params_per_phase'] = [];
  let testMetrics: Record<string, number> | undefined;
  let status: RunStatus = 'FAILED';
  let failure: { error: unknown } | undefined;
  let built: BuiltModel | undefined;
  let engine: Engine | undefined;
  let summary: RunSummary | undefined;
  let runtime: Runtime | undefined;
  try {
    trackingBegun = true;
    await tracker.start({
      experimentName: exp.tracking.experiment ?? exp.name,
      runName,
      runDir,
      runId,
      params,
      tags,
      dataset: {
        name: `${exp.name}-data`,
        digest: data.splitDigest.slice(0, 8),
        sourceType: data.source.type,
        source: redactCredentials(JSON.stringify(data.source)),
        profile: data.profile,
        context: 'training',
      },
      startTime: started,
    });
    trackingStarted = true;
    if (resumeState) relogMissing(resumeState.history);
    printRunUrl();
    for (const rel of ['config.yaml', 'resolved.yaml', 'split', 'plugins']) if (fs.existsSync(path.join(runDir, rel))) artifact(rel);
    if (exp.augment && !opts.resume && !interrupts.signal) {
      // The notebook's figure: one training image and its random variants, so a reviewer sees what the model saw.
      await augmentPreview(exp.data, exp.augment, { n: 8, seed: exp.seed, out: path.join(runDir, 'plots', 'augment_preview.png') });
      artifact('plots/augment_preview.png');
    }
    if (!interrupts.signal) {
      built = await buildModel(exp, { plugins: loaded.plugins ?? [] });
      const choice = resolveEngine(exp.train.engine, backend);
      // Native TensorFlow without the graph addon trains several times slower: never silently.
      if (choice.kind === 'eager' && exp.train.engine === 'auto' && backend.name === 'tensorflow')
        log(`warning: training on the eager engine (several times slower than the graph engine): ${choice.why}; \`fitspec doctor\` says more`);
      engine = createEngine(choice.kind, built.model, backend, log, { loss: exp.train.loss, metrics: [...exp.train.metrics] });
      log(`engine: ${engine.name}`);
      runtime = { backend: backend.name, engine: engine.name, kernels: backend.kernels?.name, tensorflowVersion: backend.tensorflowVersion, threads: { ...backend.threads } };
      // Equal configs resume bit for bit only on the same runtime: said, not refused (a sweep worker elsewhere must be able to continue a trial).
      const changes = runtimeChanges(resumeState?.runtime, runtime);
      if (changes.length)
        log(
          `warning: this session runs with ${changes.join(', ')} (as the checkpoint was written): the remaining epochs will not repeat an uninterrupted run bit for bit; use the same train.threads / --threads, kernels and engine to keep them equal`,
        );
      status = await fitPhases(built, engine);
    }
    if (interrupts.signal) status = 'KILLED';
    if (status === 'FINISHED') await finishRun(built!, engine!);
  } catch (e) {
    status = 'FAILED';
    // A full disk met outside the run folder's own writers (plots, reports) is the same one user error.
    const err = isDiskFull(e) ? diskFullError((e as NodeJS.ErrnoException).path ?? runDir, undefined) : e;
    failure = { error: err };
    throw err;
  } finally {
    interrupts.remove();
    // summary.json and run.json are written separately: when one cannot be (a full disk), run.json
    // still says how the run ended (it is rewritten in place if need be).
    let recordError: unknown;
    try {
      summary = buildSummary();
      const rel = writeJson(runDir, 'summary.json', summary);
      if (status !== 'FAILED') artifact(rel);
    } catch (e) {
      recordError = e;
      if (!failure) {
        status = 'FAILED';
        failure = { error: e };
      }
    }
    try {
      if (trackingStarted) {
        tracker.setTags({ 'fitspec.wall_time_s': String(summary?.wall_time_s ?? 0) });
        const why = failure ? errorMessage(failure.error) : interrupts.signal ? `interrupted by ${interrupts.signal}` : undefined;
        await tracker.end(status, why);
      }
    } catch (e) {
      recordError ??= e;
    } finally {
      engine?.dispose();
      built?.model.dispose();
    }
    // The original failure is the one to report; a failure while recording it comes second.
    // biome-ignore lint/correctness/noUnsafeFinally: a failure to record the run's end must surface, after the cleanup above
    if (recordError !== undefined && failure?.error === recordError) throw recordError;
    // biome-ignore lint/correctness/noUnsafeFinally: as above
    if (recordError !== undefined && !failure) throw recordError;
  }

  log(`${status === 'FINISHED' ? 'run finished' : status === 'SCHEDULED' ? 'run paused' : `run ${status.toLowerCase()}`}: ${runDir}`);
  printRunUrl();
  if (status === 'FINISHED' && exp.tracking.register && trackingUri(exp.tracking)) await registerFromConfig(exp.tracking.register);
  return { runId, runDir, status, history, summary: summary!, warnings: tracker.warnings() };

  /** Logs the checkpointed epochs' values that metrics.jsonl lacks (a torn last record). */
  function relogMissing(rows: EpochRow[]): void {
    const have = new Set(readMetrics(runDir).map((p) => `${p.step} ${p.key}`));
    for (const { epoch: e, ...values } of rows) {
      const missing = Object.fromEntries(Object.entries(values).filter(([k]) => !have.has(`${e} ${k}`)));
      if (Object.keys(missing).length) tracker.logMetrics(e, missing, Date.now());
    }
  }

  /** tracking.register: the finished run's model as a version of the registered model; a failure leaves the run as it is. */
  async function registerFromConfig(reg: { name: string; alias?: string }): Promise<void> {
    try {
      const { registerModel } = await import('../track/register.js');
      const { writeMlflowModel } = await import('../export/index.js');
      const r = await registerModel({ ref: runDir, name: reg.name, alias: reg.alias, log, writeMlflowModel: (dir) => writeMlflowModel(dir, log) });
      log(`registered: models:/${r.name}/${r.version}${r.alias ? ` (alias ${r.alias})` : ''}`);
    } catch (e) {
      log(`warning: the model was not registered as ${reg.name}: ${errorMessage(e)}`);
    }
  }

  /** Every phase's epochs; FINISHED, or KILLED when a signal stopped training. */
  async function fitPhases(built: BuiltModel, engine: Engine): Promise<RunStatus> {
    const model = built.model;
    const phases = resolvePhases(exp);
    const cw = classWeights(exp.train.classWeight, classes, data.parts.train.labels);
    const totalEpochs = phases.reduce((n, p) => n + p.epochs, 0);
    const steps = exp.train.stepsPerEpoch ?? Math.ceil(trainSize / exp.train.batchSize);
    let epoch = 0;
    let first = true;
    for (let pi = 0; pi < phases.length; pi++) {
      if (interrupts.signal) return 'KILLED';
      const phase = phases[pi]!;
      const phaseStart = epoch;
      epoch += phase.epochs;
      const resume = phaseResume(resumeState, phaseStart, epoch);
      if (resume === 'done') continue;
      applyTrainable(built, phase.freeze, phase.unfreezeFrom);
      await engine.beginPhase({ optimizer: phase.optimizer, loss: exp.train.loss, metrics: [...exp.train.metrics], classWeights: cw });
      const s = summarize(built);
      trainableLog.push({ phase: phase.name, trainable: s.trainable, total: s.total });
      if (first) {
        artifact(writeText(runDir, 'model_summary.txt', formatSummary(s, exp.name) + '\n'));
        first = false;
      }
      if (phases.length > 1)
        log(
          `phase ${pi + 1}/${phases.length} \`${phase.name}\`: ${phase.epochs} epochs, ${phase.optimizer.name} lr ${phase.optimizer.learningRate}, ${s.trainable.toLocaleString('en-US')} trainable params`,
        );

      let startEpoch = phaseStart;
      if (resumeState && resume !== 'fresh') {
        const restored = await restoreCheckpoint(runDir, model, engine, { optimizer: resume === 'all' });
        if (resume === 'all') engine.setLearningRate(resumeState.learningRate);
        startEpoch = resumeState.epoch + 1;
        log(`resuming at epoch ${startEpoch + 1}${restored || resume === 'weights' ? '' : ' (optimizer state was not saved for this optimizer and restarts from zero)'}`);
      }

      const callbacks = new CallbackList(
        createCallbacks(phase.callbacks as never, { totalEpochs: phase.epochs, initialLearningRate: phase.optimizer.learningRate, firstEpoch: phaseStart }),
        makeHandle(model, engine, runDir, log),
      );
      if (resumeState?.phase === pi && resumeState.callbacks) callbacks.setState(resumeState.callbacks);
      const outcome = await fitPhase({
        engine,
        callbacks,
        from: startEpoch,
        to: epoch,
        totalEpochs,
        steps,
        trainBatches: (e) =>
          batches(data, 'train', {
            batchSize: exp.train.batchSize,
            shuffle: exp.train.shuffle,
            seed: exp.seed,
            epoch: e,
            augment: exp.augment,
            rescale: exp.data.image.rescale,
            steps,
          }),
        validationBatches: data.parts.validation?.ids.length ? () => evalBatches('validation') : undefined,
        interrupted: () => Boolean(interrupts.signal),
        shouldStop: opts.shouldStop,
        mayStart: () => (opts.maxEpochs === undefined || history.length < opts.maxEpochs) && (opts.pauseAfter === undefined || history.length < opts.pauseAfter),
        onEpochLogs: (row) => {
          history.push(row);
          log(`epoch ${row.epoch + 1}/${totalEpochs}${phases.length > 1 ? ` (${phase.name})` : ''}: ${formatLogs(row)}`);
        },
        onEpochCommitted: async (row) => {
          // Checkpoint before logging so a crash never logs an epoch the checkpoint does not have.
          await saveCheckpoint(runDir, model, engine, {
            epoch: row.epoch,
            phase: pi,
            learningRate: engine.getLearningRate(),
            history,
            callbacks: callbacks.getState(),
            sessions: sessionsSoFar(),
            runtime,
          });
          writeMetricsCsv(runDir, history);
          const { epoch: e, ...metricValues } = row;
          tracker.logMetrics(e, metricValues, Date.now());
        },
        timing,
        tty: opts.tty,
      });
      if (outcome === 'interrupted') return 'KILLED';
      if (outcome === 'limit' && opts.pauseAfter !== undefined && history.length >= opts.pauseAfter && (opts.maxEpochs === undefined || opts.pauseAfter < opts.maxEpochs)) {
        log(`paused after epoch ${history.length} (continue with \`fitspec train --resume ${runDir}\`)`);
        return 'SCHEDULED';
      }
      if (outcome === 'stopped') log(`stopped early at epoch ${history.at(-1)!.epoch + 1}`);
      if (outcome === 'stoppedOutside') break;
    }
    return interrupts.signal ? 'KILLED' : 'FINISHED';
  }

  /** The trained model, reports and test metrics of a finished run. */
  async function finishRun(built: BuiltModel, engine: Engine): Promise<void> {
    await engine.syncToModel();
    await saveModel(built.model, path.join(runDir, 'model'));
    const last = built.model.layers.at(-1)?.getConfig() as { activation?: string } | undefined;
    writeDescriptor(
      path.join(runDir, 'model'),
      describeModel(exp.data, classes, {
        configHash: loaded.hash,
        experiment: exp.name,
        runId,
        inputName: built.model.inputNames[0],
        outputName: built.model.outputNames[0],
        softmax: last?.activation === 'softmax',
      }),
    );
    const { logModel } = exp.tracking;
    if (logModel === 'always' || (logModel === 'auto' && trackingUri(exp.tracking))) await (await import('../export/index.js')).logMlflowModel(path.join(runDir, 'model'), log);
    artifact('model');
    if (history.length) artifact('metrics.csv');
    const phases = resolvePhases(exp);
    let first = 0;
    const phaseStarts = phases.map((p) => ({ name: p.name, firstEpoch: (first += p.epochs) - p.epochs }));
    await writeReports(built, data, exp, runDir, history, phases.length > 1 ? phaseStarts : undefined, artifact, log);
    if (data.parts.test?.ids.length) {
      testMetrics = await evaluate(engine, evalBatches('test'));
      const lastEpoch = history.at(-1)?.epoch ?? 0;
      tracker.logMetrics(lastEpoch, Object.fromEntries(Object.entries(testMetrics).map(([k, v]) => [`test_${k}`, v])), Date.now());
    }
  }

  function evalBatches(part: 'validation' | 'test') {
    return batches(data, part, {
      batchSize: exp.train.batchSize,
      shuffle: false,
      seed: exp.seed,
      epoch: 0,
      rescale: exp.data.image.rescale,
      steps: part === 'validation' ? exp.train.validationSteps : undefined,
    });
  }

  function buildSummary(): RunSummary {
    const h = history;
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
    const sessions = sessionsSoFar();
    return {
      status,
      epochs: h.length,
      best_val_accuracy: acc?.value,
      best_val_accuracy_epoch: acc?.epoch,
      min_val_loss: vl?.value,
      min_val_loss_epoch: vl?.epoch,
      final: Object.fromEntries(Object.entries(last).filter(([k]) => k !== 'epoch')),
      test: testMetrics,
      wall_time_s: sessions.reduce((s, x) => s + x.wall_time_s, 0),
      sessions,
      data_wait_fraction: timing.stepTime > 0 ? timing.dataWait / timing.stepTime : undefined,
      images_per_sec: timing.stepTime > 0 ? timing.images / timing.stepTime : undefined,
      backend: backend.name,
      tensorflow_version: backend.tensorflowVersion,
      kernels: backend.kernels?.name,
      threads: backend.threads,
      engine: runtime?.engine,
      config_hash: loaded.hash,
      split_digest: data.splitDigest,
      classes,
      skipped: data.skipped,
      trainable_params_per_phase: trainableLog,
    };
  }
}

function errorMessage(e: unknown): string {
  return isFitspecError(e) ? e.message : `${(e as Error)?.message ?? e}`;
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
