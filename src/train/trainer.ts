import fs from 'node:fs';
import path from 'node:path';
import { describeBackend, initBackend, type BackendInfo } from '../backend.js';
import { softmaxUnits } from '../config/checks/softmax-units.js';
import { toResolvedYaml, type LoadedExperiment } from '../config/index.js';
import type { Experiment } from '../config/schema/experiment.js';
import { augmentPreview, prepareData, writeSplit, type PreparedData } from '../data/index.js';
import { diskFullError, isDiskFull } from '../disk.js';
import { FitspecError } from '../errors.js';
import { redactCredentials, redactValues } from '../redact.js';
import { buildModel, type BuiltModel } from '../model/index.js';
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
  type RunStart,
  type RunStatus,
} from '../track/index.js';
import { checkpointStatus, damagedCheckpoint, describeDamage, type CheckpointState } from './checkpoint.js';
import { runtimeChanges } from './checkpoint-files.js';
import { createEngine, resolveEngine, type Engine } from './engine/index.js';
import { buildSummary, finishRun, registerFromConfig } from './finish.js';
import { trapInterrupts } from './interrupts.js';
import { fitPhases } from './phases.js';
import { artifact, errorMessage, printRunUrl, type TrainRun } from './run-context.js';
import { newRunId, previousSessions, writeJson, writeText, type EpochRow, type Session } from './run-folder.js';

export { predictPart } from './finish.js';
export { resolvePhases } from './phases.js';

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
  const data = await prepareTrainingData(loaded, opts, log);
  const { runId, runDir, resumeState } = openRunFolder(exp, opts, log, lockNewRun);
  const tracker = createTracker({ tracking: exp.tracking, log });
  const started = Date.now();
  const earlierSessions = opts.resume ? previousSessions(runDir, resumeState?.sessions) : [];
  if (!opts.resume) writeRunInputs(loaded, data, runDir);
  const identity = runIdentity(loaded, opts, backend, runId);

  // From here on the run exists: whatever happens, trainSession records how it ended,
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
  const run: TrainRun = {
    loaded,
    exp,
    opts,
    log,
    backend,
    data,
    runId,
    runDir,
    resumeState,
    tracker,
    started,
    earlierSessions,
    interrupts,
    trackingStarted: false,
    status: 'FAILED',
    history: resumeState?.history ?? [],
    timing: { dataWait: 0, stepTime: 0, images: 0 },
    trainableLog: [],
  };
  trackingBegun = true;
  const summary = await trainSession(run, identity);

  const { status } = run;
  log(`${status === 'FINISHED' ? 'run finished' : status === 'SCHEDULED' ? 'run paused' : `run ${status.toLowerCase()}`}: ${runDir}`);
  printRunUrl(run);
  if (status === 'FINISHED' && exp.tracking.register && trackingUri(exp.tracking)) await registerFromConfig(run, exp.tracking.register);
  return { runId, runDir, status, history: run.history, summary, warnings: tracker.warnings() };
}

