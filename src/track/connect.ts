import { MlflowClient } from './mlflow/client.js';
import { httpSettings } from './mlflow/http.js';
import type { TrackingConfig } from './types.js';

/** MLFLOW_TRACKING_URI when set, else tracking.uri. */
export function trackingUri(tracking: Pick<TrackingConfig, 'uri'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.MLFLOW_TRACKING_URI || tracking.uri || undefined;
}

/** A client for `uri` with credentials and retry settings from the MLflow environment variables. */
export function mlflowClient(uri: string, env: NodeJS.ProcessEnv = process.env, onRetry?: (msg: string) => void): MlflowClient {
  return new MlflowClient(httpSettings(uri, env), onRetry);
}
