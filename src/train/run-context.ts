import type { BackendInfo } from '../backend.js';
import type { LoadedExperiment } from '../config/index.js';
import type { Experiment } from '../config/schema/experiment.js';
import { batches, type PreparedData } from '../data/index.js';
import { isFitspecError } from '../errors.js';
import type { BuiltModel } from '../model/index.js';
import type { RunStatus, Tracker } from '../track/index.js';
import type { CheckpointState, Runtime } from './checkpoint-files.js';
import type { Engine } from './engine/index.js';
import type { FitTiming } from './fit.js';
import type { Interrupts } from './interrupts.js';
import type { EpochRow, Session } from './run-folder.js';
import type { RunSummary, TrainOptions } from './trainer.js';

/**
 * One session of a run (a first `train` or a `--resume`), shared by the trainer's steps: set up once the
 * run folder and the tracker exist; the fields below `interrupts` change as the session goes on, and the
 * end of the session (summary.json, the tracker's end) reads them whatever happened.
 */
export interface TrainRun {
  loaded: LoadedExperiment;
  exp: Experiment;
  opts: TrainOptions;
  log: (m: string) => void;
  backend: BackendInfo;
  data: PreparedData;
  runId: string;
  runDir: string;
  /** The checkpoint being resumed from. */
  resumeState: CheckpointState | undefined;
  tracker: Tracker;
  /** When this session started (ms since epoch). */
  started: number;
  earlierSessions: Session[];
  interrupts: Interrupts;
  /** Artifacts are logged only once the tracker's run exists. */
  trackingStarted: boolean;
  status: RunStatus;
  history: EpochRow[];
  timing: FitTiming;
  trainableLog: RunSummary['trainable_params_per_phase'];
  testMetrics?: Record<string, number>;
  /** Set as soon as each exists, so that the session's end frees whatever was made. */
  built?: BuiltModel;
  engine?: Engine;
  runtime?: Runtime;
}

/** Every session of the run so far, this one ending now. */
export function sessionsSoFar(run: TrainRun, now = Date.now()): Session[] {
  return [...run.earlierSessions, { start: run.started, end: now, wall_time_s: (now - run.started) / 1000 }];
}

/** `rel` (inside the run folder) as an artifact of the tracked run. */
export function artifact(run: TrainRun, rel: string): void {
  if (run.trackingStarted) run.tracker.logArtifact(rel);
}

export function printRunUrl(run: TrainRun): void {
  const url = run.tracker.runUrl?.();
  if (url) run.log(`MLflow run: ${url}`);
}

export function trainBatches(run: TrainRun, epoch: number, steps: number) {
  const { exp } = run;
  return batches(run.data, 'train', {
    batchSize: exp.train.batchSize,
    shuffle: exp.train.shuffle,
    seed: exp.seed,
    epoch,
    augment: exp.augment,
    rescale: exp.data.image.rescale,
    steps,
  });
}

export function evalBatches(run: TrainRun, part: 'validation' | 'test') {
  const { exp } = run;
  return batches(run.data, part, {
    batchSize: exp.train.batchSize,
    shuffle: false,
    seed: exp.seed,
    epoch: 0,
    rescale: exp.data.image.rescale,
    steps: part === 'validation' ? exp.train.validationSteps : undefined,
  });
}

export function errorMessage(e: unknown): string {
  return isFitspecError(e) ? e.message : `${(e as Error)?.message ?? e}`;
}
