// Shared by the graph-engine parity tests: the graph engine against tfjs' own training (what the eager
// engine runs), from the same weights and batches.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, expect } from 'vitest';
import { initBackend, type BackendInfo } from '../../../src/backend.js';
import { buildModel, buildOptimizer, prepareStep, type BuiltModel } from '../../../src/model/index.js';
import { createGraphEngine } from '../../../src/train/engine/graph/index.js';
import type { Engine, EnginePhase } from '../../../src/train/engine/types.js';

export const LOSS_RTOL = 1e-4;
export const W_ATOL = 2e-4;
export const W_RTOL = 2e-3;
export const STEPS = 4;
export const CLASSES = 3;
export const BATCH = 6;

/** The native backend these tests run on, set by useNativeBackend() in the test file. */
export let backend: BackendInfo;

/** Initializes native TensorFlow before the file's tests. */
export function useNativeBackend(): void {
  beforeAll(async () => {
    backend = await initBackend('tensorflow');
  });
}

export function batchesFor(size: number, n: number, seed = 3): { xs: tf.Tensor; ys: tf.Tensor }[] {
  return Array.from({ length: n }, (_, i) => ({
    xs: tf.randomUniform([BATCH, size, size, 3], 0, 1, 'float32', seed + i),
    ys: tf
      .oneHot(
        tf.tensor1d(
          Array.from({ length: BATCH }, (_, j) => (i + j) % CLASSES),
          'int32',
        ),
        CLASSES,
      )
      .toFloat(),
  }));
}

export async function twins(exp: never): Promise<[BuiltModel, BuiltModel]> {
  const a = await buildModel(exp);
  const b = await buildModel(exp);
  b.model.setWeights(a.model.getWeights());
  return [a, b];
}

/** `kernels` picks the layers' graph formulations for those kernels, whichever kernels this process runs. */
export function graphEngine(model: tf.LayersModel, kernels?: 'oneDNN' | 'Eigen'): Engine {
  const e = createGraphEngine(model, kernels ? { ...backend, kernels: { name: kernels, setBy: 'environment' } } : backend);
  if ('unsupported' in e) throw new Error(`graph engine declined: ${e.unsupported}`);
  return e;
}

/** The labels tfjs takes for this loss: class indices ([batch, 1]) for sparseCategoricalCrossentropy, else the one-hot rows the engines get. */
export function tfjsLabels(loss: string, ys: tf.Tensor): tf.Tensor {
  return loss === 'sparseCategoricalCrossentropy' ? tf.argMax(ys, -1).reshape([-1, 1]).toFloat() : ys;
}

/** tfjs' path: compile + trainOnBatch, or a one-batch fit with classWeight (what the eager engine does, with its prepareStep). */
export async function eagerSteps(model: tf.LayersModel, phase: EnginePhase, data: { xs: tf.Tensor; ys: tf.Tensor }[]): Promise<number[]> {
  const optimizer = buildOptimizer(phase.optimizer);
  model.compile({ optimizer, loss: phase.loss, metrics: phase.metrics });
  // As the eager engine does: tfjs' Sequential would otherwise train a frozen nested base.
  const inner = (model as unknown as { model?: { collectedTrainableWeights: unknown } }).model;
  if (inner) inner.collectedTrainableWeights = model.trainableWeights;
  const losses: number[] = [];
  for (const { xs, ys: oneHot } of data) {
    const ys = tfjsLabels(phase.loss, oneHot);
    // As the eager engine does: Keras' Adam update from tfjs' optimizer.
    prepareStep(optimizer, phase.optimizer);
    if (phase.classWeights) {
      const h = await model.fit(xs, ys, { batchSize: BATCH, epochs: 1, verbose: 0, shuffle: false, classWeight: Object.fromEntries(phase.classWeights.map((w, i) => [i, w])) });
      losses.push(h.history.loss![0] as number);
    } else {
      const r = (await model.trainOnBatch(xs, ys)) as number | number[];
      losses.push(Array.isArray(r) ? r[0]! : r);
    }
  }
  return losses;
}

export async function graphSteps(engine: Engine, phase: EnginePhase, data: { xs: tf.Tensor; ys: tf.Tensor }[]): Promise<number[]> {
  await engine.beginPhase(phase);
  const losses: number[] = [];
  for (const { xs, ys } of data) losses.push((await engine.trainBatch(xs, ys)).loss!);
  await engine.syncToModel();
  return losses;
}

export function expectClose(graph: number[], eager: number[]) {
  graph.forEach((g, i) => expect(Math.abs(g - eager[i]!)).toBeLessThanOrEqual(LOSS_RTOL * Math.abs(eager[i]!) + 1e-6));
}

export function expectSameWeights(a: tf.LayersModel, b: tf.LayersModel) {
  const wa = a.weights;
  const wb = b.weights;
  expect(wb.length).toBe(wa.length);
  wa.forEach((w, i) => {
    const x = w.read().dataSync();
    const y = wb[i]!.read().dataSync();
    let worst = 0;
    for (let j = 0; j < x.length; j++) worst = Math.max(worst, Math.abs(x[j]! - y[j]!) - W_RTOL * Math.abs(x[j]!));
    expect(worst, `${w.name}`).toBeLessThanOrEqual(W_ATOL);
  });
}
