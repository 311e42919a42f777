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
}

/** A local run folder as the comparison sees it. */
async function loadLocalRun(dir: string): Promise<RunData & { dir: string; experiment: string }> {
  const { readRun, readMetrics } = await import('../../track/runs.js');
  const { parseMetricsCsv, historyFromPoints } = await import('../../report/compare.js');
  const { record } = readRun(dir);
  const csv = path.join(dir, 'metrics.csv');
  const history = fs.existsSync(csv) ? parseMetricsCsv(fs.readFileSync(csv, 'utf8')) : historyFromPoints(readMetrics(dir).filter((p) => !p.key.startsWith('test_')));
  let summary: { config_hash?: string; wall_time_s?: number } = {};
  try {
    summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  } catch {
    /* a run still going or killed hard has no summary yet */
  }
  let params = record.params;
  const resolved = path.join(dir, 'resolved.yaml');
  if (Object.keys(params).length === 0 && fs.existsSync(resolved)) {
    const YAML = (await import('yaml')).default;
    const { flattenValue } = await import('../../config/flatten.js');
    params = Object.fromEntries(Object.entries(flattenValue(YAML.parse(fs.readFileSync(resolved, 'utf8')))).map(([k, v]) => [k, String(v)]));
  }
  const wall = summary.wall_time_s ?? (record.endTime !== undefined ? (record.endTime - record.startTime) / 1000 : undefined);
  return {
    dir,
    experiment: record.experimentName,
    id: record.runId,
    name: record.runName && record.runName !== `${record.experimentName}-${record.runId}` ? record.runName : record.experimentName,
    status: record.status,
    configHash: summary.config_hash ?? record.tags['fitspec.config_hash'],
    params,
    history,
    wallTimeS: wall,
  };
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
    fail('compare.no-runs', 'compare needs run folders or --experiment NAME', { hint: 'e.g. fitspec compare runs/01-baseline/* or fitspec compare --experiment 01-baseline' });
  }
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
  const runs = await Promise.all(unique.map(loadLocalRun));

  const { compareRuns, formatComparison, compareCurvesPng } = await import('../../report/compare.js');
  process.stdout.write(formatComparison(compareRuns(runs), { format: opts.format, maxParamColumns }));

  if (opts.plot) {
    const nameCount = new Map<string, number>();
    for (const r of runs) nameCount.set(r.name, (nameCount.get(r.name) ?? 0) + 1);
    const curves = runs.map((r) => ({ label: nameCount.get(r.name)! > 1 ? `${r.name} ${r.id}` : r.name, history: r.history }));
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
      .argument('[runDirs...]', 'run folders (runs/<experiment>/<run id>)')
      .option('--experiment <name>', 'every run of this experiment in --runs-dir')
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
