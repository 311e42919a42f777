import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadExperimentText, type LoadedExperiment } from '../config/index.js';
import type { Experiment } from '../config/schema/experiment.js';
import { FitspecError, isFitspecError } from '../errors.js';
import { trackingUri, type MlflowClient } from '../track/index.js';
import { bestMetric, localTrialRuns, metricValues, mlflowTrialRuns, outcomeOfRun, sweepClient, type TrialJob, type TrialOutcome } from './records.js';
import { medianStopping, STOPPED_BY_TAG } from './early-stop.js';
import { showValue } from './plan.js';
import { readCheckpointState } from '../train/checkpoint-files.js';

/** Keras autolog params that repeat a config path under another name. */
const AUTOLOG_ALIASES: Record<string, string> = {
  'train.epochs': 'epochs',
  'train.batchSize': 'batch_size',
  'train.stepsPerEpoch': 'steps_per_epoch',
  'train.validationSteps': 'validation_steps',
  'train.shuffle': 'shuffle',
  'train.optimizer.name': 'optimizer_name',
  'train.optimizer.learningRate': 'optimizer_learning_rate',
  'train.optimizer.momentum': 'optimizer_momentum',
  'train.optimizer.beta1': 'optimizer_beta_1',
  'train.optimizer.beta2': 'optimizer_beta_2',
  'train.optimizer.epsilon': 'optimizer_epsilon',
};

/**
 * A trial's params for MLflow's compare view: each searched path once, under its config path. The
 * sweep's tags (`sweep.<path>`, trial, parent) are tags, not `tracking.tags.*` params; the run name is
 * not a param; a Keras autolog alias of a searched path is left out.
 */
export function trialParamFilter(searched: string[]): (key: string) => boolean {
  const aliases = new Set(searched.map((k) => AUTOLOG_ALIASES[k]).filter(Boolean));
  return (key) => key === 'tracking.runName' || key.startsWith('tracking.tags.') || aliases.has(key);
}

/** The scheduler's decisions about a trial, rung by rung (`1:paused 1:promoted 3:paused stopped`). */
export const RUNGS_TAG = 'fitspec.sweep_rungs';

export interface RunTrialOptions {
  /** Native TensorFlow threads of this worker (intra-op); several workers can share a machine. */
  threads?: number;
  log: (msg: string) => void;
}

/** The trial's experiment as the worker sees it: the job's resolved config, checked against its hash. */
export function trialExperiment(job: TrialJob): LoadedExperiment {
  const loaded = loadExperimentText(job.resolvedYaml, job.sourceFile);
  if (loaded.hash !== job.hash) {
    throw new FitspecError({
      code: 'sweep.hash-mismatch',
      message: `trial ${job.trial} of sweep ${job.sweep}: this worker resolves the trial's config to a different hash than the machine that planned it; run the same fitspec version on every machine.`,
      expected: job.hash.slice(0, 12),
      received: loaded.hash.slice(0, 12),
    });
  }
  return loaded;
}

function trackingOf(exp: Experiment, job: TrialJob): string | undefined {
  return trackingUri(exp.tracking) ?? job.trackingUri;
}

/**
 * Trains one trial unless an earlier run of the sweep already finished it. A run interrupted on this
 * machine (its folder is here, with a checkpoint) is continued; an interrupted run elsewhere cannot be
 * reached, so the trial starts over and the stale run is marked KILLED.
 */
