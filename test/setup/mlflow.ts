import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { venvPython } from '../../scripts/mlflow/venv.mjs';

export { startMlflowServer, freePort, type MlflowServer } from '../../scripts/mlflow/venv.mjs';

/** Waits for the test MLflow server started by ./mlflow-server.ts and returns its URI. */
export async function mlflowServer(timeoutMs = 840_000): Promise<string> {
  const { uri, dir } = inject('mlflow');
  return waitForServer(uri, dir, timeoutMs);
}

/** Waits for the basic-auth test MLflow server (no artifact serving) started by ./mlflow-server.ts. */
export async function mlflowAuthServer(timeoutMs = 840_000): Promise<{ uri: string; admin: { username: string; password: string } }> {
  const { uri, dir, admin } = inject('mlflowAuth');
  return { uri: await waitForServer(uri, dir, timeoutMs), admin };
}

async function waitForServer(uri: string, dir: string, timeoutMs: number): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const err = join(dir, 'start-error.txt');
    if (existsSync(err)) throw new Error(`the test MLflow server did not start: ${readFileSync(err, 'utf8')}`);
    try {
      const r = await fetch(`${uri}/health`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return uri;
    } catch {
      /* not up yet */
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`the test MLflow server at ${uri} is not up after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const PRELUDE = `
import json, os, sys, math
import mlflow
from mlflow import MlflowClient
client = MlflowClient()
# JSON literals pasted into the code read as Python values.
null, true, false = None, True, False
def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x
def out(x):
    sys.stdout.write("\\n@@fitspec-json@@" + json.dumps(_clean(x), default=str) + "\\n")
`;

/**
 * Runs Python in the MLflow venv with MLFLOW_TRACKING_URI set (to the test server unless `uri` is
 * given); the code has `mlflow`, `client` (MlflowClient) and `out(value)`; resolves to the value
 * passed to `out`.
 */
export async function mlflowPython<T = any>(code: string, opts: { uri?: string; env?: Record<string, string> } = {}): Promise<T> {
  const uri = opts.uri ?? (await mlflowServer());
  const env: NodeJS.ProcessEnv = { ...process.env, MLFLOW_TRACKING_URI: uri, ...opts.env };
  for (const k of ['MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD', 'MLFLOW_TRACKING_TOKEN']) if (!opts.env?.[k]) delete env[k];
  const stdout = await new Promise<string>((res, rej) => {
    execFile(venvPython(), ['-c', PRELUDE + '\n' + code], { env, maxBuffer: 64 << 20, timeout: 120_000 }, (e, so, se) =>
      e ? rej(new Error(`python failed: ${e.message}\n${se}`)) : res(so),
    );
  });
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('@@fitspec-json@@'));
  if (!line) throw new Error(`python printed no result (call out(...)):\n${stdout}`);
  return JSON.parse(line.slice('@@fitspec-json@@'.length)) as T;
}
