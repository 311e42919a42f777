import type { CliCommand } from '../command.js';
import { withConfigOptions } from '../command.js';

const command: CliCommand = {
  name: 'resolve',
  register(program) {
    withConfigOptions(
      program
        .command('resolve')
        .description('Print the resolved config (extends, overrides and defaults applied) and its hash')
        .argument('<file>', 'experiment YAML file')
        .option('--explain', 'annotate every value with the file:line it came from, the --set that gave it, or default'),
    ).action(async (file: string, opts: { set: string[]; explain?: boolean }) => {
      const { loadDetailed, toExplainedYaml } = await import('../../config/index.js');
      const { printProblems } = await import('../output.js');
      const { loaded, origins } = loadDetailed(file, { set: opts.set });
      printProblems(loaded.warnings);
      const body = opts.explain ? toExplainedYaml(loaded.experiment, origins) : loaded.resolvedYaml;
      const chain = loaded.chain.length > 1 ? `# extends: ${loaded.chain.join(' -> ')}\n` : '';
      const sets = loaded.overrides.map((s) => `# --set ${s}\n`).join('');
      const { resolvedModeline } = await import('../../config/output.js');
      const { redactCredentials } = await import('../../redact.js');
      // A password in a URL (tracking.uri, a description) is used to connect, never printed.
      process.stdout.write(redactCredentials(`${resolvedModeline(process.cwd())}\n# resolved from ${file}\n${chain}${sets}# hash: ${loaded.hash}\n${body}`));
    });
  },
};
export default command;
