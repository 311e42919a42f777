import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BackendInfo } from '../../../src/backend.js';
import type { OptimizerConfig } from '../../../src/config/schema/experiment.js';
import { applyTrainable, buildModel, buildOptimizer } from '../../../src/model/index.js';
import { CallbackList } from '../../../src/train/callbacks/list.js';
import { phaseResume, readCheckpointState, restoreCheckpoint, saveCheckpoint } from '../../../src/train/checkpoint.js';
import { fitPhase } from '../../../src/train/fit.js';
import { makeHandle } from '../../../src/train/handle.js';
import { EagerEngine } from '../../../src/train/engine/eager.js';
import { createEngine } from '../../../src/train/engine/index.js';
import type { EnginePhase } from '../../../src/train/engine/types.js';
import {
  BATCH,
  backend,
  batchesFor,
  CLASSES,
  eagerSteps,
  expectClose,
  expectSameWeights,
  graphEngine,
  graphSteps,
  STEPS,
  tfjsLabels,
  twins,
  useNativeBackend,
  W_ATOL,
  W_RTOL,
  LOSS_RTOL,
} from './parity.js';

/**
 * Graph engine vs tfjs' own training (the eager engine's path): from the same initial weights and
 * the same batches, N steps must give the same losses and weights. Float32 sums in another order
 * differ in the last bits and the differences grow a little with every step, hence the tolerances:
 * losses within 1e-4 relative, every weight within 2e-4 absolute + 2e-3 relative after 4 steps.
 */
useNativeBackend();

function experiment(layers: unknown[], size = 12, base?: unknown) {
  return { name: 'parity', seed: 7, data: { image: { height: size, width: size, channels: 3 } }, model: { layers, base } } as never;
}

/** N steps of tfjs training and of the graph engine from the same weights and batches: same losses, same weights. */
async function expectParity(layers: unknown[], phase: EnginePhase, kernels?: 'oneDNN' | 'Eigen'): Promise<void> {
  const [a, b] = await twins(experiment(layers));
  const data = batchesFor(12, STEPS);
  const eager = await eagerSteps(a.model, phase, data);
  const engine = graphEngine(b.model, kernels);
  const graph = await graphSteps(engine, phase, data);
  engine.dispose();
  expectClose(graph, eager);
  expectSameWeights(a.model, b.model);
}

const rmsprop: OptimizerConfig = { name: 'rmsprop', learningRate: 1e-3 };
const head = [{ flatten: {} }, { dense: { units: CLASSES, activation: 'softmax' } }];

