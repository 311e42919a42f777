import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { layerSchemas } from '../../src/config/schema/layers.js';
import { buildModel, layerDefs, loadModel, saveModel, summarize } from '../../src/model/index.js';

/**
 * One row per layer kind: its arguments, an input shape, and what Keras reports for it
 * (parameter count, trainable count, output shape). Every registered kind must have a row.
 */
const table: { kind: string; args: Record<string, unknown>; input: number[]; params: number; trainable?: number; output: (number | null)[] }[] = [
  { kind: 'conv2d', args: { filters: 8, kernelSize: 3 }, input: [16, 16, 3], params: 224, output: [null, 14, 14, 8] },
  { kind: 'conv2d', args: { filters: 8, kernelSize: [3, 5], strides: 2, padding: 'same', useBias: false }, input: [16, 16, 3], params: 360, output: [null, 8, 8, 8] },
  { kind: 'depthwiseConv2d', args: { kernelSize: 3, padding: 'same', depthMultiplier: 2 }, input: [16, 16, 3], params: 60, output: [null, 16, 16, 6] },
  { kind: 'maxPooling2d', args: { poolSize: 2 }, input: [16, 16, 3], params: 0, output: [null, 8, 8, 3] },
  { kind: 'averagePooling2d', args: { poolSize: 4 }, input: [16, 16, 3], params: 0, output: [null, 4, 4, 3] },
  { kind: 'globalAveragePooling2d', args: {}, input: [16, 16, 3], params: 0, output: [null, 3] },
  { kind: 'batchNormalization', args: {}, input: [16, 16, 3], params: 12, trainable: 6, output: [null, 16, 16, 3] },
  { kind: 'batchNormalization', args: { axis: 1 }, input: [16, 16, 3], params: 64, trainable: 32, output: [null, 16, 16, 3] },
  { kind: 'dropout', args: { rate: 0.3 }, input: [16, 16, 3], params: 0, output: [null, 16, 16, 3] },
  { kind: 'flatten', args: {}, input: [16, 16, 3], params: 0, output: [null, 768] },
  { kind: 'dense', args: { units: 4, activation: 'softmax', kernelRegularizer: { l2: 0.01 } }, input: [10], params: 44, output: [null, 4] },
  { kind: 'activation', args: { activation: 'relu' }, input: [16, 16, 3], params: 0, output: [null, 16, 16, 3] },
  { kind: 'zeroPadding2d', args: {}, input: [16, 16, 3], params: 0, output: [null, 18, 18, 3] },
  {
    kind: 'zeroPadding2d',
    args: {
      padding: [
        [0, 1],
        [2, 3],
      ],
    },
    input: [16, 16, 3],
    params: 0,
    output: [null, 17, 21, 3],
  },
  { kind: 'separableConv2d', args: { filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }, input: [16, 16, 3], params: 59, output: [null, 16, 16, 8] },
  { kind: 'separableConv2d', args: { filters: 8, kernelSize: 3, strides: 2, depthMultiplier: 2, useBias: false }, input: [16, 16, 3], params: 102, output: [null, 7, 7, 8] },
  { kind: 'globalMaxPooling2d', args: {}, input: [16, 16, 3], params: 0, output: [null, 3] },
  { kind: 'reshape', args: { targetShape: [-1, 3] }, input: [16, 16, 3], params: 0, output: [null, 256, 3] },
  { kind: 'layerNormalization', args: {}, input: [16, 16, 3], params: 6, output: [null, 16, 16, 3] },
  { kind: 'layerNormalization', args: { axis: [1, 2, 3], epsilon: 1e-6 }, input: [4, 4, 3], params: 96, output: [null, 4, 4, 3] },
  { kind: 'spatialDropout2d', args: { rate: 0.3 }, input: [16, 16, 3], params: 0, output: [null, 16, 16, 3] },
  { kind: 'rescaling', args: { scale: 1 / 127.5, offset: -1 }, input: [16, 16, 3], params: 0, output: [null, 16, 16, 3] },
  { kind: 'resizing', args: { height: 8, width: 12 }, input: [16, 16, 3], params: 0, output: [null, 8, 12, 3] },
  { kind: 'resizing', args: { height: 8, width: 4, interpolation: 'nearest', cropToAspectRatio: true }, input: [16, 16, 3], params: 0, output: [null, 8, 4, 3] },
  { kind: 'reLU', args: { maxValue: 6 }, input: [16, 16, 3], params: 0, output: [null, 16, 16, 3] },
  { kind: 'reLU', args: {}, input: [16, 16, 3], params: 0, output: [null, 16, 16, 3] },
];

