import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultLayerNames, loadExperiment, loadExperimentText } from '../../src/config/index.js';
import { fixture, problemsOf } from './helpers.js';

const kinds = (layers: readonly object[]) => layers.map((l) => Object.keys(l)[0]);

describe('extends', () => {
  it('records the chain root first and drops `extends` from the resolved config', () => {
    const l = loadExperiment(fixture('augmented.yaml'));
    expect(l.chain).toEqual([fixture('base.yaml'), fixture('regularized.yaml'), fixture('augmented.yaml')]);
    expect(l.experiment).not.toHaveProperty('extends');
    expect(l.resolvedYaml).not.toMatch(/extends/);
    expect(l.experiment.name).toBe('tiny-augmented');
  });

  it('deep-merges mappings and replaces scalars', () => {
    const l = loadExperiment(fixture('augmented.yaml'));
    expect(l.experiment.train.epochs).toBe(5);
    expect(l.experiment.train.batchSize).toBe(8);
    expect(l.experiment.train.optimizer).toMatchObject({ name: 'rmsprop', learningRate: 5e-5 });
    expect(l.experiment.augment).toMatchObject({ rotation: 20, horizontalFlip: true, zoom: 0 });
  });

  it('edits an inherited layer stack with $patch (insert, update, remove by name)', () => {
    const base = loadExperiment(fixture('base.yaml')).experiment.model.layers;
    const l = loadExperiment(fixture('regularized.yaml')).experiment.model.layers;
    expect(kinds(base)).toEqual(['conv2d', 'maxPooling2d', 'conv2d', 'maxPooling2d', 'flatten', 'dense', 'dense']);
    expect(kinds(l)).toEqual(['conv2d', 'batchNormalization', 'maxPooling2d', 'conv2d', 'flatten', 'dropout', 'dense', 'dense']);
    expect((l[3] as { conv2d: { filters: number; activation: string } }).conv2d).toMatchObject({ filters: 24, activation: 'relu', kernelSize: 3 });
    expect((l[5] as { dropout: { rate: number } }).dropout.rate).toBe(0.3);
  });

  it('deletes inherited keys with null', () => {
    const l = loadExperiment(fixture('no-augment.yaml')).experiment;
    expect(l.augment).toBeUndefined();
    expect(l.data.classes).toBeUndefined();
    expect(l.train.epochs).toBe(5);
  });

  it('accepts a list of files, merged in order', () => {
    const l = loadExperiment(fixture('composed.yaml'));
    expect(l.chain).toEqual([fixture('parts/data.yaml'), fixture('parts/model.yaml'), fixture('composed.yaml')]);
    expect(l.experiment.model.layers).toHaveLength(7);
  });

  const patchCases: { description: string; patch: string; expected: string[]; check?: (layers: Record<string, Record<string, unknown>>[]) => void }[] = [
    {
      description: 'replace by negative index',
      patch: `- replace: -2\n        with: {globalAveragePooling2d: {}}`,
      expected: ['conv2d', 'maxPooling2d', 'conv2d', 'maxPooling2d', 'flatten', 'globalAveragePooling2d', 'dense'],
    },
    {
      description: 'insertBefore by index 0',
      patch: `- insertBefore: 0\n        with: {batchNormalization: {}}`,
      expected: ['batchNormalization', 'conv2d', 'maxPooling2d', 'conv2d', 'maxPooling2d', 'flatten', 'dense', 'dense'],
    },
    {
      description: 'update deletes an argument with null and keeps the rest',
      patch: `- update: conv2d\n        with: {activation: null, filters: 4}`,
      expected: ['conv2d', 'maxPooling2d', 'conv2d', 'maxPooling2d', 'flatten', 'dense', 'dense'],
      check: (l) => expect(l[0].conv2d).toMatchObject({ filters: 4, activation: 'linear', kernelSize: 3 }),
    },
    {
      description: 'targets are resolved in the inherited stack, before earlier edits',
      patch: `- insertAfter: conv2d\n        with: {conv2d: {filters: 2, kernelSize: 1}}\n      - update: conv2d_1\n        with: {filters: 99}`,
      expected: ['conv2d', 'conv2d', 'maxPooling2d', 'conv2d', 'maxPooling2d', 'flatten', 'dense', 'dense'],
      check: (l) => {
        expect(l[1].conv2d.filters).toBe(2);
        expect(l[3].conv2d.filters).toBe(99);
      },
    },
  ];
  for (const c of patchCases) {
    it(`$patch: ${c.description}`, () => {
      const text = `extends: base.yaml\nname: p\nmodel:\n  layers:\n    $patch:\n      ${c.patch}\n`;
      const layers = loadExperimentText(text, fixture('inline.yaml')).experiment.model.layers as unknown as Record<string, Record<string, unknown>>[];
      expect(kinds(layers)).toEqual(c.expected);
      c.check?.(layers);
    });
  }

  it('reports an error inside an inherited file at that file, and the child error at the child', () => {
    const problems = problemsOf(() => loadExperiment(fixture('child-of-bad.yaml')));
    expect(problems.map((p) => [p.code, p.file, p.line, p.col])).toEqual([
      ['schema.unknown-key', fixture('bad-parent.yaml'), 4, 43],
      ['schema.range', fixture('child-of-bad.yaml'), 4, 11],
    ]);
  });

  it('reports a cycle naming the chain', () => {
    const [p, ...rest] = problemsOf(() => loadExperiment(fixture('cycle-a.yaml')));
    expect(rest).toEqual([]);
    expect(p.code).toBe('extends.cycle');
    expect(p.message).toContain(`${fixture('cycle-a.yaml')} -> ${fixture('cycle-b.yaml')} -> ${fixture('cycle-a.yaml')}`);
    expect([p.file, p.line, p.col]).toEqual([fixture('cycle-b.yaml'), 1, 10]);
  });

  it('reports a missing parent at the extends line', () => {
    const [p] = problemsOf(() => loadExperiment(fixture('missing-parent.yaml')));
    expect([p.code, p.file, p.line, p.col]).toEqual(['extends.missing', fixture('missing-parent.yaml'), 2, 10]);
  });

  it('reports a missing file', () => {
    const [p] = problemsOf(() => loadExperiment(fixture('nope.yaml')));
    expect(p.code).toBe('config.not-found');
  });

  it('rejects bytes that are not UTF-8 with their position', () => {
    const [p] = problemsOf(() => loadExperiment(fixture('latin1.yaml')));
    expect([p.code, p.line, p.col]).toEqual(['yaml.encoding', 2, 17]);
  });

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'fitspec-config-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  it('refuses a huge file before parsing it', () => {
    const big = path.join(tmp, 'big.yaml');
    writeFileSync(big, `name: big\ndescription: "${'x'.repeat(2 * 1024 * 1024)}"\n`);
    const [p] = problemsOf(() => loadExperiment(big));
    expect(p.code).toBe('yaml.too-large');
    expect(p.message).toMatch(/1 MiB/);
  });

  it('takes an absolute `extends` path as it is, not joined to the folder of the file', () => {
    const shared = mkdtempSync(path.join(os.tmpdir(), 'fitspec-shared-'));
    try {
      const base = path.join(shared, 'base.yaml');
      writeFileSync(base, readFileSync(fixture('base.yaml'), 'utf8'));
      const child = path.join(tmp, 'child.yaml');
      writeFileSync(child, `extends: ${base}\nname: abs-child\ntrain: {epochs: 2}\n`);
      const l = loadExperiment(child);
      expect(l.chain).toEqual([base, child]);
      expect(l.experiment.name).toBe('abs-child');
      expect(l.experiment.train.epochs).toBe(2);
      expect(l.experiment.model.layers).toEqual(loadExperiment(fixture('base.yaml')).experiment.model.layers);
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });
});

describe('defaultLayerNames', () => {
  it('numbers per kind in Keras style; explicit names win and do not advance the numbering', () => {
    expect(
      defaultLayerNames([
        { conv2d: {} },
        { maxPooling2d: {} },
        { conv2d: { name: 'mine' } },
        { conv2d: {} },
        { batchNormalization: {} },
        { globalAveragePooling2d: {} },
        { dense: {} },
        { dense: {} },
      ]),
    ).toEqual(['conv2d', 'max_pooling2d', 'mine', 'conv2d_1', 'batch_normalization', 'global_average_pooling2d', 'dense', 'dense_1']);
  });
});
