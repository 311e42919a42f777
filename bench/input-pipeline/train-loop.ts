/** The training loop both input benchmarks time: the notebook's baseline CNN fed by batches(). */
import type * as TF from '@tensorflow/tfjs';
import type { Augment } from '../../src/config/schema/experiment.js';
import type { Batch } from '../../src/data/index.js';

export const NOTEBOOK_AUGMENT: Augment = { rotation: 40, widthShift: 0.2, heightShift: 0.2, shear: 0.2, zoom: 0.2, horizontalFlip: true, verticalFlip: false, fill: 'nearest', fillValue: 0, channelShift: 0, interpolation: 'bilinear' };

/** The notebook's baseline CNN; smaller sizes get fewer blocks (the notebook's five need at least 94 px). */
export function baselineCnn(tf: typeof TF, size: number): TF.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [size, size, 3], filters: 32, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  let side = Math.floor((size - 2) / 2);
  for (const filters of [64, 128, 128, 128]) {
    if (side < 4) break;
    m.add(tf.layers.conv2d({ filters, kernelSize: 3, activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    side = Math.floor((side - 2) / 2);
  }
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 512, activation: 'relu' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
  m.compile({ optimizer: tf.train.rmsprop(1e-4), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

/**
 * Trains on `batches` (which should hold `steps + 2` of them) and returns ms per step and the share of
 * step time spent waiting for the next batch. The first two steps warm up kernels and are not counted.
 */
export async function timeTraining(m: TF.Sequential, batches: AsyncIterable<Batch>, steps: number): Promise<{ msPerStep: number; waitFraction: number }> {
  let wait = 0;
  let total = 0;
  let step = 0;
  let mark = performance.now();
  for await (const b of batches) {
    const got = performance.now();
    await m.trainOnBatch(b.xs, b.ys);
    b.xs.dispose();
    b.ys.dispose();
    const done = performance.now();
    if (step++ >= 2) {
      wait += got - mark;
      total += done - mark;
    }
    mark = performance.now();
  }
  return { msPerStep: total / steps, waitFraction: wait / total };
}
