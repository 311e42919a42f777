import type { Problem } from '../../errors.js';
import { SCHEMA_VERSION } from '../schema/experiment.js';
import { placeOf, metaOf, type Sources } from '../origins.js';

/**
 * One step of the config format: turns a file written for `from` into one for `from + 1`.
 * When the format changes, bump SCHEMA_VERSION and add a step here (one file per step), so that every
 * older experiment file keeps loading.
 */
export interface UpgradeStep {
  from: number;
  describe: string;
  up(config: Record<string, unknown>): Record<string, unknown>;
}

/** Version 1 is the first format: nothing to upgrade yet. */
export const upgrades: UpgradeStep[] = [];

/** Brings one parsed file (before merging) to the current format; a file without `schemaVersion` is current. */
export function upgradeConfig(config: Record<string, unknown>, file: string, sources: Sources, problems: Problem[]): Record<string, unknown> | undefined {
  const raw = config.schemaVersion;
  if (raw === undefined) return config;
  const where = placeOf(metaOf(config)?.vals.get('schemaVersion'), sources);
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1) {
    problems.push({ code: 'config.version', message: `\`schemaVersion\` must be a positive integer (this fitspec writes ${SCHEMA_VERSION}), got ${JSON.stringify(raw)}.`, path: 'schemaVersion', expected: `an integer from 1 to ${SCHEMA_VERSION}`, received: JSON.stringify(raw), ...where });
    return undefined;
  }
  if (raw > SCHEMA_VERSION) {
    problems.push({ code: 'config.version-newer', message: `this file is written for schemaVersion ${raw}, but this fitspec reads up to ${SCHEMA_VERSION}; upgrade fitspec.`, path: 'schemaVersion', expected: `at most ${SCHEMA_VERSION}`, received: String(raw), file, ...where });
    return undefined;
  }
  let out = config;
  for (let v = raw; v < SCHEMA_VERSION; v++) {
    const step = upgrades.find((s) => s.from === v);
    if (!step) throw new Error(`no upgrade step from schemaVersion ${v}`);
    out = step.up(out);
  }
  return out;
}
