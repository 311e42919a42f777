import type { CliCommand } from '../command.js';

const command: CliCommand = {
  name: 'review',
  register(program) {
    program
      .command('review')
      .description('Every experiment whose resolved config differs between two git revisions (through its own file, a file it extends or its architecture), with its diff, config hashes and MLflow runs; exit 0 none, 1 some, 2 errors')
      .argument('<base>', 'git revision to compare from, e.g. main or origin/main')
      .argument('[head]', 'git revision to compare to; default: the working tree')
      .option('--path <paths...>', 'experiment files or folders to review', ['experiments'])
      .option('--format <format>', 'text or markdown (one pull-request comment)', 'text')
      .option('--no-mlflow', 'do not look up MLflow runs even when a tracking server is configured')
      .action(async (base: string, head: string | undefined, opts: { path: string[]; format: string; mlflow: boolean }) => {
        const { FitspecError } = await import('../../errors.js');
        if (opts.format !== 'text' && opts.format !== 'markdown') throw new FitspecError({ code: 'cli.format', message: `--format must be text or markdown, got ${opts.format}.` });
        const { gitSide, worktreeSide, reviewExperiments, formatReview } = await import('../../config/review.js');
        const review = reviewExperiments(gitSide(base), head ? gitSide(head) : worktreeSide(), opts.path);
        const links = opts.mlflow ? await (await import('../../track/review-links.js')).reviewRunLinks(review) : undefined;
        process.stdout.write(formatReview(review, opts.format, links));
        process.exitCode = review.entries.some((e) => e.status === 'error') ? 2 : review.entries.length ? 1 : 0;
      });
  },
};
export default command;
