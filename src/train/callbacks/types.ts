import type { Static } from '@sinclair/typebox';
import type { CallbackKind, CallbackSpec, callbackSchemas } from '../../config/schema/callbacks.js';

/** A validated callback entry (defaults filled). */
export type CallbackSpecT = Static<typeof CallbackSpec>;
/** A callback entry as written: arguments with a schema default may be left out. */
export type CallbackSpecInput = { [K in CallbackKind]?: Partial<Static<(typeof callbackSchemas)[K]>> };

/** What a callback may see and do; the trainer implements it, so no TensorFlow types appear here. */
export interface TrainingHandle {
  /** Set true to stop; the trainer checks it after every batch and every epoch. */
  stopTraining: boolean;
  getLearningRate(): number;
  setLearningRate(lr: number): void;
  /** Opaque copy of the weights (the trainer keeps the tensors). */
  snapshotWeights(): Promise<unknown>;
  restoreWeights(snapshot: unknown): Promise<void>;
  disposeSnapshot(snapshot: unknown): void;
  /** Saves the model (tfjs format) to `<runDir>/<subdir>`. */
  saveModel(subdir: string): Promise<void>;
  runDir: string;
  log(message: string): void;
}

/** Keras names: loss, accuracy, val_loss, val_accuracy, lr. */
export type Logs = Record<string, number>;

export interface Callback {
  readonly kind: string;
  onTrainBegin?(h: TrainingHandle): void | Promise<void>;
  /** `epoch` is 0-based and global across phases. */
  onEpochBegin?(epoch: number, h: TrainingHandle): void | Promise<void>;
  onBatchEnd?(step: number, logs: Logs, h: TrainingHandle): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs, h: TrainingHandle): void | Promise<void>;
  onTrainEnd?(h: TrainingHandle): void | Promise<void>;
  /**
   * For `--resume`: the callback's counters as JSON (saved with each checkpoint). Weight snapshots are not
   * part of it, so after a resume `restoreBestWeights` can only restore an epoch trained since the resume.
   */
  getState?(): CallbackState;
  /** Call before `onTrainBegin`, which then continues from this state instead of starting afresh. */
  setState?(state: CallbackState): void;
}

export type CallbackState = Record<string, unknown>;

export interface CallbackContext {
  /** Epochs these callbacks run for (the phase length); the default length of a cosine schedule. */
  totalEpochs: number;
  /** Learning rate at the start of these epochs; schedules are computed from it. */
  initialLearningRate: number;
  /**
   * Global index of the first epoch these callbacks cover (a phase start); schedules count from it,
   * so a resumed run or a later phase gets the same learning rates as an uninterrupted one. Default 0.
   */
  firstEpoch?: number;
}

/** One callback kind: its name in the config and how to build it from its (defaults-filled) arguments. */
export interface CallbackKindDef<A> {
  kind: string;
  create(args: A, ctx: CallbackContext): Callback;
}
