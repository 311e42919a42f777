import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { reportError } from './output.js';
import { runQuiet, watchFilteringParent } from './quiet.js';
import { packageVersion } from './version.js';

/**
 * A reader that went away (`fitspec schema | head -c10`) closes stdout: the command ends quietly, as
 * Unix tools do, instead of an unhandled EPIPE with a stack.
 */
let handlingClosedOutput = false;
export function endQuietlyOnClosedOutput(): void {
  if (handlingClosedOutput) return;
  handlingClosedOutput = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      throw e;
    });
  }
}

/** Entry point shared by bin/fitspec.js and tests; returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedOutput();
  const program = new Command('fitspec')
    .description('One YAML file per experiment: validate, train, track, compare.')
    .version(`fitspec ${packageVersion()}`, '-V, --version', 'print the fitspec version')
    .option('--debug', 'print stack traces for every error')
    .option('--verbose', "also print TensorFlow's own log lines (oneDNN, CPU features, ...)")
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

/** Entry point of bin/fitspec.js: like `main`, with TensorFlow's start-up lines kept off stderr. */
export async function cli(argv: string[]): Promise<number> {
  endQuietlyOnClosedOutput();
  watchFilteringParent();
  const quiet = runQuiet(argv, (name) => commands.some((c) => c.name === name && c.loadsTensorFlow));
  if (quiet) return quiet;
  if (argv.includes('--verbose')) process.env.TF_CPP_MIN_LOG_LEVEL ??= '0';
  return main(argv);
}
