import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureMlflow, freePort, startMlflowServer, type MlflowServer } from '../../scripts/mlflow/venv.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test MLflow server: its URI and the folder whose start-error.txt explains a failed start. */
    mlflow: { uri: string; dir: string };
    /** A second one running the basic-auth app without artifact serving, and its admin user. */
    mlflowAuth: { uri: string; dir: string; admin: { username: string; password: string } };
  }
}

/**
 * Starts the real MLflow servers the tests use (the pinned PyPI package, installed into .venv/mlflow
 * when missing, once, before either server starts): a plain one with artifact serving, and one with
 * basic auth and no artifact serving. They start in the background so test files that do not need them
 * are not held up; those that do wait with `mlflowServer()` / `mlflowAuthServer()` from ./mlflow.ts.
 * Each starts only when a selected test file uses it. FITSPEC_TEST_MLFLOW_URI reuses a running plain
 * server instead.
 */
export default async function setup(project: TestProject) {
  const users = await selectedFilesUsing(project, [/\bmlflow(Server|Python)\(/, /\bmlflowAuthServer\(/]);
  const plain = mkdtempSync(join(tmpdir(), 'fitspec-mlflow-'));
  const auth = mkdtempSync(join(tmpdir(), 'fitspec-mlflow-auth-'));
  const admin = { username: 'admin', password: `adm1n-${randomBytes(6).toString('hex')}` };
  const external = process.env.FITSPEC_TEST_MLFLOW_URI;
  const wantPlain = users[0] && !external;
  const wantAuth = users[1];
  const notStarted = (dir: string) => writeFileSync(join(dir, 'start-error.txt'), 'not started: no selected test file uses it');
  const ports = [await freePort(), await freePort()];
  project.provide('mlflow', { uri: external ? external.replace(/\/+$/, '') : `http://127.0.0.1:${wantPlain ? ports[0] : 9}`, dir: plain });
  project.provide('mlflowAuth', { uri: `http://127.0.0.1:${wantAuth ? ports[1] : 9}`, dir: auth, admin });
  if (!wantPlain) notStarted(plain);
  if (!wantAuth) notStarted(auth);

  const abort = new AbortController();
  const servers: MlflowServer[] = [];
  const log = (m: string) => process.stderr.write(`[mlflow] ${m}\n`);
  const start = async (dir: string, opts: Partial<Parameters<typeof startMlflowServer>[0]>) => {
    try {
      servers.push(await startMlflowServer({ dir, signal: abort.signal, log, ...opts }));
    } catch (e) {
      writeFileSync(join(dir, 'start-error.txt'), (e as Error).message);
    }
  };
  const starting = (async () => {
    if (!wantPlain && !wantAuth) return;
    try {
      await ensureMlflow({ signal: abort.signal, log });
    } catch (e) {
      for (const dir of [plain, auth]) writeFileSync(join(dir, 'start-error.txt'), (e as Error).message);
      return;
    }
    await Promise.all([wantPlain && start(plain, { port: ports[0] }), wantAuth && start(auth, { port: ports[1], basicAuth: admin, serveArtifacts: false })]);
  })();
  return async () => {
    abort.abort();
    await starting;
    await Promise.all(servers.map((s) => s.stop()));
    for (const dir of [plain, auth]) rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * For each pattern, whether any test file of this run contains it, so that running other test files
 * alone does not start Python. The file filters of `vitest run <filters>` are read from an internal
 * field; without it every test file counts.
 */
async function selectedFilesUsing(project: TestProject, patterns: RegExp[]): Promise<boolean[]> {
  try {
    const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern;
    const { testFiles } = await project.globTestFiles(filters);
    const texts = testFiles.map((f) => readFileSync(f, 'utf8'));
    return patterns.map((p) => texts.some((t) => p.test(t)));
  } catch {
    return patterns.map(() => true);
  }
}
