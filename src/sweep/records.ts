import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { flattenValue } from '../config/index.js';
import type { SweepConfig } from '../config/schema/experiment.js';
import { gitInfo, isMlflowError, listRuns, mlflowClient, readMetrics, redactUri, standardTags, type MlflowClient, type RunFolder } from '../track/index.js';
import { envNumber } from '../track/mlflow/http.js';
import { DEFAULT_WAIT_MS } from '../track/mlflow-tracker.js';
import { valueLabel, type SweepPlan } from './plan.js';

/** Everything a worker needs to train one trial, on any machine: no file of the sweep is read there. */
export interface TrialJob {
  sweep: string;
  trial: string;
  index: number;
  params: Record<string, unknown>;
  hash: string;
  /** The trial's resolved config: the worker trains exactly this. */
  resolvedYaml: string;
  sourceFile: string;
  sourceText: string;
  chain: string[];
  overrides: string[];
  metric: string;
  mode: 'max' | 'min';
  /** MLflow server of the sweep, without credentials (a worker's MLFLOW_TRACKING_URI wins). */
  trackingUri?: string;
  parentRunId?: string;
  /** The sweep's rule for stopping weak trials, its metric resolved. */
  earlyStop?: EarlyStopRule;
  /** Searched path -> how the value is shown (its label, when the sweep names its values). */
  labels?: Record<string, string>;
  /** A scheduler's rung: train until this many epochs are done, then pause (the run ends SCHEDULED). */
  pauseAt?: number;
  /** A scheduler stopped the trial: finish its run from the checkpoint at this many epochs, without training. */
  finishAt?: number;
  /** The scheduler's decisions so far, e.g. `1:promoted 3:paused` (tag `fitspec.sweep_rungs`). */
  rungs?: string;
}

export interface EarlyStopRule {
  type: 'medianStopping';
  metric: string;
  afterEpoch: number;
  minTrials: number;
}

export type TrialStatus = 'FINISHED' | 'FAILED' | 'KILLED' | 'SKIPPED' | 'CANCELLED' | 'PAUSED';

export interface TrialOutcome {
  trial: string;
  hash: string;
  params: Record<string, unknown>;
  status: TrialStatus;
  /** Best value of the sweep metric over the trial's epochs. */
  metric?: number;
  runId?: string;
  runDir?: string;
  mlflowRunId?: string;
  /** The early-stopping rule that ended the trial before its last epoch. */
  stoppedBy?: string;
  /** Epochs trained and checkpointed. */
  epochs?: number;
  /** The sweep metric after each epoch (values[e - 1] after epoch e). */
  values?: number[];
  /** Under a scheduler: queued, running, paused, promoted, stopped, finished or failed. */
  rungState?: string;
  /** Under a scheduler: the epochs the running job trains to. */
  target?: number;
  /** Under a scheduler: its decisions about the trial so far (tag `fitspec.sweep_rungs`). */
  rungs?: string;
  /** The run continued from the checkpoint of an interrupted one. */
  resumed?: boolean;
  error?: string;
  /** Hostname and pid of the process that trained it. */
  worker?: string;
  seconds?: number;
  /** When the worker began and ended the trial (ms since epoch): the gaps between trials are the scheduling overhead. */
  startedAt?: number;
  endedAt?: number;
}

/** sweep.json in the sweep folder, and the same document in Redis for queued sweeps. */
export interface SweepMeta {
  format: 1;
  name: string;
  file: string;
  experimentName: string;
  trackingExperiment: string;
  runsDir: string;
  method: SweepConfig['method'];
  metric: string;
  mode: 'max' | 'min';
  parameters: SweepConfig['parameters'];
  earlyStop?: EarlyStopRule;
  scheduler?: SweepConfig['scheduler'];
  /** Trials drawn by tpe / cmaes: how many, and the seed. */
  count?: number;
  seed?: number;
  /** Every trial known so far: all of them for grid and random, the ones drawn so far for tpe and cmaes. */
  trials: { id: string; hash: string; params: Record<string, unknown> }[];
  trackingUri?: string;
  parentRunId?: string;
  /** Redis URL without credentials. */
  queue?: string;
  cancelled?: boolean;
  createdAt: number;
}

