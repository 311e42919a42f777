import type { CliCommand } from '../command.js';
import { withConfigOptions } from '../command.js';

const command: CliCommand = {
  name: 'validate',
  register(program) {
    withConfigOptions(
      program
        .command('validate')
        .description('Check experiment files (extends, overrides, schema, cross-field checks) without loading TensorFlow')
        .argument('<files...>', 'experiment YAML files')
        .option('--data', 'also read the classes from each data source (class folders or the CSV label column; no image is decoded) and check the model against them'),
    ).action(async (files: string[], opts: { set: string[]; data?: boolean }) => {
      const { loadExperiment } = await import('../../api/config.js');
      const { isFitspecError } = await import('../../errors.js');
      const { printProblems } = await import('../output.js');
      const { formatProblem } = await import('../../errors.js');
      let failed = false;
      // A warning about an inherited file is shown once, not once per file that extends it.
      const shown = new Set<string>();
      for (const file of files) {
        try {
          const loaded = loadExperiment(file, { set: opts.set, data: opts.data });
          process.stdout.write(`ok  ${file}\n`);
          printProblems(loaded.warnings.filter((w) => !shown.has(formatProblem(w)) && shown.add(formatProblem(w))));
        } catch (e) {
          if (!isFitspecError(e)) throw e;
          failed = true;
          printProblems(e.problems);
        }
      }
      if (failed) process.exitCode = 2;
    });
  },
};
export default command;
