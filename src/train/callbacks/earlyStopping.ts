import type { Static } from '@sinclair/typebox';
import type { callbackSchemas } from '../../config/schema/callbacks.js';
import { fmt, isImprovement, monitorValue, resolveMode } from './monitor.js';
import type { Callback, CallbackKindDef, CallbackState, TrainingHandle } from './types.js';

type Args = Static<(typeof callbackSchemas)['earlyStopping']>;

/**
 * Keras `EarlyStopping`. As in Keras 3, the best weights are restored at the end of training whenever
 * `restoreBestWeights` is set, whether training stopped early or ran all its epochs; `startFromEpoch`
 * compares with the global epoch (like Keras with `initial_epoch`).
 */
export class EarlyStopping implements Callback {
  readonly kind = 'earlyStopping';
  readonly mode: 'min' | 'max';
  wait = 0;
  best: number | undefined;
  bestEpoch = 0;
  /** Global epoch at which training was stopped, or undefined. */
  stoppedEpoch: number | undefined;
  private bestWeights: unknown;
  private haveBestWeights = false;
  private resumed = false;

  constructor(readonly args: Args) {
    this.mode = resolveMode(args.monitor, args.mode);
  }

  getState(): CallbackState {
    return { wait: this.wait, best: this.best, bestEpoch: this.bestEpoch };
  }

  setState(s: CallbackState): void {
    this.wait = Number(s.wait ?? 0);
    this.best = typeof s.best === 'number' ? s.best : undefined;
    this.bestEpoch = Number(s.bestEpoch ?? 0);
    this.resumed = true;
  }

  onTrainBegin(): void {
    this.haveBestWeights = false;
    this.bestWeights = undefined;
    this.stoppedEpoch = undefined;
    if (this.resumed) {
      this.resumed = false;
      return;
    }
    this.wait = 0;
    this.best = undefined;
    this.bestEpoch = 0;
  }

  async onEpochEnd(epoch: number, logs: Record<string, number>, h: TrainingHandle): Promise<void> {
    const current = monitorValue(this.kind, this.args.monitor, logs, h);
    if (current === undefined || epoch < this.args.startFromEpoch) return;
    const improved = isImprovement(current, this.best, this.mode, this.args.minDelta);
    // Until something improves, the first monitored epoch's weights are the best known ones.
    if (this.args.restoreBestWeights && (improved || !this.haveBestWeights)) await this.keepWeights(epoch, h);

    this.wait += 1;
    if (improved) {
      this.best = current;
      this.bestEpoch = epoch;
      // Patience restarts only when the value also beats the baseline.
      if (this.args.baseline === undefined || isImprovement(current, this.args.baseline, this.mode, this.args.minDelta)) this.wait = 0;
      return;
    }
    if (this.wait >= this.args.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      h.stopTraining = true;
      h.log(`Epoch ${epoch + 1}: early stopping (${this.args.monitor} did not improve for ${this.wait} epochs; best ${fmt(this.best)} at epoch ${this.bestEpoch + 1})`);
    }
  }

  async onTrainEnd(h: TrainingHandle): Promise<void> {
    if (!this.haveBestWeights) return;
    h.log(`Restoring model weights from the end of the best epoch: ${this.bestEpoch + 1}.`);
    await h.restoreWeights(this.bestWeights);
    h.disposeSnapshot(this.bestWeights);
    this.bestWeights = undefined;
    this.haveBestWeights = false;
  }

  private async keepWeights(epoch: number, h: TrainingHandle): Promise<void> {
    if (this.haveBestWeights) h.disposeSnapshot(this.bestWeights);
    this.bestWeights = await h.snapshotWeights();
    this.haveBestWeights = true;
    this.bestEpoch = epoch;
  }
}

export const earlyStopping: CallbackKindDef<Args> = { kind: 'earlyStopping', create: (args) => new EarlyStopping(args) };