export function sweepDir(runsDir: string, name: string): string {
  return path.join(runsDir, 'sweeps', name);
}

export function sweepMeta(plan: SweepPlan, trackingUri: string | undefined): SweepMeta {
  const exp = plan.base.experiment;
  return {
    format: 1,
    name: plan.name,
    file: plan.file,
    experimentName: plan.experimentName,
    trackingExperiment: exp.tracking.experiment ?? plan.experimentName,
    runsDir: exp.tracking.runsDir,
    method: plan.sweep.method,
    metric: plan.sweep.metric,
    mode: plan.sweep.mode,
    parameters: plan.sweep.parameters,
    earlyStop: plan.sweep.earlyStop && {
      type: plan.sweep.earlyStop.type,
      metric: plan.sweep.earlyStop.metric ?? plan.sweep.metric,
      afterEpoch: plan.sweep.earlyStop.afterEpoch ?? 1,
      minTrials: plan.sweep.earlyStop.minTrials ?? 3,
    },
    ...(plan.sweep.scheduler ? { scheduler: plan.sweep.scheduler } : {}),
    count: plan.sweep.count,
    seed: plan.sweep.seed,
    trials: plan.trials.map((t) => ({ id: t.id, hash: t.hash, params: t.params })),
    trackingUri: trackingUri ? redactUri(trackingUri) : undefined,
    createdAt: Date.now(),
  };
}

export function trialJobs(plan: SweepPlan, meta: SweepMeta): TrialJob[] {
  return plan.trials.map((t) => trialJob(plan, meta, t));
}

/** The job of one trial (to train fully; a scheduler adds its rung). */
export function trialJob(plan: SweepPlan, meta: SweepMeta, t: SweepPlan['trials'][number]): TrialJob {
  return {
    sweep: plan.name,
    trial: t.id,
    index: t.index,
    params: t.params,
    hash: t.hash,
    resolvedYaml: t.loaded.resolvedYaml,
    sourceFile: t.loaded.file,
    sourceText: t.loaded.sourceText,
    chain: t.loaded.chain,
    overrides: t.loaded.overrides,
    metric: meta.metric,
    mode: meta.mode,
    trackingUri: meta.trackingUri,
    parentRunId: meta.parentRunId,
    earlyStop: meta.earlyStop,
    labels: Object.fromEntries(Object.keys(t.params).map((k) => [k, valueLabel(meta.parameters[k], t.params[k])])),
  };
}

/** The sweep metric after each epoch of a run folder (NaN where an epoch has none). */
export function metricValues(dir: string, metric: string): number[] {
  const out: number[] = [];
  for (const p of readMetrics(dir)) if (p.key === metric && p.step >= 0) out[p.step] = p.value;
  return Array.from(out, (v) => (v === undefined ? NaN : v));
}

/** Local runs of one trial of a sweep (any status), oldest first. */
export function localTrialRuns(runsDir: string, experimentName: string, sweep: string, hash: string): RunFolder[] {
  return listRuns(runsDir, experimentName).filter((r) => r.record.tags['fitspec.sweep'] === sweep && r.record.tags['fitspec.config_hash'] === hash);
}

export function bestMetric(values: number[], mode: 'max' | 'min'): number | undefined {
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return undefined;
  return mode === 'max' ? Math.max(...finite) : Math.min(...finite);
}

/** The outcome of a trial that an earlier run already finished. */
export function outcomeOfRun(r: RunFolder, job: Pick<TrialJob, 'trial' | 'hash' | 'params' | 'metric' | 'mode'>, status: TrialStatus): TrialOutcome {
  const values = metricValues(r.dir, job.metric);
  const stoppedBy = r.record.tags['fitspec.stopped_by'];
  const rungs = r.record.tags['fitspec.sweep_rungs'];
  return {
    ...(rungs ? { rungs } : {}),
    trial: job.trial,
    hash: job.hash,
    params: job.params,
    status,
    metric: bestMetric(values, job.mode),
    runId: r.record.runId,
    runDir: r.dir,
    mlflowRunId: r.record.mlflow?.runId,
    epochs: values.length,
    values,
    ...(stoppedBy ? { stoppedBy } : {}),
  };
}

