import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildNetwork } from '../../src/config/blocks.js';
import { diffExperiments } from '../../src/config/diff.js';
import { loadExperiment, loadExperimentText } from '../../src/config/index.js';
import { ROOT, problemsOf } from './helpers.js';

// Blocks are resolved and checked without TensorFlow: named blocks are instantiated at validate time,
// so that their layers, parameters and shapes are checked with positions in the file.
const HEAD = `name: blk
data:
  source: {type: directory, path: data/x}
  classes: [a, b, c]
  image: {height: 32, width: 32, channels: 3}
train: {epochs: 1}
model:
  blocks:
    unit:
      params: {filters: {}, id: {}, kernel: {default: 3}}
      layers:
        - conv2d: {name: '\${id}_conv', filters: '\${filters}', kernelSize: '\${kernel}', padding: same}
        - batchNormalization: {name: '\${id}_bn'}
`;
const STACK = `  layers:
    - conv2d: {filters: 8, kernelSize: 3, padding: same}
    - residual:
        name: res1
        layers:
          - conv2d: {filters: 8, kernelSize: 3, padding: same}
          - block: {use: unit, with: {filters: 8, id: u1}}
    - globalAveragePooling2d: {}
    - dense: {units: 3, activation: softmax}
`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-blocks-'));
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};
const base = file('base.yaml', HEAD + STACK);

