/** The training loop both input benchmarks time: the notebook's baseline CNN fed by batches(). */
import type * as TF from '@tensorflow/tfjs';
import type { BackendInfo } from '../../src/backend.js';
import type { Augment, DataConfig } from '../../src/config/schema/experiment.js';
import type { Batch } from '../../src/data/index.js';
import type { Engine, EngineChoice } from '../../src/train/engine/index.js';

export const NOTEBOOK_AUGMENT: Augment = {
  rotation: 40,
  widthShift: 0.2,
  heightShift: 0.2,
  shear: 0.2,
  zoom: 0.2,
  horizontalFlip: true,
  verticalFlip: false,
  fill: 'nearest',
  fillValue: 0,
  channelShift: 0,
  interpolation: 'bilinear',
};

/** The generated folder with every image in the training part, as both input benchmarks read it. */
export const folderData = (dir: string, size: number, perClass: number, cache: DataConfig['cache'], interpolation: DataConfig['image']['interpolation'] = 'lanczos3'): DataConfig =>
  ({
    source: { type: 'directory', path: dir },
    image: { height: size, width: size, channels: 3, rescale: 1 / 255, resize: 'stretch', interpolation },
    split: { train: perClass, validation: 0, test: 0 },
    onError: 'fail',
    cache,
  }) as DataConfig;

/** Steps trained before timing starts (kernel and graph warm-up), not counted. */
export const WARMUP_STEPS = 2;

/** How the benchmarks define the data wait (printed with their results). */
export const DATA_WAIT_DEFINITION = `data wait = time the loop spends waiting for the next batch / time of the whole step (wait + training step + the trainer's event-loop turn), summed over the timed steps (the first ${WARMUP_STEPS} are warm-up and not counted)`;

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
  return m;
}

/** The engine the trainer would pick (`train.engine: auto` unless `choice` says otherwise), set up for the notebook's RMSprop 1e-4. */
export async function trainerEngine(model: TF.LayersModel, backend: BackendInfo, choice: EngineChoice = 'auto', log: (m: string) => void = console.error): Promise<Engine> {
  const { createEngine, resolveEngine } = await import('../../src/train/engine/index.js');
  const spec = { loss: 'categoricalCrossentropy', metrics: ['accuracy'] };
  const engine = createEngine(resolveEngine(choice, backend).kind, model, backend, log, spec);
  await engine.beginPhase({ optimizer: { name: 'rmsprop', learningRate: 1e-4 }, ...spec });
  return engine;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Trains on `batches` (which should hold `steps + WARMUP_STEPS` of them) the way the trainer's fit loop
 * does (ask for a batch, one engine step, one event-loop turn) and returns ms per step and the data
 * wait as DATA_WAIT_DEFINITION says.
 */
export async function timeTraining(engine: Engine, batches: AsyncIterable<Batch>, steps: number): Promise<{ msPerStep: number; waitFraction: number }> {
  let wait = 0;
  let total = 0;
  let step = 0;
  const it = batches[Symbol.asyncIterator]();
  for (;;) {
    const asked = performance.now();
    const next = await it.next();
    const got = performance.now();
    if (next.done) break;
    await engine.trainBatch(next.value.xs, next.value.ys);
    next.value.xs.dispose();
    next.value.ys.dispose();
    await turn();
    if (step++ >= WARMUP_STEPS) {
      wait += got - asked;
      total += performance.now() - asked;
    }
  }
  if (step < steps + WARMUP_STEPS) throw new Error(`timeTraining: ${step} batches, expected ${steps + WARMUP_STEPS}`);
  return { msPerStep: total / steps, waitFraction: wait / total };
}

/** ms per step of the same engine on one batch held in memory: the step without any input pipeline, for comparison. */
export async function timeStepAlone(tf: typeof TF, engine: Engine, size: number, steps: number): Promise<number> {
  const xs = tf.randomUniform([32, size, size, 3]);
  const ys = tf
    .oneHot(
      tf.tensor1d(
        Array.from({ length: 32 }, (_, i) => i % 3),
        'int32',
      ),
      3,
    )
    .toFloat();
  try {
    for (let s = 0; s < WARMUP_STEPS; s++) await engine.trainBatch(xs, ys);
    const t = performance.now();
    for (let s = 0; s < steps; s++) {
      await engine.trainBatch(xs, ys);
      await turn();
    }
    return (performance.now() - t) / steps;
  } finally {
    tf.dispose([xs, ys]);
  }
}
