import type { Experiment } from '../schema/experiment.js';
import type { PluginShapes } from './shapes.js';

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

/** The classes the data defines, read from the source before any image is decoded (src/data/sources.ts). */
export interface DiscoveredClasses {
  classes: string[];
  /** Where the classes were read, for messages: "the class folders of /data/faces". */
  from: string;
  /** Rows per class, when the classes come from a CSV column (a typo shows as a class of 1 row). */
  counts?: Record<string, number>;
}

/** One cross-field rule, run on the validated config with every default filled in. */
export interface Check {
  name: string;
  /** Severity and what it catches, for docs/config.md. */
  description: string;
  /** `data` is given when the caller has read the data source (`validate --data`, `train`). */
  run(exp: Experiment, data?: DiscoveredClasses, plugins?: PluginShapes): Finding[];
}