function experimentWith(layers: unknown[], input: number[]) {
  // Layer tests feed 1-D inputs too; the model builder only reads height/width/channels.
  const [height, width, channels] = input.length === 3 ? input : [input[0]!, 1, 1];
  return { name: 't', seed: 1, data: { image: { height, width, channels } }, model: { layers } } as never;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('layer registry', () => {
  it('registers exactly the kinds the schema allows', () => {
    expect(layerDefs.map((d) => d.kind).sort()).toEqual(Object.keys(layerSchemas).sort());
  });

  it('has a test row for every registered kind', () => {
    const covered = new Set(table.map((r) => r.kind));
    expect(layerDefs.filter((d) => !covered.has(d.kind)).map((d) => d.kind)).toEqual([]);
  });

  for (const row of table) {
    it(`${row.kind} ${JSON.stringify(row.args)} matches Keras: ${row.params} params, output ${JSON.stringify(row.output)}`, async () => {
      const layers = row.input.length === 1 && row.kind === 'dense' ? [{ flatten: {} }, { [row.kind]: row.args }] : [{ [row.kind]: row.args }];
      const input = row.input.length === 1 ? [row.input[0]!, 1, 1] : row.input;
      const built = await buildModel(experimentWith(layers, input));
      const s = summarize(built);
      expect(s.total).toBe(row.params);
      expect(s.trainable).toBe(row.trainable ?? row.params);
      const last = built.model.layers.at(-1)!;
      expect(last.outputShape).toEqual(row.output);
      // Every layer runs forward and produces finite numbers.
      const y = built.model.predict(tf.randomUniform([2, ...input])) as tf.Tensor;
      expect(y.shape.slice(1)).toEqual(row.output.slice(1));
      expect(Array.from(await y.data()).every(Number.isFinite)).toBe(true);
      // ...and survives a save / load round trip with identical weights.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-layer-'));
      await saveModel(built.model, dir);
      const back = await loadModel(dir);
      const a = built.model.getWeights().map((w) => Array.from(w.dataSync()));
      const b = back.getWeights().map((w) => Array.from(w.dataSync()));
      expect(b).toEqual(a);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it(`${row.kind} ${JSON.stringify(row.args)} trains: finite loss, trainable weights move`, async () => {
      const input = row.input.length === 1 ? [row.input[0]!, 1, 1] : row.input;
      const head = row.output.length > 2 ? [{ flatten: {} }] : [];
      const layers = row.input.length === 1 && row.kind === 'dense' ? [{ flatten: {} }, { [row.kind]: row.args }] : [{ [row.kind]: row.args }];
      const built = await buildModel(experimentWith([...layers, ...head, { dense: { units: 3, activation: 'softmax' } }], input));
      built.model.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
      const layer = built.model.layers.find((l) => l.name !== 'input' && l.getClassName() !== 'InputLayer')!;
      const before = layer.trainableWeights.map((w) => Array.from(w.read().dataSync()));
      const loss = (await built.model.trainOnBatch(tf.randomUniform([4, ...input]), tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3))) as number;
      expect(Number.isFinite(loss)).toBe(true);
      const after = layer.trainableWeights.map((w) => Array.from(w.read().dataSync()));
      if (before.length) expect(after).not.toEqual(before);
    });
  }

  for (const axis of [1, 2, -1]) {
    it(`batchNormalization axis ${axis}: moving statistics converge to the batch's, and inference then equals training`, async () => {
      const built = await buildModel(experimentWith([{ batchNormalization: { axis, momentum: 0.5 } }], [6, 5, 3]));
      const bn = built.model.layers.find((l) => l.getClassName() === 'BatchNormalization')!;
      const x = tf.randomUniform([8, 6, 5, 3]).mul(3).add(2);
      for (let i = 0; i < 40; i++) tf.tidy(() => bn.apply(x, { training: true }) as tf.Tensor);
      const gap = tf.tidy(() => tf.max(tf.abs(tf.sub(bn.apply(x, { training: false }) as tf.Tensor, bn.apply(x, { training: true }) as tf.Tensor))).dataSync()[0]!);
      expect(gap).toBeLessThan(1e-4);
    });
  }

  it('gives default names the Keras way and keeps explicit ones', async () => {
    const built = await buildModel(
      experimentWith(
        [{ conv2d: { filters: 2, kernelSize: 3 } }, { conv2d: { filters: 2, kernelSize: 3, name: 'mine' } }, { conv2d: { filters: 2, kernelSize: 3 } }, { maxPooling2d: {} }],
        [16, 16, 3],
      ),
    );
    expect(built.model.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => l.name)).toEqual(['conv2d', 'mine', 'conv2d_1', 'max_pooling2d']);
  });

  it('reports a shape mistake with the layer that caused it', async () => {
    await expect(buildModel(experimentWith([{ conv2d: { filters: 2, kernelSize: 9 } }, { conv2d: { filters: 2, kernelSize: 9 } }], [12, 12, 3]))).rejects.toMatchObject({
      problems: [{ code: 'model.shape', path: 'model.layers.1' }],
    });
  });

  it('same seed, same initial weights; another seed, other weights', async () => {
    const layers = [{ flatten: {} }, { dense: { units: 3 } }];
    const w = async (seed: number) => Array.from((await buildModel({ ...(experimentWith(layers, [4, 4, 1]) as object), seed } as never)).model.getWeights()[0]!.dataSync());
    expect(await w(1)).toEqual(await w(1));
    expect(await w(1)).not.toEqual(await w(2));
  });
});
