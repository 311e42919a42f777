import { describe, expect, it } from 'vitest';
import { loadExperimentText } from '../../src/config/index.js';
import { readableParams } from '../../src/track/index.js';

const load = (source: string) =>
  loadExperimentText(
    `name: p
description: |
  A long description that belongs in the run's description.
data:
  source: ${source}
model:
  layers:
    - flatten: {}
    - dense: {units: 3, activation: softmax}
tracking:
  uri: http://127.0.0.1:5000
  tags: {}
`,
    'p.yaml',
  ).experiment;

describe('readableParams: what was set or matters', () => {
  it('a folder source logs no CSV columns; tracking bookkeeping and the description are left out', () => {
    const p = readableParams(load('{type: directory, path: data/faces}'));
    expect(p['data.source.type']).toBe('directory');
    expect(p['data.source.path']).toBe('data/faces');
    expect(Object.keys(p).filter((k) => k.startsWith('data.source.'))).toEqual(['data.source.type', 'data.source.path']);
    expect(p).not.toHaveProperty('description');
    expect(p).not.toHaveProperty('tracking.tags');
    expect(p).not.toHaveProperty('tracking.runsDir');
    expect(p['tracking.uri']).toBe('http://127.0.0.1:5000');
    expect(p['train.optimizer.learningRate']).toBeDefined();
    expect(p['model.layers.1.dense.units']).toBe(3);
  });

  it('a CSV source logs its columns and no folder path', () => {
    const p = readableParams(load('{type: csv, images: data/Train, labels: data/train.csv}'));
    expect(p['data.source.idColumn']).toBe('ID');
    expect(p['data.source.labelColumn']).toBe('Class');
    expect(p['data.source.labels']).toBe('data/train.csv');
    expect(p).not.toHaveProperty('data.source.path');
  });

  it('the prose of named blocks is left out; their parameters and layers stay', () => {
    const exp = loadExperimentText(
      `name: p
data:
  source: {type: directory, path: data/faces}
model:
  blocks:
    unit:
      description: A convolution and its normalization.
      params: {filters: {description: Output channels., default: 8}}
      layers:
        - conv2d: {filters: '\${filters}', kernelSize: 3, padding: same}
  layers:
    - block: {use: unit}
    - flatten: {}
    - dense: {units: 3, activation: softmax}
`,
      'p.yaml',
    ).experiment;
    const p = readableParams(exp);
    expect(Object.keys(p).filter((k) => k.endsWith('description'))).toEqual([]);
    expect(p['model.blocks.unit.params.filters.default']).toBe(8);
    expect(p['model.blocks.unit.layers.0.conv2d.filters']).toBe('${filters}');
  });
});
