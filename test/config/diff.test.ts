import { describe, expect, it } from 'vitest';
import { diffExperiments, formatDiff, loadExperiment, loadExperimentText } from '../../src/config/index.js';
import { fixture } from './helpers.js';

const STACK = `name: d
data: {source: {type: directory, path: data/x}}
train: {epochs: 2}
model:
  layers:
`;
const layers = (...l: string[]) => STACK + l.map((x) => `    - ${x}\n`).join('');
const load = (text: string) => loadExperimentText(text, fixture('inline.yaml')).experiment;

interface Case {
  description: string;
  a: string;
  b: string;
  text: string;
}

const cases: Case[] = [
  {
    description: 'equal configs print nothing',
    a: layers('flatten: {}', 'dense: {units: 3}'),
    b: layers('flatten: {trainable: true}', 'dense: {units: 3, activation: linear}'),
    text: '',
  },
  {
    description: 'a changed scalar and an added key',
    a: layers('flatten: {}', 'dense: {units: 3}'),
    b: layers('flatten: {}', 'dense: {units: 3}') + 'seed: 7\n',
    text: '~ seed: 42 -> 7\n',
  },
  {
    description: 'an added key inside a section',
    a: layers('flatten: {}', 'dense: {units: 3}'),
    b: layers('flatten: {}', 'dense: {units: 3}').replace('train: {epochs: 2}', 'train: {epochs: 2, classWeight: balanced}'),
    text: '+ train.classWeight: balanced\n',
  },
  {
    description: 'an added list of mappings is one line per item',
    a: layers('flatten: {}', 'dense: {units: 3}'),
    b: layers('flatten: {}', 'dense: {units: 3}').replace('train: {epochs: 2}', 'train: {epochs: 2, phases: [{epochs: 1}, {epochs: 2, freeze: base}]}'),
    text: '+ train.phases.0: { epochs: 1, freeze: none }\n+ train.phases.1: { epochs: 2, freeze: base }\n',
  },
  {
    description: 'multi-line strings show as a block, line by line',
    a: layers('flatten: {}', 'dense: {units: 3}') + 'description: |\n  one\n  two\n  three\n',
    b: layers('flatten: {}', 'dense: {units: 3}') + 'description: |\n  one\n  2\n  three\n',
    text: '~ description:\n      one\n    - two\n    + 2\n      three\n',
  },
  {
    description: 'an added section is one line per key',
    a: layers('flatten: {}', 'dense: {units: 3}'),
    b: layers('flatten: {}', 'dense: {units: 3}') + 'augment: {rotation: 40, zoom: [0.8, 1.2]}\n',
    text: '+ augment.rotation: 40\n+ augment.widthShift: 0\n+ augment.heightShift: 0\n+ augment.shear: 0\n+ augment.zoom: [0.8,1.2]\n+ augment.horizontalFlip: false\n+ augment.verticalFlip: false\n+ augment.fill: nearest\n+ augment.fillValue: 0\n+ augment.interpolation: bilinear\n+ augment.channelShift: 0\n',
  },
  {
    description: 'an inserted layer is one line, aligned by kind',
    a: layers('conv2d: {filters: 4, kernelSize: 3}', 'flatten: {}', 'dense: {units: 3}'),
    b: layers('conv2d: {filters: 4, kernelSize: 3}', 'dropout: {rate: 0.5}', 'flatten: {}', 'dense: {units: 3}'),
    text: '+ model.layers.1: { dropout: { rate: 0.5, trainable: true } } (inserted dropout after conv2d)\n',
  },
  {
    description: 'a removed layer and a changed one',
    a: layers('conv2d: {filters: 4, kernelSize: 3}', 'maxPooling2d: {}', 'conv2d: {filters: 8, kernelSize: 3}', 'flatten: {}', 'dense: {units: 3}'),
    b: layers('conv2d: {filters: 4, kernelSize: 3}', 'conv2d: {filters: 16, kernelSize: 3}', 'flatten: {}', 'dense: {units: 3}'),
    text: '- model.layers.1: { maxPooling2d: { poolSize: 2, padding: valid, trainable: true } } (removed max_pooling2d)\n~ model.layers.1.conv2d.filters: 8 -> 16 (conv2d_1, was model.layers.2)\n',
  },
  {
    description: 'named layers align by name even when kinds around them change',
    a: layers('conv2d: {filters: 4, kernelSize: 3, name: stem}', 'flatten: {}', 'dense: {units: 8, name: head}', 'dense: {units: 3}'),
    b: layers('conv2d: {filters: 4, kernelSize: 5, name: stem}', 'globalAveragePooling2d: {}', 'dense: {units: 8, name: head}', 'dense: {units: 3}'),
    text: '- model.layers.1: { flatten: { trainable: true } } (removed flatten)\n+ model.layers.1: { globalAveragePooling2d: { trainable: true } } (inserted global_average_pooling2d after stem)\n~ model.layers.0.conv2d.kernelSize: 3 -> 5 (stem)\n'
      .split('\n')
      .sort()
      .join('\n'),
  },
  {
    description: 'lists of scalars compare whole; removed keys show their old value',
    a: layers('flatten: {}', 'dense: {units: 3}') + 'tracking: {tags: {team: a}}\n',
    b: layers('flatten: {}', 'dense: {units: 3}').replace('path: data/x}', 'path: data/x}, classes: [a, b, c]') + 'tracking: {tags: {owner: b}}\n',
    text: '+ data.classes: ["a","b","c"]\n+ tracking.tags.owner: b\n- tracking.tags.team: a\n',
  },
];