export async function runTrial(job: TrialJob, opts: RunTrialOptions): Promise<TrialOutcome> {
  const t0 = Date.now();
  const log = (m: string) => opts.log(`[${job.sweep} ${job.trial}] ${m}`);
  const worker = `${os.hostname()}:${process.pid}`;
  const base = trialExperiment(job);
  const exp0 = base.experiment;
  const uri = trackingOf(exp0, job);
  const client = sweepClient(uri);
  const runsDir = exp0.tracking.runsDir;

  const local = localTrialRuns(runsDir, exp0.name, job.sweep, job.hash);
  const finished = local.find((r) => r.record.status === 'FINISHED');
  if (finished) {
    log(`already finished in ${finished.dir}: skipped`);
    return { ...outcomeOfRun(finished, job, 'SKIPPED'), worker };
  }
  const remote = client ? await mlflowTrialRuns(client, exp0.tracking.experiment ?? exp0.name, job.sweep, job.hash).catch(() => []) : [];
  const remoteDone = remote.find((r) => r.info.status === 'FINISHED');
  if (remoteDone) {
    log(`already finished as MLflow run ${remoteDone.info.runId}: skipped`);
    const m = remoteDone.metrics[`best_${job.metric}`]?.value;
    return {
      trial: job.trial,
      hash: job.hash,
      params: job.params,
      status: 'SKIPPED',
      metric: m,
      runId: remoteDone.tags['fitspec.run_id'],
      mlflowRunId: remoteDone.info.runId,
      worker,
    };
  }

  const resumable = local.filter((r) => r.record.status !== 'FINISHED' && readCheckpointState(r.dir) !== undefined).at(-1);
  const stale = local.filter((r) => r !== resumable && r.record.status === 'RUNNING');
  // A rung this trial already reached (a sweep run again after a crash): nothing to train.
  const doneEpochs = resumable ? readCheckpointState(resumable.dir)!.epoch + 1 : 0;
  if (resumable && job.pauseAt !== undefined && job.finishAt === undefined && doneEpochs >= job.pauseAt && resumable.record.status === 'SCHEDULED') {
    log(`already paused at epoch ${doneEpochs} in ${resumable.dir}`);
    const values = metricValues(resumable.dir, job.metric).slice(0, doneEpochs);
    return { ...outcomeOfRun(resumable, job, 'PAUSED'), epochs: doneEpochs, values, metric: bestMetric(values, job.mode), worker };
  }
  if (resumable && job.finishAt !== undefined) log(`stopped by the scheduler: finishing ${resumable.dir} from its checkpoint at epoch ${doneEpochs}, without training`);
  else if (resumable && resumable.record.status === 'SCHEDULED')
    log(`promoted: continuing ${resumable.dir} from its checkpoint at epoch ${doneEpochs} to epoch ${job.pauseAt ?? job.finishAt}`);
  else if (resumable) log(`continuing the interrupted run ${resumable.dir} from its last checkpoint`);
  else if (local.length || remote.some((r) => r.info.status === 'RUNNING')) log('an earlier attempt left no checkpoint on this machine: training from the start');

  const exp = structuredClone(exp0) as Experiment;
  exp.tracking.runName = `${job.sweep}-${job.trial}`;
  exp.tracking.tags = {
    ...exp.tracking.tags,
    'fitspec.sweep': job.sweep,
    'fitspec.sweep_trial': job.trial,
    ...Object.fromEntries(Object.entries(job.params).map(([k, v]) => [`sweep.${k}`.slice(0, 250), (job.labels?.[k] ?? showValue(v)).slice(0, 8000)])),
    ...(job.parentRunId && uri ? { 'mlflow.parentRunId': job.parentRunId } : {}),
  };
  if (uri && !trackingUri(exp0.tracking)) exp.tracking.uri = uri;
  // Converting every trial's model would cost each trial a Python start and a conversion; the trial
  // worth keeping gets its MLflow Model when `fitspec register` takes the sweep. `always` still asks for one per trial.
  if (exp.tracking.logModel === 'auto') exp.tracking.logModel = 'never';
  if (opts.threads) exp.train.threads = { intraOp: opts.threads, interOp: 1 };
  const loaded: LoadedExperiment = {
    ...base,
    experiment: exp,
    file: job.sourceFile,
    sourceText: job.sourceText,
    chain: job.chain,
    overrides: job.overrides,
    resolvedYaml: base.resolvedYaml,
  };

  const omitParams = trialParamFilter(Object.keys(job.params));
  const early = job.earlyStop ? medianStopping(job, runsDir, exp0.name, log, resumable?.dir) : undefined;
  const shouldStop = early?.shouldStop;
  const { train } = await import('../train/index.js');
  let result;
  let resumed = Boolean(resumable);
  try {
    try {
      result = await train(loaded, { resume: resumable?.dir, tty: false, log, shouldStop, pauseAfter: job.pauseAt, maxEpochs: job.finishAt, omitParams });
    } catch (e) {
      // The queue says no one else runs this trial, so a lock still held on the folder belongs to a
      // worker that lost the trial (on another machine, whose processes cannot be checked from here).
      if (!resumable || !isFitspecError(e) || e.code !== 'run.locked') throw e;
      log(`cannot continue ${resumable.dir} (${e.message}): training from the start`);
      resumed = false;
      result = await train(loaded, { tty: false, log, shouldStop, pauseAfter: job.pauseAt, maxEpochs: job.finishAt, omitParams });
    }
  } catch (e) {
    if (!isFitspecError(e)) throw e;
    log(`failed: ${e.message}`);
    return { trial: job.trial, hash: job.hash, params: job.params, status: 'FAILED', error: e.message, worker, seconds: (Date.now() - t0) / 1000 };
  }
  const metric = bestMetric(
    result.history.map((h) => h[job.metric]).filter((v): v is number => v !== undefined),
    job.mode,
  );
  const stoppedBy =
    early?.state.stoppedAt !== undefined && result.status === 'FINISHED' ? 'medianStopping' : job.finishAt !== undefined && result.status === 'FINISHED' ? 'scheduler' : undefined;
  const runFile = path.join(result.runDir, 'run.json');
  const record = JSON.parse(fs.readFileSync(runFile, 'utf8')) as { mlflow?: { runId?: string }; tags?: Record<string, string> };
  const after = result.status === 'SCHEDULED' ? 'paused' : result.status === 'FINISHED' && job.finishAt === undefined ? 'finished' : undefined;
  // job.rungs is the trial's story so far (the sweep's decisions and earlier rungs); this job adds its end.
  const rungTags: Record<string, string> = job.rungs !== undefined ? { [RUNGS_TAG]: [job.rungs, after && `${result.history.length}:${after}`].filter(Boolean).join(' ') } : {};
  if (stoppedBy || job.rungs)
    fs.writeFileSync(runFile, JSON.stringify({ ...record, tags: { ...record.tags, ...rungTags, ...(stoppedBy ? { [STOPPED_BY_TAG]: stoppedBy } : {}) } }, null, 2) + '\n');
  const mlflowRunId = record.mlflow?.runId;
  if (client && mlflowRunId && (result.status === 'FINISHED' || result.status === 'SCHEDULED')) await markChild(client, mlflowRunId, remote, job, metric, log, stoppedBy, rungTags);
  for (const r of stale) markLocalKilled(r.dir, result.runId);
  return {
    trial: job.trial,
    hash: job.hash,
    params: job.params,
    status: result.status === 'FINISHED' ? 'FINISHED' : result.status === 'SCHEDULED' ? 'PAUSED' : result.status === 'KILLED' ? 'KILLED' : 'FAILED',
    metric,
    epochs: result.history.length,
    values: result.history.map((h) => h[job.metric] ?? NaN),
    runId: result.runId,
    runDir: result.runDir,
    mlflowRunId,
    resumed,
    ...(stoppedBy ? { stoppedBy } : {}),
    ...(rungTags[RUNGS_TAG] ? { rungs: rungTags[RUNGS_TAG] } : {}),
    worker,
    seconds: (Date.now() - t0) / 1000,
    startedAt: t0,
    endedAt: Date.now(),
  };
}

