import type { Command } from 'commander';

/** One CLI command per file, listed in ./commands/index.ts. */
export interface CliCommand {
  name: string;
  /** Loads TensorFlow: run in a child process whose stderr is filtered of TensorFlow's start-up lines (src/cli/quiet.ts). */
  loadsTensorFlow?: boolean;
  register(program: Command): void;
}

/** Collects repeated `--set a.b=c` options into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Adds the options every config-reading command shares. */
export function withConfigOptions(cmd: Command): Command {
  return cmd.option('--set <path=value>', 'override a config value (repeatable), e.g. train.epochs=5', collect, []);
}
