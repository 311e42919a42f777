import type { Callback, CallbackState, Logs, TrainingHandle } from './types.js';

/**
 * Keras' `CallbackList`: the callbacks of one phase, called in their listed order with one handle.
 * The trainer's fit loop and the callback tests both drive training through it.
 */
export class CallbackList {
  constructor(
    readonly callbacks: Callback[],
    readonly handle: TrainingHandle,
  ) {}

  /** A callback asked to stop (checked after every batch and every epoch). */
  get stopTraining(): boolean {
    return this.handle.stopTraining;
  }

  /** Each callback's counters, in order (saved with every checkpoint). */
  getState(): (CallbackState | null)[] {
    return this.callbacks.map((cb) => cb.getState?.() ?? null);
  }

  /** Continues from a checkpoint's states; call before onTrainBegin. */
  setState(states: readonly unknown[]): void {
    this.callbacks.forEach((cb, i) => {
      const s = states[i];
      if (s && typeof s === 'object') cb.setState?.(s as CallbackState);
    });
  }

  async onTrainBegin(): Promise<void> {
    for (const cb of this.callbacks) await cb.onTrainBegin?.(this.handle);
  }

  async onEpochBegin(epoch: number): Promise<void> {
    for (const cb of this.callbacks) await cb.onEpochBegin?.(epoch, this.handle);
  }

  async onBatchEnd(step: number, logs: Logs): Promise<void> {
    for (const cb of this.callbacks) await cb.onBatchEnd?.(step, logs, this.handle);
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    for (const cb of this.callbacks) await cb.onEpochEnd?.(epoch, logs, this.handle);
  }

  async onTrainEnd(): Promise<void> {
    for (const cb of this.callbacks) await cb.onTrainEnd?.(this.handle);
  }
}
