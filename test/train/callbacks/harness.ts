import type { Callback, Logs, TrainingHandle } from '../../../src/train/callbacks/types.js';

/** Metrics of one scripted epoch: the epoch logs, and optionally the batch logs that precede them. */
export interface ScriptedEpoch {
  logs: Logs;
  batches?: Logs[];
}

export interface FakeRun {
  /** Epochs that ran (0-based, global). */
  epochs: number[];
  /** Learning rate in effect during each epoch that ran. */
  lrDuring: number[];
  /** Epoch after which training stopped because a callback asked, or undefined. */
  stoppedAt: number | undefined;
  /** Batch (epoch, step) after which training stopped, when a callback asked mid-epoch. */
  stoppedInBatch: { epoch: number; step: number } | undefined;
  /** Snapshots taken (labelled `w@<epoch>` with the epoch whose weights they hold). */
  snapshots: string[];
  restored: string[];
  disposed: string[];
  /** `<subdir>@<epoch>` for each saveModel call. */
  saves: string[];
  messages: string[];
  finalLr: number;
  /** Weights in the model at the end (`w@<epoch>`), after any restore. */
  finalWeights: string;
}

/**
 * Runs callbacks the way the trainer does, without TensorFlow: the "weights" are a label naming the
 * epoch that produced them, so a test can see exactly which snapshot was restored.
 */
export async function runScripted(
  callbacks: Callback[],
  script: ScriptedEpoch[],
  opts: { lr?: number; firstEpoch?: number; runDir?: string } = {},
): Promise<FakeRun> {
  let lr = opts.lr ?? 0.1;
  let current = 'w@init';
  const run: FakeRun = { epochs: [], lrDuring: [], stoppedAt: undefined, stoppedInBatch: undefined, snapshots: [], restored: [], disposed: [], saves: [], messages: [], finalLr: lr, finalWeights: current };
  let epoch = opts.firstEpoch ?? 0;
  const h: TrainingHandle = {
    stopTraining: false,
    getLearningRate: () => lr,
    setLearningRate: (v) => {
      lr = v;
    },
    snapshotWeights: () => {
      run.snapshots.push(current);
      return { label: current };
    },
    restoreWeights: (s) => {
      const label = (s as { label: string }).label;
      run.restored.push(label);
      current = label;
    },
    disposeSnapshot: (s) => {
      run.disposed.push((s as { label: string }).label);
    },
    saveModel: async (subdir) => {
      run.saves.push(`${subdir}@${epoch}`);
    },
    runDir: opts.runDir ?? '/nonexistent-run-dir',
    log: (m) => {
      run.messages.push(m);
    },
  };
  for (const c of callbacks) await c.onTrainBegin?.(h);
  for (const scripted of script) {
    for (const c of callbacks) await c.onEpochBegin?.(epoch, h);
    run.epochs.push(epoch);
    run.lrDuring.push(lr);
    for (const [step, logs] of (scripted.batches ?? []).entries()) {
      for (const c of callbacks) await c.onBatchEnd?.(step, logs, h);
      if (h.stopTraining) {
        run.stoppedInBatch = { epoch, step };
        break;
      }
    }
    current = `w@${epoch}`;
    for (const c of callbacks) await c.onEpochEnd?.(epoch, { ...scripted.logs }, h);
    if (h.stopTraining) {
      run.stoppedAt = epoch;
      break;
    }
    epoch += 1;
  }
  for (const c of callbacks) await c.onTrainEnd?.(h);
  run.finalLr = lr;
  run.finalWeights = current;
  return run;
}

/** Scripted epochs from one metric's values. */
export function series(metric: string, values: number[], extra: Logs = {}): ScriptedEpoch[] {
  return values.map((v) => ({ logs: { ...extra, [metric]: v } }));
}
