import fs from 'node:fs';
import path from 'node:path';
import { fail, FitspecError } from '../errors.js';
import { mlflowClient } from './connect.js';
import type { MlflowClient, ModelVersion, Run } from './mlflow/client.js';
import { redactUri } from './mlflow/http.js';
import { downloadRunModel } from './model-download.js';
import { readRun } from './runs.js';

export interface RegisterOptions {
  /** Run folder, MLflow run id, or runs:/ID; a sweep's folder or MLflow run stands for its best trial. */
  ref: string;
  name: string;
  alias?: string;
  env?: NodeJS.ProcessEnv;
  log?: (msg: string) => void;
  /**
   * Writes the MLflow Model files (MLmodel, data/model.keras, ...) into a model folder that has none;
   * given by the caller so that this module never loads the converters itself.
   */
  writeMlflowModel: (modelDir: string) => Promise<void>;
}

export interface Registered {
  name: string;
  version: string;
  runId: string;
  /** false: the run's model was registered already, and that version is returned. */
  created: boolean;
  alias?: string;
  tags: Record<string, string>;
  uri: string;
  /** When RUN was a sweep's parent run: the sweep and the trial chosen by its metric. */
  sweep?: { name: string; runId: string; trial: string; metric: string; mode: 'max' | 'min'; value: number };
}

const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The MLflow side of RUN: its tracking URI, run id, and the local folder when RUN is one. */
function target(ref: string, env: NodeJS.ProcessEnv): { uri: string; runId: string; runDir?: string } {
  const asDir = ref.replace(/\/+$/, '');
  if (fs.existsSync(path.join(asDir, 'run.json'))) {
    const { record } = readRun(asDir);
    if (!record.mlflow?.runId)
      fail('register.not-in-mlflow', `${ref} was not logged to MLflow, so it cannot be registered.`, {
        hint: 'set MLFLOW_TRACKING_URI and run `fitspec sync` to upload it first',
        file: asDir,
      });
    const uri = env.MLFLOW_TRACKING_URI || record.mlflow.uri;
    return { uri, runId: record.mlflow.runId, runDir: asDir };
  }
  // A sweep's folder (runs/sweeps/<name>, sweep.json) names the sweep's MLflow run.
  if (fs.existsSync(path.join(asDir, 'sweep.json'))) {
    const sweep = JSON.parse(fs.readFileSync(path.join(asDir, 'sweep.json'), 'utf8')) as { name?: string; trackingUri?: string; parentRunId?: string };
    if (!sweep.parentRunId)
      fail('register.not-in-mlflow', `Sweep ${sweep.name ?? ref} was not tracked in MLflow, so its best trial cannot be registered.`, {
        hint: 'run the sweep again with MLFLOW_TRACKING_URI set',
        file: asDir,
      });
    const uri = env.MLFLOW_TRACKING_URI || sweep.trackingUri;
    if (!uri)
      fail('model.no-tracking-uri', `${ref} names an MLflow sweep run, but MLFLOW_TRACKING_URI is not set.`, {
        expected: 'MLFLOW_TRACKING_URI=http://host:port',
        received: 'nothing',
      });
    return { uri, runId: sweep.parentRunId };
  }
  const m = /^(?:runs:\/)?([0-9a-f]{32})\/?(?:model\/?)?$/.exec(ref);
  if (!m)
    fail('register.bad-run', `${ref} is neither a run folder nor an MLflow run id.`, {
      expected: 'runs/<experiment>/<run id>, an MLflow run id (32 hex digits) or runs:/<run id>',
      received: ref,
    });
  const uri = env.MLFLOW_TRACKING_URI;
  if (!uri)
    fail('model.no-tracking-uri', `${ref} names an MLflow run, but MLFLOW_TRACKING_URI is not set.`, { expected: 'MLFLOW_TRACKING_URI=http://host:port', received: 'nothing' });
  return { uri, runId: m[1]! };
}

/** The best value of a metric over its history, and its epoch (from 1). */
async function best(client: MlflowClient, runId: string, key: string, better: (a: number, b: number) => boolean): Promise<{ value: number; epoch: number } | undefined> {
  let out: { value: number; epoch: number } | undefined;
  for (const p of await client.getMetricHistory(runId, key)) if (Number.isFinite(p.value) && (!out || better(p.value, out.value))) out = { value: p.value, epoch: p.step + 1 };
  return out;
}

async function versionTags(client: MlflowClient, run: Run): Promise<Record<string, string>> {
  const t: Record<string, string> = {};
  const tag = (k: string, v: string | undefined) => {
    if (v) t[k] = v;
  };
  tag('fitspec.config_hash', run.tags['fitspec.config_hash']);
  tag('fitspec.experiment_file', run.tags['mlflow.source.name']);
  tag('mlflow.source.git.commit', run.tags['mlflow.source.git.commit']);
  tag('fitspec.git.dirty', run.tags['fitspec.git.dirty']);
  tag('fitspec.run_id', run.tags['fitspec.run_id']);
  const acc = await best(client, run.info.runId, 'val_accuracy', (a, b) => a > b);
  const loss = await best(client, run.info.runId, 'val_loss', (a, b) => a < b);
  if (acc) Object.assign(t, { 'fitspec.best_val_accuracy': String(acc.value), 'fitspec.best_val_accuracy_epoch': String(acc.epoch) });
  if (loss) Object.assign(t, { 'fitspec.min_val_loss': String(loss.value), 'fitspec.min_val_loss_epoch': String(loss.epoch) });
  for (const [k, m] of Object.entries(run.metrics)) if (k.startsWith('test_')) t[`fitspec.${k}`] = String(m.value);
  return t;
}

