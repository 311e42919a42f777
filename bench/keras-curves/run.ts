/**
 * How much the validation curves move from epoch to epoch, fitspec against Keras, on identical
 * images and splits: the notebook's baseline CNN (experiments/01-baseline.yaml) trained by fitspec
 * and by Keras 3 (model.fit) for several seeds; per run the mean |change| of val_loss and of
 * val_accuracy between neighbouring epochs; per side their mean and spread (sample standard
 * deviation) over the seeds. Not a speed benchmark: it may run on a busy machine.
 *
 *   npm run bench:keras-curves [-- --size=96 --train=300 --validation=150 --epochs=12 --seeds=3
 *                                  --batch=32 --lr=1e-4 --engine=graph|eager
 *                                  --keras-init=keras|fitspec --keras-order=fit|fit-arrays|fitspec|reshuffled|fixed]
 *   npm run bench:keras-curves -- --experiment=experiments/quick/02-bn-dropout.yaml [--experiment=...]
 *                                 [--size=128 --seeds=1 --first-seed=42]
 *
 * Per seed, fitspec trains first (that seed's split, shuffle and initial weights); the pixels of its
 * split, as its data pipeline decoded them, go to Keras (scripts/convert/venv.mjs' venv, installed on
 * first use), which trains from its own initial weights seeded with the same number
 * (`--keras-init=fitspec`: from fitspec's). Keras' order (`--keras-order`): `fit` (default), model.fit
 * on a dataset reshuffled every epoch; `fit-arrays`, model.fit(x, y, shuffle=True), which under
 * keras.utils.set_random_seed draws one order and trains every epoch on it (Keras 3, TensorFlow
 * backend); `fitspec`, train_on_batch on fitspec's batches in fitspec's order; `reshuffled` / `fixed`,
 * train_on_batch on a new / the same permutation every epoch.
 *
 * `--experiment FILE` (repeatable) trains that experiment file's model, optimizer, epochs, batch size
 * and augmentation instead of the baseline, on the bench's images (its split unless --train /
 * --validation, its image size unless --size): Keras builds the same layers (fitspec's built layers
 * as Keras classes and arguments, tfjs' camelCase names in snake_case), and augments with Keras 3's
 * preprocessing layers in its tf.data pipeline (see keras_fit.py). A pretrained base (`model.base.weights`)
 * starts from the same weights on both sides (the head from each side's own draws); `train.phases` are
 * replayed as a Keras user fine-tunes: per phase the same layers set trainable, the model compiled with
 * the phase's optimizer, and fit continued from the epoch reached. Per experiment and seed it prints
 * each side's best val_accuracy (epoch), final val_loss, and whether it left chance.
 */
import type * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadExperiment, loadExperimentText } from '../../src/config/index.js';
import { prepareData, synthesize } from '../../src/data/index.js';
import { storeFor } from '../../src/data/prepare.js';
import { train } from '../../src/train/trainer.js';
import { applyTrainable, buildModel } from '../../src/model/index.js';
import { resolvePhases } from '../../src/train/phases.js';
import { batchIndices } from '../../src/data/batches.js';
import { ensureConvertVenv } from '../../scripts/convert/venv.mjs';
import { initBackend } from '../../src/backend.js';
import { leafLayers } from '../../src/model/index.js';
import { kerasLayer, kerasOptimizer, trainableLeaves } from '../../scripts/keras-parity/keras-names.js';

