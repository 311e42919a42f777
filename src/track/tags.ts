import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { Experiment } from '../config/schema/experiment.js';
import type { ParamValue } from './types.js';
import { flattenValue } from '../config/flatten.js';
import { PACKAGE_ROOT } from '../paths.js';

export interface GitInfo {
  commit?: string;
  dirty?: boolean;
  branch?: string;
}

function git(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

/** Commit, uncommitted changes and branch of the repository containing cwd; empty outside git. */
export function gitInfo(cwd: string): GitInfo {
  const commit = git(cwd, ['rev-parse', 'HEAD']);
  if (!commit) return {};
  const status = git(cwd, ['status', '--porcelain', '--untracked-files=no']);
  const branch = git(cwd, ['rev-parse', '--abbrev-ref', 'HEAD']);
  return { commit, dirty: status === undefined ? undefined : status.length > 0, ...(branch && branch !== 'HEAD' ? { branch } : {}) };
}

export interface StandardTagInput {
  runName: string;
  /** The experiment file, as given on the command line. */
  sourceName?: string;
  /** The experiment's `description`. */
  description?: string;
  git?: GitInfo;
  /** Default: the OS user name. */
  user?: string;
  /** fitspec version; default: this package's. */
  version?: string;
  /** Backend actually used, e.g. `tensorflow`, `cpu`. */
  backend?: string;
  tensorflowVersion?: string;
  /** CPU kernels of a native backend: `oneDNN` or `Eigen` (results differ in float rounding). */
  kernels?: string;
  /** TensorFlow's thread pools, `intra-op/inter-op` (results differ in float rounding with them). */
  threads?: string;
  /** Hash of the canonical resolved config. */
  configHash?: string;
  /** extends lineage, root first, the experiment file last. */
  chain?: string[];
  /** --set overrides as given, `path=value`. */
  overrides?: string[];
  /** Local run id. */
  runId?: string;
  /** tracking.tags: set last, so they win. */
  extra?: Record<string, string>;
}

let packageVersion: string | undefined;
/** Version of fitspec itself (package.json). */
export function fitspecVersion(): string {
  if (packageVersion === undefined) {
    try {
      packageVersion = (JSON.parse(readFileSync(`${PACKAGE_ROOT}/package.json`, 'utf8')) as { version?: string }).version ?? 'unknown';
    } catch {
      packageVersion = 'unknown';
    }
  }
  return packageVersion;
}

/** The mlflow.* tags the MLflow UI shows, and fitspec.* tags that make a run reproducible. */
export function standardTags(i: StandardTagInput): Record<string, string> {
  const t: Record<string, string> = { 'mlflow.runName': i.runName, 'mlflow.source.type': 'LOCAL' };
  if (i.sourceName) t['mlflow.source.name'] = i.sourceName;
  if (i.git?.commit) t['mlflow.source.git.commit'] = i.git.commit;
  if (i.git?.branch) t['mlflow.source.git.branch'] = i.git.branch;
  if (i.git?.dirty !== undefined) t['fitspec.git.dirty'] = String(i.git.dirty);
  let user = i.user;
  if (user === undefined) {
    try {
      user = userInfo().username;
    } catch {
      user = process.env.USER;
    }
  }
  if (user) t['mlflow.user'] = user;
  if (i.description) t['mlflow.note.content'] = i.description;
  t['fitspec.version'] = i.version ?? fitspecVersion();
  if (i.backend) t['fitspec.backend'] = i.backend;
  if (i.tensorflowVersion) t['fitspec.tensorflow_version'] = i.tensorflowVersion;
  if (i.kernels) t['fitspec.kernels'] = i.kernels;
  if (i.threads) t['fitspec.threads'] = i.threads;
  if (i.configHash) t['fitspec.config_hash'] = i.configHash;
  if (i.chain?.length) t['fitspec.extends'] = JSON.stringify(i.chain);
  if (i.overrides?.length) t['fitspec.overrides'] = JSON.stringify(i.overrides);
  if (i.runId) t['fitspec.run_id'] = i.runId;
  return { ...t, ...i.extra };
}

/** Keras optimizer `name` defaults, so optimizer_name matches what Keras autolog records. */
const KERAS_OPTIMIZER_NAMES: Record<string, string> = { sgd: 'SGD', adam: 'adam', rmsprop: 'rmsprop', adagrad: 'adagrad', adadelta: 'adadelta', adamax: 'adamax' };

const py = (v: unknown): ParamValue => (v === undefined || v === null ? 'None' : typeof v === 'boolean' ? (v ? 'True' : 'False') : (v as ParamValue));

/**
 * The params MLflow's Keras autolog records for `model.fit` (fit arguments, `optimizer_*` from the
 * optimizer config, EarlyStopping arguments), so fitspec runs line up with Keras runs in the UI.
 */
export function kerasAutologParams(exp: Pick<Experiment, 'train'>): Record<string, ParamValue> {
  const t = exp.train;
  const phases = t.phases;
  const epochs = phases?.length ? phases.reduce((n, p) => n + p.epochs, 0) : t.epochs;
  const opt = phases?.[0]?.optimizer ?? t.optimizer;
  const p: Record<string, ParamValue> = { epochs, batch_size: t.batchSize };
  if (t.stepsPerEpoch !== undefined) p.steps_per_epoch = t.stepsPerEpoch;
  if (t.validationSteps !== undefined) p.validation_steps = t.validationSteps;
  p.shuffle = py(t.shuffle);
  p.optimizer_name = KERAS_OPTIMIZER_NAMES[opt.name] ?? opt.name;
  p.optimizer_learning_rate = opt.learningRate;
  const extra: [keyof typeof opt, string][] = [
    ['momentum', 'optimizer_momentum'],
    ['nesterov', 'optimizer_nesterov'],
    ['rho', 'optimizer_rho'],
    ['centered', 'optimizer_centered'],
    ['beta1', 'optimizer_beta_1'],
    ['beta2', 'optimizer_beta_2'],
    ['epsilon', 'optimizer_epsilon'],
    ['initialAccumulatorValue', 'optimizer_initial_accumulator_value'],
  ];
  for (const [k, name] of extra) if (opt[k] !== undefined) p[name] = py(opt[k]);
  const callbacks = phases?.[0]?.callbacks ?? t.callbacks;
  const es = callbacks.map((c) => (c as Record<string, unknown>).earlyStopping).find((c) => c !== undefined) as
    | { monitor: string; minDelta: number; patience: number; baseline?: number; restoreBestWeights: boolean }
    | undefined;
  if (es) {
    p.monitor = es.monitor;
    p.min_delta = es.minDelta;
    p.patience = es.patience;
    p.baseline = py(es.baseline);
    p.restore_best_weights = py(es.restoreBestWeights);
  }
  return p;
}

/** Source fields each `data.source.type` reads; the others are defaults of a branch that does not apply. */
const SOURCE_FIELDS: Record<string, string[]> = { directory: ['type', 'path'], csv: ['type', 'images', 'labels', 'idColumn', 'labelColumn'] };
/** Prose of a named block and of its parameters: read in the experiment file, not compared between runs. */
const BLOCK_PROSE = /^model\.blocks\.[^.]+\.(params\.[^.]+\.)?description$/;
/** Where the run is recorded, not what was trained: only the server and names are worth a param. */
const TRACKING_FIELDS = new Set(['tracking.uri', 'tracking.experiment', 'tracking.runName']);

/**
 * The resolved config as MLflow params a person can read: every value that was set or shapes the
 * training, without `description` (the run's description, `mlflow.note.content`) or the named blocks'
 * descriptions, the schema version, the source fields of the other source type, and the local
 * bookkeeping of `tracking`.
 */
export function readableParams(exp: Experiment): Record<string, ParamValue> {
  const flat = flattenValue(exp);
  const source = SOURCE_FIELDS[exp.data.source.type];
  const out: Record<string, ParamValue> = {};
  for (const [k, v] of Object.entries(flat)) {
    if (k === 'description' || k === 'schemaVersion' || BLOCK_PROSE.test(k)) continue;
    if (source && k.startsWith('data.source.') && !source.includes(k.slice('data.source.'.length))) continue;
    if (k.startsWith('tracking.') && !TRACKING_FIELDS.has(k)) continue;
    out[k] = v;
  }
  return out;
}
