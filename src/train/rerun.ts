import fs from 'node:fs';
import path from 'node:path';
import { loadExperimentText, type LoadedExperiment } from '../config/index.js';
import type { Experiment } from '../config/schema/experiment.js';
import { listSource } from '../data/sources.js';
import { PART_NAMES, splitDigest, type PartName } from '../data/split.js';
import { FitspecError } from '../errors.js';
import { historyFromPoints } from '../report/compare.js';
import type { EpochRow } from '../report/history.js';
import { listRuns, readMetrics, readRun, type RunFolder } from '../track/runs.js';
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

/**
 * A run by its folder, its fitspec run id, or the MLflow run id (`ID` or `runs:/ID`) of a run whose
 * folder is in `runsDir` (every run trained here keeps its MLflow ids in run.json).
 */
export function findRun(ref: string, runsDir = 'runs'): RunFolder {
  if (fs.existsSync(path.join(ref, 'run.json'))) return readRun(ref);
  const id = ref.replace(/^runs:\//, '').split('/')[0]!;
  const hit = listRuns(runsDir).find((r) => r.record.runId === id || r.record.mlflow?.runId === id);
  if (hit) return hit;
  throw new FitspecError({
    code: 'run.not-found',
    message: `no run \`${ref}\`: not a run folder, and no run in ${runsDir}/ has this fitspec or MLflow run id`,
    expected: 'a run folder (runs/<experiment>/<run id>), a fitspec run id, an MLflow run id or runs:/<MLflow run id>',
    received: ref,
    hint: 'a run trained on another machine: copy its run folder here (or give --runs-dir where it is)',
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
  differs('threads (intra-op x inter-op)', t['fitspec.threads'], `${backend.threads.intraOp}x${backend.threads.interOp}`);
  if (t['fitspec.config_hash'] && t['fitspec.config_hash'] !== run.loaded.hash) out.push(`config hash: this fitspec resolves the logged config to ${run.loaded.hash.slice(0, 12)}, the run was ${t['fitspec.config_hash'].slice(0, 12)} (another fitspec version: defaults or hashing changed)`);
  if (run.splitDigest) {
    const listing = listSource(run.loaded.experiment.data);
    const byId = new Map(listing.items.map((it) => [it.id, it]));
    const parts = Object.fromEntries(PART_NAMES.map((p) => [p, (run.split[p] ?? []).map((id) => byId.get(id)).filter((x) => x !== undefined)])) as Parameters<typeof splitDigest>[1];
    const digest = splitDigest(listing.classes, parts);
    if (digest !== run.splitDigest) out.push(`data digest: the images and labels of the logged split give ${digest.slice(0, 8)} here, the run had ${run.splitDigest.slice(0, 8)} (images missing or relabelled)`);
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
