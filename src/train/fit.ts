import type * as tf from '@tensorflow/tfjs';
import type { CallbackList } from './callbacks/list.js';
import type { Engine, StepLogs } from './engine/types.js';
import { epochProgress } from './progress.js';
import type { EpochRow } from './run-folder.js';

/** One batch of inputs and one-hot targets; the fit loop disposes both. */
export interface Batch {
  xs: tf.Tensor;
  ys: tf.Tensor;
  size: number;
}

/** Time spent over the whole run, for the summary's data-wait fraction and throughput. */
export interface FitTiming {
  dataWait: number;
  stepTime: number;
  images: number;
}

export interface FitPhaseArgs {
  engine: Engine;
  callbacks: CallbackList;
  /** Global epochs [from, to) to train. */
  from: number;
  to: number;
  /** Epoch count shown in progress labels (all phases). */
  totalEpochs: number;
  /** Steps per epoch, for the progress bar. */
  steps: number;
  trainBatches(epoch: number): AsyncIterator<Batch>;
  /** Omitted: no validation split. */
  validationBatches?(): AsyncIterable<Batch>;
  /** True once the user asked to stop (signal): the epoch in progress is dropped, not logged. */
  interrupted(): boolean;
  /** True ends the whole run after this epoch (checked once the epoch is committed). */
  shouldStop?(epoch: number, logs: StepLogs): boolean | Promise<boolean>;
  /** False to stop before starting this epoch (an epoch limit). */
  mayStart?(epoch: number): boolean;
  /** The epoch's row, before callbacks see it (history, the epoch line). */
  onEpochLogs?(row: EpochRow): void;
  /** After the callbacks: checkpoint, metric files, tracker. */
  onEpochCommitted?(row: EpochRow): Promise<void>;
  timing: FitTiming;
  tty?: boolean;
}

/** How a phase ended. */
export type FitOutcome = 'completed' | 'stopped' | 'stoppedOutside' | 'interrupted' | 'limit';

/**
 * Keras' fit loop over one phase: epochs of engine steps, validation, callbacks. Callbacks get Keras'
 * logs (metrics, val_ metrics, lr); the row also has the epoch and its timing.
 */
export async function fitPhase(a: FitPhaseArgs): Promise<FitOutcome> {
  const { engine, callbacks } = a;
  let outcome: FitOutcome = 'completed';
  await callbacks.onTrainBegin();
  for (let e = a.from; e < a.to; e++) {
    if (a.mayStart && !a.mayStart(e)) {
      outcome = 'limit';
      break;
    }
    await callbacks.onEpochBegin(e);
    const t0 = Date.now();
    const train = await trainEpoch(a, e);
    if (a.interrupted()) {
      outcome = 'interrupted';
      break;
    }
    await engine.syncToModel();
    const val = a.validationBatches ? await evaluate(engine, a.validationBatches()) : {};
    const logs: StepLogs = {
      ...train.logs,
      ...Object.fromEntries(Object.entries(val).map(([k, v]) => [`val_${k}`, v])),
      lr: engine.getLearningRate(),
    };
    const row: EpochRow = { epoch: e, ...logs, epoch_time: (Date.now() - t0) / 1000, images_per_sec: train.images / train.seconds };
    a.onEpochLogs?.(row);
    await callbacks.onEpochEnd(e, logs);
    await a.onEpochCommitted?.(row);
    if (a.shouldStop && (await a.shouldStop(e, logs))) {
      outcome = 'stoppedOutside';
      break;
    }
    if (callbacks.stopTraining) {
      outcome = 'stopped';
      break;
    }
  }
  await callbacks.onTrainEnd();
  await engine.syncToModel();
  return outcome;
}

async function trainEpoch(a: FitPhaseArgs, epoch: number): Promise<{ logs: StepLogs; images: number; seconds: number }> {
  const progress = epochProgress(`epoch ${epoch + 1}/${a.totalEpochs}`, a.steps, { tty: a.tty });
  const sums: Record<string, number> = {};
  let seen = 0;
  let step = 0;
  let waitMs = 0;
  const t0 = performance.now();
  const it = a.trainBatches(epoch);
  try {
    while (true) {
      const w0 = performance.now();
      const next = await it.next();
      waitMs += performance.now() - w0;
      if (next.done) break;
      const { xs, ys, size } = next.value;
      let batchLogs: StepLogs;
      try {
        // Every epoch has exactly `steps` batches, so this numbers the run's steps the same in a resumed run.
        batchLogs = await a.engine.trainBatch(xs, ys, epoch * a.steps + step);
      } finally {
        xs.dispose();
        ys.dispose();
      }
      for (const [k, v] of Object.entries(batchLogs)) sums[k] = (sums[k] ?? 0) + v * size;
      seen += size;
      step++;
      progress.update(step, Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / seen])));
      await a.callbacks.onBatchEnd(step - 1, batchLogs);
      // tfjs-node resolves its promises as microtasks, so without this the loop never reaches the event
      // loop: Ctrl-C / SIGTERM would wait for the end of training, and so would MLflow uploads and the bar.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (a.interrupted() || a.callbacks.stopTraining) break;
    }
  } finally {
    await it.return?.();
    progress.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  a.timing.dataWait += waitMs / 1000;
  a.timing.stepTime += seconds;
  a.timing.images += seen;
  return { logs: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(seen, 1)])), images: seen, seconds };
}

/** Mean loss and metrics over batches, weighted by batch size. */
export async function evaluate(engine: Engine, batches: AsyncIterable<Batch>): Promise<StepLogs> {
  const sums: Record<string, number> = {};
  let seen = 0;
  for await (const { xs, ys, size } of batches) {
    let logs: StepLogs;
    try {
      logs = await engine.evaluateBatch(xs, ys);
    } finally {
      xs.dispose();
      ys.dispose();
    }
    for (const [k, v] of Object.entries(logs)) sums[k] = (sums[k] ?? 0) + v * size;
    seen += size;
  }
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(seen, 1)]));
}
