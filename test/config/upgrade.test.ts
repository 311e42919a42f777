import { describe, expect, it } from 'vitest';
import type { Problem } from '../../src/errors.js';
import { parseConfigText } from '../../src/config/parse.js';
import { upgradeConfig, upgrades, type UpgradeStep } from '../../src/config/upgrade/index.js';
import { SCHEMA_VERSION } from '../../src/config/schema/experiment.js';

const parse = (text: string) => parseConfigText(text, 'x.yaml', new Map(), []).value!;

describe('schema versions and upgrades', () => {
  it('has a step for every version below the current one', () => {
    expect(SCHEMA_VERSION).toBe(1);
    for (let v = 1; v < SCHEMA_VERSION; v++) expect(upgrades.some((s) => s.from === v)).toBe(true);
  });

  it('leaves a current file alone, with or without schemaVersion', () => {
    const problems: Problem[] = [];
    const a = parse('name: a\n');
    const b = parse('schemaVersion: 1\nname: a\n');
    expect(upgradeConfig(a, 'x.yaml', new Map(), problems)).toBe(a);
    expect(upgradeConfig(b, 'x.yaml', new Map(), problems)).toBe(b);
    expect(problems).toEqual([]);
  });

  it('runs the steps in order from the file version up to the current one', () => {
    const steps: UpgradeStep[] = [
      { from: 2, describe: 'rename lr', up: (c) => ({ ...c, rate: c.lr, lr: undefined }) },
      { from: 1, describe: 'rename learning_rate', up: (c) => ({ ...c, lr: c.learning_rate, learning_rate: undefined }) },
    ];
    const out = upgradeConfig(parse('schemaVersion: 1\nlearning_rate: 0.1\n'), 'x.yaml', new Map(), [], steps, 3);
    expect(out).toMatchObject({ schemaVersion: 3, rate: 0.1 });
  });

  it('refuses a newer version and a malformed one', () => {
    const problems: Problem[] = [];
    expect(upgradeConfig(parse('schemaVersion: 2\n'), 'x.yaml', new Map(), problems)).toBeUndefined();
    expect(upgradeConfig(parse('schemaVersion: 0\n'), 'x.yaml', new Map(), problems)).toBeUndefined();
    expect(problems.map((p) => p.code)).toEqual(['config.version-newer', 'config.version']);
  });
});
