/**
 * Input-pipeline benchmark: images/s for decode + resize (+ the notebook's augmentation), fitspec
 * vs Keras `ImageDataGenerator.flow_from_directory` on the same generated images, side by side;
 * then the fraction of step time a real training loop (the notebook's baseline CNN) waits for data.
 *
 *   npm run bench:input -- [--per-class 400] [--size 128] [--epochs 2] [--steps 30]
 *
 * Keras runs in a local virtual environment, .bench/venv (tensorflow-cpu + keras), created on
 * first use.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { availableParallelism, loadavg } from 'node:os';
import { initBackend } from '../../src/backend.js';
import type { Augment, DataConfig } from '../../src/config/schema/experiment.js';
import { synthesize } from '../../src/data/index.js';

const { values: args } = parseArgs({
  options: {
    'per-class': { type: 'string', default: '400' },
    size: { type: 'string', default: '128' },
    epochs: { type: 'string', default: '2' },
    steps: { type: 'string', default: '30' },
    'skip-keras': { type: 'boolean', default: false },
  },
});
const perClass = Number(args['per-class']);
const size = Number(args.size);
const epochs = Number(args.epochs);
const trainSteps = Number(args.steps);

const root = resolve('.bench');
const venv = join(root, 'venv');
const python = join(venv, 'bin', 'python');
const dataDir = join(root, `faces-${perClass}`);

const NOTEBOOK_AUGMENT: Augment = { rotation: 40, widthShift: 0.2, heightShift: 0.2, shear: 0.2, zoom: 0.2, horizontalFlip: true, verticalFlip: false, fill: 'nearest', fillValue: 0, channelShift: 0, interpolation: 'bilinear' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates .bench/venv once; a mkdir lock keeps two benchmarks from installing at the same time. */
async function ensureVenv(): Promise<void> {
  const lock = join(root, 'venv.lock');
  mkdirSync(root, { recursive: true });
  for (;;) {
    if (existsSync(python) && spawnSync(python, ['-c', 'import keras, scipy, PIL, tensorflow'], { stdio: 'ignore' }).status === 0) return;
    try {
      mkdirSync(lock);
    } catch {
      console.log('waiting for another install of .bench/venv ...');
      await sleep(5000);
      continue;
    }
    try {
      console.log('creating .bench/venv (tensorflow-cpu + keras), once ...');
      const run = (cmd: string, a: string[]) => {
        const r = spawnSync(cmd, a, { stdio: 'inherit' });
        if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')} failed`);
      };
      if (!existsSync(python)) run('python3', ['-m', 'venv', venv]);
      run(python, ['-m', 'pip', 'install', '-q', 'tensorflow-cpu==2.21.0', 'keras', 'scipy', 'pillow']);
    } finally {
      rmdirSync(lock);
    }
  }
}

