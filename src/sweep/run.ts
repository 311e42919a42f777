import fs from 'node:fs';
import path from 'node:path';
import { trackingUri } from '../track/index.js';
import { readCheckpointState } from '../train/checkpoint-files.js';
import { driveSweep } from './drive.js';
import { LocalPool, runLocal } from './local.js';
import { MODEL_BASED, type SweepPlan } from './plan.js';
import {
  bestMetric,
  closeParentRun,
  localTrialRuns,
  metricValues,
  mlflowSweepRuns,
  openParentRun,
  outcomeOfRun,
  sweepClient,
  sweepDir,
  sweepMeta,
  trialJobs,
  writeMeta,
  writeResults,
  type SweepMeta,
  type TrialJob,
  type TrialOutcome,
} from './records.js';

export interface SweepRun {
  meta: SweepMeta;
  dir: string;
  outcomes: TrialOutcome[];
  /** Trials trained by this call (the others were finished before). */
  trained: number;
}

/** Creates (or finds again) the sweep's record: its folder, and its MLflow parent run when tracked. */
export async function openSweep(plan: SweepPlan, log: (m: string) => void): Promise<{ meta: SweepMeta; dir: string; jobs: TrialJob[] }> {
  const uri = trackingUri(plan.base.experiment.tracking);
  const meta = sweepMeta(plan, uri);
  const client = sweepClient(uri);
  if (client) {
    try {
      const parent = await openParentRun(client, meta, plan.base.resolvedYaml);
      meta.parentRunId = parent.runId;
      log(`MLflow sweep run: ${parent.url}`);
    } catch (e) {
      log(`MLflow: could not open the sweep's parent run (${(e as Error).message}); trials are still tracked one by one`);
    }
  }
  const dir = writeMeta(meta, plan.base.resolvedYaml);
  return { meta, dir, jobs: trialJobs(plan, meta) };
}

/** Trials that an earlier run of the sweep finished, here or (when tracked) on any machine reporting to MLflow. */
export async function alreadyFinished(meta: SweepMeta, jobs: TrialJob[]): Promise<Map<string, TrialOutcome>> {
  const done = new Map<string, TrialOutcome>();
  for (const job of jobs) {
    const r = localTrialRuns(meta.runsDir, meta.experimentName, meta.name, job.hash).find((x) => x.record.status === 'FINISHED');
    if (r) done.set(job.trial, outcomeOfRun(r, job, 'SKIPPED'));
  }
  const client = sweepClient(meta.trackingUri && trackingUri({ uri: meta.trackingUri }));
  if (client && done.size < jobs.length) {
    const runs = await mlflowSweepRuns(client, meta.trackingExperiment, meta.name).catch(() => []);
    for (const job of jobs) {
      if (done.has(job.trial)) continue;
      const r = runs.find((x) => x.info.status === 'FINISHED' && x.tags['fitspec.config_hash'] === job.hash);
      if (r)
        done.set(job.trial, {
          trial: job.trial,
          hash: job.hash,
          params: job.params,
          status: 'SKIPPED',
          metric: r.metrics[`best_${job.metric}`]?.value,
          runId: r.tags['fitspec.run_id'],
          mlflowRunId: r.info.runId,
        });
    }
  }
  return done;
}

/** Writes the results table and brings the parent run up to date (closing it once nothing is left). */
export async function recordResults(meta: SweepMeta, outcomes: TrialOutcome[], log: (m: string) => void, final: boolean): Promise<string> {
  const csv = writeResults(meta, outcomes);
  const client = sweepClient(meta.trackingUri && trackingUri({ uri: meta.trackingUri }));
  if (client && meta.parentRunId) {
    const all = meta.trials.every((t) => outcomes.some((o) => o.trial === t.id && (o.status === 'FINISHED' || o.status === 'SKIPPED')));
    const stopped = meta.cancelled || outcomes.some((o) => o.status === 'KILLED' || o.status === 'CANCELLED');
    const status = !final ? 'RUNNING' : all ? 'FINISHED' : stopped ? 'KILLED' : 'FAILED';
    await closeParentRun(client, meta, outcomes, csv, status).catch((e: Error) => log(`MLflow: could not update the sweep's parent run (${e.message})`));
  }
  return csv;
}

