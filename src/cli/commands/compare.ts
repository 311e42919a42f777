import fs from 'node:fs';
import path from 'node:path';
import { Option } from 'commander';
import type { CliCommand } from '../command.js';
import { fail } from '../../errors.js';
import type { RunData } from '../../report/compare.js';

export interface CompareOptions {
  experiment?: string;
  runsDir: string;
  format: 'text' | 'markdown';
  out?: string;
  metric?: string;
  plot: boolean;
  paramColumns: string;
  mlflow?: boolean;
  uri?: string;
}

/** Runs from an MLflow server: by run id, or every active run of an experiment. Any MLflow run works, not only fitspec's. */
async function loadMlflowRuns(ids: string[], opts: CompareOptions): Promise<RunData[]> {
  const uri = opts.uri || process.env.MLFLOW_TRACKING_URI;
  if (!uri) {
    fail('compare.no-uri', '--mlflow needs a tracking server', { expected: 'MLFLOW_TRACKING_URI or --uri', hint: 'e.g. fitspec compare --mlflow --uri http://127.0.0.1:5000 --experiment 01-baseline' });
  }
  const { mlflowClient } = await import('../../track/connect.js');
  const client = mlflowClient(uri);
  type Run = NonNullable<Awaited<ReturnType<typeof client.getRun>>>;
  const runs: Run[] = [];
  for (const id of ids) {
    const run = await client.getRun(id);
    if (!run) fail('compare.no-runs', `the MLflow server at ${client.uri} has no run \`${id}\``, { expected: 'an MLflow run id (32 hex digits, shown in the MLflow UI)', received: id });
    runs.push(run);
  }
  if (opts.experiment !== undefined) {
    const exp = await client.getExperimentByName(opts.experiment);
    if (!exp) fail('compare.no-runs', `the MLflow server at ${client.uri} has no experiment \`${opts.experiment}\``, { expected: 'an experiment name as shown in the MLflow UI', received: opts.experiment });
    let pageToken: string | undefined;
    do {
      const page = await client.searchRuns({ experimentIds: [exp.experimentId], orderBy: ['attributes.start_time ASC'], pageToken });
      runs.push(...page.runs);
      pageToken = page.nextPageToken;
    } while (pageToken);
    if (runs.length === 0) fail('compare.no-runs', `MLflow experiment \`${opts.experiment}\` has no runs`, { received: `0 runs at ${client.uri}` });
  }
  const unique = [...new Map(runs.map((r) => [r.info.runId, r])).values()];
  const { mlflowRunData } = await import('../../report/mlflow-run.js');
  return Promise.all(unique.map((run) => mlflowRunData(client, run)));
}

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export async function runCompare(runDirs: string[], opts: CompareOptions): Promise<void> {
  const maxParamColumns = Number(opts.paramColumns);
  if (!Number.isInteger(maxParamColumns) || maxParamColumns < 0) {
    fail('cli.bad-option', `--param-columns must be a whole number of columns, received \`${opts.paramColumns}\``, { expected: 'an integer >= 0', received: opts.paramColumns });
  }
  if (runDirs.length === 0 && opts.experiment === undefined) {
    fail('compare.no-runs', `compare needs ${opts.mlflow ? 'MLflow run ids' : 'run folders'} or --experiment NAME`, { hint: 'e.g. fitspec compare runs/01-baseline/* or fitspec compare --experiment 01-baseline' });
  }
  const runs = opts.mlflow ? await loadMlflowRuns(runDirs, opts) : await localRuns(runDirs, opts);
  await printAndPlot(runs, opts, maxParamColumns);
}

async function localRuns(runDirs: string[], opts: CompareOptions): Promise<RunData[]> {
  const dirs = [...runDirs];
  if (opts.experiment !== undefined) {
    const { listRuns } = await import('../../track/runs.js');
    const found = listRuns(opts.runsDir, opts.experiment);
    if (found.length === 0) {
      const known = fs.existsSync(opts.runsDir) ? fs.readdirSync(opts.runsDir).filter((e) => fs.statSync(path.join(opts.runsDir, e)).isDirectory()) : [];
      fail('compare.no-runs', `no runs of experiment \`${opts.experiment}\` in ${opts.runsDir}`, {
        expected: 'runs under <runs-dir>/<experiment>/',
        received: known.length ? `experiments: ${known.join(', ')}` : `${opts.runsDir} has no runs`,
        hint: known.length ? `did you mean \`${(await import('fastest-levenshtein')).closest(opts.experiment, known)}\`?` : 'train an experiment first, or pass --runs-dir',
      });
    }
    dirs.push(...found.map((r) => r.dir));
  }
  const unique = [...new Map(dirs.map((d) => [path.resolve(d), d])).values()];
  const { loadLocalRun } = await import('../../report/local-run.js');
  return Promise.all(unique.map(loadLocalRun));
}

async function printAndPlot(runs: RunData[], opts: CompareOptions, maxParamColumns: number): Promise<void> {
  const { compareRuns, formatComparison, compareCurvesPng, runLabels } = await import('../../report/compare.js');
  process.stdout.write(formatComparison(compareRuns(runs), { format: opts.format, maxParamColumns }));

  if (opts.plot) {
    if (opts.metric !== undefined && !runs.some((r) => r.history.some((row) => Number.isFinite(row[opts.metric!])))) {
      const available = [...new Set(runs.flatMap((r) => r.history.flatMap((row) => Object.keys(row))))].filter((k) => k !== 'epoch').sort();
      fail('compare.unknown-metric', `no run has values of \`${opts.metric}\` to plot`, {
        expected: available.length ? `one of ${available.join(', ')}` : 'runs with recorded epochs',
        received: opts.metric,
        hint: available.length ? `did you mean \`${(await import('fastest-levenshtein')).closest(opts.metric, available)}\`?` : undefined,
      });
    }
    const labels = runLabels(runs);
    const curves = runs.map((r, i) => ({ label: labels[i]!, history: r.history }));
    const out = opts.out ?? path.join(opts.runsDir, `compare-${timestamp()}.png`);
    await compareCurvesPng(curves, out, opts.metric);
    process.stderr.write(`curves written to ${out}\n`);
  }
}

const command: CliCommand = {
  name: 'compare',
  register(program) {
    program
      .command('compare')
      .description('Compare runs: the params that differ, best val_accuracy and its epoch, final losses, wall time; and their validation curves as a PNG')
      .argument('[runs...]', 'run folders (runs/<experiment>/<run id>), or MLflow run ids with --mlflow')
      .option('--experiment <name>', 'every run of this experiment (in --runs-dir, or on the MLflow server with --mlflow)')
      .option('--mlflow', 'read the runs from the MLflow server instead of run folders (any MLflow run, e.g. Keras autolog)')
      .option('--uri <uri>', 'MLflow tracking URI for --mlflow (default: MLFLOW_TRACKING_URI)')
      .option('--runs-dir <dir>', 'local run store', 'runs')
      .addOption(new Option('--format <format>', 'table format').choices(['text', 'markdown']).default('text'))
      .option('--out <png>', 'where to write the curves (default: <runs-dir>/compare-<timestamp>.png)')
      .option('--metric <name>', 'plot only this metric (default: val_accuracy and val_loss side by side)')
      .option('--no-plot', 'print the table only')
      .option('--param-columns <n>', 'differing params shown as columns; the rest are named under the table', '6')
      .action(async (runDirs: string[], opts: CompareOptions) => {
        await runCompare(runDirs, opts);
      });
  },
};
export default command;
