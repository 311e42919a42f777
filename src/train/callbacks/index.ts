import { Value } from '@sinclair/typebox/value';
import { callbackSchemas, type CallbackKind } from '../../config/schema/callbacks.js';
import { fail } from '../../errors.js';
import { csvLogger } from './csvLogger.js';
import { earlyStopping } from './earlyStopping.js';
import { learningRateSchedule } from './learningRateSchedule.js';
import { modelCheckpoint } from './modelCheckpoint.js';
import { reduceLROnPlateau } from './reduceLROnPlateau.js';
import { terminateOnNaN } from './terminateOnNaN.js';
import type { Callback, CallbackContext, CallbackKindDef, CallbackSpecInput } from './types.js';

export type { Callback, CallbackContext, CallbackSpecInput, CallbackSpecT, CallbackState, Logs, TrainingHandle } from './types.js';
export { CHECKPOINT_BEST, CHECKPOINT_LAST } from './modelCheckpoint.js';

/** Every callback kind; the keys match `callbackSchemas` in src/config/schema/callbacks.ts. */
// biome-ignore lint/suspicious/noExplicitAny: each entry is typed by its own kind; the list holds all of them
export const callbackKinds: CallbackKindDef<any>[] = [earlyStopping, modelCheckpoint, reduceLROnPlateau, learningRateSchedule, csvLogger, terminateOnNaN];

const byKind = new Map(callbackKinds.map((d) => [d.kind, d]));

/** Builds the callbacks of a config (or a phase) in the order they are listed; missing arguments get their schema defaults. */
export function createCallbacks(specs: CallbackSpecInput[], ctx: CallbackContext): Callback[] {
  return specs.map((spec, i) => {
    const entries = Object.entries(spec);
    if (entries.length !== 1) {
      fail('callbacks.shape', `callback ${i + 1} must be a mapping with exactly one key, the callback kind`, {
        expected: `one of ${[...byKind.keys()].join(', ')}`,
        received: entries.map(([k]) => k).join(', ') || 'an empty mapping',
      });
    }
    const [kind, args] = entries[0]!;
    const def = byKind.get(kind);
    if (!def) fail('callbacks.unknown-kind', `unknown callback \`${kind}\``, { expected: `one of ${[...byKind.keys()].join(', ')}`, received: kind });
    const schema = callbackSchemas[kind as CallbackKind];
    return def.create(Value.Default(schema, structuredClone(args ?? {})), ctx);
  });
}