describe('blocks in the layer stack', () => {
  it('a residual block with a named block inside validates, and its network has the add and the substituted layers', () => {
    const exp = loadExperiment(base).experiment;
    const net = buildNetwork(exp.model.layers, (exp.model as { blocks?: never }).blocks, ['model', 'layers'], [32, 32, 3]);
    expect(net.problems).toEqual([]);
    expect(net.plain).toBe(false);
    expect(net.nodes.map((n) => `${n.name}:${n.kind}`)).toEqual([
      'conv2d:conv2d',
      'conv2d_1:conv2d',
      'u1_conv:conv2d',
      'u1_bn:batchNormalization',
      'res1:add',
      'global_average_pooling2d:globalAveragePooling2d',
      'dense:dense',
    ]);
    expect(net.nodes[2]!.args).toMatchObject({ filters: 8, kernelSize: 3 });
    expect(net.nodes[4]!.inputs).toEqual([0, 3]);
    expect(net.nodes[4]!.shape).toEqual([32, 32, 8]);
  });

  it('an unknown argument inside a block is reported at its line, through `$patch` edits that reach into the block', () => {
    const f = file(
      'patch-bad.yaml',
      `extends: base.yaml\nname: p\nmodel:\n  layers:\n    $patch:\n      - update: res1\n        with:\n          layers:\n            $patch:\n              - update: 0\n                with: {filtres: 4}\n`,
    );
    const [p] = problemsOf(() => loadExperiment(f));
    expect(p).toMatchObject({ code: 'schema.unknown-key', path: 'model.layers.1.residual.layers.0.conv2d.filtres', line: 11, hint: expect.stringContaining('filters') });
  });

  it('`$patch`, `--set` and `diff` reach a layer inside a block by path', () => {
    const f = file(
      'patch.yaml',
      `extends: base.yaml\nname: p\nmodel:\n  layers:\n    $patch:\n      - update: res1\n        with:\n          layers:\n            $patch:\n              - update: 0\n                with: {filters: 4}\n`,
    );
    const a = loadExperiment(base).experiment;
    const b = loadExperiment(f).experiment;
    const c = loadExperiment(base, { set: ['model.layers.1.residual.layers.0.conv2d.filters=16'] }).experiment;
    const paths = (x: typeof a, y: typeof a) => diffExperiments(x, y).lines.map((l) => l.path);
    expect(paths(a, b)).toContain('model.layers.1.residual.layers.0.conv2d.filters');
    expect(paths(a, c)).toContain('model.layers.1.residual.layers.0.conv2d.filters');
    const d = loadExperiment(base, { set: ['model.blocks.unit.params.kernel.default=5'] }).experiment;
    expect(paths(a, d)).toContain('model.blocks.unit.params.kernel.default');
    const e = loadExperiment(base, { set: ['model.blocks.unit.layers.0.conv2d.kernelSize=5'] }).experiment;
    expect(paths(a, e)).toContain('model.blocks.unit.layers.0.conv2d.kernelSize');
    const [bad] = problemsOf(() => loadExperiment(base, { set: ['model.blocks.unit.layers.0.conv2d.kernelSize=0'] }));
    expect(bad).toMatchObject({ code: 'check.block-layer', message: expect.stringContaining('`kernelSize` must be >= 1') });
  });

  it('a layer of a named block that is invalid once substituted is reported at its line in the definition, naming the use', () => {
    const f = file('def-bad.yaml', HEAD.replace('padding: same}', 'padding: sideways}') + STACK);
    const problems = problemsOf(() => loadExperiment(f));
    expect(problems[0]).toMatchObject({
      code: 'check.block-layer',
      line: 12,
      path: 'model.blocks.unit.layers.0.conv2d.padding',
      message: expect.stringContaining('model.layers.1.residual.layers.1'),
    });
  });

  it('unknown blocks, unknown and missing parameters, unknown placeholders', () => {
    const codes = (stack: string, head = HEAD) => problemsOf(() => loadExperimentText(head + stack, path.join(dir, 'x.yaml'))).map((p) => [p.code, p.line, p.message]);
    expect(codes(STACK.replace('use: unit', 'use: unti'))[0]).toEqual(['check.unknown-block', 20, expect.stringContaining('`blocks` defines unit')]);
    expect(codes(STACK.replace('{filters: 8, id: u1}', '{filters: 8, id: u1, stride: 2}'))[0]).toEqual(['check.block-param', 20, expect.stringContaining('no parameter `stride`')]);
    expect(codes(STACK.replace('{filters: 8, id: u1}', '{id: u1}'))[0]).toEqual(['check.block-param', 20, expect.stringContaining('`filters` (it has no default)')]);
    expect(codes(STACK, HEAD.replace("'${id}_bn'", "'${idx}_bn'"))[0]).toEqual(['check.block-param', 13, expect.stringContaining('`${idx}` names no parameter')]);
  });

  it('a repeated block whose layer names do not use a parameter gives duplicate names; `${repetition}` or a list of uses makes them distinct', () => {
    const twice = STACK.replace('with: {filters: 8, id: u1}}', 'with: {filters: 8, id: u1}, repeat: 2}');
    expect(problemsOf(() => loadExperimentText(HEAD + twice, path.join(dir, 'x.yaml')))[0]).toMatchObject({
      code: 'check.layer-name',
      message: expect.stringContaining('`u1_conv`'),
    });
    const numbered = STACK.replace('with: {filters: 8, id: u1}}', "with: {filters: 8, id: 'u${repetition}'}, repeat: 2}");
    expect(loadExperimentText(HEAD + numbered, path.join(dir, 'x.yaml')).experiment.name).toBe('blk');
    const listed = STACK.replace('with: {filters: 8, id: u1}}', 'with: {filters: 8}, repeat: [{id: a}, {id: b}]}');
    expect(loadExperimentText(HEAD + listed, path.join(dir, 'x.yaml')).experiment.name).toBe('blk');
  });

  it('a residual whose branch changes the shape is reported at the block, with both shapes', () => {
    const bad = STACK.replace('- conv2d: {filters: 8, kernelSize: 3, padding: same}\n          - block', '- conv2d: {filters: 8, kernelSize: 3}\n          - block');
    expect(problemsOf(() => loadExperimentText(HEAD + bad, path.join(dir, 'x.yaml')))[0]).toMatchObject({
      code: 'check.block-shape',
      line: 9 + 7,
      message: expect.stringContaining('(batch, 32, 32, 8) and (batch, 30, 30, 8)'),
    });
  });

  it('parallel branches: concatenate adds the channels, multiply broadcasts a gate', () => {
    const exp = loadExperiment(base).experiment;
    const layers = [
      { parallel: { merge: 'concatenate', branches: [[], [{ conv2d: { filters: 5, kernelSize: 1 } }]] } },
      { parallel: { merge: 'multiply', branches: [[], [{ globalAveragePooling2d: {} }, { reshape: { targetShape: [1, 1, 8] } }]] } },
    ];
    const net = buildNetwork(layers, undefined, ['model', 'layers'], [32, 32, 3]);
    expect(net.problems).toEqual([]);
    expect(net.nodes.map((n) => n.shape)).toEqual([[32, 32, 5], [32, 32, 8], [8], [1, 1, 8], [32, 32, 8]]);
    expect(exp.name).toBe('blk');
  });

  it('the shipped experiments and architectures with blocks validate', () => {
    for (const f of ['experiments/06-resnet.yaml', 'experiments/quick/06-resnet.yaml', 'experiments/zoo/resnet50-imagenet.yaml', 'experiments/zoo/mobilenet-v2-imagenet.yaml']) {
      expect(loadExperiment(path.join(ROOT, f)).experiment.model.layers.length, f).toBeGreaterThan(1);
    }
  });
});
