import { LocalTracker } from './local.js';
import type { MlflowClient } from './mlflow/client.js';
import { MlflowError, isMlflowError } from './mlflow/http.js';
import { isFitspecError } from '../errors.js';
import { RunUploader } from './upload.js';
import { readMetrics } from './runs.js';
import type { MetricPoint, MlflowLink, RunStart, RunStatus, Tracker } from './types.js';

export interface MlflowTrackerOptions {
  /** Metrics are sent at least this often (ms). */
  flushIntervalMs?: number;
  /** ...or as soon as this many points are waiting. */
  flushPoints?: number;
  /**
   * The longest training waits on the server (ms), at start and at exit, without an answer; in all it
   * waits at most WAIT_ROUNDS times this. Then the run goes offline. Default DEFAULT_WAIT_MS.
   */
  waitMs?: number;
  log?: (msg: string) => void;
}

export const DEFAULT_WAIT_MS = 5000;

/** `<tracking uri>/#/experiments/<id>/runs/<run id>`: the run's page in the MLflow UI (the uri holds no credentials). */
export function mlflowRunUrl(link: Pick<MlflowLink, 'uri' | 'experimentId' | 'runId'> | undefined): string | undefined {
  if (!link?.runId || !link.experimentId || !/^https?:\/\//.test(link.uri)) return undefined;
  return `${link.uri.replace(/\/+$/, '')}/#/experiments/${link.experimentId}/runs/${link.runId}`;
}
/** A slow server that keeps answering may take this many waits in all (a few requests at start, the last uploads at exit). */
const WAIT_ROUNDS = 4;

/**
 * Writes the local run folder and mirrors it to MLflow in the background. Network calls never run
 * on the caller's path except in start() and end(), and those wait a bounded time (waitMs); any MLflow
 * failure or a server that does not answer in time switches the run to offline: requests in flight
 * are abandoned, the local folder stays complete and `fitspec sync` uploads the rest later.
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

  constructor(
    private readonly client: MlflowClient,
    private readonly opts: MlflowTrackerOptions = {},
  ) {}

  runUrl(): string | undefined {
    return mlflowRunUrl(this.local.record.mlflow);
  }

  /** MLflow run id, once the run exists on the server. */
  get mlflowRunId(): string | undefined {
    return this.local.record.mlflow?.runId;
  }

  async start(run: RunStart): Promise<void> {
    await this.local.start(run);
    this.uploader = new RunUploader(this.client, this.local);
    void this.uploader.link;
    this.local.save();
    await this.bounded(
      this.guard(async () => {
        await this.uploader!.uploadMeta();
        if (!this.uploader!.created) await this.client.updateRun(this.uploader!.info!.runId, 'RUNNING');
        // A resumed run may have points that never reached the server; they go first so that the
        // upload cursor keeps matching the lines of metrics.jsonl.
        const backlog = readMetrics(this.local.dir).slice(this.uploader!.link.metricsUploaded ?? 0);
        if (backlog.length) await this.uploader!.uploadMetrics(backlog);
      }),
      'when the run started',
    );
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
    await this.bounded(this.chain, 'for the last uploads');
  }

  /**
   * Waits for `work` while the server keeps answering: at most waitMs without an answer and
   * WAIT_ROUNDS * waitMs in all; then the run goes offline and the requests in flight are abandoned.
   */
  private async bounded(work: Promise<void>, when: string): Promise<void> {
    const waitMs = this.opts.waitMs ?? DEFAULT_WAIT_MS;
    const http = this.client.http;
    let done = false;
    void work.finally(() => (done = true));
    const t0 = Date.now();
    let answered = http.answered;
    let quietSince = t0;
    while (!done) {
      await Promise.race([work, new Promise((r) => setTimeout(r, Math.min(100, waitMs)))]);
      if (done) return;
      const now = Date.now();
      if (http.answered !== answered) [answered, quietSince] = [http.answered, now];
      if (now - quietSince >= waitMs || now - t0 >= WAIT_ROUNDS * waitMs) {
        const slow = now - quietSince < waitMs;
        // Refused connections (retried meanwhile) are a server that is down, not one that does not answer.
        if (http.lastFailure && REFUSED.test(http.lastFailure)) {
          const err = new MlflowError(
            {
              code: 'mlflow.unreachable',
              message: `MLflow server ${http.uri} is unreachable (${http.lastFailure})`,
              hint: 'check the tracking URI and that the server runs',
              received: http.lastFailure,
            },
            { transient: true },
          );
          this.goOffline(err);
          http.abortAll(err);
          await work;
          return;
        }
        const err = new MlflowError(
          {
            code: 'mlflow.timeout',
            message: `MLflow server ${http.uri} ${slow ? `was too slow ${when} (${Math.round((now - t0) / 1000)} s)` : `did not answer within ${Math.round(waitMs / 1000)} s ${when}`}`,
            hint: 'FITSPEC_TRACKING_WAIT sets how many seconds training waits for it',
            received: http.lastFailure && `last attempt: ${http.lastFailure}`,
          },
          { transient: true },
        );
        this.goOffline(err);
        http.abortAll(err);
        // Abandoned requests settle at once; their uploads count as not done, so sync repeats them.
        await work;
        return;
      }
    }
  }

  private async uploadArtifacts(paths?: string[]): Promise<void> {
    if (this.artifactProblem) return;
    try {
      await this.uploader!.uploadArtifacts(paths);
    } catch (e) {
      if (!isFitspecError(e) || (isMlflowError(e) && (e.transient || e.status === 401))) throw e;
      const p = e.problems[0];
      this.artifactProblem = [p?.message, p?.hint].filter(Boolean).join('; ');
      this.warn(
        `MLflow did not accept the artifacts (${this.artifactProblem}): params, metrics and status are uploaded, the files stay in ${this.local.dir}; after fixing it, upload them with \`fitspec sync ${this.local.dir}\``,
      );
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
    if (this.offline) return;
    const dir = this.local.dir;
    // Even a bug in the upload path must not stop training: the local run is complete either way.
    const p = isFitspecError(e)
      ? e.problems[0]
      : { code: 'internal', message: `internal error while uploading: ${oneLine(String((e as Error)?.message ?? e))}`, received: undefined, hint: undefined };
    const detail = [p?.message, p?.received && !p.message.includes(p.received) ? p.received : undefined].filter(Boolean).join(': ');
    this.offline = detail;
    this.pending = [];
    this.pendingTags = {};
    const link = this.local.record.mlflow;
    if (link) {
      link.lastError = detail;
      this.local.save();
    }
    const label = offlineLabel(e);
    const msg = label
      ? `${label}: run kept locally, upload later with \`fitspec sync ${dir}\` (${detail})`
      : isMlflowError(e) && e.code === 'mlflow.not-mlflow'
        ? `Not an MLflow server: run kept locally; after fixing the tracking URI, upload with \`fitspec sync ${dir}\` (${detail})`
        : `MLflow did not accept the run (${detail}${p?.hint ? `; ${p.hint}` : ''}): run kept locally in ${dir}; after fixing it, upload with \`fitspec sync ${dir}\``;
    this.warn(msg);
  }
}

const oneLine = (s: string) => s.split('\n')[0].slice(0, 300);

/** Connection failures that mean nothing listens there (as opposed to a server that does not answer). */
const REFUSED = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ECONNRESET/;

/** How a server fault that sync can repair later is named in the warning; undefined for refusals. */
function offlineLabel(e: unknown): string | undefined {
  if (!isMlflowError(e)) return undefined;
  if (e.code === 'mlflow.unreachable') return 'MLflow unreachable';
  if (e.code === 'mlflow.timeout') return 'MLflow not answering';
  if (e.code === 'mlflow.server-error') return `MLflow server error${e.status ? ` (HTTP ${e.status})` : ''}`;
  return undefined;
}
