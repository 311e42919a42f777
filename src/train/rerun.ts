import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadExperimentText, type LoadedExperiment } from '../config/index.js';
import type { Experiment } from '../config/schema/experiment.js';
import { listSource } from '../data/sources.js';
import { PART_NAMES, splitDigest, type PartName } from '../data/split.js';
import { FitspecError } from '../errors.js';
import { historyFromPoints } from '../report/compare.js';
import type { EpochRow } from '../report/history.js';
import { listRuns, readMetrics, readRun, type RunFolder } from '../track/runs.js';
import { mlflowClient } from '../track/connect.js';
import { artifactUrl } from '../track/mlflow/client.js';
import { isMlflowError } from '../track/mlflow/http.js';
import type { RunRecord } from '../track/types.js';
import type { BackendInfo } from '../backend.js';

/** The tag a rerun carries: the fitspec run id of the run it repeats. */
export const RERUN_OF_TAG = 'fitspec.rerun_of';

/** A finished run as far as training it again needs: its resolved config, split and per-epoch metrics. */
export interface LoggedRun extends RunFolder {
  loaded: LoadedExperiment;
  split: Partial<Record<PartName, string[]>>;
  history: EpochRow[];
  splitDigest?: string;
}

/** Files of a run folder that training it again reads. */
const RUN_FILES = ['resolved.yaml', 'summary.json', ...PART_NAMES.map((p) => `split/${p}.txt`)];

/**
 * A run that only the tracking server has, as a run folder in the cache (`$XDG_CACHE_HOME/fitspec/mlflow-runs/<id>`):
 * its resolved config, split and summary downloaded through the artifact proxy, its metric histories
 * and tags read through the REST API.
 */
async function downloadMlflowRun(id: string, uri: string): Promise<RunFolder> {
  const client = mlflowClient(uri);
  const run = await client.getRun(id).catch((e) => {
    if (isMlflowError(e)) return undefined;
    throw e;
  });
  if (!run)
    throw new FitspecError({
      code: 'run.not-found',
      message: `the MLflow server at ${client.uri} has no run \`${id}\``,
      expected: 'an MLflow run id (32 hex digits, shown in the MLflow UI)',
      received: id,
    });
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const dir = path.join(cache, 'fitspec', 'mlflow-runs', id);
  fs.mkdirSync(path.join(dir, 'split'), { recursive: true });
  for (const rel of RUN_FILES) {
    try {
      const text = await client.http.request<string>('GET', '', { url: artifactUrl(client.uri, run.info.artifactUri!, rel), text: true, retry: true });
      fs.writeFileSync(path.join(dir, rel), text);
    } catch (e) {
      if (!isMlflowError(e)) throw e;
      fs.rmSync(path.join(dir, rel), { force: true });
    }
  }
  const points = (await Promise.all(Object.keys(run.metrics).map((k) => client.getMetricHistory(id, k)))).flat();
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), points.map((p) => JSON.stringify(p)).join('\n') + '\n');
  const record: RunRecord = {
    format: 1,
    runId: run.tags['fitspec.run_id'] ?? id,
    experimentName: run.info.runName ?? id,
    runName: run.info.runName ?? id,
    status: run.info.status as RunRecord['status'],
    startTime: run.info.startTime ?? 0,
    endTime: run.info.endTime,
    params: run.params,
    tags: run.tags,
    artifacts: [],
    mlflow: { uri: client.uri, experimentId: run.info.experimentId, runId: id, synced: true },
  };
  fs.writeFileSync(path.join(dir, 'run.json'), JSON.stringify(record, null, 2) + '\n');
  return readRun(dir);
}

/**
 * A run by its folder, its fitspec run id, or its MLflow run id (`ID` or `runs:/ID`): the run folder in
 * `runsDir` when this machine trained it, else downloaded from the tracking server (MLFLOW_TRACKING_URI).
 */