const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** MLflow runs of one trial of a sweep, any status. */
export async function mlflowTrialRuns(client: MlflowClient, experimentName: string, sweep: string, hash: string) {
  const exp = await client.getExperimentByName(experimentName);
  if (!exp) return [];
  const { runs } = await client.searchRuns({
    experimentIds: [exp.experimentId],
    filter: `tags.\`fitspec.sweep\` = ${q(sweep)} and tags.\`fitspec.config_hash\` = ${q(hash)}`,
    maxResults: 100,
  });
  return runs;
}

/** Every MLflow run of a sweep's trials (children of its parent run). */
export async function mlflowSweepRuns(client: MlflowClient, experimentName: string, sweep: string) {
  const exp = await client.getExperimentByName(experimentName);
  if (!exp) return [];
  const { runs } = await client.searchRuns({ experimentIds: [exp.experimentId], filter: `tags.\`fitspec.sweep\` = ${q(sweep)}`, maxResults: 1000 });
  return runs;
}

/** Best trial by the sweep metric, among finished (or skipped as already finished) ones. */
export function bestTrial(outcomes: TrialOutcome[], mode: 'max' | 'min'): TrialOutcome | undefined {
  const done = outcomes.filter((o) => (o.status === 'FINISHED' || o.status === 'SKIPPED') && o.metric !== undefined && Number.isFinite(o.metric));
  return done.sort((a, b) => (mode === 'max' ? b.metric! - a.metric! : a.metric! - b.metric!) || a.trial.localeCompare(b.trial))[0];
}

export function resultRows(meta: SweepMeta, outcomes: TrialOutcome[]): Record<string, string>[] {
  const byTrial = new Map(outcomes.map((o) => [o.trial, o]));
  const keys = Object.keys(meta.parameters);
  return meta.trials.map((t) => {
    const o = byTrial.get(t.id);
    const status = o?.status === 'SKIPPED' ? 'FINISHED' : (o?.status ?? 'PENDING');
    return {
      trial: t.id,
      ...Object.fromEntries(keys.map((k) => [k, valueLabel(meta.parameters[k], t.params[k])])),
      [meta.metric]: o?.metric !== undefined ? String(Number(o.metric.toPrecision(6))) : '',
      status,
      ...(meta.scheduler
        ? {
            epochs: o?.epochs !== undefined ? String(o.epochs) : '0',
            state: o?.rungState ?? (status === 'FINISHED' ? (o?.stoppedBy === 'scheduler' ? 'stopped' : 'finished') : status === 'PAUSED' ? 'paused' : status.toLowerCase()),
          }
        : {}),
      ...(meta.earlyStop ? { stopped_by: o?.stoppedBy ?? '' } : {}),
      run: o?.runId ?? '',
      hash: t.hash.slice(0, 12),
      error: o?.error ?? '',
    };
  });
}

/** results.csv and results.json in the sweep folder; returns the CSV text. */
export function writeResults(meta: SweepMeta, outcomes: TrialOutcome[], dir = sweepDir(meta.runsDir, meta.name)): string {
  fs.mkdirSync(dir, { recursive: true });
  const rows = resultRows(meta, outcomes);
  const header = rows[0] ? Object.keys(rows[0]) : ['trial'];
  const csv = stringify([header, ...rows.map((r) => header.map((h) => r[h]))]);
  fs.writeFileSync(path.join(dir, 'results.csv'), csv);
  const best = bestTrial(outcomes, meta.mode);
  fs.writeFileSync(
    path.join(dir, 'results.json'),
    JSON.stringify(
      {
        sweep: meta.name,
        metric: meta.metric,
        mode: meta.mode,
        best: best ? { trial: best.trial, value: best.metric, params: best.params, runId: best.runId } : null,
        trials: outcomes,
      },
      null,
      2,
    ) + '\n',
  );
  return csv;
}

