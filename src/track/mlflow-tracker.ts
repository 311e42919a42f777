import { LocalTracker } from './local.js';
import type { MlflowClient } from './mlflow/client.js';
import { isMlflowError } from './mlflow/http.js';
import { isFitspecError } from '../errors.js';
import { RunUploader } from './upload.js';
import { readMetrics } from './runs.js';
import type { MetricPoint, RunStart, RunStatus, Tracker } from './types.js';

export interface MlflowTrackerOptions {
  /** Metrics are sent at least this often (ms). */
  flushIntervalMs?: number;
  /** ...or as soon as this many points are waiting. */
  flushPoints?: number;
  log?: (msg: string) => void;
}

/**
 * Writes the local run folder and mirrors it to MLflow in the background. Network calls never run
 * on the caller's path except in start() and end(); any MLflow failure switches the run to offline:
 * the local folder stays complete and `fitspec sync` uploads the rest later.
 */
export class MlflowTracker implements Tracker {
  readonly kind = 'local+mlflow';
  private readonly local = new LocalTracker();
  private uploader?: RunUploader;
  private offline?: string;
  /** Set when the server cannot take artifacts (no artifact serving, a local or cloud store): the rest still goes up. */
  private artifactProblem?: string;
  private chain: Promise<void> = Promise.resolve();
  private pending: MetricPoint[] = [];
  private pendingTags: Record<string, string> = {};
  private timer?: NodeJS.Timeout;
  private readonly warned: string[] = [];

  constructor(private readonly client: MlflowClient, private readonly opts: MlflowTrackerOptions = {}) {}

  /** MLflow run id, once the run exists on the server. */
  get mlflowRunId(): string | undefined {
    return this.local.record.mlflow?.runId;
  }

  async start(run: RunStart): Promise<void> {
    await this.local.start(run);
    this.uploader = new RunUploader(this.client, this.local);
    void this.uploader.link;
    this.local.save();
    await this.guard(async () => {
      await this.uploader!.uploadMeta();
      if (!this.uploader!.created) await this.client.updateRun(this.uploader!.info!.runId, 'RUNNING');
      // A resumed run may have points that never reached the server; they go first so that the
      // upload cursor keeps matching the lines of metrics.jsonl.
      const backlog = readMetrics(this.local.dir).slice(this.uploader!.link.metricsUploaded ?? 0);
      if (backlog.length) await this.uploader!.uploadMetrics(backlog);
    });
    if (this.local.record.artifacts.length) this.enqueue(() => this.uploadArtifacts());
    this.timer = setInterval(() => this.flush(), this.opts.flushIntervalMs ?? 2000);
    this.timer.unref();
  }

  logMetrics(step: number, metrics: Record<string, number>, timestamp = Date.now()): void {
    this.local.logMetrics(step, metrics, timestamp);
    if (this.offline) return;
    for (const [key, value] of Object.entries(metrics)) this.pending.push({ key, value, step, timestamp });
    if (this.pending.length >= (this.opts.flushPoints ?? 500)) this.flush();
  }

  setTags(tags: Record<string, string>): void {
    this.local.setTags(tags);
    if (!this.offline) Object.assign(this.pendingTags, tags);
  }

  logArtifact(relPath: string): void {
    this.local.logArtifact(relPath);
    const rel = this.local.record.artifacts.find((a) => a === relPath.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, ''));
    if (rel === undefined || this.offline || this.artifactProblem) return;
    // Metrics logged before the artifact go first.
    this.flush();
    this.enqueue(() => this.uploadArtifacts([rel]));
  }

  /** Sends waiting metrics and tags now (in the background). */
  flush(): void {
    if (this.offline || (!this.pending.length && !Object.keys(this.pendingTags).length)) return;
    this.enqueue(async () => {
      const points = this.pending;
      const tags = this.pendingTags;
      this.pending = [];
      this.pendingTags = {};
      if (points.length) await this.uploader!.uploadMetrics(points);
      if (Object.keys(tags).length) await this.uploader!.uploadTags(tags);
    });
  }

  /** Sends everything waiting and resolves once the server has it (or the run went offline). */
  async drain(): Promise<void> {
    this.flush();
    await this.chain;
  }

  async end(status: RunStatus, error?: string): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    // The local run is final before anything waits on the network.
    await this.local.end(status, error);
    this.flush();
    this.enqueue(async () => {
      const r = this.local.record;
      if (r.tags['fitspec.error'] !== undefined) await this.uploader!.uploadTags({ 'fitspec.error': r.tags['fitspec.error'] });
      await this.uploadArtifacts();
      await this.uploader!.finish();
      if (this.artifactProblem) {
        this.uploader!.link.synced = false;
        this.local.save();
      }
    });
    await this.chain;
  }

  private async uploadArtifacts(paths?: string[]): Promise<void> {
    if (this.artifactProblem) return;
    try {
      await this.uploader!.uploadArtifacts(paths);
    } catch (e) {
      if (!isFitspecError(e) || (isMlflowError(e) && (e.transient || e.status === 401))) throw e;
      const p = e.problems[0];
      this.artifactProblem = [p?.message, p?.hint].filter(Boolean).join('; ');
      this.warn(`MLflow did not accept the artifacts (${this.artifactProblem}): params, metrics and status are uploaded, the files stay in ${this.local.dir}; after fixing it, upload them with \`fitspec sync ${this.local.dir}\``);
    }
  }

  private warn(msg: string): void {
    this.warned.push(msg);
    this.opts.log?.(msg);
  }

  warnings(): string[] {
    return [...this.warned];
  }

  private enqueue(fn: () => Promise<unknown>): void {
    this.chain = this.chain.then(() => (this.offline ? undefined : this.guard(fn)));
  }

  private async guard(fn: () => Promise<unknown>): Promise<void> {
    if (this.offline) return;
    try {
      await fn();
    } catch (e) {
      this.goOffline(e);
    }
  }

  private goOffline(e: unknown): void {
    const dir = this.local.dir;
    // Even a bug in the upload path must not stop training: the local run is complete either way.
    const p = isFitspecError(e) ? e.problems[0] : { code: 'internal', message: `internal error: ${(e as Error)?.stack ?? String(e)}`, received: undefined, hint: undefined };
    const detail = [p?.message, p?.received && !p.message.includes(p.received) ? p.received : undefined].filter(Boolean).join(': ');
    this.offline = detail;
    this.pending = [];
    this.pendingTags = {};
    const link = this.local.record.mlflow;
    if (link) {
      link.lastError = detail;
      this.local.save();
    }
    const msg =
      isMlflowError(e) && e.transient
        ? `MLflow unreachable: run kept locally, upload later with \`fitspec sync ${dir}\` (${detail})`
        : `MLflow did not accept the run (${detail}${p?.hint ? `; ${p.hint}` : ''}): run kept locally in ${dir}; after fixing it, upload with \`fitspec sync ${dir}\``;
    this.warn(msg);
  }
}
