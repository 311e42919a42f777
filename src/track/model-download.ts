import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { fail, FitspecError } from '../errors.js';
import { mlflowClient } from './connect.js';
import type { MlflowClient, ModelVersion, RunInfo } from './mlflow/client.js';
import { isMlflowError, redactUri } from './mlflow/http.js';
import type { ModelLocation } from './model-ref.js';

const MANIFEST = '.fitspec-download.json';

/** A model named by MLflow: the run that logged it and the artifact folder holding it. */
export interface MlflowModelRef {
  runId: string;
  /** Artifact path of the model folder inside the run, e.g. `model`. */
  artifactPath: string;
  version?: ModelVersion;
}

function trackingUriOrFail(ref: string, env: NodeJS.ProcessEnv): string {
  const uri = env.MLFLOW_TRACKING_URI;
  if (!uri)
    fail('model.no-tracking-uri', `${ref} names a model in MLflow, but MLFLOW_TRACKING_URI is not set.`, {
      expected: 'MLFLOW_TRACKING_URI=http://host:port',
      received: 'nothing',
      hint: 'export MLFLOW_TRACKING_URI=http://127.0.0.1:5000 (and MLFLOW_TRACKING_USERNAME / _PASSWORD or _TOKEN if the server asks for them)',
    });
  return uri;
}

/** One clear error for a model that is not there or not ours to read; other failures as they are. */
function explain(e: unknown, ref: string, uri: string): never {
  if (isMlflowError(e)) {
    if (e.status === 401 || e.status === 403)
      throw new FitspecError({
        code: 'model.unauthorized',
        message: `MLflow at ${redactUri(uri)} refused access to ${ref} (HTTP ${e.status}).`,
        hint: 'set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) to an account that may read it',
      });
    if (e.status === 404 || e.errorCode === 'RESOURCE_DOES_NOT_EXIST' || e.errorCode === 'INVALID_PARAMETER_VALUE')
      throw new FitspecError({ code: 'model.not-found', message: `MLflow at ${redactUri(uri)} has no model ${ref}: ${e.message}` });
  }
  throw e;
}

/** Artifact path of a version's source inside its run (`.../artifacts/model` -> `model`). */
function artifactPathOf(source: string, run: RunInfo): string {
  if (source.startsWith(run.artifactUri + '/')) return source.slice(run.artifactUri.length + 1);
  const m = /^runs:\/[^/]+\/(.+)$/.exec(source);
  return m ? m[1]! : 'model';
}

/** Resolves `runs:/ID[/path]`, `models:/NAME/VERSION` or `models:/NAME@ALIAS` to a run and a folder. */
export async function resolveMlflowRef(client: MlflowClient, ref: string): Promise<MlflowModelRef> {
  const runs = /^runs:\/([^/]+)(?:\/(.+?))?\/?$/.exec(ref);
  if (runs) {
    const run = await client.getRun(runs[1]!);
    if (!run) throw new FitspecError({ code: 'model.not-found', message: `MLflow has no run ${runs[1]} (${ref}).` });
    return { runId: runs[1]!, artifactPath: runs[2] ?? 'model' };
  }
  const models = /^models:\/([^/@]+)(?:\/(\d+)|@([\w-]+))\/?$/.exec(ref);
  if (!models) fail('model.bad-uri', `${ref} is not a model URI.`, { expected: 'runs:/<run id>, models:/<name>/<version> or models:/<name>@<alias>', received: ref });
  const [, name, version, alias] = models;
  const v = version ? await client.getModelVersion(name!, version) : await client.getModelVersionByAlias(name!, alias!);
  if (!v.runId) fail('model.no-run', `${ref} (version ${v.version}) was not registered from a run; fitspec reads models logged by its runs.`, { received: v.source });
  const run = await client.getRun(v.runId);
  if (!run) throw new FitspecError({ code: 'model.not-found', message: `${ref} (version ${v.version}) comes from run ${v.runId}, which MLflow no longer has.` });
  return { runId: v.runId, artifactPath: artifactPathOf(v.source, run.info), version: v };
}

export function modelCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'fitspec', 'mlflow');
}

type Manifest = { uri: string; runId: string; artifactPath: string; files: Record<string, number> };

