import type { Experiment } from '../schema/experiment.js';

/** A finding of a cross-field check; the loader adds file, line and column from `path`. */
export interface Finding {
  code: string;
  severity: 'error' | 'warning';
  message: string;
  path: (string | number)[];
  expected?: string;
  received?: string;
  hint?: string;
  /** Point at the key of `path` rather than at its value (e.g. an argument that does not belong). */
  atKey?: boolean;
}

/** One cross-field rule, run on the validated config with every default filled in. */
export interface Check {
  name: string;
  /** Severity and what it catches, for docs/config.md. */
  description: string;
  run(exp: Experiment): Finding[];
}
