import type { LoadedExperiment } from '../config/index.js';
import type { TrainResult } from '../train/index.js';
import { loadExperiment } from './config.js';

/** Observes training, as Keras callbacks do. */
export interface TrainCallbacks {
  /**
   * Called once an epoch is saved (checkpoint, metrics.csv, tracking), with the 0-based global epoch and
   * Keras' logs (`loss`, `accuracy`, `val_loss`, `val_accuracy`, `lr`, ...). Returning `true` ends the run
   * there as FINISHED, as setting Keras' `model.stop_training` does.
   */
  onEpochEnd?(epoch: number, logs: Record<string, number>): void | boolean | Promise<void | boolean>;
}

/** How {@link train} runs. */
export interface TrainOptions {
  /** With a file: `--set` style overrides (`train.epochs=5`). */
  set?: string[];
  /** Continue this run folder (an interrupted or aborted run) from its last checkpoint, with the same run id. */
  resume?: string;
  /** Stop after this many epochs (quick checks); the run still finishes with its model and reports. */
  maxEpochs?: number;
  /** Where the run's log lines go; default: stdout. */
  log?: (line: string) => void;
  /** A live progress bar (default: when stdout is a terminal); `false` gives one line per epoch. */
  progress?: boolean;
  /** Stops the run after the current step, as Ctrl-C does: the last epoch's checkpoint stays, the run ends KILLED and can be resumed. */
  signal?: AbortSignal;
  /** Observers of the epochs; several are called in order. */
  callbacks?: TrainCallbacks | TrainCallbacks[];
}

/**
 * Trains an experiment: prepares the data, builds the model, trains it on the native TensorFlow backend
 * (or the one `train.backend` names) and records the run in `runs/<name>/<run id>/` and in MLflow when
 * `tracking` says so. The same path as `fitspec train`.
 *
 * @param experiment a loaded experiment ({@link loadExperiment}, {@link validateExperiment}) or the path of an experiment file
 * @returns the run's id, folder, status (`FINISHED`, or `KILLED` after an abort), epoch history and summary
 * @throws {@link FitspecError} for mistakes in the config or the data (before the run exists, when they can be seen then)
 */
export async function train(experiment: LoadedExperiment | string, opts: TrainOptions = {}): Promise<TrainResult> {
  const loaded = typeof experiment === 'string' ? loadExperiment(experiment, { set: opts.set, data: true }) : experiment;
  const callbacks = opts.callbacks === undefined ? [] : Array.isArray(opts.callbacks) ? opts.callbacks : [opts.callbacks];
  const { train: trainRun } = await import('../train/index.js');
  return trainRun(loaded, {
    resume: opts.resume,
    maxEpochs: opts.maxEpochs,
    log: opts.log,
    tty: opts.progress,
    signal: opts.signal,
    shouldStop: callbacks.length
      ? async (epoch, logs) => {
          let stop = false;
          for (const c of callbacks) if ((await c.onEpochEnd?.(epoch, logs)) === true) stop = true;
          return stop;
        }
      : undefined,
  });
}