export function writeMeta(meta: SweepMeta, resolvedYaml?: string): string {
  const dir = sweepDir(meta.runsDir, meta.name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'sweep.json'), JSON.stringify(meta, null, 2) + '\n');
  if (resolvedYaml !== undefined) fs.writeFileSync(path.join(dir, 'sweep.yaml'), resolvedYaml);
  return dir;
}

/** A plain-text table for the terminal. */
export function formatTable(rows: Record<string, string>[], columns?: string[]): string {
  if (!rows.length) return '(no trials)';
  const cols = (columns ?? Object.keys(rows[0]!)).filter((c) => rows.some((r) => r[c]));
  const width = (c: string) => Math.min(48, Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const cell = (s: string, w: number) => (s.length > w ? s.slice(0, w - 1) + '…' : s.padEnd(w));
  return [cols.map((c) => cell(c, width(c))).join('  '), ...rows.map((r) => cols.map((c) => cell(r[c] ?? '', width(c))).join('  '))].map((l) => l.trimEnd()).join('\n');
}

/** Set once a sweep request found the server not answering or down: later ones fail at once. */
let unanswered: unknown;

/**
 * The MLflow client of a sweep, when it is tracked. Its requests wait at most FITSPEC_TRACKING_WAIT
 * seconds (as training does), and once one found the server not answering or down, every later
 * request of this process fails at once: a hung server costs a sweep seconds, not minutes per trial.
 */
export function sweepClient(uri: string | undefined, env: NodeJS.ProcessEnv = process.env): MlflowClient | undefined {
  if (!uri) return undefined;
  const wait = Math.min(envNumber(env, 'FITSPEC_TRACKING_WAIT', DEFAULT_WAIT_MS / 1000), envNumber(env, 'MLFLOW_HTTP_REQUEST_TIMEOUT', 30));
  const client = mlflowClient(uri, { ...env, MLFLOW_HTTP_REQUEST_TIMEOUT: String(wait) });
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (unanswered) return Promise.reject(unanswered);
        const out = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(out instanceof Promise)) return out;
        return out.catch((e: unknown) => {
          if (isMlflowError(e) && e.transient) unanswered = e;
          throw e;
        });
      };
    },
  });
}

/**
 * The sweep's parent run: found again by its tag when the sweep is run again, else created with the
 * search space as params, so the MLflow UI nests every trial under it.
 */
export async function openParentRun(client: MlflowClient, meta: SweepMeta, resolvedYaml: string): Promise<{ runId: string; url: string }> {
  const exp = await client.getOrCreateExperiment(meta.trackingExperiment);
  const found = await client.findRunByTag(exp.experimentId, 'fitspec.sweep_parent', meta.name);
  const url = (runId: string) => `${client.uri.replace(/\/+$/, '')}/#/experiments/${exp.experimentId}/runs/${runId}`;
  if (found) {
    if (found.info.status !== 'RUNNING') await client.updateRun(found.info.runId, 'RUNNING');
    return { runId: found.info.runId, url: url(found.info.runId) };
  }
  const note = `Sweep \`${meta.name}\` (${meta.method}${meta.scheduler ? `, ${meta.scheduler.type} ${meta.scheduler.minEpochs}-${meta.scheduler.maxEpochs} epochs` : ''}, ${meta.count && (meta.method === 'tpe' || meta.method === 'cmaes') ? meta.count : meta.trials.length} trials): each trial is a child run; rank them by \`best_${meta.metric}\`.`;
  // Like a training run: who started it and from which commit.
  const standard = standardTags({ runName: `sweep-${meta.name}`, sourceName: meta.file, git: gitInfo(process.cwd()), description: note });
  delete standard['mlflow.runName'];
  const info = await client.createRun({
    experimentId: exp.experimentId,
    runName: `sweep-${meta.name}`,
    startTime: Date.now(),
    identity: { key: 'fitspec.sweep_parent', value: meta.name },
    tags: [...Object.entries(standard).map(([key, value]) => ({ key, value })), { key: 'fitspec.sweep_method', value: meta.method }],
  });
  const params = {
    'sweep.method': meta.method,
    'sweep.metric': meta.metric,
    'sweep.mode': meta.mode,
    'sweep.trials': String(meta.count && (meta.method === 'tpe' || meta.method === 'cmaes') ? meta.count : meta.trials.length),
    ...(meta.method !== 'grid' ? { 'sweep.seed': String(meta.seed ?? 0) } : {}),
    ...(meta.scheduler ? Object.fromEntries(Object.entries(meta.scheduler).map(([k, v]) => [`sweep.scheduler.${k}`, String(v)])) : {}),
    ...Object.fromEntries(Object.entries(flattenValue(meta.parameters, 'sweep.parameters')).map(([k, v]) => [k, String(v)])),
  };
  await client.logBatch(info.runId, { params: Object.entries(params).map(([key, value]) => ({ key: key.slice(0, 250), value: value.slice(0, 6000) })) });
  await client.uploadArtifact(info, 'sweep.yaml', new TextEncoder().encode(resolvedYaml)).catch(() => undefined);
  return { runId: info.runId, url: url(info.runId) };
}

