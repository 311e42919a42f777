import type { Static } from '@sinclair/typebox';
import type { callbackSchemas } from '../../config/schema/callbacks.js';
import { fmt, isImprovement, resolveMode } from './monitor.js';
import type { Callback, CallbackContext, CallbackKindDef, CallbackState, Logs, TrainingHandle } from './types.js';

type Args = Static<(typeof callbackSchemas)['modelCheckpoint']>;

/** Folders inside the run folder where checkpoints are written. */
export const CHECKPOINT_BEST = 'best';
export const CHECKPOINT_LAST = 'last';

/**
 * Keras `ModelCheckpoint` with two fixed targets: `best/` whenever the monitored value improves, and,
 * unless `saveBestOnly`, `last/` at every save. `saveFreq` counts epochs from the start of the phase.
 */
export class ModelCheckpoint implements Callback {
  readonly kind = 'modelCheckpoint';
  readonly mode: 'min' | 'max';
  best: number | undefined;

  constructor(
    readonly args: Args,
    readonly ctx: CallbackContext,
  ) {
    this.mode = resolveMode(args.monitor, args.mode);
  }

  getState(): CallbackState {
    return { best: this.best };
  }

  setState(s: CallbackState): void {
    this.best = typeof s.best === 'number' ? s.best : undefined;
  }

  async onEpochEnd(epoch: number, logs: Logs, h: TrainingHandle): Promise<void> {
    if ((epoch - (this.ctx.firstEpoch ?? 0) + 1) % this.args.saveFreq !== 0) return;
    const current = logs[this.args.monitor];
    if (current === undefined || current === null) {
      // Keras saves anyway when it cannot tell whether the model improved.
      h.log(`warning: modelCheckpoint can save the best model only with \`${this.args.monitor}\` available (available: ${Object.keys(logs).join(', ') || 'none'}); saving anyway`);
      await h.saveModel(CHECKPOINT_BEST);
    } else if (isImprovement(current, this.best, this.mode, 0)) {
      h.log(`Epoch ${epoch + 1}: ${this.args.monitor} improved from ${fmt(this.best)} to ${fmt(current)}, saving model to ${CHECKPOINT_BEST}/`);
      this.best = current;
      await h.saveModel(CHECKPOINT_BEST);
    }
    if (!this.args.saveBestOnly) await h.saveModel(CHECKPOINT_LAST);
  }
}

export const modelCheckpoint: CallbackKindDef<Args> = { kind: 'modelCheckpoint', create: (args, ctx) => new ModelCheckpoint(args, ctx) };
