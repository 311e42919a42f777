import { trackingUri } from '../track/index.js';
import { runLocal } from './local.js';
import type { SweepPlan } from './plan.js';
import { closeParentRun, localTrialRuns, mlflowSweepRuns, openParentRun, outcomeOfRun, sweepClient, sweepMeta, trialJobs, writeMeta, writeResults, type SweepMeta, type TrialJob, type TrialOutcome } from './records.js';

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
      meta.parentRunId = await openParentRun(client, meta, plan.base.resolvedYaml);
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
      if (r) done.set(job.trial, { trial: job.trial, hash: job.hash, params: job.params, status: 'SKIPPED', metric: r.metrics[`best_${job.metric}`]?.value, runId: r.tags['fitspec.run_id'], mlflowRunId: r.info.runId });
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
    const status = !final ? 'RUNNING' : all ? 'FINISHED' : outcomes.some((o) => o.status === 'KILLED' || o.status === 'CANCELLED') ? 'KILLED' : 'FAILED';
    await closeParentRun(client, meta, outcomes, csv, status).catch((e: Error) => log(`MLflow: could not update the sweep's parent run (${e.message})`));
  }
  return csv;
}

/** The embedded default: every missing trial trained by `parallel` worker processes on this machine. */
export async function runSweepLocal(plan: SweepPlan, opts: { parallel: number; threads?: number; log: (m: string) => void }): Promise<SweepRun> {
  const { meta, dir, jobs } = await openSweep(plan, opts.log);
  const done = await alreadyFinished(meta, jobs);
  const todo = jobs.filter((j) => !done.has(j.trial));
  opts.log(`sweep ${meta.name}: ${jobs.length} trials, ${done.size} already finished, ${todo.length} to train${todo.length ? ` with ${Math.min(opts.parallel, todo.length)} worker process(es)` : ''}`);
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
