import type { Static } from '@sinclair/typebox';
import type { callbackSchemas } from '../../config/schema/callbacks.js';
import type { Callback, CallbackContext, CallbackKindDef, TrainingHandle } from './types.js';

type Args = Static<(typeof callbackSchemas)['learningRateSchedule']>;

/**
 * Learning rate for the `e`-th epoch (0-based, counted from the first epoch of the phase) starting from `lr0`.
 * `cosine` follows Keras `CosineDecay` per epoch, with an absolute floor `minLr` instead of `alpha * lr0`.
 */
export function scheduledLearningRate(args: Args, lr0: number, e: number, totalEpochs: number): number {
  const t = Math.max(0, e);
  switch (args.type) {
    case 'step':
      return lr0 * args.factor ** Math.floor(t / args.every);
    case 'exponential':
      return lr0 * args.factor ** t;
    case 'cosine': {
      const length = args.epochs ?? totalEpochs;
      const progress = Math.min(t, length) / length;
      return args.minLr + (lr0 - args.minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
  }
}

/** Keras `LearningRateScheduler` with the usual schedules: sets the rate at the start of every epoch. */
export class LearningRateSchedule implements Callback {
  readonly kind = 'learningRateSchedule';
  constructor(
    readonly args: Args,
    readonly ctx: CallbackContext,
  ) {}

  onEpochBegin(epoch: number, h: TrainingHandle): void {
    const e = epoch - (this.ctx.firstEpoch ?? 0);
    h.setLearningRate(scheduledLearningRate(this.args, this.ctx.initialLearningRate, e, this.ctx.totalEpochs));
  }
}

export const learningRateSchedule: CallbackKindDef<Args> = { kind: 'learningRateSchedule', create: (args, ctx) => new LearningRateSchedule(args, ctx) };
