import { createHash } from 'node:crypto';

/**
 * Canonical JSON: keys sorted at every level, numbers in their shortest round-trip form (so `1e-4`,
 * `0.0001` and `1.0e-4` are one value, and `-0` is `0`), no whitespace.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value === 0 ? 0 : value) : JSON.stringify(String(value));
  if (typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** sha256 (hex) of the canonical JSON of a value. */
export function canonicalHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/**
 * Paths of a resolved config that do not change what is trained: they name, describe, tag, place or
 * schedule the run. The config hash leaves them out, so two runs with the same hash trained the same
 * model on the same data the same way. It does not promise equal numbers: the backend, the engine,
 * the CPU kernels and `train.threads` change float rounding, and are recorded with each run (tags
 * `fitspec.backend`, `fitspec.kernels`, `fitspec.threads`; summary.json; the checkpoint, compared on
 * resume) instead. `train.engine` is listed for configs that have it.
 */
export const UNHASHED_PATHS = ['name', 'description', 'tracking', 'train.backend', 'train.engine', 'train.threads', 'data.cache'] as const;
/** Callbacks that only write files (they never change the weights or when training stops). */
export const UNHASHED_CALLBACKS = ['csvLogger', 'modelCheckpoint'] as const;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function withoutPath(v: Obj, path: string[]): Obj {
  const [head, ...rest] = path;
  if (!(head in v)) return v;
  const out = { ...v };
  if (!rest.length) delete out[head];
  else if (isObj(out[head])) out[head] = withoutPath(out[head] as Obj, rest);
  return out;
}

const trainingCallbacks = (list: unknown) =>
  Array.isArray(list) ? list.filter((c) => !(isObj(c) && Object.keys(c).length === 1 && (UNHASHED_CALLBACKS as readonly string[]).includes(Object.keys(c)[0]))) : list;

/** The part of a resolved config that decides what is trained: data, split, augmentation, model, training. */
export function trainingConfig(experiment: object): Obj {
  let v = experiment as Obj;
  for (const p of UNHASHED_PATHS) v = withoutPath(v, p.split('.'));
  if (isObj(v.train)) {
    const train: Obj = { ...v.train, callbacks: trainingCallbacks(v.train.callbacks) };
    if (Array.isArray(train.phases)) train.phases = train.phases.map((p) => (isObj(p) && p.callbacks !== undefined ? { ...p, callbacks: trainingCallbacks(p.callbacks) } : p));
    if (train.callbacks === undefined) delete train.callbacks;
    v = { ...v, train };
  }
  return v;
}

/**
 * The config hash (run.json `config_hash`, the MLflow tag `fitspec.config_hash`, `compare`, `review`, sweeps):
 * sha256 of the canonical JSON of `trainingConfig`, with each layer plugin's source hash (sha256) in place of its path.
 */
export function configHash(experiment: object, plugins: readonly { sha256: string }[] = []): string {
  const v = { ...trainingConfig(experiment) };
  // A plugin's code decides what is trained, its path does not (a run folder keeps a copy elsewhere).
  // Without plugins the hash is unchanged.
  if (plugins.length) v.plugins = plugins.map((p) => p.sha256);
  return canonicalHash(v);
}
