import type { CliCommand } from '../command.js';

const command: CliCommand = {
  name: 'predict',
  loadsTensorFlow: true,
  register(program) {
    program
      .command('predict')
      .argument(
        '<model>',
        'a finished run folder (runs/<experiment>/<run id>), a model folder, or an MLflow model: runs:/<run id>, models:/<name>/<version>, models:/<name>@<alias>',
      )
      .argument('<images...>', 'image files, folders (every image inside) or quoted glob patterns ("photos/*.jpg")')
      .description('Class probabilities of images, from the trained model of a run')
      .option('--json', 'print JSON')
      .action(async (model: string, args: string[], opts: { json?: boolean }) => {
        const { predict } = await import('../../api/runs.js');
        const { classes, predictions: rows } = await predict(model, args);
        const run = { classes };
        const images = rows.map((r) => r.file);
        if (opts.json) {
          process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
          return;
        }
        const w = Math.max(5, ...images.map((f) => f.length));
        process.stdout.write(['image'.padEnd(w), 'class'.padEnd(10), ...run.classes.map((c) => c.padStart(9))].join('  ') + '\n');
        for (const r of rows) process.stdout.write([r.file.padEnd(w), r.class.padEnd(10), ...run.classes.map((c) => r.probabilities[c]!.toFixed(4).padStart(9))].join('  ') + '\n');
      });
  },
};
export default command;
