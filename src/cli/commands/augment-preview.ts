import type { CliCommand } from '../command.js';
import { withConfigOptions } from '../command.js';

const command: CliCommand = {
  name: 'augment-preview',
  loadsTensorFlow: true,
  register(program) {
    withConfigOptions(
      program
        .command('augment-preview')
        .description("Write a PNG grid of one image and augmented versions of it, using the experiment's `augment` section")
        .argument('<file>', 'experiment YAML file')
        .option('--image <path>', 'image to augment (default: the first image of the data)')
        .option('-n, --n <count>', 'number of augmented versions', '8')
        .option('--seed <n>', 'random seed (default: the experiment seed)')
        .option('-o, --out <path>', 'PNG to write', 'augment-preview.png'),
    ).action(async (file: string, o: { set: string[]; image?: string; n: string; seed?: string; out: string }) => {
      const { fail } = await import('../../errors.js');
      const { loadExperiment } = await import('../../config/index.js');
      const { experiment } = loadExperiment(file, { set: o.set });
      if (!experiment.augment)
        fail('augment.missing', `${file} has no \`augment\` section, so training uses the images as they are.`, {
          file,
          path: 'augment',
          hint: 'Add for example `augment: { rotation: 40, horizontalFlip: true }`.',
        });
      const n = Number(o.n);
      if (!Number.isInteger(n) || n < 1 || n > 100) fail('cli.bad-option', `-n must be an integer from 1 to 100, got "${o.n}".`, { expected: '1..100', received: o.n });
      const seed = o.seed === undefined ? experiment.seed : Number(o.seed);
      const { initBackend } = await import('../../backend.js');
      await initBackend('auto');
      const { augmentPreview } = await import('../../data/index.js');
      const out = await augmentPreview(experiment.data, experiment.augment!, { image: o.image, n, seed, out: o.out });
      process.stdout.write(`wrote ${out}\n`);
    });
  },
};
export default command;
