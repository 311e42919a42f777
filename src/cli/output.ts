import pc from 'picocolors';
import { formatProblem, isFitspecError, type Problem } from '../errors.js';
import { redactCredentials } from '../redact.js';

export function printProblems(problems: Problem[], stream: NodeJS.WriteStream = process.stderr): void {
  for (const p of problems) {
    const text = redactCredentials(formatProblem(p));
    stream.write((p.severity === 'warning' ? pc.yellow(text) : pc.red(text)) + '\n');
  }
}

/** User mistakes: their problems and exit 2. Bugs: the stack and exit 1. */
export function reportError(e: unknown, debug: boolean): number {
  if (isFitspecError(e)) {
    printProblems(e.problems);
    if (debug && e.stack) process.stderr.write(e.stack + '\n');
    return 2;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(pc.red(`internal error: ${redactCredentials(err.message)}`) + '\n');
  process.stderr.write((debug ? (err.stack ?? '') : 'run again with --debug for the stack trace, and please report it') + '\n');
  return 1;
}