/** The child's best metric (for MLflow's parallel-coordinates view), and earlier attempts that died marked KILLED. */
async function markChild(
  client: MlflowClient,
  runId: string,
  earlier: Awaited<ReturnType<typeof mlflowTrialRuns>>,
  job: TrialJob,
  metric: number | undefined,
  log: (m: string) => void,
  stoppedBy?: string,
  tags: Record<string, string> = {},
) {
  try {
    if (metric !== undefined) await client.logBatch(runId, { metrics: [{ key: `best_${job.metric}`, value: metric, timestamp: Date.now(), step: 0 }] });
    if (stoppedBy) await client.setTag(runId, STOPPED_BY_TAG, stoppedBy);
    for (const [k, v] of Object.entries(tags)) await client.setTag(runId, k, v);
    for (const r of earlier) if (r.info.runId !== runId && r.info.status === 'RUNNING') await client.updateRun(r.info.runId, 'KILLED', Date.now());
  } catch (e) {
    log(`could not update MLflow after the trial: ${(e as Error).message}`);
  }
}

/** A run whose worker died (SIGKILL, machine gone) still says RUNNING; the trial finished as another run. */
function markLocalKilled(dir: string, by: string): void {
  const file = path.join(dir, 'run.json');
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    if (r.status !== 'RUNNING') return;
    r.status = 'KILLED';
    r.error = `its worker stopped without finishing; the trial was trained again as run ${by}`;
    fs.writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
  } catch {
    /* unreadable run folders are left as they are */
  }
}
