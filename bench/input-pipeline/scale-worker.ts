/**
 * One row of the scaling benchmark, in its own process so that its peak RSS is its own:
 * prepareData with one cache mode (fills the cache), images/s of `batches()` over a number of
 * shuffled batches, then the notebook's baseline CNN trained from `batches()` with the notebook's
 * augmentation on the trainer's engine, timing how long each step waited for its batch, and the same
 * engine's step on one batch held in memory for comparison. Prints one JSON line.
 *
 *   tsx scale-worker.ts <dataDir> <perClass> <memory|disk|none|auto> <size> <readBatches> <trainSteps> <auto|graph|eager> [memoryBudgetMB]
 */
import { freemem, loadavg } from 'node:os';
import { initBackend } from '../../src/backend.js';
import type { DataConfig } from '../../src/config/schema/experiment.js';
import { isFitspecError } from '../../src/errors.js';
import type { EngineChoice } from '../../src/train/engine/index.js';
import { NOTEBOOK_AUGMENT, WARMUP_STEPS, baselineCnn, timeStepAlone, timeTraining, trainerEngine } from './train-loop.js';

const [dataDir, perClass, mode, sizeArg, readArg, stepsArg, engineArg, budgetArg] = process.argv.slice(2) as [
  string,
  string,
  DataConfig['cache'],
  string,
  string,
  string,
  EngineChoice,
  string | undefined,
];
const size = Number(sizeArg);
const readBatches = Number(readArg);
const trainSteps = Number(stepsArg);
const BATCH = 32;

const backend = await initBackend('auto');
const tf = await import('@tensorflow/tfjs');
const { prepareData, batches } = await import('../../src/data/index.js');
const { storeFor } = await import('../../src/data/prepare.js');

const config = {
  source: { type: 'directory', path: dataDir },
  image: { height: size, width: size, channels: 3, rescale: 1 / 255, resize: 'stretch' },
  // Every image in the training part (an integer is a count per class).
  split: { train: Number(perClass), validation: 0, test: 0 },
  onError: 'fail',
  cache: mode,
  ...(budgetArg ? { memoryBudget: Number(budgetArg) } : {}),
} as DataConfig;

const out: Record<string, unknown> = { mode, loadStart: loadavg()[0], freeMemMB: freemem() / 2 ** 20 };
const warnings: string[] = [];
const t0 = performance.now();
let data;
try {
  data = await prepareData(config, 1, { log: (m) => m.startsWith('warning:') && warnings.push(m) });
} catch (e) {
  if (!isFitspecError(e)) throw e;
  console.log(JSON.stringify({ ...out, refused: e.problems[0]!.message, peakRssMB: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}
const images = data.parts.train.ids.length;
const fillSeconds = (performance.now() - t0) / 1000;
const store = storeFor(data);

// Pipeline alone: shuffled batches over the whole dataset, as an epoch reads them.
let n = 0;
const t1 = performance.now();
for await (const b of batches(data, 'train', { batchSize: BATCH, shuffle: true, seed: 1, epoch: 0, rescale: 1 / 255, steps: readBatches })) {
  n += b.size;
  b.xs.dispose();
  b.ys.dispose();
}
const readRate = n / ((performance.now() - t1) / 1000);

const engine = await trainerEngine(baselineCnn(tf, size), backend, engineArg ?? 'auto', (m) => warnings.push(m));
const stepAloneMs = await timeStepAlone(tf, engine, size, Math.max(5, Math.round(trainSteps / 3)));
const { msPerStep, waitFraction } = await timeTraining(
  engine,
  batches(data, 'train', { batchSize: BATCH, shuffle: true, seed: 1, epoch: 1, augment: NOTEBOOK_AUGMENT, rescale: 1 / 255, steps: trainSteps + WARMUP_STEPS }),
  trainSteps,
);

console.log(
  JSON.stringify({
    ...out,
    cache: data.cache,
    warnings,
    engine: engine.name,
    images,
    decoded: store.decoded,
    fillSeconds,
    readRate,
    stepAloneMs,
    msPerStep,
    waitFraction,
    storePeakMB: store.peakResident / 2 ** 20,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    loadEnd: loadavg()[0],
  }),
);
