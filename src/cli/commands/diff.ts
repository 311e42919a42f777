import type { CliCommand } from '../command.js';
import { withConfigOptions } from '../command.js';

const command: CliCommand = {
  name: 'diff',
  register(program) {
    withConfigOptions(
      program
        .command('diff')
        .description('Compare two resolved experiments (or one file with its version at a git revision); exit 0 equal, 1 different')
        .argument('<a>', 'experiment YAML file')
        .argument('[b]', 'second experiment YAML file')
        .option('--git <rev>', 'compare <a> with its version at this git revision (files it extends too)')
        .option('--format <format>', 'text or markdown', 'text'),
    ).action(async (a: string, b: string | undefined, opts: { set: string[]; git?: string; format: string }) => {
      const { FitspecError } = await import('../../errors.js');
      const { loadDetailed, diffExperiments, formatDiff } = await import('../../config/index.js');
      if (opts.format !== 'text' && opts.format !== 'markdown') throw new FitspecError({ code: 'cli.format', message: `--format must be text or markdown, got ${opts.format}.` });
      if (!opts.git === !b) throw new FitspecError({ code: 'cli.usage', message: 'give two files (`fitspec diff A B`) or one file and a revision (`fitspec diff A --git REV`).' });
      let left;
      let labels: [string, string];
      if (opts.git) {
        const { checkFileAtRevision, gitReader } = await import('../../config/git.js');
        checkFileAtRevision(opts.git, a);
        left = loadDetailed(a, { set: opts.set }, gitReader(opts.git)).loaded;
        labels = [`${a}@${opts.git}`, a];
      } else {
        left = loadDetailed(a, { set: opts.set }).loaded;
        labels = [a, b!];
      }
      const right = loadDetailed(opts.git ? a : b!, { set: opts.set }).loaded;
      const d = diffExperiments(left.experiment, right.experiment);
      process.stdout.write(formatDiff(d, opts.format, labels));
      process.exitCode = d.equal ? 0 : 1;
    });
  },
};
export default command;
