import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planSweep, valueLabel } from '../../src/sweep/plan.js';
import { MINIMAL, problemsOf } from '../config/helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-sweep-plan-'));
fs.writeFileSync(path.join(dir, 'base.yaml'), MINIMAL.replace('name: t', 'name: base'));

/** A sweep file extending base.yaml; `block` is the indented body of `sweep:`. */
function sweepFile(block: string, name = 's.yaml'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `extends: base.yaml\nsweep:\n${block}`);
  return file;
}

describe('planSweep', () => {
  it('expands a grid: every combination, each trial validated and hashed without the sweep block', () => {
    const file = sweepFile(`  parameters:
    train.optimizer.learningRate: {values: [0.001, 0.0003]}
    model.layers.1.dense.units: {values: [3, 4, 5]}
`);
    const plan = planSweep(file);
    expect(plan.name).toBe('base');
    expect(plan.trials.map((t) => t.id)).toEqual(['t001', 't002', 't003', 't004', 't005', 't006']);
    const pairs = plan.trials.map((t) => `${t.params['train.optimizer.learningRate']}/${t.params['model.layers.1.dense.units']}`);
    // The first parameter as written varies slowest.
    expect(pairs).toEqual(['0.001/3', '0.001/4', '0.001/5', '0.0003/3', '0.0003/4', '0.0003/5']);
    expect(new Set(plan.trials.map((t) => t.hash)).size).toBe(6);
    for (const t of plan.trials) {
      expect(t.loaded.experiment.sweep).toBeUndefined();
      expect(t.loaded.experiment.train.optimizer.learningRate).toBe(t.params['train.optimizer.learningRate']);
    }
    // The same trial planned again has the same hash: the identity exactly-once relies on.
    expect(planSweep(file).trials.map((t) => t.hash)).toEqual(plan.trials.map((t) => t.hash));
  });

  it('draws a seeded random search in range, reproducibly', () => {
    const file = sweepFile(`  method: random
  count: 12
  seed: 7
  parameters:
    train.optimizer.learningRate: {distribution: logUniform, min: 0.00001, max: 0.01}
    train.batchSize: {distribution: int, min: 2, max: 6}
    data.image.height: {distribution: qUniform, min: 32, max: 64, q: 8}
`);
    const a = planSweep(file);
    expect(a.trials.length + a.duplicates.length).toBe(12);
    for (const t of a.trials) {
      const lr = t.params['train.optimizer.learningRate'] as number;
      expect(lr).toBeGreaterThanOrEqual(0.00001);
      expect(lr).toBeLessThanOrEqual(0.01);
      expect(Number.isInteger(t.params['train.batchSize'])).toBe(true);
      expect((t.params['data.image.height'] as number) % 8).toBe(0);
    }
    expect(planSweep(file).trials.map((t) => t.params)).toEqual(a.trials.map((t) => t.params));
  });

  it('names an unknown path with a did-you-mean and its place in the sweep block', () => {
    const file = sweepFile(`  parameters:
    train.optimizer.learningrate: {values: [0.001]}
`);
    const [p] = problemsOf(() => planSweep(file));
    expect(p!.code).toBe('set.path');
    expect(p!.message).toContain('sweep parameter `train.optimizer.learningrate`');
    expect(p!.message).toContain('train.optimizer.learningRate');
    expect([p!.file, p!.line]).toEqual([file, 4]);
  });

  it('names the trial and its values when a value has the wrong type for its path, at the value', () => {
    const file = sweepFile(`  parameters:
    train.batchSize: {values: [4, "big"]}
`);
    const problems = problemsOf(() => planSweep(file));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toMatch(/^trial t002 \(train\.batchSize=big\): /);
    expect([problems[0]!.file, problems[0]!.line, problems[0]!.col]).toEqual([file, 4, 35]);
  });

  it('refuses an empty grid, low >= high, a missing count, and a grid above maxTrials without --yes', () => {
    expect(problemsOf(() => planSweep(sweepFile('  parameters:\n    train.batchSize: {values: []}\n')))[0]!.code).toBe('sweep.empty');
    const range = problemsOf(() =>
      planSweep(sweepFile('  method: random\n  count: 2\n  parameters:\n    train.optimizer.learningRate: {distribution: uniform, min: 0.1, max: 0.01}\n')),
    );
    expect(range[0]!).toMatchObject({ code: 'sweep.range', line: 6 });
    expect(range[0]!.message).toContain('must be below');
    expect(problemsOf(() => planSweep(sweepFile('  method: random\n  parameters:\n    train.batchSize: {values: [2, 4]}\n')))[0]!.code).toBe('sweep.count');
    const big = sweepFile('  maxTrials: 3\n  parameters:\n    train.batchSize: {values: [1, 2]}\n    train.epochs: {values: [1, 2]}\n');
    expect(problemsOf(() => planSweep(big))[0]!.code).toBe('sweep.too-many');
    expect(planSweep(big, { yes: true }).trials).toHaveLength(4);
  });

  it('rejects a distribution in a grid and unknown keys in the block (schema, with position)', () => {
    expect(problemsOf(() => planSweep(sweepFile('  parameters:\n    train.batchSize: {distribution: int, min: 1, max: 4}\n')))[0]!.code).toBe('sweep.distribution');
    const [p] = problemsOf(() => planSweep(sweepFile('  methd: grid\n  parameters:\n    train.batchSize: {values: [1]}\n')));
    expect(p!.line).toBe(3);
  });

  it('labels name whole-subtree values; their count must match the values', () => {
    const file = sweepFile(`  parameters:
    augment:
      labels: [none, flips]
      values: [null, {horizontalFlip: true}]
`);
    const plan = planSweep(file);
    expect(plan.trials.map((t) => valueLabel(plan.sweep.parameters.augment, t.params.augment))).toEqual(['none', 'flips']);
    expect(plan.trials[0]!.loaded.experiment.augment).toBeUndefined();
    expect(plan.trials[1]!.loaded.experiment.augment?.horizontalFlip).toBe(true);
    const [p] = problemsOf(() => planSweep(sweepFile('  parameters:\n    train.batchSize: {values: [1, 2], labels: [one]}\n')));
    expect(p).toMatchObject({ code: 'sweep.labels', line: 4 });
  });
});