export async function findRun(ref: string, runsDir = 'runs', env: NodeJS.ProcessEnv = process.env): Promise<RunFolder> {
  if (fs.existsSync(path.join(ref, 'run.json'))) return readRun(ref);
  const id = ref.replace(/^runs:\//, '').split('/')[0]!;
  const hit = listRuns(runsDir).find((r) => r.record.runId === id || r.record.mlflow?.runId === id);
  if (hit) return hit;
  if (/^[0-9a-f]{32}$/.test(id) && env.MLFLOW_TRACKING_URI) return downloadMlflowRun(id, env.MLFLOW_TRACKING_URI);
  throw new FitspecError({
    code: 'run.not-found',
    message: `no run \`${ref}\`: not a run folder, and no run in ${runsDir}/ has this fitspec or MLflow run id`,
    expected: 'a run folder (runs/<experiment>/<run id>), a fitspec run id, an MLflow run id or runs:/<MLflow run id> (with MLFLOW_TRACKING_URI set)',
    received: ref,
  });
}

export function readLoggedRun(run: RunFolder): LoggedRun {
  const file = path.join(run.dir, 'resolved.yaml');
  if (!fs.existsSync(file)) throw new FitspecError({ code: 'run.invalid', message: `${run.dir} has no resolved.yaml: it cannot be trained again`, file: run.dir });
  const loaded = loadExperimentText(fs.readFileSync(file, 'utf8'), run.record.tags['mlflow.source.name'] ?? file);
  const split: LoggedRun['split'] = {};
  for (const p of PART_NAMES) {
    const f = path.join(run.dir, 'split', `${p}.txt`);
    if (fs.existsSync(f)) split[p] = fs.readFileSync(f, 'utf8').split('\n').filter(Boolean);
  }
  if (!split.train?.length) throw new FitspecError({ code: 'run.invalid', message: `${run.dir} has no split/train.txt: the images it trained on are not known`, file: run.dir });
  let digest: string | undefined;
  try {
    digest = (JSON.parse(fs.readFileSync(path.join(run.dir, 'summary.json'), 'utf8')) as { split_digest?: string }).split_digest;
  } catch {
    /* an unfinished run has no summary */
  }
  return { ...run, loaded, split, history: historyFromPoints(readMetrics(run.dir).filter((p) => !p.key.startsWith('test_'))), splitDigest: digest };
}

/**
 * Why training this run again here cannot repeat its numbers bit for bit: other CPU kernels, thread
 * counts, backend or TensorFlow build (float sums in another order), a config this fitspec resolves to
 * another hash, or images whose labels differ from the logged split's. Empty when nothing known differs.
 */
export function whyNotIdentical(run: LoggedRun, backend: BackendInfo): string[] {
  const t = run.record.tags;
  const out: string[] = [];
  const differs = (what: string, then: string | undefined, now: string | undefined) => {
    if (then !== undefined && then !== (now ?? 'none')) out.push(`${what}: the run had ${then}, this machine has ${now ?? 'none'}`);
  };
  differs('backend', t['fitspec.backend'], backend.name);
  differs('TensorFlow', t['fitspec.tensorflow_version'], backend.tensorflowVersion);
  differs('CPU kernels', t['fitspec.kernels'], backend.kernels?.name);
  differs('threads (intra-op/inter-op)', t['fitspec.threads'], `${backend.threads.intraOp}/${backend.threads.interOp}`);
  if (t['fitspec.config_hash'] && t['fitspec.config_hash'] !== run.loaded.hash)
    out.push(
      `config hash: this fitspec resolves the logged config to ${run.loaded.hash.slice(0, 12)}, the run was ${t['fitspec.config_hash'].slice(0, 12)} (another fitspec version: defaults or hashing changed)`,
    );
  if (run.splitDigest) {
    const listing = listSource(run.loaded.experiment.data);
    const byId = new Map(listing.items.map((it) => [it.id, it]));
    const parts = Object.fromEntries(PART_NAMES.map((p) => [p, (run.split[p] ?? []).map((id) => byId.get(id)).filter((x) => x !== undefined)])) as Parameters<
      typeof splitDigest
    >[1];
    const digest = splitDigest(listing.classes, parts);
    if (digest !== run.splitDigest)
      out.push(`data digest: the images and labels of the logged split give ${digest.slice(0, 8)} here, the run had ${run.splitDigest.slice(0, 8)} (images missing or relabelled)`);
  }
  return out;
}

/** The run's experiment, to be trained again as a new run tagged with the run it repeats. */
export function rerunExperiment(run: LoggedRun, overrides: { runsDir?: string; untracked?: boolean } = {}): LoadedExperiment {
  const exp = structuredClone(run.loaded.experiment) as Experiment;
  exp.tracking.tags = { ...exp.tracking.tags, [RERUN_OF_TAG]: run.record.runId };
  exp.tracking.runName = `${exp.name}-rerun-of-${run.record.runId}`;
  if (overrides.runsDir) exp.tracking.runsDir = overrides.runsDir;
  if (overrides.untracked) delete exp.tracking.uri;
  return { ...run.loaded, experiment: exp };
}

export interface HistoryDifference {
  /** 1-based. */
  epoch: number;
  metric: string;
  logged: number | undefined;
  now: number | undefined;
}

/** Metrics that measure the machine, not the model: they differ between any two runs. */
const TIMINGS = new Set(['epoch_time', 'images_per_sec', 'data_wait_fraction']);

/** The metrics a rerun must repeat: every logged one but the timings. */
export const modelMetrics = (row: EpochRow) => Object.keys(row).filter((k) => k !== 'epoch' && !TIMINGS.has(k));

/** The first epoch and metric whose values are not identical (bit for bit), over the first `epochs` epochs. */
export function firstDifference(logged: EpochRow[], now: EpochRow[], epochs: number): HistoryDifference | undefined {
  for (let i = 0; i < epochs; i++) {
    const a = logged[i];
    const b = now[i];
    if (!a || !b) return { epoch: i + 1, metric: a ? '(epoch not trained again)' : '(epoch not in the logged run)', logged: undefined, now: undefined };
    for (const k of [...new Set([...modelMetrics(a), ...modelMetrics(b)])].sort()) {
      if (!Object.is(a[k], b[k])) return { epoch: i + 1, metric: k, logged: a[k], now: b[k] };
    }
  }
  return undefined;
}