const root = resolve(import.meta.dirname, '..', '..');
const work = join(root, '.bench', 'keras-curves');
const { values: a } = parseArgs({
  options: {
    size: { type: 'string' },
    train: { type: 'string' },
    validation: { type: 'string' },
    epochs: { type: 'string' },
    experiment: { type: 'string', multiple: true },
    seeds: { type: 'string', default: '3' },
    'first-seed': { type: 'string', default: '42' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '1e-4' },
    engine: { type: 'string', default: 'graph' },
    // `fitspec`: Keras starts from fitspec's initial weights of that seed instead of its own draws.
    'keras-init': { type: 'string', default: 'keras' },
    // `fitspec`: Keras trains on fitspec's batches of that seed, in fitspec's order (train_on_batch).
    'keras-order': { type: 'string', default: 'keras' },
  },
});
const experiments = (a.experiment ?? []).map((f) => resolve(f));
const quick = experiments.length > 0;
const size = Number(a.size ?? (quick ? 0 : 96));
const perTrain = Number(a.train ?? (quick ? 0 : 300));
const perVal = Number(a.validation ?? (quick ? 0 : 150));
const epochs = Number(a.epochs ?? 12);
const seeds = Array.from({ length: Number(a.seeds) }, (_, i) => Number(a['first-seed']) + i);
const batch = Number(a.batch);
const lr = Number(a.lr);
const CLASSES = ['YOUNG', 'MIDDLE', 'OLD'];
// Five valid 3x3 convolutions with 2x2 pooling need at least 94 pixels; below, `same` padding.
const padding = size >= 94 ? 'valid' : 'same';
const RESCALE = 1 / 255;

const KERAS_ORDER: Record<string, string> = {
  'fit-arrays': 'model.fit on arrays: one order for every epoch',
  fitspec: "train_on_batch on fitspec's batches",
  reshuffled: 'train_on_batch, reshuffled every epoch',
  fixed: 'train_on_batch, one order for every epoch',
};

interface Curves {
  val_loss: number[];
  val_accuracy: number[];
}

/** Mean |x[i+1] - x[i]|. */
const swing = (xs: number[]) => xs.slice(1).reduce((s, x, i) => s + Math.abs(x - xs[i]!), 0) / Math.max(1, xs.length - 1);
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const sd = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

function experimentYaml(seed: number, dataDir: string): string {
  const conv = [32, 64, 128, 128, 128].flatMap((f) => [`    - conv2d: {filters: ${f}, kernelSize: 3, activation: relu, padding: ${padding}}`, '    - maxPooling2d: {poolSize: 2}']);
  return [
    'name: keras-curves',
    `seed: ${seed}`,
    'data:',
    `  source: {type: csv, images: ${join(dataDir, 'Train')}, labels: ${join(dataDir, 'train.csv')}, idColumn: ID, labelColumn: Class}`,
    `  classes: [${CLASSES.join(', ')}]`,
    `  image: {height: ${size}, width: ${size}, channels: 3, rescale: ${RESCALE}, interpolation: nearest}`,
    `  split: {train: ${perTrain}, validation: ${perVal}}`,
    'model:',
    '  layers:',
    ...conv,
    '    - flatten: {}',
    '    - dense: {units: 512, activation: relu}',
    `    - dense: {units: ${CLASSES.length}, activation: softmax}`,
    'train:',
    `  epochs: ${epochs}`,
    `  batchSize: ${batch}`,
    `  engine: ${a.engine}`,
    `  optimizer: {name: rmsprop, learningRate: ${lr}}`,
    'tracking:',
    `  runsDir: ${join(work, 'runs')}`,
    '',
  ].join('\n');
}

function python(py: string, args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(py, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', CUDA_VISIBLE_DEVICES: '' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', rej);
    child.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`${args.join(' ')} failed (exit ${code}):\n${err.slice(-3000)}`))));
  });
}

/** The same split and pixels for Keras, as fitspec's data pipeline decoded them (its image store). */
async function writePixels(loaded: ReturnType<typeof loadExperimentText>, seed: number, dir: string, px: number) {
  const data = await prepareData(loaded.experiment.data, seed);
  mkdirSync(dir, { recursive: true });
  const reader = await storeFor(data).reader();
  for (const part of ['train', 'validation'] as const) {
    const p = data.parts[part]!;
    const pixels = new Uint8Array(Math.ceil((p.files.length * px * px * 3) / 4) * 4);
    await reader.read(p.files, pixels);
    writeFileSync(join(dir, `${part}.u8`), pixels.subarray(0, p.files.length * px * px * 3));
    writeFileSync(join(dir, `${part}-labels.u8`), Uint8Array.from(p.labels));
  }
  await reader.close();
  return data;
}

