import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { appendFileSafe, writeFileSafe, writeFileSafeOrInPlace } from '../disk.js';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { MetricPoint, MlflowLink, RunRecord, RunStart, RunStatus, Tracker } from './types.js';
import { redactCredentials, redactValues } from '../redact.js';
import { encodeNumber, paramString } from './values.js';
import { cutTornTail } from './runs.js';

/** MLflow accepts 6000 characters per param value; stay well below in case the backend counts bytes. */
export const MAX_PARAM_LENGTH = 5000;

/** `sha256:<12 hex>` for a long value, as stored in place of the value. */
export function shortHash(text: string): string {
  return 'sha256:' + createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** File name under params/ for a param key (keys may contain `/`). */
export function paramFileName(key: string): string {
  return `params/${key.replace(/[/\\]/g, '_')}.txt`;
}

/**
 * Turns param values into strings; a value longer than MLflow accepts is replaced by its short
 * hash and returned in `long` so its full text can be stored as an artifact.
 */
export function prepareParams(params: Record<string, string | number | boolean>): { params: Record<string, string>; long: Record<string, string> } {
  const out: Record<string, string> = {};
  const long: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    const s = paramString(v);
    if (s.length > MAX_PARAM_LENGTH) {
      out[k] = shortHash(s);
      long[k] = s;
    } else out[k] = s;
  }
  return { params: out, long };
}

/**
 * Writes JSON atomically so a crash never leaves a half-written run.json; on a disk too full for the
 * temporary copy it is rewritten in place, so a run on a full disk still records how it ended.
 */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileSafeOrInPlace(file, JSON.stringify(value, null, 2) + '\n');
}

export function metricLine(p: MetricPoint): string {
  return JSON.stringify({ key: p.key, value: encodeNumber(p.value), step: p.step, timestamp: p.timestamp }) + '\n';
}

/**
 * The local run store: run.json (identity and state) and metrics.jsonl (every metric point) in the
 * run folder. Always written, with or without an MLflow server, so a run never lives only in memory.
 */
export class LocalTracker implements Tracker {
  readonly kind = 'local';
  private rec?: RunRecord;
  private runDir = '';

  /** The run folder (RunStore). */
  get dir(): string {
    return this.runDir;
  }

  /** run.json content (RunStore); available after start(). */
  get record(): RunRecord {
    return this.need();
  }

  async start(run: RunStart): Promise<void> {
    this.runDir = run.runDir;
    mkdirSync(run.runDir, { recursive: true });
    // URL credentials (tracking.uri = http://user:password@host) are never stored.
    const { params, long } = prepareParams(redactValues(run.params));
    const artifacts: string[] = [];
    for (const [k, text] of Object.entries(long)) {
      const rel = paramFileName(k);
      mkdirSync(dirname(join(run.runDir, rel)), { recursive: true });
      writeFileSafe(join(run.runDir, rel), text);
      artifacts.push(rel);
    }
    // Resuming: the run keeps its identity, start time, MLflow link and logged artifacts.
    const previous = existsSync(join(run.runDir, 'run.json')) ? readJson<RunRecord>(join(run.runDir, 'run.json')) : undefined;
    const same = previous?.runId === run.runId ? previous : undefined;
    this.rec = {
      format: 1,
      runId: run.runId,
      experimentName: run.experimentName,
      runName: run.runName,
      status: 'RUNNING',
      startTime: same?.startTime ?? run.startTime,
      params,
      tags: redactValues(run.tags),
      ...(run.dataset ? { dataset: run.dataset } : {}),
      artifacts: [...new Set([...(same?.artifacts ?? []), ...artifacts])],
      ...(same?.mlflow ? { mlflow: { ...same.mlflow, synced: false } } : {}),
    };
    const metrics = join(run.runDir, 'metrics.jsonl');
    if (!existsSync(metrics)) writeFileSync(metrics, '');
    // A crash mid-write leaves a torn last line: what this session appends must start on a line of its own.
    else cutTornTail(run.runDir);
    this.save();
  }

  logMetrics(step: number, metrics: Record<string, number>, timestamp = Date.now()): void {
    const lines = Object.entries(metrics)
      .map(([key, value]) => metricLine({ key, value, step, timestamp }))
      .join('');
    if (lines) appendFileSafe(join(this.runDir, 'metrics.jsonl'), lines);
  }

  setTags(tags: Record<string, string>): void {
    const r = this.need();
    Object.assign(r.tags, redactValues(tags));
    this.save();
  }

  logArtifact(relPath: string): void {
    const r = this.need();
    const norm = relPath.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '');
    if (!r.artifacts.includes(norm)) r.artifacts.push(norm);
    this.save();
  }

  async end(status: RunStatus, error?: string): Promise<void> {
    const r = this.need();
    r.status = status;
    r.endTime = Date.now();
    if (error !== undefined) {
      r.error = redactCredentials(error);
      r.tags['fitspec.error'] = r.error;
    }
    this.save();
  }

  /** Records (or updates) where the run lives in MLflow. */
  setMlflow(link: MlflowLink | undefined): void {
    const r = this.need();
    if (link) r.mlflow = link;
    else delete r.mlflow;
    this.save();
  }

  warnings(): string[] {
    return [];
  }

  private need(): RunRecord {
    if (!this.rec) throw new Error('tracker used before start()');
    return this.rec;
  }

  /** Writes run.json (RunStore). */
  save(): void {
    writeJsonAtomic(join(this.runDir, 'run.json'), this.rec);
  }
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}
