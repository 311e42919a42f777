import type * as tf from '@tensorflow/tfjs';
import type { OptimizerConfig } from '../../config/schema/experiment.js';

/** tfjs' optimizer weight entry (tfjs-core's NamedTensor, which the tfjs bundle does not re-export). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Keras-named batch results: loss, accuracy, ... (no val_ prefix). */
export type StepLogs = Record<string, number>;

export interface EnginePhase {
  optimizer: OptimizerConfig;
  /** exp.train.loss */
  loss: string;
  /** exp.train.metrics (Keras names) */
  metrics: string[];
  /** Per class index (Keras class_weight semantics), from class-weights.ts. */
  classWeights?: number[];
}

/** How a training step executes. Never reads config files, never talks to the tracker. */
export interface Engine {
  readonly name: 'eager' | 'graph';
  /** Start of each phase, after applyTrainable(): (re)build the step for the model's current trainable set and this optimizer. */
  beginPhase(phase: EnginePhase): Promise<void>;
  /**
   * One optimizer step on one batch (xs NHWC float32, ys one-hot float32). Does not dispose its inputs.
   * `step`: the run's global step (epoch x steps per epoch + batch index), which dropout masks are
   * drawn from (on both engines), so that a resumed run continues with the masks of the uninterrupted
   * one; without it the engine counts its own calls.
   */
  trainBatch(xs: tf.Tensor, ys: tf.Tensor, step?: number): Promise<StepLogs>;
  /** Loss and metrics of one batch, nothing updated (dropout off, BN moving stats). */
  evaluateBatch(xs: tf.Tensor, ys: tf.Tensor): Promise<StepLogs>;
  getLearningRate(): number;
  setLearningRate(lr: number): void;
  /** Make the tfjs model's weights current (graph engine copies its variables back). Called at epoch end, before checkpoints, snapshots, predictions, saving. */
  syncToModel(): Promise<void>;
  /** The tfjs model's weights were set from outside (resume, restoreBestWeights): reload them into the engine. */
  syncFromModel(): Promise<void>;
  /** Optimizer slots for checkpoints, in the same names/order tfjs' optimizer.getWeights() uses for that optimizer, so a checkpoint resumes on either engine. */
  getOptimizerState(): Promise<NamedTensor[]>;
  setOptimizerState(state: NamedTensor[]): Promise<void>;
  dispose(): void;
}

export type EngineKind = Engine['name'];
