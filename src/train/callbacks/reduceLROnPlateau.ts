import type { Static } from '@sinclair/typebox';
import type { callbackSchemas } from '../../config/schema/callbacks.js';
import { isImprovement, monitorValue, resolveMode } from './monitor.js';
import type { Callback, CallbackKindDef, CallbackState, Logs, TrainingHandle } from './types.js';

type Args = Static<(typeof callbackSchemas)['reduceLROnPlateau']>;

/** Keras `ReduceLROnPlateau`: the new rate applies from the next epoch. */
export class ReduceLROnPlateau implements Callback {
  readonly kind = 'reduceLROnPlateau';
  readonly mode: 'min' | 'max';
  wait = 0;
  cooldownCounter = 0;
  best: number | undefined;
  private resumed = false;

  constructor(readonly args: Args) {
    this.mode = resolveMode(args.monitor, args.mode);
  }

  getState(): CallbackState {
    return { wait: this.wait, cooldownCounter: this.cooldownCounter, best: this.best };
  }

  setState(s: CallbackState): void {
    this.wait = Number(s.wait ?? 0);
    this.cooldownCounter = Number(s.cooldownCounter ?? 0);
    this.best = typeof s.best === 'number' ? s.best : undefined;
    this.resumed = true;
  }

  onTrainBegin(): void {
    if (this.resumed) {
      this.resumed = false;
      return;
    }
    this.wait = 0;
    this.cooldownCounter = 0;
    this.best = undefined;
  }

  onEpochEnd(epoch: number, logs: Logs, h: TrainingHandle): void {
    const current = monitorValue(this.kind, this.args.monitor, logs, h);
    if (current === undefined) return;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.wait = 0;
    }
    if (isImprovement(current, this.best, this.mode, this.args.minDelta)) {
      this.best = current;
      this.wait = 0;
      return;
    }
    if (this.cooldownCounter > 0) return;
    this.wait += 1;
    if (this.wait < this.args.patience) return;
    const old = h.getLearningRate();
    // Keras compares against the float32 value of minLr, the precision the optimizer keeps.
    if (old > Math.fround(this.args.minLr)) {
      const lr = Math.max(old * this.args.factor, this.args.minLr);
      h.setLearningRate(lr);
      h.log(`Epoch ${epoch + 1}: reduceLROnPlateau reducing learning rate to ${lr}.`);
      this.cooldownCounter = this.args.cooldown;
      this.wait = 0;
    }
  }
}

export const reduceLROnPlateau: CallbackKindDef<Args> = { kind: 'reduceLROnPlateau', create: (args) => new ReduceLROnPlateau(args) };