describe('planSweep: conditions, schedulers, experiment files, model-based methods', () => {
  it('a conditional parameter exists only in the trials whose named parameter takes a listed value or label', () => {
    const file = sweepFile(`  parameters:
    train.optimizer.name: {values: [sgd, adam], labels: [plain, adaptive]}
    train.optimizer.momentum: {values: [0.5, 0.9], when: {train.optimizer.name: [sgd]}}
    train.optimizer.learningRate: {values: [0.01], when: {train.optimizer.name: [adaptive]}}
`);
    const plan = planSweep(file);
    expect(plan.trials.map((t) => t.params)).toEqual([
      { 'train.optimizer.name': 'sgd', 'train.optimizer.momentum': 0.5 },
      { 'train.optimizer.name': 'sgd', 'train.optimizer.momentum': 0.9 },
      { 'train.optimizer.name': 'adam', 'train.optimizer.learningRate': 0.01 },
    ]);
    const [p] = problemsOf(() =>
      planSweep(
        sweepFile(`  parameters:
    train.batchSize: {values: [1, 2], when: {train.optimizer.name: [adam]}}
    train.optimizer.name: {values: [adam]}
`),
      ),
    );
    expect(p).toMatchObject({ code: 'sweep.when', line: 4 });
    const [q] = problemsOf(() =>
      planSweep(
        sweepFile(`  parameters:
    train.optimizer.name: {values: [adam]}
    train.batchSize: {values: [1, 2], when: {train.optimizer.name: [rmsprop]}}
`),
      ),
    );
    expect(q!.message).toContain('`when` lists rmsprop, which is not one of the values');
  });

  it('a scheduler sets every trial to maxEpochs (part of the hash) and cannot search train.epochs', () => {
    const plan = planSweep(
      sweepFile(`  scheduler: {type: asha, minEpochs: 1, maxEpochs: 9}
  parameters:
    train.batchSize: {values: [1, 2]}
`),
    );
    expect(plan.trials.map((t) => t.loaded.experiment.train.epochs)).toEqual([9, 9]);
    expect(plan.sweep.scheduler).toEqual({ type: 'asha', minEpochs: 1, maxEpochs: 9, reductionFactor: 3 });
    const [p] = problemsOf(() =>
      planSweep(
        sweepFile(`  scheduler: {type: hyperband, minEpochs: 4, maxEpochs: 2}
  parameters:
    train.epochs: {values: [1, 2]}
`),
      ),
    );
    expect(p).toMatchObject({ code: 'sweep.scheduler' });
  });

  it('tpe plans no trial ahead: each drawn point becomes a trial, validated and hashed, when it is drawn', () => {
    const plan = planSweep(
      sweepFile(`  method: tpe
  count: 5
  parameters:
    train.optimizer.learningRate: {distribution: logUniform, min: 0.0001, max: 0.1}
`),
    );
    expect(plan.trials).toEqual([]);
    const t = plan.trialOf(2, { 'train.optimizer.learningRate': 0.003 });
    expect(t.id).toBe('t002');
    expect(t.loaded.experiment.train.optimizer.learningRate).toBe(0.003);
    expect(problemsOf(() => planSweep(sweepFile('  method: tpe\n  parameters:\n    train.batchSize: {values: [1]}\n')))[0]!.code).toBe('sweep.count');
  });

  it('an `extends` parameter names experiment files: each trial builds on one, and its hash follows that file', () => {
    const sub = fs.mkdtempSync(path.join(dir, 'files-'));
    fs.writeFileSync(path.join(sub, 'a.yaml'), MINIMAL.replace('name: t', 'name: a'));
    fs.writeFileSync(
      path.join(sub, 'b.yaml'),
      'extends: a.yaml\nname: b\nmodel:\n  layers:\n    - flatten: {}\n    - dense: {units: 8, activation: relu}\n    - dense: {units: 3, activation: softmax}\n',
    );
    fs.writeFileSync(path.join(sub, 'mixin.yaml'), 'train: {batchSize: 4}\n');
    const file = path.join(sub, 'sweep.yaml');
    fs.writeFileSync(file, 'extends: [a.yaml, mixin.yaml]\nname: cmp\nsweep:\n  parameters:\n    extends: {values: [a.yaml, b.yaml], labels: [small, wider]}\n');
    const plan = planSweep(file);
    expect(plan.trials.map((t) => t.loaded.experiment.model.layers.length)).toEqual([2, 3]);
    // The mixin and the sweep file's own keys still apply on top of the named file.
    expect(plan.trials.map((t) => [t.loaded.experiment.train.batchSize, t.loaded.experiment.name])).toEqual([
      [4, 'cmp'],
      [4, 'cmp'],
    ]);
    expect(plan.trials[1]!.loaded.chain.map((f) => path.basename(f))).toContain('b.yaml');
    const before = plan.trials.map((t) => t.hash);
    fs.writeFileSync(path.join(sub, 'b.yaml'), fs.readFileSync(path.join(sub, 'b.yaml'), 'utf8').replace('units: 8', 'units: 16'));
    const after = planSweep(file).trials.map((t) => t.hash);
    expect(after[0]).toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
    fs.writeFileSync(file, 'extends: [a.yaml, mixin.yaml]\nsweep:\n  parameters:\n    extends: {values: [a.yaml, 3]}\n');
    expect(problemsOf(() => planSweep(file))[0]).toMatchObject({ code: 'sweep.extends' });
  });

  it('reports every mistake of a sweep at once: bad paths and bad values, each bad value once', () => {
    const file = sweepFile(
      `  parameters:
    train.optimizer.learningRat: {values: [0.1, 0.01]}
    train.batchSize: {values: [-1, 0, 8]}
    train.epochs: {values: [1, 2]}
`,
      'several.yaml',
    );
    const problems = problemsOf(() => planSweep(file));
    expect(problems.map((p) => p.code)).toEqual(['set.path', 'schema.range', 'schema.range']);
    expect(problems[0]!.line).toBe(4);
    expect(problems[1]!.message).toMatch(/train\.batchSize=-1.*\(and 3 more trials with this value\)/);
    expect(problems[2]!.message).toMatch(/train\.batchSize=0/);
  });
});
