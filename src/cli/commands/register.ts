import type { CliCommand } from '../command.js';

const command: CliCommand = {
  name: 'register',
  register(program) {
    program
      .command('register')
      .argument(
        '<run>',
        "a finished run folder logged to MLflow, an MLflow run id, or runs:/<run id>; a sweep's folder (runs/sweeps/<name>) or MLflow run stands for its best trial",
      )
      .description("Register a run's model in the MLflow model registry (once per run), tagged with its config hash, experiment file, git commit and best metrics")
      .requiredOption('--name <name>', 'registered model name')
      .option('--alias <alias>', 'alias to point at the version, e.g. champion')
      .option('--json', 'print the version as JSON')
      .action(async (ref: string, opts: { name: string; alias?: string; json?: boolean }) => {
        const { registerModel } = await import('../../track/register.js');
        const { writeMlflowModel } = await import('../../export/index.js');
        const log = (m: string) => process.stderr.write(m + '\n');
        const r = await registerModel({ ref, name: opts.name, alias: opts.alias, log, writeMlflowModel: (dir) => writeMlflowModel(dir, log) });
        if (opts.json) {
          process.stdout.write(JSON.stringify(r, null, 2) + '\n');
          return;
        }
        if (r.sweep) process.stdout.write(`sweep ${r.sweep.name}: best trial ${r.sweep.trial} by ${r.sweep.metric} (${r.sweep.mode}) = ${r.sweep.value}\n`);
        process.stdout.write(
          `${r.created ? 'registered' : 'already registered'}: models:/${r.name}/${r.version} (run ${r.runId})${r.alias ? `, alias ${r.alias} -> version ${r.version}` : ''}\n`,
        );
        process.stdout.write(`predict with: fitspec predict models:/${r.name}${r.alias ? `@${r.alias}` : `/${r.version}`} IMAGES\n`);
      });
  },
};
export default command;
