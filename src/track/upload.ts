import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricPoint, MlflowLink, RunRecord } from './types.js';
import type { MlflowClient, RunInfo } from './mlflow/client.js';
import { MlflowError, isMlflowError } from './mlflow/http.js';
import { artifactFiles, fileFingerprint } from './runs.js';
import { writeJsonAtomic } from './local.js';

/** The tag that ties an MLflow run to its local run folder; sync looks runs up by it. */
export const RUN_ID_TAG = 'fitspec.run_id';
/** Why the run failed or was stopped; absent once it finished. */
export const ERROR_TAG = 'fitspec.error';

/** A run folder's state as the uploader sees it: the record (run.json) and how to persist it. */
export interface RunStore {
  readonly dir: string;
  readonly record: RunRecord;
  save(): void;
}

export function fileStore(dir: string, record: RunRecord): RunStore {
  return { dir, record, save: () => writeJsonAtomic(join(dir, 'run.json'), record) };
}

/** MLflow's source JSON for a dataset: a `{uri}` object unless the caller already gave JSON. */
function sourceJson(source: string): string {
  try {
    const v = JSON.parse(source);
    if (v && typeof v === 'object') return source;
  } catch {
    /* a plain path or URI */
  }
  return JSON.stringify({ uri: source });
}

/** Rewrites the server's "Changing param values is not allowed" into what the user can do about it. */
function explainParamError(e: unknown, dir: string): unknown {
  if (isMlflowError(e) && e.errorCode === 'INVALID_PARAMETER_VALUE' && /Changing param values is not allowed/i.test(e.problems[0]?.message ?? '')) {
    return new MlflowError(
      {
        code: 'mlflow.param-changed',
        message: `the MLflow run of ${dir} already has different values for some params, and MLflow params cannot change`,
        received: e.problems[0]?.received,
        hint: 'a resumed run must keep its config; train a new run instead (or delete the MLflow run, then `fitspec sync` again)',
      },
      { status: e.status, errorCode: e.errorCode, transient: false },
    );
  }
  return e;
}

/**
 * Uploads a run folder to MLflow, step by step, recording progress in run.json so that an interrupted
 * upload resumes where it stopped and a repeated one creates nothing twice: the MLflow run is found
 * again by its id in run.json or by the fitspec.run_id tag; params are write-once (same value is
 * accepted again), metrics are sent from the last confirmed line of metrics.jsonl (the server merges
 * exact duplicates of a partly written batch), artifacts whose size and mtime did not change are skipped.
 */
export class RunUploader {
  info?: RunInfo;
  created = false;

  constructor(
    readonly client: MlflowClient,
    readonly store: RunStore,
  ) {}

  get link(): MlflowLink {
    const r = this.store.record;
    r.mlflow ??= { uri: this.client.uri, synced: false, metricsUploaded: 0, artifactsUploaded: {} };
    r.mlflow.metricsUploaded ??= 0;
    r.mlflow.artifactsUploaded ??= {};
    return r.mlflow;
  }

  /** Finds the run on the server, or creates it. */
  async ensureRun(): Promise<RunInfo> {
    if (this.info) return this.info;
    const r = this.store.record;
    const link = this.link;
    const exp = await this.client.getOrCreateExperiment(r.experimentName);
    let info: RunInfo | undefined;
    // The recorded id only means something on the server it came from; elsewhere the tag decides.
    if (link.runId && link.uri === this.client.uri) {
      const run = await this.client.getRun(link.runId);
      if (run && run.info.lifecycleStage !== 'deleted') info = run.info;
    }
    info ??= (await this.client.findRunByTag(exp.experimentId, RUN_ID_TAG, r.runId))?.info;
    if (!info) {
      info = await this.client.createRun({
        experimentId: exp.experimentId,
        runName: r.runName,
        startTime: r.startTime,
        tags: [{ key: 'mlflow.runName', value: r.runName }],
        identity: { key: RUN_ID_TAG, value: r.runId },
      });
      this.created = true;
    }
    if (link.runId !== info.runId) {
      link.metricsUploaded = 0;
      link.artifactsUploaded = {};
      link.synced = false;
    }
    link.uri = this.client.uri;
    link.experimentId = info.experimentId;
    link.runId = info.runId;
    this.store.save();
    this.info = info;
    return info;
  }

  /** Params, tags and the dataset input. */
  async uploadMeta(): Promise<void> {
    const info = await this.ensureRun();
    const r = this.store.record;
    const params = Object.entries(r.params).map(([key, value]) => ({ key, value }));
    const tags = Object.entries({ ...r.tags, [RUN_ID_TAG]: r.runId, 'mlflow.runName': r.runName }).map(([key, value]) => ({ key, value }));
    try {
      await this.client.logBatch(info.runId, { params, tags });
    } catch (e) {
      throw explainParamError(e, this.store.dir);
    }
    if (r.dataset) {
      const d = r.dataset;
      await this.client.logInputs(info.runId, [
        {
          dataset: {
            name: d.name,
            digest: d.digest.slice(0, 36),
            sourceType: d.sourceType,
            source: sourceJson(d.source),
            profile: d.profile === undefined ? undefined : JSON.stringify(d.profile),
          },
          tags: { 'mlflow.data.context': d.context },
        },
      ]);
    }
  }

  async uploadTags(tags: Record<string, string>): Promise<void> {
    const info = await this.ensureRun();
    const list = Object.entries(tags).map(([key, value]) => ({ key, value }));
    if (list.length) await this.client.logBatch(info.runId, { tags: list });
  }

  /**
   * Sends `points`, which must be the lines of metrics.jsonl from `link.metricsUploaded` on,
   * advancing that cursor after each accepted request.
   */
  async uploadMetrics(points: MetricPoint[]): Promise<number> {
    const info = await this.ensureRun();
    const chunk = 1000;
    for (let i = 0; i < points.length; i += chunk) {
      const part = points.slice(i, i + chunk);
      await this.client.logBatch(info.runId, { metrics: part });
      this.link.metricsUploaded = (this.link.metricsUploaded ?? 0) + part.length;
      this.store.save();
    }
    return points.length;
  }

  /** Uploads the files of the given artifact paths (all logged artifacts by default) that changed since their last upload. */
  async uploadArtifacts(paths: string[] = this.store.record.artifacts): Promise<number> {
    const info = await this.ensureRun();
    let n = 0;
    for (const p of paths) {
      for (const f of artifactFiles(this.store.dir, p)) {
        const fp = fileFingerprint(this.store.dir, f);
        const done = this.link.artifactsUploaded!;
        if (done[f] === fp) continue;
        await this.client.uploadArtifact(info, f, readFileSync(join(this.store.dir, f)));
        done[f] = fp;
        this.store.save();
        n++;
      }
    }
    return n;
  }

  /** Final status and end time; the run counts as synced once it is no longer RUNNING. */
  async finish(): Promise<void> {
    const info = await this.ensureRun();
    const r = this.store.record;
    if (r.status !== 'RUNNING') await this.client.updateRun(info.runId, r.status, r.endTime);
    // A run resumed after a failure or an interruption keeps no error from the earlier attempt.
    if (!this.created && r.status !== 'RUNNING' && r.tags[ERROR_TAG] === undefined) {
      await this.client.deleteTag(info.runId, ERROR_TAG).catch((e) => {
        if (!(isMlflowError(e) && e.errorCode === 'RESOURCE_DOES_NOT_EXIST')) throw e;
      });
    }
    this.link.synced = r.status !== 'RUNNING';
    delete this.link.lastError;
    this.store.save();
  }
}
