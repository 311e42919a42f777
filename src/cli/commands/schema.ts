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
      .option('--plugin <module...>', "layer plugin modules whose kinds the editor schema includes (a project's schema)")
      .option('--out <file>', 'with --plugin: write the schema to this file instead of printing it')
      .action(async (opts: { write?: boolean; resolved?: boolean; root: string; plugin?: string[]; out?: string }) => {
        const { experimentJsonSchemaText, resolvedJsonSchemaText } = await import('../../config/json-schema.js');
        if (opts.plugin?.length) {
          const { pluginSchemaText } = await import('../../config/plugins.js');
          const text = pluginSchemaText(opts.plugin, process.cwd(), opts.out);
          if (!opts.out) process.stdout.write(text);
          else {
            const fs = await import('node:fs');
            fs.writeFileSync(opts.out, text);
            process.stdout.write(`wrote ${opts.out}\n`);
          }
          return;
        }
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
