import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildModel, loadModel, saveModel, SteppedDropout } from '../../../src/model/index.js';
import { createEngine, engines } from '../../../src/train/engine/index.js';
import type { BackendInfo } from '../../../src/backend.js';

const backend = { name: 'cpu', native: false, tfjsVersion: tf.version.tfjs, threads: { intraOp: 1, interOp: 1 } } as BackendInfo;
const phase = { optimizer: { name: 'adam' as const, learningRate: 0.05 }, loss: 'categoricalCrossentropy', metrics: ['accuracy'] };

function model(seed: number): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.dense({ units: 2, activation: 'softmax', inputShape: [3], kernelInitializer: tf.initializers.glorotUniform({ seed }) })] });
}

const xs = () =>
  tf.tensor2d([
    [1, 0, 2],
    [0, 1, -1],
    [2, 2, 0],
    [-1, 0, 1],
  ]);
const ys = () => tf.oneHot(tf.tensor1d([0, 1, 1, 0], 'int32'), 2).toFloat();

/** Per-sample cross-entropy of the model's current predictions. */
function crossEntropy(m: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): number[] {
  return tf.tidy(() => Array.from(tf.neg(tf.sum(tf.mul(y, tf.log(m.predict(x) as tf.Tensor)), -1)).dataSync()));
}

const created: tf.LayersModel[] = [];
afterEach(() => created.splice(0).forEach((m) => m.dispose()));

describe('eager engine', () => {
  it('is the first (fallback) engine', () => {
    expect(engines[0]!.kind).toBe('eager');
  });

  it('reports the loss of the batch it trained on, with and without class weights (Keras class_weight semantics), from one-hot labels also with sparseCategoricalCrossentropy', async () => {
    for (const [loss, classWeights] of [
      ['categoricalCrossentropy', undefined],
      ['categoricalCrossentropy', [1, 3]],
      ['sparseCategoricalCrossentropy', undefined],
      ['sparseCategoricalCrossentropy', [1, 3]],
    ] as const) {
      const m = model(1);
      created.push(m);
      const engine = createEngine('eager', m, backend, () => undefined);
      await engine.beginPhase({ ...phase, loss, classWeights: classWeights && [...classWeights] });
      const x = xs();
      const y = ys();
      const ce = crossEntropy(m, x, y);
      const w = [0, 1, 1, 0].map((c) => classWeights?.[c] ?? 1);
      expect((await engine.evaluateBatch(x, y)).loss).toBeCloseTo(ce.reduce((s, v) => s + v, 0) / ce.length, 5);
      const logs = await engine.trainBatch(x, y);
      expect(Object.keys(logs).sort()).toEqual(['accuracy', 'loss']);
      expect(logs.loss).toBeCloseTo(ce.reduce((s, v, i) => s + v * w[i]!, 0) / ce.length, 5);
      x.dispose();
      y.dispose();
      engine.dispose();
    }
  });

  it('optimizer state saved from one engine continues in another exactly (what --resume relies on)', async () => {
    const a = model(2);
    const b = model(3);
    const c = model(4);
    created.push(a, b, c);
    const [ea, eb, ec] = [a, b, c].map((m) => createEngine('eager', m, backend, () => undefined));
    for (const e of [ea, eb, ec]) await e!.beginPhase(phase);
    const x = xs();
    const y = ys();
    for (let i = 0; i < 3; i++) await ea!.trainBatch(x, y);
    for (const m of [b, c]) m.setWeights(a.getWeights());
    await eb!.syncFromModel();
    await eb!.setOptimizerState((await ea!.getOptimizerState()).map((s) => ({ name: s.name, tensor: s.tensor.clone() })));
    for (const e of [ea, eb, ec]) await e!.trainBatch(x, y);
    const w = (m: tf.LayersModel) => Array.from(m.getWeights()[0]!.dataSync());
    w(b).forEach((v, i) => expect(v).toBeCloseTo(w(a)[i]!, 6));
    // Without the optimizer state (Adam's moments and step count) the next step differs.
    expect(Math.max(...w(c).map((v, i) => Math.abs(v - w(a)[i]!)))).toBeGreaterThan(1e-4);
    expect(eb!.getLearningRate()).toBe(0.05);
    eb!.setLearningRate(0.01);
    expect(eb!.getLearningRate()).toBe(0.01);
    x.dispose();
    y.dispose();
    for (const e of [ea, eb, ec]) e!.dispose();
  });

  describe('dropout', () => {
    const net = (rate: number) => [{ flatten: {} }, { dense: { units: 16, activation: 'relu' } }, { dropout: { rate } }, { dense: { units: 2, activation: 'softmax' } }];
    const built = async (rate: number) => {
      const { model: m } = await buildModel({ name: 'd', seed: 5, data: { image: { height: 3, width: 2, channels: 1 } }, model: { layers: net(rate) } } as never);
      created.push(m);
      return m;
    };
    const images = () => tf.randomUniform([4, 3, 2, 1], 0, 1, 'float32', 11);

    it('draws a new mask at every step, the same mask again for the same global step', async () => {
      const engine = createEngine('eager', await built(0.5), backend, () => undefined);
      // Learning rate 0: the weights stay, so the loss changes only with the mask.
      await engine.beginPhase({ ...phase, optimizer: { name: 'sgd', learningRate: 0 } });
      const [x, y] = [images(), ys()];
      const at = async (step?: number) => (await engine.trainBatch(x, y, step)).loss!;
      const [first, second] = [await at(), await at()];
      expect(second).not.toBe(first);
      const [a, b, c, again] = [await at(5), await at(6), await at(7), await at(5)];
      expect(again).toBe(a);
      expect(new Set([a, b, c]).size).toBe(3);
      // Without a step the engine counts its own calls: the first two calls were steps 0 and 1.
      expect([await at(0), await at(1)]).toEqual([first, second]);
      engine.dispose();
    });

    it('is off in predict and evaluate', async () => {
      const [dropping, plain] = [await built(0.5), await built(0)];
      const x = images();
      const out = (m: tf.LayersModel) => Array.from((m.predict(x) as tf.Tensor).dataSync());
      expect(out(dropping)).toEqual(out(plain));
      const [e1, e2] = [dropping, plain].map((m) => createEngine('eager', m, backend, () => undefined));
      for (const e of [e1, e2]) await e!.beginPhase(phase);
      expect((await e1!.evaluateBatch(x, ys())).loss).toBe((await e2!.evaluateBatch(x, ys())).loss);
      e1!.dispose();
      e2!.dispose();
    });

    it("saves as tfjs' own Dropout: model.json names the standard class and the model loads in plain tfjs", async () => {
      const m = await built(0.5);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-dropout-'));
      await saveModel(m, dir);
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      const saved = json.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === 'Dropout');
      expect(saved.config).toMatchObject({ rate: 0.5, seed: expect.any(Number) });
      const plain = await tf.loadLayersModel(
        tf.io.fromMemory({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0].weights,
          weightData: new Uint8Array(fs.readFileSync(path.join(dir, 'weights.bin'))).buffer,
        }),
      );
      const back = await loadModel(dir);
      created.push(plain, back);
      const layer = plain.layers.find((l) => l.getClassName() === 'Dropout')!;
      expect(layer).not.toBeInstanceOf(SteppedDropout);
      expect(layer.getConfig()).toMatchObject({ rate: 0.5, seed: saved.config.seed });
      const x = images();
      const out = (n: tf.LayersModel) => Array.from((n.predict(x) as tf.Tensor).dataSync());
      expect(out(plain)).toEqual(out(m));
      expect(out(back)).toEqual(out(m));
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });
});
