import { LocalTracker } from './local.js';
import { mlflowClient, trackingUri } from './connect.js';
import { DEFAULT_WAIT_MS, MlflowTracker } from './mlflow-tracker.js';
import { envNumber } from './mlflow/http.js';
import type { CreateTrackerOptions, Tracker } from './types.js';

export type * from './types.js';
export { LocalTracker, prepareParams, shortHash, MAX_PARAM_LENGTH } from './local.js';
export { MlflowTracker, mlflowRunUrl } from './mlflow-tracker.js';
export { MlflowClient } from './mlflow/client.js';
export { MlflowError, isMlflowError, redactUri, httpSettings } from './mlflow/http.js';
export { trackingUri, mlflowClient } from './connect.js';
export { readRun, listRuns, readMetrics, cutTornTail, dropMetricsAfter, type RunFolder } from './runs.js';
export { lockRun, LOCK_FILE, type RunLock, type LockOwner } from './lock.js';
export { syncRun, runsToSync, type SyncResult } from './sync.js';
export { gitInfo, standardTags, kerasAutologParams, readableParams, type GitInfo, type StandardTagInput } from './tags.js';

/**
 * Local store always; MLflow too when tracking.uri or MLFLOW_TRACKING_URI is set.
 * FITSPEC_TRACKING_WAIT (seconds) bounds how long training waits on the server (see MlflowTracker).
 */
export function createTracker(opts: CreateTrackerOptions): Tracker {
  const env = opts.env ?? process.env;
  const uri = trackingUri(opts.tracking, env);
  if (!uri) return new LocalTracker();
  return new MlflowTracker(mlflowClient(uri, env), { log: opts.log, waitMs: envNumber(env, 'FITSPEC_TRACKING_WAIT', DEFAULT_WAIT_MS / 1000) * 1000 });
}
