import { Option } from 'commander';
import { withConfigOptions, type CliCommand } from '../command.js';

interface ReviewOpts {
  set: string[];
  path: string[];
  format: 'text' | 'markdown';
  mlflow: boolean;
  results: boolean;
  curvesDir: string;
  trainStale?: boolean;
  dryRun?: boolean;
  parallel: number;
  threads?: number;
  queue?: string;
}

const int = (v: string) => Number.parseInt(v, 10);

const command: CliCommand = {
  name: 'review',
  register(program) {
    withConfigOptions(
      program
        .command('review')
        .description(
          'Every experiment whose resolved config differs between two git revisions (through its own file, a file it extends or its architecture), with its diff, the results of its base and head configs, and what is stale; exit 0 none, 1 some, 2 errors',
        )
        .argument('<base>', 'git revision to compare from, e.g. main or origin/main')
        .argument('[head]', 'git revision to compare to; default: the working tree')
        .option('--path <paths...>', 'experiment files or folders to review', ['experiments'])
        .addOption(new Option('--format <format>', 'text, or markdown (one pull-request comment)').choices(['text', 'markdown']).default('text'))
        .option('--no-mlflow', 'do not look up MLflow runs even when a tracking server is configured')
        .option('--no-results', 'review the configs only: no run is looked up')
        .option('--curves-dir <dir>', 'where the base/head overlays of validation curves are written', 'runs/review')
        .option('--train-stale', 'train every config of the head that has no finished run, and nothing else')
        .option('--dry-run', 'with --train-stale: list what would be trained, with its epochs')
        .addOption(new Option('--parallel <n>', 'with --train-stale: worker processes on this machine').argParser(int).default(1))
        .addOption(new Option('--threads <n>', 'with --train-stale: TensorFlow threads per worker process (default: the cores split between them)').argParser(int))
        .option('--queue <redis-url>', 'with --train-stale: enqueue in Redis (BullMQ) for `fitspec worker` processes instead of training here'),
    ).action(async (base: string, head: string | undefined, opts: ReviewOpts) => {
      const { FitspecError } = await import('../../errors.js');
      if ((opts.dryRun || opts.queue) && !opts.trainStale)
        throw new FitspecError({
          code: 'cli.usage',
          message:
            `${opts.dryRun ? '--dry-run' : '--queue'} goes with --train-stale: fitspec review ${base} ${head ?? ''} --train-stale ${opts.dryRun ? '--dry-run' : '--queue URL'}`.replace(
              / +/g,
              ' ',
            ),
        });
      if (opts.trainStale && !opts.results) throw new FitspecError({ code: 'cli.usage', message: '--train-stale needs the results (what is stale): leave out --no-results.' });
      if (!(opts.parallel >= 1)) throw new FitspecError({ code: 'cli.usage', message: '--parallel is a number of worker processes, at least 1.', received: String(opts.parallel) });
      const { gitSide, worktreeSide } = await import('../../config/review.js');
      const { reviewChange } = await import('../../review/affected.js');
      const { review, affected } = reviewChange(gitSide(base), head ? gitSide(head) : worktreeSide(), opts.path, { set: opts.set });
      const results = opts.results
        ? await (await import('../../review/results.js')).findResults(affected, { mlflow: opts.mlflow, curvesDir: opts.trainStale ? undefined : opts.curvesDir })
        : undefined;
      const exit = review.entries.some((e) => e.status === 'error') ? 2 : review.entries.length ? 1 : 0;
      if (opts.trainStale) {
        const { staleWork, formatStalePlan, trainStale } = await import('../../review/train.js');
        const work = staleWork(affected, results!);
        if (opts.dryRun || !work.length) {
          process.stdout.write(formatStalePlan(work));
          return;
        }
        const r = await trainStale(work, { parallel: opts.parallel, threads: opts.threads, queue: opts.queue, log: (m) => process.stdout.write(m + '\n') });
        for (const o of r.outcomes)
          process.stdout.write(`${o.status.padEnd(8)} ${o.trial} ${o.hash.slice(0, 12)}${o.runDir ? ` ${o.runDir}` : ''}${o.error ? `: ${o.error}` : ''}\n`);
        const failed = r.outcomes.filter((o) => o.status !== 'FINISHED' && o.status !== 'SKIPPED');
        if (failed.length) process.exitCode = failed.some((o) => o.status === 'KILLED') ? 130 : 2;
        return;
      }
      const { formatReview } = await import('../../review/format.js');
      const again = [
        'fitspec review',
        base,
        head,
        ...opts.path.flatMap((p) => (p === 'experiments' && opts.path.length === 1 ? [] : ['--path', p])),
        ...opts.set.flatMap((s) => ['--set', s]),
        '--train-stale',
      ]
        .filter(Boolean)
        .join(' ');
      process.stdout.write(formatReview(review, affected, { format: opts.format, results, trainCommand: again }));
      process.exitCode = exit;
    });
  },
};
export default command;