/** Best trial, its metric and the results table on the parent run; status once every trial is done. */
export async function closeParentRun(
  client: MlflowClient,
  meta: SweepMeta,
  outcomes: TrialOutcome[],
  csv: string,
  status: 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED',
): Promise<void> {
  if (!meta.parentRunId) return;
  const run = await client.getRun(meta.parentRunId);
  if (!run) return;
  const best = bestTrial(outcomes, meta.mode);
  const counts = (s: TrialStatus[]) => outcomes.filter((o) => s.includes(o.status)).length;
  const budget = budgetOf(meta, outcomes);
  const now = Date.now();
  // One step per trial outcome, so MLflow charts the sweep's progress instead of N values at step 0.
  const step = outcomes.length;
  await client.logBatch(meta.parentRunId, {
    metrics: [
      ...(best?.metric !== undefined ? [{ key: `best_${meta.metric}`, value: best.metric, timestamp: now, step }] : []),
      { key: 'trials_finished', value: counts(['FINISHED', 'SKIPPED']), timestamp: now, step },
      { key: 'trials_failed', value: counts(['FAILED']), timestamp: now, step },
      ...(budget
        ? [
            { key: 'epochs_spent', value: budget.spent, timestamp: now, step },
            { key: 'epochs_full_budget', value: budget.full, timestamp: now, step },
          ]
        : []),
    ],
    tags: best
      ? [
          { key: 'fitspec.best_trial', value: best.trial },
          ...(best.mlflowRunId ? [{ key: 'fitspec.best_run_id', value: best.mlflowRunId }] : []),
          { key: 'fitspec.best_params', value: JSON.stringify(best.params).slice(0, 8000) },
        ]
      : [],
  });
  await client.uploadArtifact(run.info, 'results.csv', new TextEncoder().encode(csv)).catch(() => undefined);
  if (status !== 'RUNNING') await client.updateRun(meta.parentRunId, status, now);
}

/** Epochs spent by the sweep so far, and what a full grid of its trials at their last rung would take. */
export function budgetOf(meta: SweepMeta, outcomes: TrialOutcome[]): { spent: number; full: number } | undefined {
  if (!meta.scheduler) return undefined;
  const trials = meta.count && (meta.method === 'tpe' || meta.method === 'cmaes') ? meta.count : meta.trials.length;
  return { spent: outcomes.reduce((n, o) => n + (o.epochs ?? 0), 0), full: trials * meta.scheduler.maxEpochs };
}

export function formatBudget(b: { spent: number; full: number } | undefined): string {
  return b ? `epochs spent ${b.spent} of ${b.full} for every trial at maxEpochs (${((100 * b.spent) / Math.max(1, b.full)).toFixed(0)}%)` : '';
}
