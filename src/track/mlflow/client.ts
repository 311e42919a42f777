import { FitspecError } from '../../errors.js';
import { MlflowHttp, MlflowError, isMlflowError, type HttpSettings } from './http.js';
import { encodeNumber, decodeNumber } from '../values.js';

const API = '/api/2.0/mlflow';

/** Per-request limits of runs/log-batch. */
export const LOG_BATCH_LIMITS = { metrics: 1000, params: 100, tags: 100, total: 1000 } as const;
/** Longer run tag values are truncated by the server; truncate explicitly instead. */
export const MAX_TAG_LENGTH = 8000;

export interface KeyValue {
  key: string;
  value: string;
}
export interface MetricValue {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}
export interface Experiment {
  experimentId: string;
  name: string;
  artifactLocation?: string;
  lifecycleStage: string;
}
export interface RunInfo {
  runId: string;
  experimentId: string;
  runName?: string;
  status: string;
  startTime?: number;
  endTime?: number;
  artifactUri: string;
  lifecycleStage: string;
}
export interface DatasetSpec {
  name: string;
  digest: string;
  sourceType: string;
  /** JSON text */
  source: string;
  /** JSON text */
  schema?: string;
  /** JSON text */
  profile?: string;
}
export interface Run {
  info: RunInfo;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Latest value of each metric. */
  metrics: Record<string, MetricValue>;
  datasets: { dataset: DatasetSpec; tags: Record<string, string> }[];
}

// biome-ignore lint/suspicious/noExplicitAny: MLflow's JSON as received, narrowed field by field where read
type Wire = Record<string, any>;

export interface ModelVersion {
  name: string;
  version: string;
  source: string;
  runId?: string;
  status?: string;
  tags: Record<string, string>;
  aliases: string[];
}

function toVersion(v: Wire): ModelVersion {
  return {
    name: v.name,
    version: String(v.version),
    source: v.source,
    runId: v.run_id || undefined,
    status: v.status,
    tags: Object.fromEntries((v.tags ?? []).map((t: Wire) => [t.key, t.value])),
    aliases: v.aliases ?? [],
  };
}

function toInfo(i: Wire): RunInfo {
  return {
    runId: i.run_id ?? i.run_uuid,
    experimentId: String(i.experiment_id),
    runName: i.run_name,
    status: i.status,
    startTime: i.start_time !== undefined ? Number(i.start_time) : undefined,
    endTime: i.end_time !== undefined ? Number(i.end_time) : undefined,
    artifactUri: i.artifact_uri,
    lifecycleStage: i.lifecycle_stage,
  };
}

const kvRecord = (list: { key: string; value: string }[] | undefined) => Object.fromEntries((list ?? []).map((t) => [t.key, t.value]));

function toRun(r: Wire): Run {
  return {
    info: toInfo(r.info),
    params: kvRecord(r.data?.params),
    tags: kvRecord(r.data?.tags),
    metrics: Object.fromEntries(
      (r.data?.metrics ?? []).map((m: Wire) => [m.key, { key: m.key, value: decodeNumber(m.value), timestamp: Number(m.timestamp), step: Number(m.step ?? 0) }]),
    ),
    datasets: (r.inputs?.dataset_inputs ?? []).map((d: Wire) => ({
      dataset: {
        name: d.dataset.name,
        digest: d.dataset.digest,
        sourceType: d.dataset.source_type,
        source: d.dataset.source,
        schema: d.dataset.schema,
        profile: d.dataset.profile,
      },
      tags: kvRecord(d.tags),
    })),
  };
}

/** Splits one logical log-batch into requests within the server's limits (params and tags first). */
export function chunkBatch(b: { metrics?: MetricValue[]; params?: KeyValue[]; tags?: KeyValue[] }): { metrics: MetricValue[]; params: KeyValue[]; tags: KeyValue[] }[] {
  const metrics = [...(b.metrics ?? [])];
  const params = [...(b.params ?? [])];
  const tags = [...(b.tags ?? [])];
  const out: { metrics: MetricValue[]; params: KeyValue[]; tags: KeyValue[] }[] = [];
  while (metrics.length || params.length || tags.length) {
    const p = params.splice(0, LOG_BATCH_LIMITS.params);
    const t = tags.splice(0, LOG_BATCH_LIMITS.tags);
    const m = metrics.splice(0, Math.min(LOG_BATCH_LIMITS.metrics, LOG_BATCH_LIMITS.total - p.length - t.length));
    out.push({ metrics: m, params: p, tags: t });
  }
  return out;
}

