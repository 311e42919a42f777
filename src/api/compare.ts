import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import type { Comparison, RunData } from '../report/compare.js';

/** Which runs {@link compare} reads. */
export interface CompareOptions {
  /** Every run of this experiment (in `runsDir`, or on the MLflow server with `mlflow`). */
  experiment?: string;
  /** The local run store (default: `runs`). */
  runsDir?: string;
  /** Read the runs from an MLflow server: `runs` are then MLflow run ids (any MLflow run, e.g. Keras autolog). */
  mlflow?: boolean;
  /** MLflow tracking URI for `mlflow` (default: `MLFLOW_TRACKING_URI`). */
  uri?: string;
}

/**
 * Reads runs and compares them: the params that differ, best `val_accuracy` and its epoch, final losses,
 * wall time. As `fitspec compare` (which also prints the table and plots the curves).
 *
 * @param runs run folders (`runs/<experiment>/<run id>`), or MLflow run ids with `mlflow`
 * @returns the runs as read (with their epoch histories) and the comparison rows
 * @throws {@link FitspecError} when no runs are given or found
 */
export async function compare(runs: string[], opts: CompareOptions = {}): Promise<{ runs: RunData[]; comparison: Comparison }> {
  if (runs.length === 0 && opts.experiment === undefined) {
    fail('compare.no-runs', `compare needs ${opts.mlflow ? 'MLflow run ids' : 'run folders'} or --experiment NAME`, {
      hint: 'e.g. fitspec compare runs/01-baseline/* or fitspec compare --experiment 01-baseline',
    });
  }
  const data = opts.mlflow ? await loadMlflowRuns(runs, opts) : await localRuns(runs, opts);
  const { compareRuns } = await import('../report/compare.js');
  return { runs: data, comparison: compareRuns(data) };
}

/** Runs from an MLflow server: by run id, or every active run of an experiment. Any MLflow run works, not only fitspec's. */
async function loadMlflowRuns(ids: string[], opts: CompareOptions): Promise<RunData[]> {
  const uri = opts.uri || process.env.MLFLOW_TRACKING_URI;
  if (!uri) {
    fail('compare.no-uri', '--mlflow needs a tracking server', {
      expected: 'MLFLOW_TRACKING_URI or --uri',
      hint: 'e.g. fitspec compare --mlflow --uri http://127.0.0.1:5000 --experiment 01-baseline',
    });
  }
  const { mlflowClient } = await import('../track/connect.js');
  const client = mlflowClient(uri);
  type Run = NonNullable<Awaited<ReturnType<typeof client.getRun>>>;
  const runs: Run[] = [];
  for (const id of ids) {
    const run = await client.getRun(id);
    if (!run)
      fail('compare.no-runs', `the MLflow server at ${client.uri} has no run \`${id}\``, { expected: 'an MLflow run id (32 hex digits, shown in the MLflow UI)', received: id });
    runs.push(run);
  }
  if (opts.experiment !== undefined) {
    const exp = await client.getExperimentByName(opts.experiment);
    if (!exp)
      fail('compare.no-runs', `the MLflow server at ${client.uri} has no experiment \`${opts.experiment}\``, {
        expected: 'an experiment name as shown in the MLflow UI',
        received: opts.experiment,
      });
    let pageToken: string | undefined;
    do {
      const page = await client.searchRuns({ experimentIds: [exp.experimentId], orderBy: ['attributes.start_time ASC'], pageToken });
      runs.push(...page.runs);
      pageToken = page.nextPageToken;
    } while (pageToken);
    if (runs.length === 0) fail('compare.no-runs', `MLflow experiment \`${opts.experiment}\` has no runs`, { received: `0 runs at ${client.uri}` });
  }
  const unique = [...new Map(runs.map((r) => [r.info.runId, r])).values()];
  const { mlflowRunData } = await import('../report/mlflow-run.js');
  return Promise.all(unique.map((run) => mlflowRunData(client, run)));
}

async function localRuns(runDirs: string[], opts: CompareOptions): Promise<RunData[]> {
  const runsDir = opts.runsDir ?? 'runs';
  const dirs = [...runDirs];
  if (opts.experiment !== undefined) {
    const { listRuns } = await import('../track/runs.js');
    const found = listRuns(runsDir, opts.experiment);
    if (found.length === 0) {
      const known = fs.existsSync(runsDir) ? fs.readdirSync(runsDir).filter((e) => fs.statSync(path.join(runsDir, e)).isDirectory()) : [];
      fail('compare.no-runs', `no runs of experiment \`${opts.experiment}\` in ${runsDir}`, {
        expected: 'runs under <runs-dir>/<experiment>/',
        received: known.length ? `experiments: ${known.join(', ')}` : `${runsDir} has no runs`,
        hint: known.length ? `did you mean \`${(await import('fastest-levenshtein')).closest(opts.experiment, known)}\`?` : 'train an experiment first, or pass --runs-dir',
      });
    }
    dirs.push(...found.map((r) => r.dir));
  }
  const unique = [...new Map(dirs.map((d) => [path.resolve(d), d])).values()];
  const { loadLocalRun } = await import('../report/local-run.js');
  return Promise.all(unique.map(loadLocalRun));
}