/** The embedded default: every missing trial trained by `parallel` worker processes on this machine. */
export async function runSweepLocal(plan: SweepPlan, opts: { parallel: number; threads?: number; log: (m: string) => void }): Promise<SweepRun> {
  const { meta, dir, jobs } = await openSweep(plan, opts.log);
  const done = await alreadyFinished(meta, jobs);
  const todo = jobs.filter((j) => !done.has(j.trial));
  opts.log(
    `sweep ${meta.name}: ${jobs.length} trials, ${done.size} already finished, ${todo.length} to train${todo.length ? ` with ${Math.min(opts.parallel, todo.length)} worker process(es)` : ''}`,
  );
  const outcomes = [...done.values()];
  if (todo.length) {
    await runLocal(todo, {
      parallel: opts.parallel,
      threads: opts.threads,
      log: opts.log,
      onOutcome: (o) => {
        outcomes.push(o);
        void recordResults(meta, outcomes, opts.log, false);
      },
    });
  }
  await recordResults(meta, outcomes, opts.log, true);
  return { meta, dir, outcomes, trained: outcomes.filter((o) => o.status !== 'SKIPPED').length };
}

/** The trials an earlier run of a tpe / cmaes sweep drew (its sweep.json here), to be continued, not drawn again. */
export function earlierTrials(plan: SweepPlan, runsDir: string): SweepMeta['trials'] {
  if (!MODEL_BASED.has(plan.sweep.method)) return [];
  try {
    const old = JSON.parse(fs.readFileSync(path.join(sweepDir(runsDir, plan.name), 'sweep.json'), 'utf8')) as SweepMeta;
    if (old.method !== plan.sweep.method || old.seed !== plan.sweep.seed) return [];
    // Re-made from the current files: a changed config is a new trial (its hash differs).
    return old.trials.slice(0, plan.sweep.count).map((t, i) => {
      const trial = plan.trialOf(i + 1, t.params);
      return { id: trial.id, hash: trial.hash, params: trial.params };
    });
  } catch {
    return [];
  }
}

/** Where each trial of a scheduled sweep stands, from its run folders on this machine. */
export function recoverLocal(meta: SweepMeta, metric: string, mode: 'max' | 'min'): Map<string, TrialOutcome> {
  const out = new Map<string, TrialOutcome>();
  for (const t of meta.trials) {
    const runs = localTrialRuns(meta.runsDir, meta.experimentName, meta.name, t.hash);
    const job = { trial: t.id, hash: t.hash, params: t.params, metric, mode };
    const finished = runs.find((r) => r.record.status === 'FINISHED');
    if (finished) {
      out.set(t.id, outcomeOfRun(finished, job, 'SKIPPED'));
      continue;
    }
    const resumable = runs.filter((r) => readCheckpointState(r.dir) !== undefined).at(-1);
    if (!resumable) continue;
    const epochs = readCheckpointState(resumable.dir)!.epoch + 1;
    const values = metricValues(resumable.dir, metric).slice(0, epochs);
    out.set(t.id, { ...outcomeOfRun(resumable, job, resumable.record.status === 'SCHEDULED' ? 'PAUSED' : 'KILLED'), epochs, values, metric: bestMetric(values, mode) });
  }
  return out;
}

/** A sweep with a scheduler (ASHA / Hyperband) or a model-based sampler, trained by worker processes here. */
export async function runSweepScheduled(plan: SweepPlan, opts: { parallel: number; threads?: number; log: (m: string) => void }): Promise<SweepRun> {
  const before = earlierTrials(plan, plan.base.experiment.tracking.runsDir);
  const { meta, dir } = await openSweep(plan, opts.log);
  if (before.length) meta.trials = before;
  const recovered = recoverLocal(meta, meta.metric, meta.mode);
  const pool = new LocalPool({ parallel: opts.parallel, threads: opts.threads, log: opts.log });
  let stopping = false;
  const onSigint = () => {
    if (stopping) process.exit(130);
    stopping = true;
    opts.log('stopping: running trials checkpoint and stop; no new trial starts (run the sweep again to continue)');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let result;
  try {
    result = await driveSweep(plan, meta, {
      executor: { run: (job) => pool.run(job) },
      parallel: opts.parallel,
      log: opts.log,
      recovered,
      persist: (m) => void writeMeta(m),
      onOutcome: (o) => void recordResults(meta, o, opts.log, false),
      stopping: () => stopping,
    });
  } finally {
    pool.close();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  writeMeta(meta);
  await recordResults(meta, result.outcomes, opts.log, true);
  opts.log(`sweep ${meta.name}: ${result.jobs ? `${result.jobs} job(s) run` : 'nothing to train: every trial is finished or stopped'}`);
  return { meta, dir, outcomes: result.outcomes, trained: result.jobs };
}
