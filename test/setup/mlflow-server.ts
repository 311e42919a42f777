import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort, startMlflowServer, type MlflowServer } from '../../scripts/mlflow/venv.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test MLflow server: its URI and the folder whose start-error.txt explains a failed start. */
    mlflow: { uri: string; dir: string };
  }
}

/**
 * Starts a real MLflow server (the pinned PyPI package, installed into .venv/mlflow when missing)
 * on a free loopback port with a temporary SQLite store and artifact root. It starts in the
 * background so test files that do not need it are not held up; those that do wait for it with
 * `mlflowServer()` from ./mlflow.ts. FITSPEC_TEST_MLFLOW_URI reuses a running server instead.
 */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'fitspec-mlflow-'));
  const external = process.env.FITSPEC_TEST_MLFLOW_URI;
  if (external) {
    project.provide('mlflow', { uri: external.replace(/\/+$/, ''), dir });
    return () => rmSync(dir, { recursive: true, force: true });
  }
  if (!(await selectedFilesNeedServer(project))) {
    writeFileSync(join(dir, 'start-error.txt'), 'not started: no selected test file imports test/setup/mlflow.ts');
    project.provide('mlflow', { uri: 'http://127.0.0.1:9', dir });
    return () => rmSync(dir, { recursive: true, force: true });
  }
  const port = await freePort();
  const abort = new AbortController();
  let server: MlflowServer | undefined;
  const starting = startMlflowServer({ dir, port, signal: abort.signal, log: (m) => process.stderr.write(`[mlflow] ${m}\n`) }).then(
    (s) => {
      server = s;
    },
    (e: Error) => {
      writeFileSync(join(dir, 'start-error.txt'), e.message);
    },
  );
  project.provide('mlflow', { uri: `http://127.0.0.1:${port}`, dir });
  return async () => {
    abort.abort();
    await starting;
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * Whether any test file of this run uses the server (imports ./mlflow.ts), so that running other
 * test files alone does not start Python. The file filters of `vitest run <filters>` are read from an
 * internal field; without it every test file counts.
 */
async function selectedFilesNeedServer(project: TestProject): Promise<boolean> {
  try {
    const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern;
    const { testFiles } = await project.globTestFiles(filters);
    return testFiles.some((f) => /setup\/mlflow(\.js)?['"]/.test(readFileSync(f, 'utf8')));
  } catch {
    return true;
  }
}
