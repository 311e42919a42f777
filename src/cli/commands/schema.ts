import type { CliCommand } from '../command.js';

const command: CliCommand = {
  name: 'schema',
  register(program) {
    program
      .command('schema')
      .description('Print the experiment JSON Schema; --write regenerates schema/experiment.schema.json and docs/config.md')
      .option('--write', 'write schema/experiment.schema.json and docs/config.md')
      .option('--root <dir>', 'project folder to write into', '.')
      .action(async (opts: { write?: boolean; root: string }) => {
        const { experimentJsonSchemaText } = await import('../../config/json-schema.js');
        if (!opts.write) {
          process.stdout.write(experimentJsonSchemaText());
          return;
        }
        const { writeGenerated } = await import('../../config/docs.js');
        for (const f of writeGenerated(opts.root)) process.stdout.write(`wrote ${f}\n`);
      });
  },
};
export default command;