/** The data split for training, refused early when the model cannot learn it (class count) or it has nothing to train on. */
async function prepareTrainingData(loaded: LoadedExperiment, opts: TrainOptions, log: (m: string) => void): Promise<PreparedData> {
  const exp = loaded.experiment;
  const data = await prepareData(exp.data, exp.seed, { log, split: opts.split });
  // `fitspec train` checks this before loading anything; callers of train() get the same error instead of a shape error mid-run.
  const [mismatch] = softmaxUnits.run(exp, {
    classes: data.classes,
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
  if (data.parts.train.ids.length === 0)
    throw new FitspecError({ code: 'data.empty-train', message: 'The training split is empty: check data.split and the data folder.', path: 'data.split' });
  return data;
}

/** A new run's folder, or the folder of the run being resumed with its metrics cut back to the checkpoint. */
function openRunFolder(
  exp: Experiment,
  opts: TrainOptions,
  log: (m: string) => void,
  lockNewRun: (runDir: string) => void,
): { runId: string; runDir: string; resumeState: CheckpointState | undefined } {
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
  return { runId, runDir, resumeState };
}

/** A new run's inputs in its folder: the config as written and resolved, the split, the layer plugins' code. */
function writeRunInputs(loaded: LoadedExperiment, data: PreparedData, runDir: string): void {
  const exp = loaded.experiment;
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

/** How the tracker names and describes the run. */
interface RunIdentity {
  runName: string;
  params: RunStart['params'];
  tags: RunStart['tags'];
}

function runIdentity(loaded: LoadedExperiment, opts: TrainOptions, backend: BackendInfo, runId: string): RunIdentity {
  const exp = loaded.experiment;
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
  return { runName, params, tags };
}

/** The session from the tracker's start to its end: set-up, the phases, and for a finished run its model and reports. */
async function trainSession(run: TrainRun, identity: RunIdentity): Promise<RunSummary> {
  let failure: { error: unknown } | undefined;
  let summary: RunSummary | undefined;
  try {
    await startTracking(run, identity);
    if (!run.interrupts.signal) {
      const { built, engine } = await setUpModel(run);
      run.status = await fitPhases(run, built, engine);
    }
    if (run.interrupts.signal) run.status = 'KILLED';
    if (run.status === 'FINISHED') await finishRun(run, run.built!, run.engine!);
  } catch (e) {
    run.status = 'FAILED';
    // A full disk met outside the run folder's own writers (plots, reports) is the same one user error.
    const err = isDiskFull(e) ? diskFullError((e as NodeJS.ErrnoException).path ?? run.runDir, undefined) : e;
    failure = { error: err };
    throw err;
  } finally {
    run.interrupts.remove();
    summary = await recordEnd(run, failure);
  }
  return summary!;
}

/** The tracked run with its inputs as artifacts, and the notebook's augmentation figure for a new run. */
async function startTracking(run: TrainRun, { runName, params, tags }: RunIdentity): Promise<void> {
  const { exp, data, runDir } = run;
  await run.tracker.start({
    experimentName: exp.tracking.experiment ?? exp.name,
    runName,
    runDir,
    runId: run.runId,
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
    startTime: run.started,
  });
  run.trackingStarted = true;
  if (run.resumeState) relogMissing(run, run.resumeState.history);
  printRunUrl(run);
  for (const rel of ['config.yaml', 'resolved.yaml', 'split', 'plugins']) if (fs.existsSync(path.join(runDir, rel))) artifact(run, rel);
  if (exp.augment && !run.opts.resume && !run.interrupts.signal) {
    // The notebook's figure: one training image and its random variants, so a reviewer sees what the model saw.
    await augmentPreview(exp.data, exp.augment, { n: 8, seed: exp.seed, out: path.join(runDir, 'plots', 'augment_preview.png') });
    artifact(run, 'plots/augment_preview.png');
  }
}

/** Logs the checkpointed epochs' values that metrics.jsonl lacks (a torn last record). */
function relogMissing(run: TrainRun, rows: EpochRow[]): void {
  const have = new Set(readMetrics(run.runDir).map((p) => `${p.step} ${p.key}`));
  for (const { epoch: e, ...values } of rows) {
    const missing = Object.fromEntries(Object.entries(values).filter(([k]) => !have.has(`${e} ${k}`)));
    if (Object.keys(missing).length) run.tracker.logMetrics(e, missing, Date.now());
  }
}

/** The model and the engine that trains it, kept on `run` as soon as each exists so that the session's end frees them. */
async function setUpModel(run: TrainRun): Promise<{ built: BuiltModel; engine: Engine }> {
  const { exp, backend, log } = run;
  const built = (run.built = await buildModel(exp, { plugins: run.loaded.plugins ?? [] }));
  const choice = resolveEngine(exp.train.engine, backend);
  // Native TensorFlow without the graph addon trains several times slower: never silently.
  if (choice.kind === 'eager' && exp.train.engine === 'auto' && backend.name === 'tensorflow')
    log(`warning: training on the eager engine (several times slower than the graph engine): ${choice.why}; \`fitspec doctor\` says more`);
  const engine = (run.engine = createEngine(choice.kind, built.model, backend, log, { loss: exp.train.loss, metrics: [...exp.train.metrics] }));
  log(`engine: ${engine.name}`);
  run.runtime = { backend: backend.name, engine: engine.name, kernels: backend.kernels?.name, tensorflowVersion: backend.tensorflowVersion, threads: { ...backend.threads } };
  // Equal configs resume bit for bit only on the same runtime: said, not refused (a sweep worker elsewhere must be able to continue a trial).
  const changes = runtimeChanges(run.resumeState?.runtime, run.runtime);
  if (changes.length)
    log(
      `warning: this session runs with ${changes.join(', ')} (as the checkpoint was written): the remaining epochs will not repeat an uninterrupted run bit for bit; use the same train.threads / --threads, kernels and engine to keep them equal`,
    );
  return { built, engine };
}

/**
 * Records how the session ended, whatever happened: summary.json, the tracker's end, then frees the model
 * and the engine. Throws what the caller must see: a failure to record a run that had none, or the
 * session's own failure when recording it is what failed.
 */
async function recordEnd(run: TrainRun, failure: { error: unknown } | undefined): Promise<RunSummary | undefined> {
  // summary.json and run.json are written separately: when one cannot be (a full disk), run.json
  // still says how the run ended (it is rewritten in place if need be).
  let summary: RunSummary | undefined;
  let recordError: unknown;
  try {
    summary = buildSummary(run);
    const rel = writeJson(run.runDir, 'summary.json', summary);
    if (run.status !== 'FAILED') artifact(run, rel);
  } catch (e) {
    recordError = e;
    if (!failure) {
      run.status = 'FAILED';
      failure = { error: e };
    }
  }
  try {
    if (run.trackingStarted) {
      run.tracker.setTags({ 'fitspec.wall_time_s': String(summary?.wall_time_s ?? 0) });
      const why = failure ? errorMessage(failure.error) : run.interrupts.signal ? `interrupted by ${run.interrupts.signal}` : undefined;
      await run.tracker.end(run.status, why);
    }
  } catch (e) {
    recordError ??= e;
  } finally {
    run.engine?.dispose();
    run.built?.model.dispose();
  }
  // The original failure is the one to report; a failure while recording it comes second.
  if (recordError !== undefined && failure?.error === recordError) throw recordError;
  if (recordError !== undefined && !failure) throw recordError;
  return summary;
}