const layerCases: { name: string; layers: unknown[] }[] = [
  {
    name: 'conv2d + maxPooling2d + dense (the baseline CNN)',
    layers: [
      { conv2d: { filters: 4, kernelSize: 3, activation: 'relu' } },
      { maxPooling2d: { poolSize: 2 } },
      { flatten: {} },
      { dense: { units: 8, activation: 'relu' } },
      { dense: { units: CLASSES, activation: 'softmax' } },
    ],
  },
  {
    name: 'conv2d same padding, stride 2, no bias, l2',
    layers: [{ conv2d: { filters: 4, kernelSize: [3, 5], strides: 2, padding: 'same', useBias: false, kernelRegularizer: { l2: 0.01 } } }, ...head],
  },
  { name: 'depthwiseConv2d', layers: [{ depthwiseConv2d: { kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'relu' } }, ...head] },
  { name: 'averagePooling2d', layers: [{ conv2d: { filters: 4, kernelSize: 3, activation: 'elu' } }, { averagePooling2d: { poolSize: 2 } }, ...head] },
  {
    name: 'globalAveragePooling2d',
    layers: [{ conv2d: { filters: 6, kernelSize: 3, activation: 'tanh' } }, { globalAveragePooling2d: {} }, { dense: { units: CLASSES, activation: 'softmax' } }],
  },
  { name: 'batchNormalization axis -1', layers: [{ conv2d: { filters: 4, kernelSize: 3 } }, { batchNormalization: {} }, { activation: { activation: 'relu' } }, ...head] },
  { name: 'batchNormalization axis 1 (the notebook)', layers: [{ conv2d: { filters: 4, kernelSize: 3, activation: 'relu' } }, { batchNormalization: { axis: 1 } }, ...head] },
  {
    name: 'batchNormalization after dense (rank 2)',
    layers: [{ flatten: {} }, { dense: { units: 6, activation: 'relu' } }, { batchNormalization: { axis: 1 } }, { dense: { units: CLASSES, activation: 'softmax' } }],
  },
  {
    name: 'batchNormalization axis 2, no center',
    layers: [{ conv2d: { filters: 4, kernelSize: 3, activation: 'relu' } }, { batchNormalization: { axis: 2, center: false } }, ...head],
  },
  { name: 'dropout rate 0 and activation', layers: [{ conv2d: { filters: 4, kernelSize: 3 } }, { activation: { activation: 'sigmoid' } }, { dropout: { rate: 0 } }, ...head] },
  {
    name: 'zeroPadding2d (asymmetric) + conv2d stride 2',
    layers: [
      {
        zeroPadding2d: {
          padding: [
            [0, 1],
            [0, 1],
          ],
        },
      },
      { conv2d: { filters: 4, kernelSize: 3, strides: 2, activation: 'relu' } },
      ...head,
    ],
  },
  {
    name: 'separableConv2d, depth multiplier 2, stride 2',
    layers: [{ separableConv2d: { filters: 5, kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, activation: 'relu' } }, ...head],
  },
  {
    name: 'globalMaxPooling2d',
    layers: [{ conv2d: { filters: 6, kernelSize: 3, activation: 'tanh' } }, { globalMaxPooling2d: {} }, { dense: { units: CLASSES, activation: 'softmax' } }],
  },
  {
    name: 'reshape (squeeze-and-excitation shape) + layerNormalization',
    layers: [{ conv2d: { filters: 4, kernelSize: 3 } }, { globalAveragePooling2d: {} }, { reshape: { targetShape: [1, 1, 4] } }, { layerNormalization: {} }, ...head],
  },
  {
    name: 'layerNormalization over height, width and channels',
    layers: [{ conv2d: { filters: 4, kernelSize: 3 } }, { layerNormalization: { axis: [1, 2, 3], epsilon: 1e-5 } }, ...head],
  },
  {
    name: 'spatialDropout2d rate 0, rescaling, reLU 6 (MobileNetV2)',
    layers: [
      { rescaling: { scale: 2, offset: -1 } },
      { conv2d: { filters: 4, kernelSize: 3, useBias: false } },
      { batchNormalization: { momentum: 0.999 } },
      { reLU: { maxValue: 6 } },
      { spatialDropout2d: { rate: 0 } },
      ...head,
    ],
  },
  {
    name: 'reLU capped at 1.5 and uncapped',
    layers: [{ conv2d: { filters: 4, kernelSize: 3 } }, { reLU: { maxValue: 1.5 } }, { conv2d: { filters: 4, kernelSize: 3 } }, { reLU: {} }, ...head],
  },
  {
    name: 'resizing bilinear',
    layers: [{ resizing: { height: 10, width: 10 } }, { conv2d: { filters: 4, kernelSize: 3, activation: 'relu' } }, { resizing: { height: 6, width: 7 } }, ...head],
  },
  {
    name: 'resizing nearest with a crop',
    layers: [{ conv2d: { filters: 4, kernelSize: 3, activation: 'relu' } }, { resizing: { height: 6, width: 4, interpolation: 'nearest', cropToAspectRatio: true } }, ...head],
  },
  {
    name: 'dense l1 + l2, softplus',
    layers: [{ flatten: {} }, { dense: { units: 5, activation: 'softplus', kernelRegularizer: { l1: 0.001, l2: 0.01 } } }, { dense: { units: CLASSES, activation: 'softmax' } }],
  },
];

