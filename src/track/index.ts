import { LocalTracker } from './local.js';
import type { CreateTrackerOptions, Tracker } from './types.js';

export type * from './types.js';
export { LocalTracker } from './local.js';

/** Local store always; MLflow too when tracking.uri or MLFLOW_TRACKING_URI is set. */
export function createTracker(opts: CreateTrackerOptions): Tracker {
  return new LocalTracker();
}
