// Native TensorFlow without the graph addon trains on the eager engine, several times slower: that
// is said once, never silently (whatever hid the addon: a cache folder moved, a failed build).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, synth, tinyExperiment, tmpDir } from './helpers.js';

describe('a native run without the graph addon', () => {
  const dir = tmpDir('eager-fallback');
  const data = path.join(dir, 'data');
  beforeAll(() => synth(data, 12));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('trains on the eager engine with one warning that names the cause', () => {
    const file = tinyExperiment(dir, data, '');
    const r = cli(['train', file, '--set', 'train.epochs=1', '--no-progress'], dir, { FITSPEC_GRAPH_ADDON: path.join(dir, 'missing', 'fitspec_graph.node') });
    expect(r.code, r.stderr).toBe(0);
    const warnings = (r.stdout + r.stderr).split('\n').filter((l) => /warning: training on the eager engine/.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/graph addon is not built/);
    expect(r.stdout + r.stderr).toMatch(/engine: eager/);
  });

  it('trains on the graph engine, with no such warning, when the addon is there', () => {
    const file = tinyExperiment(dir, data, '');
    const r = cli(['train', file, '--set', 'train.epochs=1', '--no-progress'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/training on the eager engine/);
    expect(r.stdout + r.stderr).toMatch(/engine: graph/);
  });
});
