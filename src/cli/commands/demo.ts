import fs from 'node:fs';
import path from 'node:path';
import type { CliCommand } from '../command.js';
import { printProblems } from '../output.js';
import { PACKAGE_ROOT } from '../../paths.js';

const root = PACKAGE_ROOT;

const command: CliCommand = {
  name: 'demo',
  loadsTensorFlow: true,
  register(program) {
    program
      .command('demo')
      .description('Generate the demo face images if missing, then train experiments/demo.yaml')
      .option('--per-class <n>', 'images to generate per class', (v) => Number.parseInt(v, 10), 400)
      .option('--no-progress', 'one line per epoch instead of a live progress bar')
      .action(async (opts: { perClass: number; progress: boolean }) => {
        const { loadExperiment } = await import('../../config/index.js');
        const loaded = loadExperiment(path.join(root, 'experiments', 'demo.yaml'));
        printProblems(loaded.warnings);
        const dataDir = loaded.experiment.data.source.path!;
        const hasImages = fs.existsSync(dataDir) && fs.readdirSync(dataDir).some((d) => fs.statSync(path.join(dataDir, d)).isDirectory());
        if (!hasImages) {
          const { synthesize } = await import('../../data/index.js');
          process.stdout.write(`generating ${opts.perClass} synthetic face images per class into ${dataDir} ...\n`);
          const t0 = Date.now();
          const r = await synthesize({ out: dataDir, perClass: opts.perClass, layout: 'directory', seed: loaded.experiment.seed });
          process.stdout.write(`generated ${r.count} images in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`);
        }
        const { train } = await import('../../train/index.js');
        const result = await train(loaded, { tty: opts.progress ? undefined : false });
        const plots = path.join(result.runDir, 'plots');
        process.stdout.write(
          [
            '',
            `run folder:       ${result.runDir}`,
            `learning curves:  ${path.join(plots, 'learning_curves.png')}`,
            `confusion matrix: ${path.join(plots, 'validation_confusion_matrix.png')}`,
            result.summary.best_val_accuracy !== undefined
              ? `best val_accuracy ${result.summary.best_val_accuracy.toFixed(3)} at epoch ${result.summary.best_val_accuracy_epoch}`
              : '',
            '',
          ].join('\n'),
        );
      });
  },
};
export default command;
