/**
 * One error type for every user mistake (bad config, missing data, unreachable server).
 * It carries one or more problems so that a config with five mistakes reports five,
 * each with a code, what was expected, what was received and a source position when known.
 * The CLI prints problems and exits 2; anything else that is thrown is a bug.
 */
export type Severity = 'error' | 'warning';

export interface Problem {
  /** Stable, greppable code, e.g. `schema.type`, `yaml.duplicate-key`, `data.missing-folder`. */
  code: string;
  /** One sentence: what is wrong and what to do. */
  message: string;
  severity?: Severity;
  /** File the problem is in (a config, an image, a CSV). */
  file?: string;
  /** 1-based line and column in `file`. */
  line?: number;
  col?: number;
  /** Dotted path inside the config, e.g. `model.layers.3.dropout.rate`. */
  path?: string;
  expected?: string;
  received?: string;
  /** "did you mean ...?" suggestion. */
  hint?: string;
  /** Pre-rendered source excerpt with a caret under the column. */
  excerpt?: string;
}

export class FitspecError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem | Problem[]) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.map((p) => p.message).join('\n'));
    this.name = 'FitspecError';
    this.problems = list;
  }
  /** Code of the first problem: convenient for single-problem errors. */
  get code(): string {
    return this.problems[0]?.code ?? 'unknown';
  }
}

export function isFitspecError(e: unknown): e is FitspecError {
  return e instanceof FitspecError;
}

/** Shorthand for throwing a single user-facing problem. */
export function fail(code: string, message: string, extra: Omit<Problem, 'code' | 'message'> = {}): never {
  throw new FitspecError({ code, message, ...extra });
}

/** `file:line:col: message` (+ hint and excerpt on following lines). */
export function formatProblem(p: Problem): string {
  const where = p.file ? [p.file, p.line, p.line !== undefined ? p.col : undefined].filter((x) => x !== undefined).join(':') : '';
  const sev = p.severity === 'warning' ? 'warning' : 'error';
  const head = `${where ? where + ': ' : ''}${sev} [${p.code}] ${p.message}`;
  const lines = [head];
  if (p.hint) lines.push(`  ${p.hint}`);
  if (p.excerpt) lines.push(p.excerpt.replace(/^/gm, '  '));
  return lines.join('\n');
}
