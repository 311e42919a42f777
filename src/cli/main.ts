import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { reportError } from './output.js';
import { packageVersion } from './version.js';

/** Entry point shared by bin/fitspec.js and tests; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('fitspec')
    .description('One YAML file per experiment: validate, train, track, compare.')
    .version(`fitspec ${packageVersion()}`, '-V, --version', 'print the fitspec version')
    .option('--debug', 'print stack traces for every error')
    .exitOverride()
    .showHelpAfterError();
  for (const c of commands) c.register(program);
  const debug = argv.includes('--debug');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version arrive here too, with exit code 0.
      return e.exitCode === 0 ? 0 : 2;
    }
    return reportError(e, debug);
  }
}
