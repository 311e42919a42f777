import path from 'node:path';
import { Option } from 'commander';
import type { CliCommand } from '../command.js';
import { fail } from '../../errors.js';
import type { Comparison, RunData } from '../../report/compare.js';

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

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

export async function runCompare(runDirs: string[], opts: CompareOptions): Promise<void> {
  const maxParamColumns = Number(opts.paramColumns);
  if (!Number.isInteger(maxParamColumns) || maxParamColumns < 0) {
    fail('cli.bad-option', `--param-columns must be a whole number of columns, received \`${opts.paramColumns}\``, { expected: 'an integer >= 0', received: opts.paramColumns });
  }
  const { compare } = await import('../../api/compare.js');
  const { runs, comparison } = await compare(runDirs, opts);
  await printAndPlot(runs, comparison, opts, maxParamColumns);
}

async function printAndPlot(runs: RunData[], comparison: Comparison, opts: CompareOptions, maxParamColumns: number): Promise<void> {
  const { formatComparison, compareCurvesPng, runLabels } = await import('../../report/compare.js');
  process.stdout.write(formatComparison(comparison, { format: opts.format, maxParamColumns }));

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
