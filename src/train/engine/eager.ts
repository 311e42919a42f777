import * as tf from '@tensorflow/tfjs';
import { buildOptimizer, getLearningRate, leafLayers, prepareStep, setLearningRate, SteppedDropout } from '../../model/index.js';
import type { OptimizerConfig } from '../../config/schema/experiment.js';
import type { Engine, EnginePhase, NamedTensor, StepLogs } from './types.js';

/** tfjs calls accuracy `acc`; Keras and MLflow autolog call it `accuracy`. */
export function namedMetrics(names: string[], values: number[]): StepLogs {
  return Object.fromEntries(names.map((n, i) => [n === 'acc' ? 'accuracy' : n, values[i] ?? NaN]));
}

/** tfjs' own path: the model compiled with a tfjs optimizer, one op at a time. Works on every backend. */
export class EagerEngine implements Engine {
  readonly name = 'eager';
  private optimizer?: tf.Optimizer;
  private optimizerConfig?: OptimizerConfig;
  private classWeight?: Record<number, number>;
  /** sparseCategoricalCrossentropy: tfjs wants class indices ([batch, 1]) where the batches hold one-hot rows. */
  private sparse = false;
  /** The model's dropout layers (nested bases included), told the global step before each step. */
  private readonly dropouts: SteppedDropout[];
  /** Training steps since this engine was made: the global step when the caller gives none. */
  private calls = 0;

  constructor(private readonly model: tf.LayersModel) {
    this.dropouts = leafLayers(model).filter((l): l is SteppedDropout => l instanceof SteppedDropout);
  }

  async beginPhase(phase: EnginePhase): Promise<void> {
    this.optimizer?.dispose();
    this.optimizer = buildOptimizer(phase.optimizer);
    this.optimizerConfig = phase.optimizer;
    this.model.compile({ optimizer: this.optimizer, loss: phase.loss, metrics: [...phase.metrics] });
    // tfjs' Sequential compiles an inner model that collects the variables of a frozen nested base as
    // trainable, so the "frozen" base trained; Keras trains exactly model.trainableWeights.
    const inner = (this.model as unknown as { model?: { collectedTrainableWeights?: unknown } }).model;
    if (inner?.collectedTrainableWeights) inner.collectedTrainableWeights = this.model.trainableWeights;
    this.sparse = phase.loss === 'sparseCategoricalCrossentropy';
    this.classWeight = phase.classWeights ? Object.fromEntries(phase.classWeights.map((w, i) => [i, w])) : undefined;
  }

  async trainBatch(xs: tf.Tensor, oneHot: tf.Tensor, step = this.calls): Promise<StepLogs> {
    const model = this.model;
    this.calls++;
    for (const d of this.dropouts) d.step = step;
    prepareStep(this.need(), this.optimizerConfig!);
    const ys = this.labels(oneHot);
    let values: number[];
    try {
      if (this.classWeight) {
        // trainOnBatch has no class weights in tfjs; a one-batch fit applies them with Keras semantics.
        const h = await model.fit(xs, ys, { batchSize: xs.shape[0], epochs: 1, verbose: 0, shuffle: false, classWeight: this.classWeight });
        values = model.metricsNames.map((n) => (h.history[n]?.[0] as number) ?? NaN);
      } else {
        const r = await model.trainOnBatch(xs, ys);
        values = Array.isArray(r) ? r : [r];
      }
    } finally {
      if (ys !== oneHot) ys.dispose();
    }
    return namedMetrics(model.metricsNames, values);
  }

  async evaluateBatch(xs: tf.Tensor, oneHot: tf.Tensor): Promise<StepLogs> {
    const ys = this.labels(oneHot);
    const out = this.model.evaluate(xs, ys, { batchSize: xs.shape[0] }) as tf.Scalar | tf.Scalar[];
    if (ys !== oneHot) ys.dispose();
    const scalars = Array.isArray(out) ? out : [out];
    const values = await Promise.all(scalars.map(async (s) => (await s.data())[0]!));
    scalars.forEach((s) => s.dispose());
    // tfjs' evaluate leaves out the weight penalties its training loss has; Keras' loss has them in both.
    const penalties = this.model.calculateLosses();
    if (penalties.length) {
      const total = tf.addN(penalties);
      values[0]! += (await total.data())[0]!;
      total.dispose();
      penalties.forEach((p) => p.dispose());
    }
    return namedMetrics(this.model.metricsNames, values);
  }

  private labels(oneHot: tf.Tensor): tf.Tensor {
    return this.sparse ? tf.tidy(() => tf.cast(tf.reshape(tf.argMax(oneHot, -1), [-1, 1]), 'float32')) : oneHot;
  }

  getLearningRate(): number {
    return getLearningRate(this.need());
  }

  setLearningRate(lr: number): void {
    setLearningRate(this.need(), lr);
  }

  // The model's own variables are the ones trained: nothing to copy either way.
  async syncToModel(): Promise<void> {}
  async syncFromModel(): Promise<void> {}

  async getOptimizerState(): Promise<NamedTensor[]> {
    return this.need().getWeights();
  }

  async setOptimizerState(state: NamedTensor[]): Promise<void> {
    await this.need().setWeights(state);
  }

  dispose(): void {
    this.optimizer?.dispose();
    this.optimizer = undefined;
  }

  private need(): tf.Optimizer {
    if (!this.optimizer) throw new Error('engine used before beginPhase()');
    return this.optimizer;
  }
}
