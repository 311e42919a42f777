import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallbackList } from '../../../src/train/callbacks/list.js';
import type { Callback, CallbackState, Logs, TrainingHandle } from '../../../src/train/callbacks/types.js';
import type { Engine, EnginePhase, NamedTensor, StepLogs } from '../../../src/train/engine/types.js';
import { fitPhase } from '../../../src/train/fit.js';
import { makeHandle } from '../../../src/train/handle.js';

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
  /** The callbacks' states at the end, as a checkpoint stores them (JSON). */
  state: (CallbackState | null)[];
}

/**
 * An engine whose "training" is a script: each batch returns the next scripted batch logs, validation
 * returns the epoch's val_ logs, and the weights it keeps (copied into the real tfjs model by
 * syncToModel, read back by syncFromModel, like the graph engine) are the number of the last epoch
 * trained, so a test sees exactly which snapshot was restored.
 */
class ScriptedEngine implements Engine {
  readonly name = 'eager';
  weights = -1;
  epoch = -1;
  private batch = 0;

  constructor(
    private readonly model: tf.LayersModel,
    private readonly script: ScriptedEpoch[],
    private readonly firstEpoch: number,
    public lr: number,
  ) {}

  startEpoch(epoch: number): number {
    this.epoch = epoch;
    this.batch = 0;
    return this.current().batches?.length ?? 1;
  }

  private current(): ScriptedEpoch {
    return this.script[this.epoch - this.firstEpoch]!;
  }

  async beginPhase(_phase: EnginePhase): Promise<void> {}

  async trainBatch(): Promise<StepLogs> {
    const s = this.current();
    this.weights = this.epoch;
    const logs = s.batches ? s.batches[this.batch++]! : Object.fromEntries(Object.entries(s.logs).filter(([k]) => !k.startsWith('val_')));
    return { ...logs };
  }

  async evaluateBatch(): Promise<StepLogs> {
    return Object.fromEntries(
      Object.entries(this.current().logs)
        .filter(([k]) => k.startsWith('val_'))
        .map(([k, v]) => [k.slice(4), v]),
    );
  }

  getLearningRate(): number {
    return this.lr;
  }

  setLearningRate(lr: number): void {
    this.lr = lr;
  }

  async syncToModel(): Promise<void> {
    const values = this.model.getWeights().map((w) => tf.fill(w.shape, this.weights));
    this.model.setWeights(values);
    tf.dispose(values);
  }

  async syncFromModel(): Promise<void> {
    this.weights = (await this.model.getWeights()[0]!.data())[0]!;
  }

  async getOptimizerState(): Promise<NamedTensor[]> {
    return [];
  }

  async setOptimizerState(): Promise<void> {}

  dispose(): void {}
}

const label = (snap: unknown) => {
  const v = (snap as tf.Tensor[])[0]!.dataSync()[0]!;
  return v < 0 ? 'w@init' : `w@${v}`;
};

/**
 * Runs callbacks through the trainer's own fit loop, CallbackList and handle, with a scripted engine
 * in place of TensorFlow training; the model is a real (one-weight) tfjs model.
 */
export async function runScripted(
  callbacks: Callback[],
  script: ScriptedEpoch[],
  opts: { lr?: number; firstEpoch?: number; runDir?: string; state?: unknown[] } = {},
): Promise<FakeRun> {
  const firstEpoch = opts.firstEpoch ?? 0;
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
  const engine = new ScriptedEngine(model, script, firstEpoch, opts.lr ?? 0.1);
  await engine.syncToModel();
  const run: FakeRun = {
    epochs: [],
    lrDuring: [],
    stoppedAt: undefined,
    stoppedInBatch: undefined,
    snapshots: [],
    restored: [],
    disposed: [],
    saves: [],
    messages: [],
    finalLr: 0,
    finalWeights: '',
    state: [],
  };
  const runDir = opts.runDir ?? mkdtempSync(join(tmpdir(), 'fitspec-callbacks-'));
  const h: TrainingHandle = makeHandle(model, engine, runDir, (m) => {
    run.messages.push(m);
  });
  const real = { snapshot: h.snapshotWeights, restore: h.restoreWeights, dispose: h.disposeSnapshot, save: h.saveModel };
  h.snapshotWeights = async () => {
    const s = await real.snapshot();
    run.snapshots.push(label(s));
    return s;
  };
  h.restoreWeights = async (s) => {
    run.restored.push(label(s));
    await real.restore(s);
  };
  h.disposeSnapshot = (s) => {
    run.disposed.push(label(s));
    real.dispose(s);
  };
  h.saveModel = async (subdir) => {
    run.saves.push(`${subdir}@${engine.epoch}`);
    await real.save(subdir);
  };
  // Listed last, so it sees what the callbacks under test asked for.
  const probe: Callback = {
    kind: 'probe',
    onBatchEnd: (step, _logs, hh) => {
      if (hh.stopTraining && !run.stoppedInBatch) run.stoppedInBatch = { epoch: engine.epoch, step };
    },
    onEpochEnd: (epoch, _logs, hh) => {
      if (hh.stopTraining && run.stoppedAt === undefined) run.stoppedAt = epoch;
    },
  };
  const list = new CallbackList([...callbacks, probe], h);
  if (opts.state) list.setState(opts.state);
  const one = () => ({ xs: tf.zeros([1, 1]), ys: tf.zeros([1, 1]), size: 1 });
  try {
    await fitPhase({
      engine,
      callbacks: list,
      from: firstEpoch,
      to: firstEpoch + script.length,
      totalEpochs: script.length,
      steps: 1,
      trainBatches: async function* (epoch) {
        const n = engine.startEpoch(epoch);
        run.epochs.push(epoch);
        run.lrDuring.push(engine.lr);
        for (let i = 0; i < n; i++) yield one();
      },
      validationBatches: async function* () {
        yield one();
      },
      interrupted: () => false,
      timing: { dataWait: 0, stepTime: 0, images: 0 },
      tty: false,
    });
    run.finalLr = engine.lr;
    run.finalWeights = label(model.getWeights());
    run.state = JSON.parse(JSON.stringify(list.getState().slice(0, callbacks.length)));
  } finally {
    model.dispose();
  }
  return run;
}

/** Scripted epochs from one metric's values. */
export function series(metric: string, values: number[], extra: Logs = {}): ScriptedEpoch[] {
  return values.map((v) => ({ logs: { ...extra, [metric]: v } }));
}