describe('semantic diff of resolved configs', () => {
  for (const c of cases) {
    it(c.description, () => {
      const d = diffExperiments(load(c.a), load(c.b));
      const text = formatDiff(d, 'text', ['a', 'b']);
      if (c.description.startsWith('named')) expect(text.split('\n').sort().join('\n')).toBe(c.text);
      else expect(text).toBe(c.text);
      expect(d.equal).toBe(c.text === '');
    });
  }

  it('shows the fixture chain: base -> regularized', () => {
    const d = diffExperiments(loadExperiment(fixture('base.yaml')).experiment, loadExperiment(fixture('regularized.yaml')).experiment);
    expect(
      formatDiff(d, 'text', ['a', 'b'])
        .split('\n')
        .map((l) => l.split(':')[0]),
    ).toEqual(['~ name', '~ description', '+ model.layers.1', '~ model.layers.3.conv2d.filters', '- model.layers.3', '+ model.layers.5', '~ train.optimizer.learningRate', '']);
  });

  it('formats markdown as a table', () => {
    const d = diffExperiments(load(layers('flatten: {}', 'dense: {units: 3}')), load(layers('flatten: {}', 'dense: {units: 4}')));
    expect(formatDiff(d, 'markdown', ['A.yaml', 'B.yaml'])).toBe(
      '**1 difference** between `A.yaml` and `B.yaml` (resolved configs):\n\n| | path | A.yaml | B.yaml |\n| --- | --- | --- | --- |\n| ~ | `model.layers.1.dense.units` (dense) | `3` | `4` |\n',
    );
    expect(formatDiff({ equal: true, lines: [] }, 'markdown', ['A', 'B'])).toMatch(/No differences/);
  });

  it('shows a multi-line value in markdown as a diff block after the table, not an escaped cell', () => {
    const a = load(layers('flatten: {}', 'dense: {units: 3}') + 'description: |\n  first line\n  with a | pipe\n');
    const b = load(layers('flatten: {}', 'dense: {units: 4}') + 'description: |\n  first line\n  changed\n');
    expect(formatDiff(diffExperiments(a, b), 'markdown', ['A.yaml', 'B.yaml'])).toBe(
      [
        '**2 differences** between `A.yaml` and `B.yaml` (resolved configs):',
        '',
        '| | path | A.yaml | B.yaml |',
        '| --- | --- | --- | --- |',
        '| ~ | `model.layers.1.dense.units` (dense) | `3` | `4` |',
        '',
        '~ `description`:',
        '',
        '```diff',
        '  first line',
        '- with a | pipe',
        '+ changed',
        '```',
        '',
      ].join('\n'),
    );
  });
});
