import type { TrackingConfig } from '../config/schema/experiment.js';

export type { TrackingConfig };

/** MLflow's run statuses; SCHEDULED is a run paused to be continued (a sweep trial waiting at a rung). */
export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED' | 'SCHEDULED';

export type ParamValue = string | number | boolean;

export interface DatasetInput {
  name: string;
  /** Short content digest of the split (MLflow allows at most 36 characters). */
  digest: string;
  sourceType: string;
  source: string;
  profile: unknown;
  context: 'training';
}

export interface RunStart {
  /** tracking.experiment ?? experiment.name */
  experimentName: string;
  /** tracking.runName ?? `${name}-${runId}` */
  runName: string;
  /** runs/<name>/<runId>, already created by the caller. */
  runDir: string;
  /** Local id `YYYYMMDD-HHMMSS-xxxx`. */
  runId: string;
  /** Already flattened (config keys and Keras autolog names). */
  params: Record<string, ParamValue>;
  /** mlflow.* and fitspec.* tags (see standardTags). */
  tags: Record<string, string>;
  dataset?: DatasetInput;
  /** ms since epoch */
  startTime: number;
}

export interface Tracker {
  /** 'local' | 'mlflow' | 'local+mlflow' */
  readonly kind: string;
  start(run: RunStart): Promise<void>;
  /** Never blocks on the network: points are queued and sent in batches. */
  logMetrics(step: number, metrics: Record<string, number>, timestamp?: number): void;
  setTags(tags: Record<string, string>): void;
  /** A file or folder already inside runDir (path relative to runDir); uploaded in the background. */
  logArtifact(relPath: string): void;
  /** Flushes everything and records the final status and end time. */
  end(status: RunStatus, error?: string): Promise<void>;
  /** Things the user should know, e.g. that the run was kept locally and how to upload it later. */
  warnings(): string[];
  /** The run's page in the MLflow UI, once the run exists on a tracking server. */
  runUrl?(): string | undefined;
}

/** One line of metrics.jsonl. Non-finite values are stored as "NaN", "Infinity", "-Infinity". */
export interface MetricPoint {
  key: string;
  value: number;
  step: number;
  timestamp: number;
}

/** Where a local run lives in MLflow, once (partly) uploaded. */
export interface MlflowLink {
  /** Tracking URI without credentials. */
  uri: string;
  /** Set once the run exists on the server. */
  experimentId?: string;
  runId?: string;
  /** Everything (params, tags, dataset, every metric, every artifact, final status) is on the server. */
  synced: boolean;
  /** Lines of metrics.jsonl known to be on the server. */
  metricsUploaded?: number;
  /** Artifact files on the server: path relative to the run folder -> `<size>:<mtime ms>` when uploaded. */
  artifactsUploaded?: Record<string, string>;
  /** Last upload problem, if any. */
  lastError?: string;
}

/** Content of run.json. */
export interface RunRecord {
  format: 1;
  runId: string;
  experimentName: string;
  runName: string;
  status: RunStatus;
  startTime: number;
  endTime?: number;
  error?: string;
  /** Values as logged (long ones replaced by `sha256:<12 hex>`, full text in params/<key>.txt). */
  params: Record<string, string>;
  tags: Record<string, string>;
  dataset?: DatasetInput;
  /** Files and folders relative to the run folder, in the order they were logged. */
  artifacts: string[];
  mlflow?: MlflowLink;
}

export interface CreateTrackerOptions {
  // The settings the store itself reads; logModel and register act after training.
  tracking: Omit<TrackingConfig, 'logModel' | 'register'>;
  env?: NodeJS.ProcessEnv;
  log?: (msg: string) => void;
}
