import path from 'node:path';
import { Option } from 'commander';
import { withConfigOptions, type CliCommand } from '../command.js';
import { FitspecError } from '../../errors.js';
import { printProblems } from '../output.js';

const command: CliCommand = {
  name: 'train',
  loadsTensorFlow: true,
  register(program) {
    withConfigOptions(
      program
        .command('train')
        .argument('[file]', 'experiment YAML file')
        .description('Train an experiment: data, model, epochs, run folder, tracking')
        .option('--resume <runDir>', 'continue an interrupted run from its last checkpoint (same run id)')
        .addOption(new Option('--max-epochs <n>', 'stop after this many epochs (quick checks)').argParser((v) => Number.parseInt(v, 10)))
        .option('--no-progress', 'one line per epoch instead of a live progress bar'),
    ).action(async (file: string | undefined, opts: { set: string[]; resume?: string; maxEpochs?: number; progress: boolean }) => {
      const { loadExperiment } = await import('../../api/config.js');
      let source = file;
      if (opts.resume) {
        // The run folder keeps the resolved config, so a resumed run trains exactly what it started with.
        source = path.join(opts.resume, 'resolved.yaml');
        if (file) throw new FitspecError({ code: 'cli.usage', message: 'Give either an experiment file or --resume RUN_DIR, not both.' });
        if (opts.set.length) {
          throw new FitspecError({
            code: 'cli.resume-set',
            message: `--resume continues a run exactly as it started (${source}); --set ${opts.set[0]} would change what it trains, so it is not accepted with --resume`,
            hint: `to train with other values, start a new run: fitspec train ${source} --set ...; tracking credentials for a resumed run go in MLFLOW_TRACKING_URI or MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD`,
          });
        }
      }
      if (!source) throw new FitspecError({ code: 'cli.usage', message: 'Missing the experiment file: fitspec train experiments/01-baseline.yaml' });
      // The model is checked against the classes in the data before TensorFlow loads and before any run exists.
      const loaded = loadExperiment(source, { set: opts.set, data: true });
      printProblems(loaded.warnings);
      const { train } = await import('../../api/train.js');
      const result = await train(loaded, { resume: opts.resume, maxEpochs: opts.maxEpochs, progress: opts.progress ? undefined : false });
      if (result.status === 'KILLED') process.exitCode = 130;
    });
  },
};
export default command;
