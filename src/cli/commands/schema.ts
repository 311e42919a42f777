import type { CliCommand } from '../command.js';

const command: CliCommand = {
  name: 'schema',
  register(program) {
    program
      .command('schema')
      .description('Print the JSON Schema of experiment files (--resolved: of resolved configs); --write regenerates schema/*.json and docs/config.md')
      .option('--resolved', 'the strict schema of a resolved config, in which every key is present')
      .option('--write', 'write schema/experiment.schema.json, schema/resolved.schema.json, schema/architecture.schema.json and docs/config.md')
      .option('--root <dir>', 'project folder to write into', '.')
      .action(async (opts: { write?: boolean; resolved?: boolean; root: string }) => {
        const { experimentJsonSchemaText, resolvedJsonSchemaText } = await import('../../config/json-schema.js');
        if (!opts.write) {
          process.stdout.write(opts.resolved ? resolvedJsonSchemaText() : experimentJsonSchemaText());
          return;
        }
        const { writeGenerated } = await import('../../config/docs.js');
        for (const f of writeGenerated(opts.root)) process.stdout.write(`wrote ${f}\n`);
      });
  },
};
export default command;
