import type { Problem } from '../../errors.js';
import { SCHEMA_VERSION } from '../schema/experiment.js';
import { metaOf, placeOf, setMeta, type Sources } from '../origins.js';

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
export function upgradeConfig(
  config: Record<string, unknown>,
  file: string,
  sources: Sources,
  problems: Problem[],
  steps: readonly UpgradeStep[] = upgrades,
  current: number = SCHEMA_VERSION,
): Record<string, unknown> | undefined {
  const raw = config.schemaVersion;
  if (raw === undefined) return config;
  const where = placeOf(metaOf(config)?.vals.get('schemaVersion'), sources);
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1) {
    problems.push({
      code: 'config.version',
      message: `\`schemaVersion\` must be a positive integer (this fitspec writes ${current}), got ${JSON.stringify(raw)}.`,
      path: 'schemaVersion',
      expected: `an integer from 1 to ${current}`,
      received: JSON.stringify(raw),
      ...where,
    });
    return undefined;
  }
  if (raw > current) {
    problems.push({
      code: 'config.version-newer',
      message: `this file is written for schemaVersion ${raw}, but this fitspec reads up to ${current}; upgrade fitspec.`,
      path: 'schemaVersion',
      expected: `at most ${current}`,
      received: String(raw),
      file,
      ...where,
    });
    return undefined;
  }
  let out = config;
  for (let v = raw; v < current; v++) {
    const step = steps.find((s) => s.from === v);
    if (!step) throw new Error(`no upgrade step from schemaVersion ${v}`);
    out = step.up(out);
  }
  if (raw < current) {
    if (out === config) out = { ...config };
    out.schemaVersion = current;
    // Steps build new objects; keep the file positions of everything they did not touch.
    const meta = metaOf(config);
    if (meta && !metaOf(out)) setMeta(out, meta);
  }
  return out;
}