async function ensureData(perClass: number): Promise<string> {
  const dataDir = join(work, `data-${perClass}`);
  if (!existsSync(join(dataDir, 'train.csv'))) {
    rmSync(dataDir, { recursive: true, force: true });
    process.stderr.write(`generating ${perClass} images per class in ${dataDir}\n`);
    await synthesize({ out: dataDir, perClass, layout: 'csv', seed: 1, classes: CLASSES });
  }
  return dataDir;
}

type LayerWeights = { index: number; shapes: number[][] }[];

/**
 * The weights of the layers `pick` chooses, layer by layer (Keras' order of a layer's weights:
 * BatchNormalization's moving statistics after gamma and beta), into DIR/initial.f32 for keras_fit.py.
 */
function writeLayerWeights(dir: string, leaves: tf.layers.Layer[], pick: (l: tf.layers.Layer) => boolean): LayerWeights {
  const given = leaves.flatMap((l, index) => (pick(l) ? [{ index, weights: l.getWeights() }] : []));
  writeFileSync(join(dir, 'initial.f32'), Buffer.concat(given.flatMap((g) => g.weights.map((w) => Buffer.from((w.dataSync() as Float32Array).buffer)))));
  return given.map((g) => ({ index: g.index, shapes: g.weights.map((w) => w.shape) }));
}

const curvesOf = (r: Awaited<ReturnType<typeof train>>): Curves => ({
  val_loss: r.history.map((h) => h.val_loss as number),
  val_accuracy: r.history.map((h) => h.val_accuracy as number),
});
const fmt = (xs: number[]) => xs.map((v) => v.toFixed(3)).join(' ');

/** Best val_accuracy above this counts as having left chance (1/3 for three classes). */
const LEFT_CHANCE = 0.4;