/** Where to PUT an artifact file, given the run's artifact URI. */
export function artifactUrl(trackingUri: string, artifactUri: string, relPath: string): string {
  const rel = relPath.split('/').filter(Boolean).map(encodeURIComponent).join('/');
  const m = /^mlflow-artifacts:(\/\/[^/]+)?(\/.*)?$/.exec(artifactUri);
  if (m) {
    const base = m[1] ? `${new URL(trackingUri).protocol}${m[1]}` : trackingUri;
    const path = (m[2] ?? '').replace(/\/+$/, '');
    return `${base}/api/2.0/mlflow-artifacts/artifacts${path}/${rel}`;
  }
  if (/^https?:\/\//.test(artifactUri)) return `${artifactUri.replace(/\/+$/, '')}/${rel}`;
  throw new FitspecError({
    code: 'mlflow.artifact-store',
    message: `the MLflow server keeps this run's artifacts at ${artifactUri}, which a REST client cannot write to`,
    expected: 'an artifact URI served by the tracking server (mlflow-artifacts:/...)',
    received: artifactUri,
    hint: 'start the server with artifact serving (the default of `mlflow server`, with --artifacts-destination) and create a new experiment, or use `npm run mlflow`',
  });
}

/** Typed client for the MLflow tracking REST API, on fetch. */
export class MlflowClient {
  readonly http: MlflowHttp;
  constructor(settings: HttpSettings, onRetry?: (msg: string) => void) {
    this.http = new MlflowHttp(settings, onRetry);
  }

  get uri(): string {
    return this.http.uri;
  }

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    try {
      const r = await this.http.request<Wire>('GET', `${API}/experiments/get-by-name`, { query: { experiment_name: name }, expect: ['experiment', 'experiment_id'] });
      const e = r.experiment;
      return { experimentId: String(e.experiment_id), name: e.name, artifactLocation: e.artifact_location, lifecycleStage: e.lifecycle_stage };
    } catch (e) {
      if (isMlflowError(e) && e.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw e;
    }
  }

  async createExperiment(name: string, tags: Record<string, string> = {}): Promise<string> {
    const r = await this.http.request<Wire>('POST', `${API}/experiments/create`, {
      json: { name, tags: Object.entries(tags).map(([key, value]) => ({ key, value })) },
      expect: ['experiment_id'],
    });
    return String(r.experiment_id);
  }

  async restoreExperiment(experimentId: string): Promise<void> {
    await this.http.request('POST', `${API}/experiments/restore`, { json: { experiment_id: experimentId } });
  }

  /** Race-safe: another client may create the same experiment between our get and create. */
  async getOrCreateExperiment(name: string, opts: { restoreDeleted?: boolean } = {}): Promise<Experiment> {
    for (let i = 0; i < 3; i++) {
      const found = await this.getExperimentByName(name);
      if (found) {
        if (found.lifecycleStage === 'deleted') {
          if (!opts.restoreDeleted) {
            throw new MlflowError(
              {
                code: 'mlflow.experiment-deleted',
                message: `MLflow experiment ${JSON.stringify(name)} was deleted; runs cannot be added to it`,
                hint: 'restore it in the MLflow UI (or `mlflow experiments restore`), permanently delete it with `mlflow gc`, or set tracking.experiment to another name',
              },
              { transient: false },
            );
          }
          await this.restoreExperiment(found.experimentId);
          return { ...found, lifecycleStage: 'active' };
        }
        return found;
      }
      try {
        const id = await this.createExperiment(name);
        return { experimentId: id, name, lifecycleStage: 'active' };
      } catch (e) {
        if (!(isMlflowError(e) && e.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw e;
      }
    }
    throw new MlflowError({ code: 'mlflow.experiment', message: `could not get or create MLflow experiment ${JSON.stringify(name)}` }, { transient: true });
  }

  /**
   * runs/create is not idempotent: after a failed attempt the run may exist anyway. With `identity`
   * (a tag unique to this run), a retry first looks the run up by that tag.
   */
  async createRun(o: { experimentId: string; runName: string; startTime: number; tags?: KeyValue[]; identity?: KeyValue }): Promise<RunInfo> {
    const tags = [...(o.tags ?? [])];
    if (o.identity && !tags.some((t) => t.key === o.identity!.key)) tags.push(o.identity);
    const body = { experiment_id: o.experimentId, run_name: o.runName, start_time: o.startTime, tags: tags.map((t) => ({ key: t.key, value: t.value.slice(0, MAX_TAG_LENGTH) })) };
    const tries = o.identity ? this.http.settings.maxRetries + 1 : 1;
    for (let i = 0; ; i++) {
      try {
        const r = await this.http.request<Wire>('POST', `${API}/runs/create`, { json: body, retry: false, expect: ['run', 'info', 'run_id'] });
        return toInfo(r.run.info);
      } catch (e) {
        if (!(isMlflowError(e) && e.transient) || i + 1 >= tries) throw e;
        await new Promise((r) => setTimeout(r, Math.min(this.http.settings.backoffMax, this.http.settings.backoffFactor * 2 ** i) * 1000));
        const existing = await this.findRunByTag(o.experimentId, o.identity!.key, o.identity!.value).catch(() => undefined);
        if (existing) return existing.info;
      }
    }
  }

  async updateRun(runId: string, status: string, endTime?: number): Promise<void> {
    await this.http.request('POST', `${API}/runs/update`, { json: { run_id: runId, status, ...(endTime !== undefined ? { end_time: endTime } : {}) } });
  }

  async getRun(runId: string): Promise<Run | undefined> {
    try {
      const r = await this.http.request<Wire>('GET', `${API}/runs/get`, { query: { run_id: runId }, expect: ['run', 'info', 'run_id'] });
      return toRun(r.run);
    } catch (e) {
      if (isMlflowError(e) && e.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw e;
    }
  }

  async searchRuns(o: { experimentIds: string[]; filter?: string; orderBy?: string[]; maxResults?: number; pageToken?: string }): Promise<{ runs: Run[]; nextPageToken?: string }> {
    const r = await this.http.request<Wire>('POST', `${API}/runs/search`, {
      json: {
        experiment_ids: o.experimentIds,
        filter: o.filter ?? '',
        order_by: o.orderBy ?? [],
        max_results: o.maxResults ?? 1000,
        ...(o.pageToken ? { page_token: o.pageToken } : {}),
      },
    });
    return { runs: (r.runs ?? []).map(toRun), nextPageToken: r.next_page_token || undefined };
  }

  /** The active run carrying tag key=value, if any. */
  async findRunByTag(experimentId: string, key: string, value: string): Promise<Run | undefined> {
    const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    const { runs } = await this.searchRuns({ experimentIds: [experimentId], filter: `tags.\`${key}\` = ${q(value)}`, orderBy: ['attributes.start_time ASC'], maxResults: 10 });
    return runs[0];
  }

  /** Sends any number of metrics, params and tags, split to the server's per-request limits. */
  async logBatch(runId: string, b: { metrics?: MetricValue[]; params?: KeyValue[]; tags?: KeyValue[] }): Promise<void> {
    for (const c of chunkBatch(b)) {
      await this.http.request('POST', `${API}/runs/log-batch`, {
        json: {
          run_id: runId,
          metrics: c.metrics.map((m) => ({ key: m.key, value: encodeNumber(m.value), timestamp: Math.round(m.timestamp), step: Math.round(m.step) })),
          params: c.params,
          tags: c.tags.map((t) => ({ key: t.key, value: t.value.slice(0, MAX_TAG_LENGTH) })),
        },
      });
    }
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.http.request('POST', `${API}/runs/set-tag`, { json: { run_id: runId, key, value: value.slice(0, MAX_TAG_LENGTH) } });
  }

  async deleteTag(runId: string, key: string): Promise<void> {
    await this.http.request('POST', `${API}/runs/delete-tag`, { json: { run_id: runId, key } });
  }

  async logInputs(runId: string, datasets: { dataset: DatasetSpec; tags?: Record<string, string> }[]): Promise<void> {
    await this.http.request('POST', `${API}/runs/log-inputs`, {
      json: {
        run_id: runId,
        datasets: datasets.map((d) => ({
          tags: Object.entries(d.tags ?? {}).map(([key, value]) => ({ key, value })),
          dataset: {
            name: d.dataset.name,
            digest: d.dataset.digest,
            source_type: d.dataset.sourceType,
            source: d.dataset.source,
            ...(d.dataset.schema !== undefined ? { schema: d.dataset.schema } : {}),
            ...(d.dataset.profile !== undefined ? { profile: d.dataset.profile } : {}),
          },
        })),
      },
    });
  }

  /** Every recorded value of one metric, in server order. */
  async getMetricHistory(runId: string, key: string): Promise<MetricValue[]> {
    const out: MetricValue[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.http.request<Wire>('GET', `${API}/metrics/get-history`, { query: { run_id: runId, metric_key: key, max_results: 25000, page_token: pageToken } });
      for (const m of r.metrics ?? []) out.push({ key: m.key, value: decodeNumber(m.value), timestamp: Number(m.timestamp), step: Number(m.step ?? 0) });
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  /** Uploads one file's bytes as `relPath` under the run's artifact root (through the server's artifact proxy). */
  async uploadArtifact(run: Pick<RunInfo, 'artifactUri'>, relPath: string, bytes: Uint8Array): Promise<void> {
    const url = artifactUrl(this.uri, run.artifactUri, relPath);
    await this.http.request('PUT', '', { url, body: bytes });
  }

  async listArtifacts(runId: string, path?: string): Promise<{ path: string; isDir: boolean; fileSize?: number }[]> {
    const r = await this.http.request<Wire>('GET', `${API}/artifacts/list`, { query: { run_id: runId, path } });
    return (r.files ?? []).map((f: Wire) => ({ path: f.path, isDir: !!f.is_dir, fileSize: f.file_size !== undefined ? Number(f.file_size) : undefined }));
  }

  /** Downloads one artifact file (GET on the artifact proxy URL, or any URL the server gives); bytes as sent. */
  async downloadArtifact(run: Pick<RunInfo, 'artifactUri'>, relPath: string): Promise<Uint8Array> {
    const url = artifactUrl(this.uri, run.artifactUri, relPath);
    const headers: Record<string, string> = {};
    if (this.http.settings.authorization) headers.authorization = this.http.settings.authorization;
    const f = this.http.settings.fetch ?? fetch;
    for (let attempt = 0; ; attempt++) {
      let r: Response;
      try {
        r = await f(url, { headers, signal: AbortSignal.timeout(this.http.settings.timeoutMs * 4) });
      } catch (e) {
        if (attempt < 2) continue;
        throw new MlflowError(
          { code: 'mlflow.unreachable', message: `MLflow server ${this.uri} is unreachable while downloading ${relPath}: ${(e as Error).message}` },
          { transient: true },
        );
      }
      if (r.ok) return new Uint8Array(await r.arrayBuffer());
      const text = await r.text();
      if (r.status >= 500 && attempt < 2) continue;
      throw new MlflowError(
        {
          code: r.status === 401 || r.status === 403 ? 'mlflow.unauthorized' : r.status === 404 ? 'mlflow.not-found' : 'mlflow.http',
          message: `downloading artifact ${relPath} from ${this.uri}: HTTP ${r.status} ${text.replace(/\s+/g, ' ').slice(0, 200)}`,
        },
        { status: r.status, transient: false },
      );
    }
  }

  /** Every file under `path` of a run's artifacts, with sizes, recursively. */
  async listArtifactFiles(runId: string, path: string): Promise<{ path: string; fileSize: number }[]> {
    const out: { path: string; fileSize: number }[] = [];
    for (const e of await this.listArtifacts(runId, path)) {
      if (e.isDir) out.push(...(await this.listArtifactFiles(runId, e.path)));
      else out.push({ path: e.path, fileSize: e.fileSize ?? -1 });
    }
    return out;
  }

  // Model registry (MLflow's names: registered model, model version, alias).

  async getRegisteredModel(name: string): Promise<Wire | undefined> {
    try {
      return ((await this.http.request<Wire>('GET', `${API}/registered-models/get`, { query: { name } })).registered_model ?? undefined) as Wire | undefined;
    } catch (e) {
      if (isMlflowError(e) && e.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw e;
    }
  }

  async createRegisteredModel(name: string): Promise<void> {
    try {
      await this.http.request('POST', `${API}/registered-models/create`, { json: { name }, retry: false });
    } catch (e) {
      if (!(isMlflowError(e) && e.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw e;
    }
  }

  async searchModelVersions(filter: string): Promise<ModelVersion[]> {
    const out: ModelVersion[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.http.request<Wire>('GET', `${API}/model-versions/search`, { query: { filter, max_results: 200, page_token: pageToken } });
      out.push(...(r.model_versions ?? []).map(toVersion));
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  async createModelVersion(o: { name: string; source: string; runId: string; tags: Record<string, string>; description?: string }): Promise<ModelVersion> {
    const r = await this.http.request<Wire>('POST', `${API}/model-versions/create`, {
      json: {
        name: o.name,
        source: o.source,
        run_id: o.runId,
        tags: Object.entries(o.tags).map(([key, value]) => ({ key, value })),
        ...(o.description ? { description: o.description } : {}),
      },
      retry: false,
      expect: ['model_version'],
    });
    return toVersion(r.model_version);
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion> {
    return toVersion((await this.http.request<Wire>('GET', `${API}/model-versions/get`, { query: { name, version }, expect: ['model_version'] })).model_version);
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    return toVersion((await this.http.request<Wire>('GET', `${API}/registered-models/alias`, { query: { name, alias }, expect: ['model_version'] })).model_version);
  }

  async setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void> {
    await this.http.request('POST', `${API}/registered-models/alias`, { json: { name, alias, version } });
  }

  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.http.request('POST', `${API}/model-versions/set-tag`, { json: { name, version, key, value } });
  }

  /** GET /health: true when the server answers. */
  async health(): Promise<boolean> {
    try {
      await this.http.request('GET', '/health', { retry: false, text: true });
      return true;
    } catch {
      return false;
    }
  }
}
