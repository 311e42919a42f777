import type { Static } from '@sinclair/typebox';
import type { callbackSchemas } from '../../config/schema/callbacks.js';
import type { Callback, CallbackKindDef, Logs, TrainingHandle } from './types.js';

type Args = Static<(typeof callbackSchemas)['terminateOnNaN']>;

/** Keras `TerminateOnNaN`: a NaN or infinite batch loss stops training gracefully (other callbacks still end). */
export class TerminateOnNaN implements Callback {
  readonly kind = 'terminateOnNaN';
  onBatchEnd(step: number, logs: Logs, h: TrainingHandle): void {
    const loss = logs.loss;
    if (loss !== undefined && loss !== null && !Number.isFinite(loss)) {
      h.log(`Batch ${step}: invalid loss (${loss}), terminating training`);
      h.stopTraining = true;
    }
  }
}

export const terminateOnNaN: CallbackKindDef<Args> = { kind: 'terminateOnNaN', create: () => new TerminateOnNaN() };
