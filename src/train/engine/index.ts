import type * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../../backend.js';
import { EagerEngine } from './eager.js';
import type { Engine, EngineKind } from './types.js';

export type { Engine, EngineKind, EnginePhase, NamedTensor, StepLogs } from './types.js';

export interface EngineDef {
  kind: EngineKind;
  /** An engine for this model, or the reason it cannot run it (the factory then falls back to eager). */
  create(model: tf.LayersModel, backend: BackendInfo): Engine | { unsupported: string };
}

/** Every engine; the first entry is the fallback that runs everything. */
export const engines: EngineDef[] = [{ kind: 'eager', create: (model) => new EagerEngine(model) }];

/** The engine of that kind, or eager with one warning line naming what the requested one cannot run. */
export function createEngine(kind: EngineKind, model: tf.LayersModel, backend: BackendInfo, log: (m: string) => void): Engine {
  const fallback = engines[0]!;
  const def = engines.find((e) => e.kind === kind) ?? fallback;
  const made = def.create(model, backend);
  if (!('unsupported' in made)) return made;
  log(`warning: the ${kind} engine cannot run this experiment (${made.unsupported}); training on the ${fallback.kind} engine`);
  return fallback.create(model, backend) as Engine;
}