/**
 * The trial of a sweep (given by its parent run) with the best value of the sweep's own metric, in its
 * own direction: the sweep records it on its run as trials finish (`fitspec.best_run_id`, `best_<metric>`).
 */
async function bestTrialOf(client: MlflowClient, parent: Run): Promise<{ run: Run; sweep: NonNullable<Registered['sweep']> }> {
  const name = parent.tags['fitspec.sweep_parent']!;
  const metric = parent.params['sweep.metric'] ?? 'val_accuracy';
  const mode = parent.params['sweep.mode'] === 'min' ? 'min' : 'max';
  const bestId = parent.tags['fitspec.best_run_id'];
  const value = parent.metrics[`best_${metric}`]?.value;
  const run = bestId && value !== undefined ? await client.getRun(bestId) : undefined;
  if (!run)
    fail('register.sweep-empty', `Sweep ${name} (MLflow run ${parent.info.runId}) has no finished trial with a value of ${metric}.`, {
      expected: `a finished trial that logged ${metric}`,
      received: bestId ? `best run ${bestId}, which MLflow no longer has` : 'no best trial recorded on the sweep run',
    });
  return { run, sweep: { name, runId: parent.info.runId, trial: parent.tags['fitspec.best_trial'] ?? run.info.runId, metric, mode, value: value! } };
}

/** Uploads the MLflow Model files of a run's model folder that MLflow does not have yet. */
async function ensureMlflowModel(client: MlflowClient, run: Run, runDir: string | undefined, o: RegisterOptions): Promise<void> {
  const listed = await client.listArtifactFiles(run.info.runId, 'model');
  if (!listed.some((f) => f.path === 'model/model.json')) fail('register.no-model', `MLflow run ${run.info.runId} has no model/ artifacts: was it a finished fitspec run?`);
  if (listed.some((f) => f.path === 'model/MLmodel')) return;
  let modelDir = runDir ? path.join(runDir, 'model') : undefined;
  if (!modelDir || !fs.existsSync(path.join(modelDir, 'model.json')))
    modelDir = path.join(await downloadRunModel(client, { runId: run.info.runId, artifactPath: 'model' }, { env: o.env, log: o.log }), 'model');
  if (!fs.existsSync(path.join(modelDir, 'MLmodel'))) {
    o.log?.(`writing the MLflow Model of run ${run.info.runId} (keras flavor) into ${modelDir}`);
    await o.writeMlflowModel(modelDir);
  }
  const have = new Set(listed.map((f) => f.path));
  const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
  for (const f of walk(modelDir)) {
    const rel = `model/${path.relative(modelDir, f).split(path.sep).join('/')}`;
    if (!have.has(rel) && !rel.endsWith('.fitspec-download.json')) await client.uploadArtifact(run.info, rel, fs.readFileSync(f));
  }
}

/**
 * Registers a run's model as a version of NAME (creating NAME if needed), tagged with the config
 * hash, experiment file, git commit and best metrics; a run already registered under NAME gets no
 * second version. The alias, if given, is moved to the version. A sweep's parent run stands for its
 * best trial, which is registered with tags naming the sweep.
 */
export async function registerModel(o: RegisterOptions): Promise<Registered> {
  const env = o.env ?? process.env;
  const given = target(o.ref, env);
  const { uri } = given;
  let { runId, runDir } = given;
  const client = mlflowClient(uri, env);
  let run = await client.getRun(runId);
  if (!run) throw new FitspecError({ code: 'model.not-found', message: `MLflow at ${redactUri(uri)} has no run ${runId}.` });
  let sweep: Registered['sweep'];
  if (run.tags['fitspec.sweep_parent']) {
    ({ run, sweep } = await bestTrialOf(client, run));
    runId = run.info.runId;
    runDir = undefined;
  }
  if (run.info.status !== 'FINISHED')
    fail('register.unfinished', `Run ${runId} is ${run.info.status}; only a finished run's model can be registered.`, { expected: 'FINISHED', received: run.info.status });
  await ensureMlflowModel(client, run, runDir, o);
  const tags = await versionTags(client, run);
  if (sweep)
    Object.assign(tags, {
      'fitspec.sweep': sweep.name,
      'fitspec.sweep_run_id': sweep.runId,
      'fitspec.sweep_trial': sweep.trial,
      'fitspec.sweep_metric': sweep.metric,
      'fitspec.sweep_mode': sweep.mode,
      'fitspec.sweep_best': String(sweep.value),
    });
  await client.createRegisteredModel(o.name);
  const existing: ModelVersion | undefined = (await client.searchModelVersions(`name=${q(o.name)} and run_id=${q(runId)}`)).sort(
    (a, b) => Number(a.version) - Number(b.version),
  )[0];
  let version: ModelVersion;
  if (existing) {
    version = existing;
    for (const [k, v] of Object.entries(tags)) if (existing.tags[k] !== v) await client.setModelVersionTag(o.name, existing.version, k, v);
  } else {
    version = await client.createModelVersion({
      name: o.name,
      source: `${run.info.artifactUri.replace(/\/+$/, '')}/model`,
      runId,
      tags,
      description: run.tags['mlflow.note.content'],
    });
  }
  if (o.alias) await client.setRegisteredModelAlias(o.name, o.alias, version.version);
  return { name: o.name, version: version.version, runId, created: !existing, alias: o.alias, tags, uri: redactUri(uri), ...(sweep ? { sweep } : {}) };
}