describe('graph engine parity with tfjs training', () => {
  for (const c of layerCases) {
    it(`${c.name}: ${STEPS} steps give the same losses and weights`, async () => {
      await expectParity(c.layers, { optimizer: rmsprop, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    });
  }
  // BatchNormalization off the last axis has one graph formulation per kernel library.
  for (const c of layerCases.filter((l) => /batchNormalization axis [12]/.test(l.name))) {
    for (const kernels of ['oneDNN', 'Eigen'] as const) {
      it(`${c.name}, the ${kernels} formulation: ${STEPS} steps give the same losses and weights`, async () => {
        await expectParity(c.layers, { optimizer: rmsprop, loss: 'categoricalCrossentropy', metrics: ['accuracy'] }, kernels);
      });
    }
  }

  const optimizers: OptimizerConfig[] = [
    { name: 'sgd', learningRate: 0.05 },
    { name: 'sgd', learningRate: 0.05, momentum: 0.9 },
    { name: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: true },
    { name: 'rmsprop', learningRate: 1e-3, momentum: 0.5 },
    { name: 'adam', learningRate: 1e-2 },
    { name: 'adamax', learningRate: 1e-2 },
    { name: 'adagrad', learningRate: 1e-2 },
  ];
  for (const o of optimizers) {
    it(`optimizer ${JSON.stringify(o)}`, async () => {
      await expectParity(layerCases[0]!.layers, { optimizer: o, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    });
  }

  // tfjs' centered RMSprop subtracts epsilon under the square root (NaN for small gradients) and its
  // Adadelta divides by the previous step's accumulator: the graph engine runs TensorFlow's (Keras')
  // updates there, checked against those formulas on one weight matrix.
  it('centered rmsprop and adadelta follow Keras', async () => {
    const layers = [{ flatten: {} }, { dense: { units: CLASSES, activation: 'softmax', useBias: false } }];
    for (const o of [
      { name: 'rmsprop', learningRate: 1e-2, rho: 0.9, epsilon: 1e-7, centered: true, momentum: 0 },
      { name: 'adadelta', learningRate: 1.0, rho: 0.95, epsilon: 1e-7 },
    ] as OptimizerConfig[]) {
      const [a, b] = await twins(experiment(layers, 4));
      const data = batchesFor(4, 3);
      const w = Float64Array.from(a.model.weights[0]!.read().dataSync());
      const s1 = new Float64Array(w.length);
      const s2 = new Float64Array(w.length);
      for (const { xs, ys } of data) {
        // Gradient by tfjs at the current reference weights.
        a.model.weights[0]!.write(tf.tensor(Float32Array.from(w), a.model.weights[0]!.shape as number[]));
        const g = tf
          .grad((k: tf.Tensor) => tf.losses.softmaxCrossEntropy(ys, tf.matMul(xs.reshape([BATCH, -1]), k), undefined, 0, tf.Reduction.MEAN))(a.model.weights[0]!.read())
          .dataSync();
        for (let i = 0; i < w.length; i++) {
          const gi = g[i]!;
          if (o.name === 'rmsprop') {
            s1[i] = 0.9 * s1[i]! + 0.1 * gi * gi; // mean square
            s2[i] = 0.9 * s2[i]! + 0.1 * gi; // mean gradient
            w[i]! -= (o.learningRate * gi) / Math.sqrt(s1[i]! - s2[i]! * s2[i]! + 1e-7);
          } else {
            s1[i] = 0.95 * s1[i]! + 0.05 * gi * gi;
            const u = (Math.sqrt(s2[i]! + 1e-7) / Math.sqrt(s1[i]! + 1e-7)) * gi;
            s2[i] = 0.95 * s2[i]! + 0.05 * u * u;
            w[i]! -= o.learningRate * u;
          }
        }
      }
      const engine = graphEngine(b.model);
      await graphSteps(engine, { optimizer: o, loss: 'categoricalCrossentropy', metrics: [] }, data);
      engine.dispose();
      const got = b.model.weights[0]!.read().dataSync();
      w.forEach((v, i) => expect(Math.abs(got[i]! - v), `${o.name} weight ${i}`).toBeLessThanOrEqual(W_ATOL + W_RTOL * Math.abs(v)));
    }
  });

  it('class weights (Keras semantics: each example weighted by its class, then the batch mean)', async () => {
    await expectParity(layerCases[0]!.layers, { optimizer: rmsprop, loss: 'categoricalCrossentropy', metrics: ['accuracy'], classWeights: [0.5, 2, 1.25] });
  });

  for (const loss of ['sparseCategoricalCrossentropy', 'binaryCrossentropy', 'meanSquaredError']) {
    it(`loss ${loss}: the same training losses and weights, and the same evaluation loss and accuracy, as tfjs`, async () => {
      const phase: EnginePhase = { optimizer: rmsprop, loss, metrics: ['accuracy'] };
      const [a, b] = await twins(experiment(layerCases[0]!.layers));
      const data = batchesFor(12, STEPS);
      const eager = await eagerSteps(a.model, phase, data);
      const engine = graphEngine(b.model);
      const graph = await graphSteps(engine, phase, data);
      expectClose(graph, eager);
      expectSameWeights(a.model, b.model);
      // Half-trained weights give accuracies away from 0 and 1.
      const [{ xs, ys }] = batchesFor(12, 1, 31);
      const logs = await engine.evaluateBatch(xs!, ys!);
      engine.dispose();
      const [l, acc] = (a.model.evaluate(xs!, tfjsLabels(loss, ys!)) as tf.Scalar[]).map((s) => s.dataSync()[0]!);
      expect(Math.abs(logs.loss! - l!)).toBeLessThanOrEqual(LOSS_RTOL * Math.abs(l!) + 1e-6);
      expect(logs.accuracy).toBeCloseTo(acc!, 6);
    });
  }

  it('class weights with binaryCrossentropy', async () => {
    await expectParity(layerCases[0]!.layers, { optimizer: rmsprop, loss: 'binaryCrossentropy', metrics: ['accuracy'], classWeights: [0.5, 2, 1.25] });
  });

  it('evaluation matches tfjs evaluate (inference branch: moving statistics, no dropout)', async () => {
    const layers = [{ conv2d: { filters: 4, kernelSize: 3, activation: 'relu' } }, { batchNormalization: { axis: 1 } }, { dropout: { rate: 0.5 } }, ...head];
    const [a, b] = await twins(experiment(layers));
    const engine = graphEngine(b.model);
    await engine.beginPhase({ optimizer: rmsprop, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    a.model.compile({ optimizer: buildOptimizer(rmsprop), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const [{ xs, ys }] = batchesFor(12, 1, 11);
    const logs = await engine.evaluateBatch(xs!, ys!);
    const [l, acc] = (a.model.evaluate(xs!, ys!) as tf.Scalar[]).map((s) => s.dataSync()[0]!);
    engine.dispose();
    expect(logs.loss).toBeCloseTo(l!, 5);
    expect(logs.accuracy).toBeCloseTo(acc!, 6);
  });

  it('a phase change (frozen base, then fine-tuning from a layer) trains the same variables as tfjs', async () => {
    const baseLayers = [
      { conv2d: { filters: 4, kernelSize: 3, activation: 'relu', name: 'block1_conv1' } },
      { conv2d: { filters: 4, kernelSize: 3, activation: 'relu', name: 'block2_conv1' } },
    ];
    const exp = experiment(head, 12, { architecture: 'tiny', layers: baseLayers, trainable: true });
    const [a, b] = await twins(exp);
    const data = batchesFor(12, STEPS);
    const p1: EnginePhase = { optimizer: rmsprop, loss: 'categoricalCrossentropy', metrics: ['accuracy'] };
    const p2: EnginePhase = { optimizer: { name: 'adam', learningRate: 1e-3 }, loss: 'categoricalCrossentropy', metrics: ['accuracy'] };
    const engine = graphEngine(b.model);

    applyTrainable(a, 'base', undefined);
    applyTrainable(b, 'base', undefined);
    const frozen = b.base!.weights.map((w) => w.read().clone());
    const e1 = await eagerSteps(a.model, p1, data);
    const g1 = await graphSteps(engine, p1, data);
    expectClose(g1, e1);
    expectSameWeights(a.model, b.model);
    // The frozen base did not move.
    frozen.forEach((f, i) => expect(tf.max(tf.abs(tf.sub(f, b.base!.weights[i]!.read()))).dataSync()[0]).toBe(0));

    applyTrainable(a, undefined, 'block2_conv1');
    applyTrainable(b, undefined, 'block2_conv1');
    const e2 = await eagerSteps(a.model, p2, data);
    const g2 = await graphSteps(engine, p2, data);
    engine.dispose();
    expectClose(g2, e2);
    expectSameWeights(a.model, b.model);
  });

  it('a checkpoint of the graph engine resumes exactly where it left, on the graph and on the eager engine', async () => {
    const exp = experiment(layerCases[0]!.layers);
    const [a, b] = await twins(exp);
    const data = batchesFor(12, STEPS);
    const phase: EnginePhase = { optimizer: { name: 'adam', learningRate: 1e-2 }, loss: 'categoricalCrossentropy', metrics: ['accuracy'] };
    const whole = graphEngine(a.model);
    const full = await graphSteps(whole, phase, data);
    whole.dispose();

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-resume-'));
    const first = graphEngine(b.model);
    await graphSteps(first, phase, data.slice(0, 2));
    first.setLearningRate(5e-3);
    await saveCheckpoint(dir, b.model, first, { epoch: 0, phase: 0, learningRate: first.getLearningRate(), history: [] });
    first.dispose();

    for (const kind of ['graph', 'eager'] as const) {
      const c = await buildModel(experiment(layerCases[0]!.layers, 12));
      const engine = kind === 'graph' ? graphEngine(c.model) : new EagerEngine(c.model);
      await engine.beginPhase(phase);
      expect(await restoreCheckpoint(dir, c.model, engine)).toBe(true);
      engine.setLearningRate(1e-2);
      const rest: number[] = [];
      for (const { xs, ys } of data.slice(2)) rest.push((await engine.trainBatch(xs, ys)).loss!);
      await engine.syncToModel();
      engine.dispose();
      expectClose(rest, full.slice(2));
      expectSameWeights(a.model, c.model);
    }
  });

  it('dropout masks are a function of the global step alone: the same step draws the same mask, another step another', async () => {
    const layers = [{ conv2d: { filters: 4, kernelSize: 3, activation: 'relu' } }, { dropout: { rate: 0.5 } }, ...head];
    const built = await buildModel(experiment(layers));
    const engine = graphEngine(built.model);
    // Learning rate 0: the weights stay, so the loss changes only with the mask.
    await engine.beginPhase({ optimizer: { name: 'sgd', learningRate: 0 }, loss: 'categoricalCrossentropy', metrics: [] });
    const [{ xs, ys }] = batchesFor(12, 1);
    const at = async (step: number) => (await engine.trainBatch(xs!, ys!, step)).loss!;
    const [a, b, c, again] = [await at(5), await at(6), await at(7), await at(5)];
    engine.dispose();
    expect(again).toBe(a);
    expect(new Set([a, b, c]).size).toBe(3);
  });

  describe.each(['graph', 'eager'] as const)('a %s-engine run with dropout and BatchNormalization resumed from a checkpoint continues exactly', (kind) => {
    // Dropout masks from (seed, layer, global step), restored weights, moving statistics and optimizer
    // slots: a resumed run repeats the uninterrupted one bit for bit (same process, same thread settings).
    const EPOCHS_STEPS = 2;
    const data = () => batchesFor(12, EPOCHS_STEPS, 21);
    interface RunPhase {
      phase: EnginePhase;
      epochs: number;
      freeze?: 'base';
      unfreezeFrom?: string;
    }

    /** The trainer's phase loop (src/train/phases.ts, with its phaseResume) over the real fit loop: stops after `stopAfter`, or resumes from `dir`'s checkpoint. */
    async function run(exp: never, phases: RunPhase[], dir: string, opts: { stopAfter?: number; resume?: boolean }): Promise<{ losses: number[]; model: tf.LayersModel }> {
      const built = await buildModel(exp);
      const engine = kind === 'graph' ? graphEngine(built.model) : new EagerEngine(built.model);
      const state = opts.resume ? readCheckpointState(dir) : undefined;
      const losses: number[] = [];
      const batches = data();
      let end = 0;
      for (const p of phases) {
        const start = end;
        end += p.epochs;
        const resume = phaseResume(state, start, end);
        if (resume === 'done') continue;
        applyTrainable(built, p.freeze, p.unfreezeFrom);
        await engine.beginPhase(p.phase);
        let from = start;
        if (state && resume !== 'fresh') {
          expect(await restoreCheckpoint(dir, built.model, engine, { optimizer: resume === 'all' })).toBe(resume === 'all');
          if (resume === 'all') engine.setLearningRate(state.learningRate);
          from = state.epoch + 1;
        }
        const callbacks = new CallbackList(
          [],
          makeHandle(built.model, engine, dir, () => {}),
        );
        await fitPhase({
          engine,
          callbacks,
          from,
          to: end,
          totalEpochs: 0,
          steps: EPOCHS_STEPS,
          trainBatches: async function* () {
            for (const b of batches) yield { xs: b.xs.clone(), ys: b.ys.clone(), size: BATCH };
          } as never,
          interrupted: () => false,
          mayStart: (e) => opts.stopAfter === undefined || e <= opts.stopAfter,
          onEpochLogs: (row) => losses.push(row.loss!),
          onEpochCommitted: (row) => saveCheckpoint(dir, built.model, engine, { epoch: row.epoch, phase: 0, learningRate: engine.getLearningRate(), history: [] }),
          timing: { dataWait: 0, stepTime: 0, images: 0 },
          tty: false,
        });
        if (opts.stopAfter !== undefined && end - 1 >= opts.stopAfter) break;
      }
      engine.dispose();
      return { losses, model: built.model };
    }

    function expectIdentical(a: tf.LayersModel, b: tf.LayersModel) {
      a.weights.forEach((w, i) => expect(Array.from(b.weights[i]!.read().dataSync()), w.name).toEqual(Array.from(w.read().dataSync())));
    }

    async function expectResumesExactly(exp: never, phases: RunPhase[], stopAfter: number) {
      const whole = await run(exp, phases, fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-whole-')), {});
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-resume-'));
      const first = await run(exp, phases, dir, { stopAfter });
      first.model.dispose();
      expect(readCheckpointState(dir)?.epoch).toBe(stopAfter);
      const rest = await run(exp, phases, dir, { resume: true });
      expect([...first.losses, ...rest.losses]).toEqual(whole.losses);
      expectIdentical(whole.model, rest.model);
      whole.model.dispose();
      rest.model.dispose();
    }

    const adam: EnginePhase = { optimizer: { name: 'adam', learningRate: 1e-2 }, loss: 'categoricalCrossentropy', metrics: ['accuracy'] };

    it('one phase, stopped after epoch 2 of 4', async () => {
      const layers = [
        { conv2d: { filters: 4, kernelSize: 3, activation: 'relu' } },
        { batchNormalization: { axis: 1 } },
        { dropout: { rate: 0.3 } },
        { flatten: {} },
        { dense: { units: 8, activation: 'relu' } },
        { batchNormalization: {} },
        { dropout: { rate: 0.5 } },
        { dense: { units: CLASSES, activation: 'softmax' } },
      ];
      await expectResumesExactly(experiment(layers), [{ phase: adam, epochs: 4 }], 1);
    });

    it('across a phase change (frozen base, then fine-tuning), stopped at the end of the first phase and inside the second', async () => {
      const baseLayers = [
        { conv2d: { filters: 4, kernelSize: 3, activation: 'relu', name: 'block1_conv1' } },
        { conv2d: { filters: 4, kernelSize: 3, activation: 'relu', name: 'block2_conv1' } },
      ];
      const top = [
        { flatten: {} },
        { dense: { units: 8, activation: 'relu' } },
        { batchNormalization: {} },
        { dropout: { rate: 0.5 } },
        { dense: { units: CLASSES, activation: 'softmax' } },
      ];
      const exp = experiment(top, 12, { architecture: 'tiny', layers: baseLayers, trainable: true });
      const phases: RunPhase[] = [
        { phase: adam, epochs: 2, freeze: 'base' },
        { phase: { ...adam, optimizer: rmsprop }, epochs: 2, unfreezeFrom: 'block2_conv1' },
      ];
      await expectResumesExactly(exp, phases, 1);
      await expectResumesExactly(exp, phases, 2);
    });
  });

  it('falls back to eager with one warning line naming what the graph engine cannot run', async () => {
    const built = await buildModel(experiment(layerCases[0]!.layers));
    const cases: [BackendInfo, { loss: string; metrics: string[] }, RegExp][] = [
      [backend, { loss: 'hinge', metrics: ['accuracy'] }, /loss `hinge`/],
      [{ ...backend, name: 'cpu', native: false }, { loss: 'categoricalCrossentropy', metrics: ['accuracy'] }, /the `cpu` backend/],
    ];
    for (const [b, spec, why] of cases) {
      const lines: string[] = [];
      const engine = createEngine('graph', built.model, b, (m) => lines.push(m), spec);
      expect(engine.name).toBe('eager');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(why);
    }
    const lines: string[] = [];
    expect(createEngine('graph', built.model, backend, (m) => lines.push(m), { loss: 'categoricalCrossentropy', metrics: ['accuracy'] }).name).toBe('graph');
    expect(lines).toEqual([]);
  });
});
