import type { CliCommand } from '../command.js';

const command: CliCommand = {
  name: 'predict',
  loadsTensorFlow: true,
  register(program) {
    program
      .command('predict')
      .argument('<model>', 'a finished run folder (runs/<experiment>/<run id>), a model folder, or an MLflow model: runs:/<run id>, models:/<name>/<version>, models:/<name>@<alias>')
      .argument('<images...>', 'image files, folders (every image inside) or quoted glob patterns ("photos/*.jpg")')
      .description('Class probabilities of images, from the trained model of a run')
      .option('--json', 'print JSON')
      .action(async (ref: string, args: string[], opts: { json?: boolean }) => {
        const { locateModel } = await import('../../track/model-ref.js');
        const where = await locateModel(ref);
        const images = (await import('../../data/sources.js')).expandImagePaths(args);
        const { initBackend } = await import('../../backend.js');
        await initBackend(where.backend ?? 'auto', where.threads);
        const { loadTrainedModel, predictFiles } = await import('../../train/predict.js');
        const run = await loadTrainedModel(where.modelDir);
        const probs = await predictFiles(run, images);
        const rows = images.map((file, i) => {
          const p = probs[i]!;
          const best = p.indexOf(Math.max(...p));
          return { file, class: run.classes[best]!, probabilities: Object.fromEntries(run.classes.map((c, j) => [c, p[j]!])) };
        });
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
