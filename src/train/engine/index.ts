import type * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../../backend.js';
import { EagerEngine } from './eager.js';
import { createGraphEngine, graphEngineAvailability } from './graph/index.js';
import type { Engine, EngineKind } from './types.js';

export type { Engine, EngineKind, EnginePhase, NamedTensor, StepLogs } from './types.js';

/** What every phase of the run shares (the optimizer may change per phase; these do not). */
export interface EngineSpec {
  loss: string;
  metrics: string[];
}

export interface EngineDef {
  kind: EngineKind;
  /** An engine for this model, or the reason it cannot run it (the factory then falls back to eager). */
  create(model: tf.LayersModel, backend: BackendInfo, spec?: EngineSpec): Engine | { unsupported: string };
}

/** Every engine; the first entry is the fallback that runs everything. */
export const engines: EngineDef[] = [
  { kind: 'eager', create: (model) => new EagerEngine(model) },
  { kind: 'graph', create: (model, backend, spec) => createGraphEngine(model, backend, spec) },
];

export type EngineChoice = EngineKind | 'auto';

/** `auto`: the graph engine on native TensorFlow (CPU), where it is built; eager elsewhere. */
export function resolveEngine(choice: EngineChoice, backend: BackendInfo): { kind: EngineKind; why: string } {
  if (choice !== 'auto') return { kind: choice, why: 'train.engine' };
  const available = graphEngineAvailability(backend);
  return available === true
    ? { kind: 'graph', why: 'native TensorFlow with the graph addon: each training step is one TensorFlow session run' }
    : { kind: 'eager', why: available };
}

/** The engine of that kind, or eager with one warning line naming what the requested one cannot run. */
export function createEngine(kind: EngineKind, model: tf.LayersModel, backend: BackendInfo, log: (m: string) => void, spec?: EngineSpec): Engine {
  const fallback = engines[0]!;
  const def = engines.find((e) => e.kind === kind) ?? fallback;
  const made = def.create(model, backend, spec);
  if (!('unsupported' in made)) return made;
  log(`warning: the ${kind} engine cannot run this experiment (${made.unsupported}); training on the ${fallback.kind} engine`);
  return fallback.create(model, backend) as Engine;
}
