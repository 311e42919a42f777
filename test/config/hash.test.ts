import { describe, expect, it } from 'vitest';
import { canonicalHash, canonicalJson, flattenConfig, loadExperiment, loadExperimentText } from '../../src/config/index.js';
import { fixture, MINIMAL } from './helpers.js';

describe('canonical hash', () => {
  it('is equal across formatting variants and inheritance', () => {
    const hashes = ['base.yaml', 'base-reformatted.yaml', 'inherits-same.yaml', 'composed.yaml'].map((f) => loadExperiment(fixture(f)).hash);
    expect(new Set(hashes).size).toBe(1);
    expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes when any value changes, including the description', () => {
    const base = loadExperiment(fixture('base.yaml'));
    const variants = [['train.epochs=4'], ['description=other'], ['model.layers.0.conv2d.kernelSize=[3, 3]'], ['seed=43']];
    const hashes = variants.map((set) => loadExperiment(fixture('base.yaml'), { set }).hash);
    expect(new Set([base.hash, ...hashes]).size).toBe(variants.length + 1);
  });

  const equalTexts: [string, string, string][] = [
    ['number spellings', 'seed: 10', 'seed: 1.0e1'],
    ['exponent and decimal', 'train: {optimizer: {learningRate: 1e-4}}', 'train: {optimizer: {learningRate: 0.0001}}'],
    ['a default written out or not', 'train: {batchSize: 32}', 'train: {}'],
    ['quoted or plain strings', 'description: "hello"', "description: 'hello'"],
    ['block or flow style', 'tracking:\n  tags:\n    team: vision', 'tracking: {tags: {team: vision}}'],
    ['$schema is not part of the config', '$schema: ../schema/experiment.schema.json', 'seed: 42'],
  ];
  for (const [what, a, b] of equalTexts) {
    it(`ignores ${what}`, () => {
      const ha = loadExperimentText(`${MINIMAL}${a}\n`, fixture('inline.yaml')).hash;
      const hb = loadExperimentText(`${MINIMAL}${b}\n`, fixture('inline.yaml')).hash;
      expect(ha).toBe(hb);
    });
  }

  it('canonical JSON sorts keys and normalizes numbers', () => {
    expect(canonicalJson({ b: [1.0, -0, 1e-4], a: { d: true, c: null } })).toBe('{"a":{"c":null,"d":true},"b":[1,0,0.0001]}');
    expect(canonicalHash({ x: 1, y: 2 })).toBe(canonicalHash({ y: 2, x: 1 }));
    expect(canonicalHash({ x: 1 })).not.toBe(canonicalHash({ x: '1' }));
  });
});

describe('flattenConfig', () => {
  it('gives dotted leaves, lists of scalars as JSON, layers by index', () => {
    const flat = flattenConfig(loadExperiment(fixture('base.yaml')).experiment);
    expect(flat['train.optimizer.learningRate']).toBe(0.0001);
    expect(flat['model.layers.2.conv2d.filters']).toBe(16);
    expect(flat['data.classes']).toBe('["young","middle","old"]');
    expect(flat['model.layers.4.flatten.trainable']).toBe(true);
    expect(flat['tracking.tags']).toBe('{}');
    expect(Object.values(flat).every((v) => ['string', 'number', 'boolean'].includes(typeof v))).toBe(true);
  });
});
