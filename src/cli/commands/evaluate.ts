import { Option } from 'commander';
import type { CliCommand } from '../command.js';

const command: CliCommand = {
  name: 'evaluate',
  loadsTensorFlow: true,
  register(program) {
    program
      .command('evaluate')
      .argument(
        '<model>',
        'a finished run folder (runs/<experiment>/<run id>), a model folder, or an MLflow model: runs:/<run id>, models:/<name>/<version>, models:/<name>@<alias>',
      )
      .description("Evaluate a run's trained model on its own validation/test split, or on other labelled images")
      .option(
        '--data <path>',
        'other labelled images, in either source form of `data.source`: a folder with one subfolder per class, or a labels CSV (same class names as the run)',
      )
      .option('--images <dir>', 'with a CSV --data: the folder of the images (default: the folder of the CSV)')
      .option('--id-column <name>', "with a CSV --data: the column of image ids (default: the run's, else ID)")
      .option('--label-column <name>', "with a CSV --data: the column of labels (default: the run's, else Class)")
      .addOption(new Option('--part <part>', 'split of the run to evaluate when --data is not given').choices(['validation', 'test', 'train']).default('validation'))
      .option('--json', 'print the report as JSON')
      .action(async (model: string, opts: { data?: string; images?: string; idColumn?: string; labelColumn?: string; part: 'validation' | 'test' | 'train'; json?: boolean }) => {
        const { evaluate } = await import('../../api/runs.js');
        const { file: out, ...report } = await evaluate(model, opts);
        const label = report.data;
        const run = { classes: report.classes };
        if (opts.json) {
          process.stdout.write(JSON.stringify(report, null, 2) + '\n');
          return;
        }
        process.stdout.write(`${label}: ${report.images} images, accuracy ${report.accuracy.toFixed(4)}\n`);
        process.stdout.write(`${'class'.padEnd(12)}${'precision'.padStart(10)}${'recall'.padStart(10)}${'f1'.padStart(10)}${'support'.padStart(10)}\n`);
        for (const c of run.classes) {
          const m = report.perClass[c]!;
          process.stdout.write(
            `${c.padEnd(12)}${m.precision.toFixed(3).padStart(10)}${m.recall.toFixed(3).padStart(10)}${m.f1.toFixed(3).padStart(10)}${String(m.support).padStart(10)}\n`,
          );
        }
        process.stdout.write(`report written to ${out}\n`);
      });
  },
};
export default command;
