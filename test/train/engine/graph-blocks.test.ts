import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyTrainable, buildModel } from '../../../src/model/index.js';
import { restoreCheckpoint, saveCheckpoint } from '../../../src/train/checkpoint.js';
import { graphLayers } from '../../../src/train/engine/graph/index.js';
import type { EnginePhase } from '../../../src/train/engine/types.js';
import { batchesFor, CLASSES, eagerSteps, expectClose, expectSameWeights, graphEngine, graphSteps, STEPS, twins, useNativeBackend } from './parity.js';

/**
 * Networks with blocks (functional models: residual adds, concatenations, gates) on the graph engine
 * against tfjs' own training, from the same weights and batches; the tolerances of graph-parity.test.ts.
 */
useNativeBackend();

function experiment(layers: unknown[], extra: { blocks?: unknown; base?: unknown } = {}, size = 12) {
  return { name: 'blocks', seed: 7, data: { image: { height: size, width: size, channels: 3 } }, model: { layers, ...extra } } as never;
}

const rmsprop: EnginePhase = { optimizer: { name: 'rmsprop', learningRate: 1e-3 }, loss: 'categoricalCrossentropy', metrics: ['accuracy'] };
const adam: EnginePhase = { optimizer: { name: 'adam', learningRate: 1e-2 }, loss: 'categoricalCrossentropy', metrics: ['accuracy'] };
const head = [{ globalAveragePooling2d: {} }, { dense: { units: CLASSES, activation: 'softmax' } }];
const convBn = (filters: number, extra: object = {}) => [{ conv2d: { filters, kernelSize: 3, padding: 'same', useBias: false, ...extra } }, { batchNormalization: {} }];

