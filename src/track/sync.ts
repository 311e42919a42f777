import { FitspecError, isFitspecError, type Problem } from '../errors.js';
import { mlflowClient } from './connect.js';
import { writeJsonAtomic } from './local.js';
import { lockHolder, lockRun } from './lock.js';
import { cutTornTail, listRuns, readMetrics, readRun, type RunFolder } from './runs.js';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { RunUploader, fileStore } from './upload.js';
import { isMlflowError } from './mlflow/http.js';

export interface SyncResult {
  dir: string;
  uri: string;
  experimentId: string;
  mlflowRunId: string;
  /** A new MLflow run was created (false: an existing one was completed). */
  created: boolean;
  /** Metric points and artifact files sent by this call. */
  metrics: number;
  artifacts: number;
  status: string;
}

export interface SyncOptions {
  /** Tracking URI; default MLFLOW_TRACKING_URI, then the one recorded in run.json. */
  uri?: string;
  env?: NodeJS.ProcessEnv;
  onRetry?: (msg: string) => void;
}

/** Uploads one run folder to MLflow, or completes an earlier partial upload; safe to repeat. */
export async function syncRun(dir: string, opts: SyncOptions = {}): Promise<SyncResult> {
  readRun(dir);
  // A run being trained (or synced by another process) is written by that process only.
  const lock = lockRun(dir, 'fitspec sync');
  try {
    return await syncLocked(dir, opts);
  } finally {
    lock.release();
  }
}

async function syncLocked(dir: string, opts: SyncOptions): Promise<SyncResult> {
  const env = opts.env ?? process.env;
  const { record } = readRun(dir);
  // Holding the lock, no process trains this run: RUNNING means its process died without recording how (SIGKILL, power cut).
  if (record.status === 'RUNNING') {
    record.status = 'KILLED';
    record.endTime ??= lastActivity(dir, record.startTime);
    record.error = 'the process training it ended without recording how (SIGKILL, out of memory or a power cut)';
    record.tags['fitspec.error'] = record.error;
    writeJsonAtomic(join(dir, 'run.json'), record);
  }
  cutTornTail(dir);
  const uri = opts.uri || env.MLFLOW_TRACKING_URI || record.mlflow?.uri;
  if (!uri) {
    throw new FitspecError({
      code: 'sync.no-uri',
      message: `no MLflow server to upload ${dir} to`,
      expected: 'MLFLOW_TRACKING_URI or --uri',
      hint: 'e.g. MLFLOW_TRACKING_URI=http://127.0.0.1:5000 fitspec sync',
      file: dir,
    });
  }
  const client = mlflowClient(uri, env, opts.onRetry);
  const store = fileStore(dir, record);
  const up = new RunUploader(client, store);
  try {
    const info = await up.ensureRun();
    await up.uploadMeta();
    const all = readMetrics(dir);
    const from = Math.min(up.link.metricsUploaded ?? 0, all.length);
    const metrics = await up.uploadMetrics(all.slice(from));
    // The final status goes up even when the artifact store refuses files.
    let artifacts = 0;
    let artifactError: unknown;
    try {
      artifacts = await up.uploadArtifacts();
    } catch (e) {
      if (!isFitspecError(e) || (isMlflowError(e) && (e.transient || e.status === 401))) throw e;
      artifactError = e;
    }
    await up.finish();
    if (artifactError) {
      up.link.synced = false;
      store.save();
      throw artifactError;
    }
    return { dir, uri: client.uri, experimentId: info.experimentId, mlflowRunId: info.runId, created: up.created, metrics, artifacts, status: record.status };
  } catch (e) {
    if (isFitspecError(e) && record.mlflow) {
      record.mlflow.lastError = e.problems[0]?.message;
      store.save();
    }
    throw e;
  }
}

/**
 * Runs under runsDir not yet fully uploaded: those that ended, and RUNNING ones whose process is gone
 * (no live lock: they are uploaded as KILLED); a RUNNING run that holds its lock is still training.
 */
export function runsToSync(runsDir: string): { pending: RunFolder[]; running: RunFolder[] } {
  const all = listRuns(runsDir).filter((r) => !r.record.mlflow?.synced);
  const live = (r: RunFolder) => r.record.status === 'RUNNING' && lockHolder(r.dir) !== undefined;
  return { pending: all.filter((r) => !live(r)), running: all.filter(live) };
}

/** When a run that died without ending last wrote: its metrics or its run.json. */
function lastActivity(dir: string, fallback: number): number {
  let t = fallback;
  for (const f of ['metrics.jsonl', 'run.json']) {
    try {
      t = Math.max(t, Math.round(statSync(join(dir, f)).mtimeMs));
    } catch {
      // not there
    }
  }
  return t;
}

/** Problems of a failed sync, each naming its run folder. */
export function syncProblems(dir: string, e: unknown): Problem[] {
  if (!isFitspecError(e)) throw e;
  return e.problems.map((p) => ({ ...p, file: p.file ?? dir }));
}