const fmt = (v: number) => v.toFixed(0).padStart(8);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const info = await initBackend('auto');
  const tf = await import('@tensorflow/tfjs');
  const { prepareData, batches } = await import('../../src/data/index.js');
  const load = () => loadavg()[0]!.toFixed(1);
  console.log(`load average ${load()} on ${availableParallelism()} cores`);
  console.log(`backend ${info.name}${info.tensorflowVersion ? ` (TensorFlow ${info.tensorflowVersion})` : ''}, ${size}x${size}, ${3 * perClass} images, ${epochs} epochs`);

  if (!existsSync(dataDir)) {
    const r = await synthesize({ out: dataDir, perClass, layout: 'directory', seed: 1 });
    console.log(`generated ${r.count} images in ${r.seconds.toFixed(1)}s (${r.imagesPerSecond.toFixed(0)} images/s)`);
  }

  // Every image of the folder in the training part.
  const all = (cache: DataConfig['cache']) =>
    ({
      source: { type: 'directory', path: dataDir },
      image: { height: size, width: size, channels: 3, rescale: 1 / 255, resize: 'stretch' },
      split: { train: perClass, validation: 0, test: 0 },
      onError: 'fail',
      cache,
    }) as DataConfig;

  /** Whole epochs of batches(); images/s per epoch. */
  async function fitspecRates(cache: DataConfig['cache'], augment?: Augment): Promise<number[]> {
    const data = await prepareData(all(cache), 1);
    const rates: number[] = [];
    for (let e = 0; e < epochs; e++) {
      const t0 = performance.now();
      let n = 0;
      for await (const b of batches(data, 'train', { batchSize: 32, shuffle: true, seed: 1, epoch: e, augment, rescale: 1 / 255 })) {
        n += b.size;
        b.xs.dispose();
        b.ys.dispose();
      }
      rates.push(n / ((performance.now() - t0) / 1000));
    }
    return rates;
  }

  const t0 = performance.now();
  const prep = await prepareData(all('memory'), 1);
  const firstDecode = (3 * perClass) / ((performance.now() - t0) / 1000);

  const ours = {
    plainCold: median(await fitspecRates('none')),
    augmentCold: median(await fitspecRates('none', NOTEBOOK_AUGMENT)),
    augmentWarm: median(await fitspecRates('memory', NOTEBOOK_AUGMENT)),
  };

  let keras: { plain: number; augment: number } | undefined;
  if (!args['skip-keras']) {
    await ensureVenv();
    const r = spawnSync(python, [join(import.meta.dirname, 'keras_bench.py'), dataDir, String(size), String(epochs)], { encoding: 'utf8', env: { ...process.env, CUDA_VISIBLE_DEVICES: '' } });
    if (r.status !== 0) throw new Error(`Keras benchmark failed:\n${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { plain: number[]; augment: number[] };
    keras = { plain: median(out.plain), augment: median(out.augment) };
  }

  console.log('\nimages/s (median epoch)                       fitspec    Keras    ratio');
  const row = (label: string, a: number, b?: number) => console.log(`${label.padEnd(44)}${fmt(a)} ${b ? fmt(b) : '       -'}   ${b ? (a / b).toFixed(1) + 'x' : '-'}`);
  row('decode + resize, every epoch (cache: none)', ours.plainCold, keras?.plain);
  row('decode + resize + augment (cache: none)', ours.augmentCold, keras?.augment);
  row('cached + augment, epoch 2+ (cache: memory)', ours.augmentWarm, keras?.augment);
  console.log(`${'first decode in prepareData (fills the cache)'.padEnd(44)}${fmt(firstDecode)}`);

  // A real training loop: the notebook's baseline CNN fed by batches() with augmentation on.
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [size, size, 3], filters: 32, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  // Smaller --size values get fewer blocks (the notebook's five need at least 94 px).
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
  let wait = 0;
  let total = 0;
  let step = 0;
  let mark = performance.now();
  for await (const b of batches(prep, 'train', { batchSize: 32, shuffle: true, seed: 1, epoch: 0, augment: NOTEBOOK_AUGMENT, rescale: 1 / 255, steps: trainSteps + 2 })) {
    const got = performance.now();
    await m.trainOnBatch(b.xs, b.ys);
    b.xs.dispose();
    b.ys.dispose();
    const done = performance.now();
    // The first two steps warm up kernels and are not counted.
    if (step++ >= 2) {
      wait += got - mark;
      total += done - mark;
    }
    mark = performance.now();
  }
  const augmentShare = ((32 / ours.augmentWarm) * 1000) / (total / trainSteps);
  console.log(`\ntraining the notebook's baseline CNN (${trainSteps} steps of 32, augmentation on): ${(total / trainSteps).toFixed(0)} ms/step, waiting for data ${((100 * wait) / total).toFixed(1)}% of step time`);
  console.log(`(building an augmented batch from the cache costs ${(100 * augmentShare).toFixed(1)}% of a step on this thread; load average now ${load()})`);
}

await main();