const cases: { name: string; layers: unknown[]; blocks?: unknown; size?: number }[] = [
  {
    name: 'residual block with BatchNormalization, identity shortcut',
    layers: [
      { conv2d: { filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' } },
      { residual: { layers: [...convBn(4), { activation: { activation: 'relu' } }, ...convBn(4)] } },
      { activation: { activation: 'relu' } },
      ...head,
    ],
  },
  {
    name: 'residual block with a strided projection shortcut (conv + BatchNormalization)',
    layers: [
      {
        residual: {
          layers: [...convBn(6, { strides: 2 }), { activation: { activation: 'relu' } }, ...convBn(6)],
          shortcut: [{ conv2d: { filters: 6, kernelSize: 1, strides: 2, useBias: false } }, { batchNormalization: {} }],
        },
      },
      ...head,
    ],
    // 13x13: a strided 1x1 convolution that leaves the last row and column unread trains differently in
    // tfjs and on the graph engine already in a plain stack (12x12, stride 2); not a matter of blocks.
    size: 13,
  },
  {
    name: 'parallel branches merged by concatenate (one of them the identity)',
    layers: [
      {
        parallel: {
          merge: 'concatenate',
          branches: [
            [],
            [{ conv2d: { filters: 2, kernelSize: 1, activation: 'relu' } }],
            [{ conv2d: { filters: 3, kernelSize: 3, padding: 'same', useBias: false } }, { batchNormalization: {} }],
          ],
        },
      },
      ...head,
    ],
  },
  {
    name: 'a gate: multiply of the input and a sigmoid branch, inside a residual block',
    layers: [
      { conv2d: { filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' } },
      { residual: { layers: [{ parallel: { merge: 'multiply', branches: [[], [{ conv2d: { filters: 4, kernelSize: 1, activation: 'sigmoid' } }]] } }, ...convBn(4)] } },
      ...head,
    ],
  },
  {
    name: 'a named block used twice (repeat), parameters substituted',
    blocks: {
      unit: {
        params: { filters: {} },
        layers: [{ residual: { layers: [{ conv2d: { filters: '${filters}', kernelSize: 3, padding: 'same', activation: 'relu' } }, { batchNormalization: {} }] } }],
      },
    },
    layers: [
      { conv2d: { filters: 5, kernelSize: 3, activation: 'relu' } },
      { block: { use: 'unit', with: { filters: 5 }, repeat: 2 } },
      { flatten: {} },
      { dense: { units: CLASSES, activation: 'softmax' } },
    ],
  },
];

describe('graph engine parity with tfjs training on networks with blocks', () => {
  for (const c of cases) {
    it(`${c.name}: ${STEPS} steps give the same losses and weights`, async () => {
      const [a, b] = await twins(experiment(c.layers, c.blocks ? { blocks: c.blocks } : {}, c.size));
      expect(a.model.getClassName()).not.toBe('Sequential');
      const data = batchesFor(c.size ?? 12, STEPS);
      const eager = await eagerSteps(a.model, rmsprop, data);
      const engine = graphEngine(b.model);
      const graph = await graphSteps(engine, rmsprop, data);
      engine.dispose();
      expectClose(graph, eager);
      expectSameWeights(a.model, b.model);
    });
  }

  it('a plain stack still builds as a Sequential; the plan of a functional model is topological', async () => {
    const plain = await buildModel(experiment(head));
    expect(plain.model.getClassName()).toBe('Sequential');
    const built = await buildModel(experiment(cases[1]!.layers));
    const names = graphLayers(built.model).map((l) => l.name);
    const pos = (n: string) => names.indexOf(n);
    expect(names).toHaveLength(10);
    expect(pos('add')).toBeGreaterThan(pos('batch_normalization'));
    expect(pos('add')).toBeGreaterThan(pos('batch_normalization_2'));
    expect(pos('global_average_pooling2d')).toBeGreaterThan(pos('add'));
  });

  it('a functional base, frozen then fine-tuned from a named layer, trains the same variables as tfjs', async () => {
    const baseLayers = [
      { conv2d: { filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'stem' } },
      {
        residual: {
          name: 'block1_add',
          layers: [{ conv2d: { filters: 4, kernelSize: 3, padding: 'same', useBias: false, name: 'block1_conv' } }, { batchNormalization: { name: 'block1_bn' } }],
        },
      },
    ];
    const exp = experiment(head, { base: { architecture: 'tiny', layers: baseLayers, trainable: true } });
    const [a, b] = await twins(exp);
    const data = batchesFor(12, STEPS);
    const engine = graphEngine(b.model);
    applyTrainable(a, 'base', undefined);
    applyTrainable(b, 'base', undefined);
    expectClose(await graphSteps(engine, rmsprop, data), await eagerSteps(a.model, rmsprop, data));
    applyTrainable(a, undefined, 'block1_conv');
    applyTrainable(b, undefined, 'block1_conv');
    expect(
      b
        .base!.layers.filter((l) => l.trainable && l.weights.length)
        .map((l) => l.name)
        .sort(),
    ).toEqual(['block1_bn', 'block1_conv']);
    expectClose(await graphSteps(engine, adam, data), await eagerSteps(a.model, adam, data));
    engine.dispose();
    expectSameWeights(a.model, b.model);
  });

  it('a checkpoint of a residual network on the graph engine resumes exactly where it left', async () => {
    const exp = experiment(cases[0]!.layers);
    const [a, b] = await twins(exp);
    const data = batchesFor(12, STEPS);
    const whole = graphEngine(a.model);
    const full = await graphSteps(whole, adam, data);
    whole.dispose();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-resume-'));
    const first = graphEngine(b.model);
    await graphSteps(first, adam, data.slice(0, 2));
    await saveCheckpoint(dir, b.model, first, { epoch: 0, phase: 0, learningRate: first.getLearningRate(), history: [] });
    first.dispose();
    const c = await buildModel(exp);
    const engine = graphEngine(c.model);
    await engine.beginPhase(adam);
    expect(await restoreCheckpoint(dir, c.model, engine)).toBe(true);
    const rest: number[] = [];
    for (const { xs, ys } of data.slice(2)) rest.push((await engine.trainBatch(xs, ys)).loss!);
    await engine.syncToModel();
    engine.dispose();
    expect(rest).toEqual(full.slice(2));
    a.model.weights.forEach((w, i) => expect(Array.from(c.model.weights[i]!.read().dataSync()), w.name).toEqual(Array.from(w.read().dataSync())));
  });
});
