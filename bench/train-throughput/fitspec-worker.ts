/**
 * Trains one of the notebook's models, built by fitspec's own model builder from its experiment
 * file, for at least <minSteps> timed steps and at least <seconds> seconds of them, and prints one JSON line.
 * Usage: tsx fitspec-worker.ts <tensorflow|cpu> <size> <warmupSteps> <minSteps> <seconds> <dataDir> [batch] [eager|graph] [model]
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { initBackend } from '../../src/backend.js';
import { BATCH, BENCH_MODELS, busyCores, CLASSES, IMAGES, machineTicks, padding, readData, type BenchModel, type WorkerResult } from './common.js';

const [backendArg, sizeArg, warmupArg, stepsArg, secondsArg, dataDir, batchArg, engineArg, modelArg] = process.argv.slice(2);
const modelName = (modelArg ?? 'baseline') as BenchModel;
const engineKind = engineArg === 'graph' ? 'graph' : 'eager';
const batch = Number(batchArg ?? BATCH);
const size = Number(sizeArg);
const warmup = Number(warmupArg);
const minSteps = Number(stepsArg);
const minSeconds = Number(secondsArg);

const info = await initBackend(backendArg as 'tensorflow' | 'cpu');
const tf = await import('@tensorflow/tfjs');
const { loadExperiment } = await import('../../src/config/index.js');
const { applyTrainable, buildModel, buildOptimizer } = await import('../../src/model/index.js');

const spec = BENCH_MODELS[modelName];
const set = [`data.image.height=${size}`, `data.image.width=${size}`, ...spec.set(padding(size))];
const { experiment: exp } = loadExperiment(resolve(import.meta.dirname, '../../experiments', spec.experiment), { set });
const built = await buildModel(exp);
if (spec.freezeBase) applyTrainable(built, 'base', undefined);
const { model } = built;
model.compile({ optimizer: buildOptimizer(exp.train.optimizer), loss: exp.train.loss, metrics: exp.train.metrics });
let step = async (x: import('@tensorflow/tfjs').Tensor, y: import('@tensorflow/tfjs').Tensor): Promise<number> => {
  const out = await model.trainOnBatch(x, y);
  return Array.isArray(out) ? out[0]! : out;
};
if (engineKind === 'graph') {
  const { createGraphEngine } = await import('../../src/train/engine/graph/index.js');
  const engine = createGraphEngine(model, info);
  if ('unsupported' in engine) throw new Error(`graph engine unavailable: ${engine.unsupported}`);
  await engine.beginPhase({ optimizer: exp.train.optimizer, loss: exp.train.loss, metrics: exp.train.metrics });
  step = async (x, y) => (await engine.trainBatch(x, y)).loss!;
}

// Data in memory as float tensors, one per batch, like a Keras array held in RAM.
const { images, labels } = readData(dataDir!, size);
const perImage = size * size * 3;
const batches = Array.from({ length: Math.floor(IMAGES / batch) }, (_, b) => {
  const pixels = new Float32Array(batch * perImage);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images[b * batch * perImage + i]! / 255;
  const x = tf.tensor4d(pixels, [batch, size, size, 3]);
  const y = tf.oneHot(tf.tensor1d(Array.from(labels.subarray(b * batch, (b + 1) * batch)), 'int32'), CLASSES);
  return { x, y };
});

let loss = NaN;
let firstStepSeconds = 0;
for (let s = 0; s < warmup; s++) {
  const started = performance.now();
  const { x, y } = batches[s % batches.length]!;
  loss = await step(x, y);
  if (s === 0) firstStepSeconds = (performance.now() - started) / 1000;
}
let steps = 0;
/** The next timed step, on the batches in turn. */
const timedStep = async (): Promise<void> => {
  const { x, y } = batches[(warmup + steps) % batches.length]!;
  loss = await step(x, y);
  steps++;
};
let seconds = 0;
let cpuSeconds = 0;
let machine: number | undefined;
if (process.env.FITSPEC_BENCH_SERVE === '1') {
  // Paired mode (the runner's --paired-seconds): one timed step per `step` line on stdin, in turn
  // with the other side's worker, so both sides see the same minutes of the machine.
  console.log(`ready ${info.kernels?.name ?? ''}`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() !== 'step') break;
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    await timedStep();
    const ms = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    seconds += ms / 1000;
    cpuSeconds += (cpu.user + cpu.system) / 1e6;
    console.log(JSON.stringify({ ms }));
  }
} else {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const machine0 = machineTicks();
  while (steps < minSteps || performance.now() - t0 < minSeconds * 1000) {
    const started = performance.now();
    await timedStep();
    if (warmup === 0 && steps === 1) firstStepSeconds = (performance.now() - started) / 1000;
  }
  seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  cpuSeconds = (cpu.user + cpu.system) / 1e6;
  machine = busyCores(machine0, machineTicks(), availableParallelism());
}
const coresUsed = cpuSeconds / seconds;
const result: WorkerResult = {
  framework: 'fitspec',
  backend: info.name,
  engine: engineKind,
  model: modelName,
  size,
  batch,
  warmupSteps: warmup,
  steps,
  seconds,
  imagesPerSec: (steps * batch) / seconds,
  firstStepSeconds,
  coresUsed,
  ...(machine !== undefined ? { otherCores: Math.max(0, machine - coresUsed) } : {}),
  peakRssMB: process.resourceUsage().maxRSS / 1024,
  threads: info.threads,
  kernels: info.kernels?.name,
  versions: { tfjs: info.tfjsVersion, ...(info.tensorflowVersion ? { tensorflow: info.tensorflowVersion } : {}) },
  finalLoss: loss,
};
console.log(JSON.stringify(result));