/** The cached copy, when every file is there with the size MLflow listed. */
function cached(dir: string): Manifest | undefined {
  const file = path.join(dir, MANIFEST);
  if (!fs.existsSync(file)) return undefined;
  try {
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
    for (const [rel, size] of Object.entries(m.files)) {
      const f = path.join(dir, rel);
      if (!fs.existsSync(f) || fs.statSync(f).size !== size) return undefined;
    }
    return m;
  } catch {
    return undefined;
  }
}

/**
 * Downloads the model folder of an MLflow run (and the run's resolved.yaml) through the tracking
 * server's REST API into the cache, one folder per server and run, every file checked against the
 * size MLflow lists; an intact cached copy is used as it is.
 */
export async function downloadRunModel(client: MlflowClient, m: MlflowModelRef, opts: { log?: (msg: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const host = createHash('sha256').update(client.uri).digest('hex').slice(0, 12);
  const dir = path.join(modelCacheRoot(opts.env), host, m.runId, m.artifactPath.replace(/[^\w.-]+/g, '_'));
  if (cached(dir)) return dir;
  const run = await client.getRun(m.runId);
  if (!run) throw new FitspecError({ code: 'model.not-found', message: `MLflow has no run ${m.runId}.` });
  const files = await client.listArtifactFiles(m.runId, m.artifactPath);
  if (!files.some((f) => f.path === `${m.artifactPath}/model.json`))
    throw new FitspecError({ code: 'model.not-found', message: `Run ${m.runId} has no fitspec model at ${m.artifactPath}/ (no model.json among its artifacts).` });
  const extra = (await client.listArtifacts(m.runId)).filter((f) => !f.isDir && f.path === 'resolved.yaml').map((f) => ({ path: f.path, fileSize: f.fileSize ?? -1 }));
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const manifest: Manifest = { uri: redactUri(client.uri), runId: m.runId, artifactPath: m.artifactPath, files: {} };
  let bytes = 0;
  for (const f of [...files, ...extra]) {
    // The model folder becomes model/, whatever it was called in the run.
    const rel = f.path === 'resolved.yaml' ? 'resolved.yaml' : path.posix.join('model', f.path.slice(m.artifactPath.length + 1));
    const data = await client.downloadArtifact(run.info, f.path);
    if (f.fileSize >= 0 && data.byteLength !== f.fileSize)
      throw new FitspecError({
        code: 'model.download-size',
        message: `${f.path} of run ${m.runId} arrived with ${data.byteLength} bytes; MLflow lists ${f.fileSize}.`,
        expected: `${f.fileSize} bytes`,
        received: `${data.byteLength} bytes`,
      });
    fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
    fs.writeFileSync(path.join(tmp, rel), data);
    manifest.files[rel] = data.byteLength;
    bytes += data.byteLength;
  }
  fs.writeFileSync(path.join(tmp, MANIFEST), JSON.stringify(manifest, null, 1));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.renameSync(tmp, dir);
  opts.log?.(`downloaded ${Object.keys(manifest.files).length} files (${(bytes / 1e6).toFixed(1)} MB) of run ${m.runId} into ${dir}`);
  return dir;
}

export async function downloadMlflowModel(ref: string, opts: { env?: NodeJS.ProcessEnv; log?: (msg: string) => void } = {}): Promise<ModelLocation> {
  const env = opts.env ?? process.env;
  const uri = trackingUriOrFail(ref, env);
  const client = mlflowClient(uri, env);
  let dir: string;
  let runId: string;
  try {
    const m = await resolveMlflowRef(client, ref);
    runId = m.runId;
    dir = await downloadRunModel(client, m, { env, log: opts.log ?? ((s) => process.stderr.write(s + '\n')) });
  } catch (e) {
    explain(e, ref, uri);
  }
  const resolved = path.join(dir, 'resolved.yaml');
  const train = fs.existsSync(resolved) ? (YAML.parse(fs.readFileSync(resolved, 'utf8')) as { train?: Pick<ModelLocation, 'backend' | 'threads'> }).train : undefined;
  return { modelDir: path.join(dir, 'model'), runDir: dir, backend: train?.backend, threads: train?.threads, mlflowRunId: runId };
}