/** `--experiment`: the experiment files' models trained by fitspec and by Keras on the same pixels. */
async function compareExperiments(py: string) {
  const rows: string[] = [];
  const sizes = new Set<string>();
  for (const file of experiments) {
    const own = loadExperiment(file).experiment;
    if (own.train.loss !== 'categoricalCrossentropy') throw new Error(`${file}: the Keras side trains with categorical cross-entropy only`);
    if (own.train.phases?.length && a.epochs) throw new Error(`${file}: --epochs does not apply to a file with training phases (each phase has its own)`);
    if (resolvePhases(own).some((p) => p.callbacks.length)) throw new Error(`${file}: callbacks are not reproduced on the Keras side`);
    const split = own.data.split as { train: number; validation: number };
    const tr = perTrain || split.train;
    const va = perVal || split.validation;
    const px = size || own.data.image.height;
    const dataDir = await ensureData(tr + va);
    const name = basename(file, '.yaml');
    const phaseNote = own.train.phases?.length
      ? ` (${resolvePhases(own)
          .map((p) => `${p.name} ${p.epochs}`)
          .join(' + ')})`
      : '';
    sizes.add(
      `${name}: ${px}x${px}, ${tr} / ${va} per class, ${a.epochs ?? resolvePhases(own).reduce((n, p) => n + p.epochs, 0)} epochs${phaseNote}, batch ${own.train.batchSize}`,
    );
    for (const seed of seeds) {
      const dir = join(work, `${name}-${seed}`);
      mkdirSync(dir, { recursive: true });
      const wrapper = join(dir, 'experiment.yaml');
      const text = [
        `extends: [${relative(dir, file)}]`,
        `name: keras-curves-${name}`,
        `seed: ${seed}`,
        'data:',
        `  source: {type: csv, images: ${join(dataDir, 'Train')}, labels: ${join(dataDir, 'train.csv')}, idColumn: ID, labelColumn: Class}`,
        `  classes: [${CLASSES.join(', ')}]`,
        `  image: {height: ${px}, width: ${px}}`,
        `  split: {train: ${tr}, validation: ${va}}`,
        'train:',
        `  engine: ${a.engine}`,
        ...(a.epochs ? [`  epochs: ${a.epochs}`] : []),
        'tracking:',
        `  runsDir: ${join(work, 'runs')}`,
        '',
      ].join('\n');
      writeFileSync(wrapper, text);
      const loaded = loadExperimentText(text, wrapper);
      const exp = loaded.experiment;
      // Keras trains in its own process while fitspec trains: the pixels and the model come first.
      await writePixels(loaded, seed, dir, px);
      // The backend the trainer will use (tfjs would otherwise build this model on its plain JS one).
      await initBackend(exp.train.backend, exp.train.threads);
      const built = await buildModel(exp);
      const leaves = leafLayers(built.model).filter((l) => l.getClassName() !== 'InputLayer');
      const layers = leaves.map(kerasLayer);
      // Keras starts from fitspec's weights for every layer (--keras-init=fitspec) or for a pretrained
      // base's layers (the head then starts from Keras' own draws), layer by layer as Keras orders them.
      const inBase = new Set(built.base ? leafLayers(built.base) : []);
      const layerWeights = writeLayerWeights(dir, leaves, (l) => a['keras-init'] === 'fitspec' || Boolean(exp.model.base?.weights && inBase.has(l)));
      // Which layers train in each phase, as the trainer sets them (a frozen base's BatchNormalization in inference mode, as in Keras).
      const phases = resolvePhases(exp).map((p) => {
        applyTrainable(built, p.freeze, p.unfreezeFrom);
        return { name: p.name, epochs: p.epochs, optimizer: kerasOptimizer(p.optimizer), trainable: trainableLeaves(built) };
      });
      built.model.dispose();
      writeFileSync(
        join(dir, 'meta.json'),
        JSON.stringify({
          size: px,
          classes: CLASSES.length,
          rescale: exp.data.image.rescale,
          seed,
          batchSize: exp.train.batchSize,
          layers,
          layerWeights,
          phases,
          augment: exp.augment,
        }),
      );
      const t1 = Date.now();
      const kerasRun = python(py, [join(import.meta.dirname, 'keras_fit.py'), dir]).then((out) => {
        process.stderr.write(`${name} keras done: ${((Date.now() - t1) / 1000).toFixed(0)} s\n`);
        return JSON.parse(out.trim().split('\n').at(-1)!) as Curves & { augmentation?: string };
      });
      kerasRun.catch(() => {});
      const t0 = Date.now();
      const f = curvesOf(await train(loaded, { log: () => {}, tty: false }));
      process.stderr.write(`${name} fitspec seed ${seed}: ${((Date.now() - t0) / 1000).toFixed(0)} s, val_accuracy ${fmt(f.val_accuracy)}\n`);
      const k = await kerasRun;
      process.stderr.write(`${name} keras seed ${seed}: ${((Date.now() - t1) / 1000).toFixed(0)} s, val_accuracy ${fmt(k.val_accuracy)}\n`);
      if (k.augmentation) process.stderr.write(`${name} keras augmentation: ${k.augmentation}\n`);
      const cell = (c: Curves) => {
        const best = Math.max(...c.val_accuracy);
        // Compared at the printed precision: 6 of 15 right is 40.0%, not above it.
        return [`${(100 * best).toFixed(1)}% (${c.val_accuracy.indexOf(best) + 1})`, c.val_loss.at(-1)!.toFixed(4), Math.round(1000 * best) > 1000 * LEFT_CHANCE ? 'yes' : 'no'];
      };
      rows.push(`| ${name} | ${seed} | ${cell(f).join(' | ')} | ${cell(k).join(' | ')} |`);
    }
  }
  console.log(
    `\n${[...sizes].join('; ')}; seeds ${seeds.join(', ')}; fitspec ${a.engine} engine, Keras 3 model.fit${a['keras-init'] === 'fitspec' ? " from fitspec's initial weights" : ''}`,
  );
  console.log(`left chance: best val_accuracy above ${LEFT_CHANCE * 100}% (chance is 33.3%); epochs counted from 1\n`);
  console.log(
    '| step | seed | fitspec best val_accuracy (epoch) | fitspec final val_loss | fitspec left chance | Keras best val_accuracy (epoch) | Keras final val_loss | Keras left chance |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
}

async function main() {
  const py = await ensureConvertVenv();
  if (quick) return compareExperiments(py);
  const dataDir = await ensureData(perTrain + perVal);
  const fitspec: Curves[] = [];
  const keras: Curves[] = [];
  for (const seed of seeds) {
    const file = join(work, `seed-${seed}.yaml`);
    const text = experimentYaml(seed, dataDir);
    mkdirSync(work, { recursive: true });
    writeFileSync(file, text);
    const loaded = loadExperimentText(text, file);
    const t0 = Date.now();
    const r = await train(loaded, { log: () => {}, tty: false });
    fitspec.push(curvesOf(r));
    process.stderr.write(`fitspec seed ${seed}: ${((Date.now() - t0) / 1000).toFixed(0)} s, val_accuracy ${fmt(fitspec.at(-1)!.val_accuracy)}\n`);

    const dir = join(work, `keras-${seed}`);
    const data = await writePixels(loaded, seed, dir, size);
    let layerWeights: LayerWeights | undefined;
    if (a['keras-init'] === 'fitspec') {
      // The model `train` started from: buildModel draws the same weights for the same experiment.
      const built = await buildModel(loaded.experiment);
      layerWeights = writeLayerWeights(
        dir,
        leafLayers(built.model).filter((l) => l.getClassName() !== 'InputLayer'),
        () => true,
      );
      built.model.dispose();
    }
    const order =
      a['keras-order'] === 'fitspec'
        ? Array.from({ length: epochs }, (_, epoch) => batchIndices(data.parts.train.ids.length, { batchSize: batch, shuffle: true, seed, epoch }, 'train'))
        : a['keras-order'] === 'reshuffled' || a['keras-order'] === 'fixed'
          ? a['keras-order']
          : undefined;
    const kerasShuffle = a['keras-order'] === 'fit-arrays' ? 'arrays' : 'dataset';
    writeFileSync(
      join(dir, 'meta.json'),
      JSON.stringify({ size, classes: CLASSES.length, rescale: RESCALE, seed, padding, learningRate: lr, batchSize: batch, epochs, layerWeights, order, kerasShuffle }),
    );
    const t1 = Date.now();
    const out = await python(py, [join(import.meta.dirname, 'keras_fit.py'), dir]);
    keras.push(JSON.parse(out.trim().split('\n').at(-1)!) as Curves);
    process.stderr.write(
      `keras seed ${seed}: ${((Date.now() - t1) / 1000).toFixed(0)} s, val_accuracy ${keras
        .at(-1)!
        .val_accuracy.map((v) => v.toFixed(3))
        .join(' ')}\n`,
    );
  }

  const row = (name: string, runs: Curves[]) => {
    const l = runs.map((r) => swing(r.val_loss));
    const acc = runs.map((r) => swing(r.val_accuracy));
    const fin = runs.map((r) => r.val_accuracy.at(-1)!);
    return `| ${name} | ${mean(l).toFixed(4)} ± ${sd(l).toFixed(4)} (${l.map((v) => v.toFixed(3)).join(', ')}) | ${mean(acc).toFixed(4)} ± ${sd(acc).toFixed(4)} (${acc.map((v) => v.toFixed(3)).join(', ')}) | ${mean(fin).toFixed(3)} |`;
  };
  console.log(
    `\nbaseline CNN, ${size}x${size}, ${perTrain} train / ${perVal} validation images per class, batch ${batch}, RMSprop ${lr}, ${epochs} epochs, seeds ${seeds.join(', ')}`,
  );
  console.log('mean |epoch-to-epoch change| per run, mean ± sd over seeds (per seed)\n');
  console.log('| side | val_loss | val_accuracy | final val_accuracy (mean) |');
  console.log('| --- | --- | --- | --- |');
  console.log(row(`fitspec (${a.engine} engine)`, fitspec));
  console.log(row(`Keras 3 (${KERAS_ORDER[a['keras-order']!] ?? 'model.fit'}${a['keras-init'] === 'fitspec' ? ", fitspec's initial weights" : ''})`, keras));
}

await main();
