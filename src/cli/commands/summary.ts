import { withConfigOptions, type CliCommand } from '../command.js';
import { printProblems } from '../output.js';

const command: CliCommand = {
  name: 'summary',
  loadsTensorFlow: true,
  register(program) {
    withConfigOptions(
      program
        .command('summary')
        .argument('<file>', 'experiment YAML file')
        .description('Print a Keras-style model summary (layers, output shapes, parameters) without training')
        .option('--json', 'print the summary as JSON'),
    ).action(async (file: string, opts: { set: string[]; json?: boolean }) => {
      const { loadExperiment } = await import('../../config/index.js');
      const loaded = loadExperiment(file, { set: opts.set });
      printProblems(loaded.warnings);
      const exp = loaded.experiment;
      const { initBackend } = await import('../../backend.js');
      await initBackend(exp.train.backend, exp.train.threads);
      const { buildModel, summarize, formatSummary, applyTrainable } = await import('../../model/index.js');
      const { resolvePhases } = await import('../../train/trainer.js');
      const built = await buildModel(exp, { loadWeights: false, plugins: loaded.plugins });
      const phases = resolvePhases(exp);
      const perPhase = phases.map((p) => {
        applyTrainable(built, p.freeze, p.unfreezeFrom);
        const s = summarize(built);
        return { phase: p.name, epochs: p.epochs, trainable: s.trainable, nonTrainable: s.nonTrainable };
      });
      // The summary itself shows the model as the first phase trains it.
      applyTrainable(built, phases[0]!.freeze, phases[0]!.unfreezeFrom);
      const s = summarize(built);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ name: exp.name, ...s, phases: perPhase }, null, 2) + '\n');
        return;
      }
      process.stdout.write(formatSummary(s, exp.name) + '\n');
      if (phases.length > 1) {
        process.stdout.write('Trainable params per phase:\n');
        for (const p of perPhase)
          process.stdout.write(`  ${p.phase.padEnd(16)} ${String(p.epochs).padStart(4)} epochs  ${p.trainable.toLocaleString('en-US').padStart(12)} trainable\n`);
      }
    });
  },
};
export default command;
