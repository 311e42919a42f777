import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BackendInfo } from '../../../src/backend.js';
import type { OptimizerConfig } from '../../../src/config/schema/experiment.js';
import { kerasLayer, kerasOptimizer, trainableLeaves } from '../../../scripts/keras-parity/keras-names.js';
import type { callbackSchemas } from '../../../src/config/schema/callbacks.js';
import type { Static } from '@sinclair/typebox';
import { batchIndices } from '../../../src/data/batches.js';
import { applyTrainable, buildModel, leafLayers, SteppedDropout, type BuiltModel } from '../../../src/model/index.js';
import { maskSeed } from '../../../src/model/layers/dropout.js';
import { scheduledLearningRate } from '../../../src/train/callbacks/learningRateSchedule.js';
import { EagerEngine } from '../../../src/train/engine/eager.js';
import { createGraphEngine } from '../../../src/train/engine/graph/index.js';
import type { Engine, EngineKind } from '../../../src/train/engine/types.js';

export const ROOT = path.resolve(import.meta.dirname, '../../..');
const SCRIPT = path.join(ROOT, 'scripts/keras-parity/keras_steps.py');

/** One row of the table: a small experiment, trained step by step by Keras and by fitspec's engines. */
export interface ParityCase {
  name: string;
  /** `model.layers` as in an experiment file. */
  layers: unknown[];
  /** `model.base` with inline layers (for `freeze` / `unfreezeFrom` phases). */
  base?: { layers: unknown[]; trainable?: boolean };
  /** Image size (default 8 x 8 x 3) and class count (default 3). */
  image?: [number, number, number];
  classes?: number;
  /** Examples in the training part (default 20: with batch 8, a last batch of 4). */
  examples?: number;
  batchSize?: number;
  stepsPerEpoch?: number;
  epochs?: number;
  shuffle?: boolean;
  optimizer?: OptimizerConfig;
  loss?: 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' | 'binaryCrossentropy' | 'meanSquaredError';
  /** Per class index (what `train.classWeight` resolves to). */
  classWeights?: number[];
  schedule?: Static<(typeof callbackSchemas)['learningRateSchedule']>;
  /** `train.phases` (each phase's optimizer defaults to `optimizer`). */
  phases?: { epochs: number; freeze?: 'none' | 'base'; unfreezeFrom?: string; optimizer?: OptimizerConfig }[];
  /** Looser or tighter bounds for this row (see Tolerance). */
  tolerance?: Partial<Tolerance>;
  /** Engines that differ from Keras on purpose for this row, with why (checked to still differ). */
  differs?: Partial<Record<EngineKind, string>>;
}

/**
 * |fitspec - keras| <= atol + rtol |keras|, element by element. Losses: relative. Weights and slots:
 * atol is in units of the learning rate times the steps taken, since that bounds how far one
 * rounding difference in a gradient's sign can move a weight (RMSprop and Adam move a weight by about
 * lr per step, whatever the gradient's size).
 */
export interface Tolerance {
  loss: number;
  weightRtol: number;
  /** Times lr x steps so far. */
  weightAtolPerStep: number;
  slotRtol: number;
  slotAtol: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { loss: 2e-5, weightRtol: 1e-4, weightAtolPerStep: 1e-3, slotRtol: 1e-3, slotAtol: 1e-9 };

const KERAS_LOSS = {
  categoricalCrossentropy: 'categorical_crossentropy',
  sparseCategoricalCrossentropy: 'sparse_categorical_crossentropy',
  binaryCrossentropy: 'binary_crossentropy',
  meanSquaredError: 'mean_squared_error',
} as const;

export interface StepRecord {
  loss: number;
  evalLoss: number;
  lr: number;
  /** Per layer (leaf order), its weights. */
  weights: Float32Array[][];
  /** Slot suffix -> per trainable variable. */
  slots: Record<string, Float32Array[]>;
}

interface PlannedStep {
  step: number;
  batch: number[];
  lr: number;
}

interface PlannedPhase {
  optimizer: OptimizerConfig;
  freeze?: 'none' | 'base';
  unfreezeFrom?: string;
  steps: PlannedStep[];
}

export function experimentOf(c: ParityCase) {
  const [height, width, channels] = c.image ?? [8, 8, 3];
  const base = c.base ? { architecture: 'inline', trainable: c.base.trainable ?? true, layers: c.base.layers } : undefined;
  return { name: 'keras_parity', seed: 11, data: { image: { height, width, channels } }, model: { layers: c.layers, base } } as never;
}

/** The run's steps as the trainer takes them: phases, epochs (their learning rate), batches of `batchIndices`. */
export function plan(c: ParityCase): PlannedPhase[] {
  const optimizer = c.optimizer ?? { name: 'rmsprop', learningRate: 1e-3 };
  const phases = c.phases ?? [{ epochs: c.epochs ?? 1 }];
  const n = c.examples ?? 20;
  const batchSize = c.batchSize ?? 8;
  let epoch = 0;
  let step = 0;
  return phases.map((p) => {
    const opt = p.optimizer ?? optimizer;
    const steps: PlannedStep[] = [];
    const first = epoch;
    for (let e = 0; e < p.epochs; e++, epoch++) {
      const lr = c.schedule ? scheduledLearningRate(c.schedule, opt.learningRate, epoch - first, p.epochs) : opt.learningRate;
      for (const batch of batchIndices(n, { batchSize, shuffle: c.shuffle ?? true, seed: 11, epoch, steps: c.stepsPerEpoch })) steps.push({ step: step++, batch, lr });
    }
    return { optimizer: opt, freeze: p.freeze, unfreezeFrom: p.unfreezeFrom, steps };
  });
}

/** The data set: uniform pixels from a fixed generator, labels cycling through the classes in a scrambled order. */
export function dataset(c: ParityCase): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const [h, w, ch] = c.image ?? [8, 8, 3];
  const n = c.examples ?? 20;
  const k = c.classes ?? 3;
  let s = 12345;
  const pixels = Float32Array.from({ length: n * h * w * ch }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), (s >>> 8) / 2 ** 24));
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7 + 2) % k);
  return { x: tf.tensor4d(pixels, [n, h, w, ch]), y: tf.oneHot(tf.tensor1d(labels, 'int32'), k).toFloat() as tf.Tensor2D };
}

function engineFor(kind: EngineKind, model: tf.LayersModel, backend: BackendInfo): Engine {
  if (kind === 'eager') return new EagerEngine(model);
  const e = createGraphEngine(model, backend);
  if ('unsupported' in e) throw new Error(`graph engine declined: ${e.unsupported}`);
  return e;
}

const dropouts = (built: BuiltModel) => leafLayers(built.model).filter((l): l is SteppedDropout => l instanceof SteppedDropout && l.rate > 0 && l.rate < 1);

/** tfjs has no getWeights() for Adamax: no slots to compare on the eager engine (the weights still are). */
async function optimizerState(engine: Engine) {
  try {
    return await engine.getOptimizerState();
  } catch (e) {
    if (engine.name === 'eager' && /not implemented for Adamax/.test((e as Error).message)) return [];
    throw e;
  }
}

/** fitspec's side: the case trained by one engine, everything recorded after each step. */
export async function fitspecSteps(c: ParityCase, kind: EngineKind, backend: BackendInfo, initial: tf.Tensor[]): Promise<StepRecord[]> {
  const built = await buildModel(experimentOf(c));
  built.model.setWeights(initial);
  const { x, y } = dataset(c);
  const engine = engineFor(kind, built.model, backend);
  const leaves = leafLayers(built.model).filter((l) => l.getClassName() !== 'InputLayer');
  const out: StepRecord[] = [];
  try {
    for (const p of plan(c)) {
      applyTrainable(built, p.freeze, p.unfreezeFrom);
      await engine.beginPhase({ optimizer: p.optimizer, loss: c.loss ?? 'categoricalCrossentropy', metrics: ['accuracy'], classWeights: c.classWeights });
      const trainableNames = built.model.trainableWeights.map((w) => w.originalName);
      for (const s of p.steps) {
        engine.setLearningRate(s.lr);
        const idx = tf.tensor1d(s.batch, 'int32');
        const xs = tf.gather(x, idx);
        const ys = tf.gather(y, idx);
        idx.dispose();
        const logs = await engine.trainBatch(xs, ys, s.step);
        const evals = await engine.evaluateBatch(xs, ys);
        xs.dispose();
        ys.dispose();
        await engine.syncToModel();
        const slots: Record<string, Float32Array[]> = {};
        for (const { name, tensor } of await optimizerState(engine)) {
          const cut = name.lastIndexOf('/');
          const i = trainableNames.indexOf(name.slice(0, cut));
          if (i >= 0) (slots[name.slice(cut + 1)] ??= [])[i] = tensor.dataSync() as Float32Array;
          // The eager engine hands out the optimizer's own variables; the graph engine, copies.
          if (kind === 'graph') tensor.dispose();
        }
        out.push({ loss: logs.loss!, evalLoss: evals.loss!, lr: s.lr, weights: leaves.map((l) => l.getWeights().map((w) => w.dataSync() as Float32Array)), slots });
      }
    }
  } finally {
    engine.dispose();
    x.dispose();
    y.dispose();
    built.model.dispose();
  }
  return out;
}

/** Float32 tensors appended to one buffer, referenced as [offset, shape]. */
class Blob {
  private parts: Float32Array[] = [];
  private size = 0;
  put(data: Float32Array | number[], shape: number[]): [number, number[]] {
    const ref: [number, number[]] = [this.size, shape];
    this.parts.push(Float32Array.from(data));
    this.size += data.length;
    return ref;
  }
  write(file: string) {
    const all = new Float32Array(this.size);
    let o = 0;
    for (const p of this.parts) all.set(p, (o += p.length) - p.length);
    fs.writeFileSync(file, Buffer.from(all.buffer));
  }
}

/**
 * A network that is not a plain stack (residual and parallel blocks): each leaf's inputs as leaf
 * indices (-1: the model input) and the output leaf, for Keras to wire the same layers functionally.
 */
function connectivity(model: tf.LayersModel, leaves: tf.layers.Layer[]): { inbound: number[][]; output: number } {
  const indexOf = (l: tf.layers.Layer) => {
    if (l.getClassName() === 'InputLayer') return -1;
    const i = leaves.indexOf(l);
    if (i < 0) throw new Error(`layer ${l.name} is not a leaf of the model (a nested base in a functional network is not supported here)`);
    return i;
  };
  const inbound = leaves.map((l) => {
    if (l.inboundNodes.length !== 1) throw new Error(`layer ${l.name} is used ${l.inboundNodes.length} times`);
    return l.inboundNodes[0]!.inboundLayers.map(indexOf);
  });
  return { inbound, output: indexOf(model.outputs[0]!.sourceLayer as tf.layers.Layer) };
}

/** Whether the engines draw different dropout masks for this case (each is then replayed in its own Keras run). */
export async function hasDropout(c: ParityCase): Promise<boolean> {
  const built = await buildModel(experimentOf(c));
  const any = dropouts(built).length > 0;
  built.model.dispose();
  return any;
}

/**
 * Keras' side, first half: writes the case (layers, initial weights, data, steps; the dropout masks of
 * `masksOf`'s engine) to `dir` for keras_steps.py.
 */
export async function writeKerasCase(c: ParityCase, dir: string, initial: tf.Tensor[], masksOf: EngineKind): Promise<void> {
  const built = await buildModel(experimentOf(c));
  built.model.setWeights(initial);
  const leaves = leafLayers(built.model).filter((l) => l.getClassName() !== 'InputLayer');
  const blob = new Blob();
  const { x, y } = dataset(c);
  const phases = plan(c);
  fs.mkdirSync(dir, { recursive: true });
  try {
    const drops = dropouts(built);
    const phaseJson = phases.map((p) => {
      applyTrainable(built, p.freeze, p.unfreezeFrom);
      return {
        optimizer: kerasOptimizer(p.optimizer),
        trainable: trainableLeaves(built),
        steps: p.steps.map((s) => {
          // The eager engine's masks: its own dropout layer run on ones (tfjs' generator, seeded per step).
          const masks: Record<string, [number, number[]]> = {};
          if (masksOf === 'eager') {
            for (const d of drops) {
              const shape = [s.batch.length, ...(d.outputShape as number[]).slice(1)];
              d.step = s.step;
              const m = tf.tidy(() => d.call(tf.ones(shape), { training: true }) as tf.Tensor);
              masks[d.name] = blob.put(m.dataSync() as Float32Array, shape);
              m.dispose();
            }
          }
          return { step: s.step, batch: s.batch, lr: s.lr, masks };
        }),
      };
    });
    const ys = c.loss === 'sparseCategoricalCrossentropy' ? (y.argMax(-1).toFloat() as tf.Tensor) : y;
    const caseJson = {
      inputShape: c.image ?? [8, 8, 3],
      layers: leaves.map(kerasLayer),
      graph: built.model instanceof tf.Sequential ? null : connectivity(built.model, leaves),
      weights: leaves.map((l) => l.getWeights().map((w) => blob.put(w.dataSync() as Float32Array, w.shape))),
      x: blob.put(x.dataSync() as Float32Array, x.shape),
      y: blob.put(ys.dataSync() as Float32Array, ys.shape),
      loss: KERAS_LOSS[c.loss ?? 'categoricalCrossentropy'],
      classWeight: c.classWeights ?? null,
      dropout: Object.fromEntries(drops.map((d) => [d.name, { mode: masksOf === 'graph' ? 'stateless' : 'given', maskSeed: maskSeed(d.seed, d.name) }])),
      phases: phaseJson,
    };
    if (ys !== y) ys.dispose();
    fs.writeFileSync(path.join(dir, 'case.json'), JSON.stringify(caseJson));
    blob.write(path.join(dir, 'data.bin'));
  } finally {
    x.dispose();
    y.dispose();
    built.model.dispose();
  }
}

/** Runs keras_steps.py on the case folders, in one process. */
export function runKeras(python: string, dirs: string[]): Promise<void> {
  return runPython(python, [SCRIPT, ...dirs]);
}

/** Keras' side, second half: the records keras_steps.py wrote into `dir`. */
export function readKerasSteps(c: ParityCase, dir: string): StepRecord[] {
  const phases = plan(c);
  const error = path.join(dir, 'error.txt');
  if (fs.existsSync(error)) throw new Error(`Keras could not run this case:\n${fs.readFileSync(error, 'utf8')}`);
  const res = JSON.parse(fs.readFileSync(path.join(dir, 'keras.json'), 'utf8')) as {
    steps: { loss: number; evalLoss: number; weights: [number, number[]][][]; slots: Record<string, [number, number[]][]> }[];
  };
  const buf = fs.readFileSync(path.join(dir, 'keras.bin'));
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const take = ([o, shape]: [number, number[]]) => all.slice(o, o + shape.reduce((a, b) => a * b, 1));
  const lrs = phases.flatMap((p) => p.steps.map((s) => s.lr));
  return res.steps.map((s, i) => ({
    loss: s.loss,
    evalLoss: s.evalLoss,
    lr: lrs[i]!,
    weights: s.weights.map((ws) => ws.map(take)),
    slots: Object.fromEntries(Object.entries(s.slots).map(([k, v]) => [k, v.map(take)])),
  }));
}

export const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-keras-parity-'));

function runPython(python: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', CUDA_VISIBLE_DEVICES: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`keras_steps.py failed (exit ${code}):\n${err.slice(-4000)}`))));
  });
}

/** Keras keeps SGD's momentum as -lr x tfjs' accumulator (the same update at a constant rate). */
function kerasSlot(opt: OptimizerConfig, suffix: string, lr: number, v: number): number {
  return opt.name === 'sgd' && suffix === 'momentum' ? -v / lr : v;
}

export interface Worst {
  /** Largest |a - b| / bound over the step's values (<= 1 passes), and where. */
  ratio: number;
  where: string;
  diff: number;
}

/** Every difference beyond its bound, as ratios to the bound, step by step. */
export function compare(c: ParityCase, fitspec: StepRecord[], keras: StepRecord[], tol: Tolerance): { worst: Worst; perStep: Worst[] } {
  const opts = plan(c).flatMap((p) => p.steps.map(() => p.optimizer));
  const perStep: Worst[] = [];
  let lrSum = 0;
  fitspec.forEach((f, i) => {
    const k = keras[i]!;
    lrSum += f.lr;
    let worst: Worst = { ratio: 0, where: '', diff: 0 };
    const see = (a: number, b: number, bound: number, where: string) => {
      const d = Math.abs(a - b);
      const r = Number.isNaN(d) ? Infinity : d / bound;
      if (r > worst.ratio) worst = { ratio: r, where, diff: d };
    };
    see(f.loss, k.loss, tol.loss * Math.max(1, Math.abs(k.loss)), 'loss');
    see(f.evalLoss, k.evalLoss, tol.loss * Math.max(1, Math.abs(k.evalLoss)), 'inference-mode loss');
    f.weights.forEach((ws, li) =>
      ws.forEach((w, wi) => {
        const kw = k.weights[li]![wi]!;
        for (let j = 0; j < w.length; j++) see(w[j]!, kw[j]!, tol.weightAtolPerStep * lrSum + tol.weightRtol * Math.abs(kw[j]!), `layer ${li} weight ${wi}[${j}]`);
      }),
    );
    for (const [suffix, vars] of Object.entries(f.slots)) {
      const kv = k.slots[suffix];
      if (!kv?.length) continue; // a slot Keras does not keep for these settings (RMSprop's momentum at 0)
      vars.forEach((v, vi) => {
        for (let j = 0; j < v.length; j++) {
          const kk = kerasSlot(opts[i]!, suffix, f.lr, kv[vi]![j]!);
          see(v[j]!, kk, tol.slotAtol + tol.slotRtol * Math.abs(kk), `slot ${suffix} of variable ${vi}[${j}]`);
        }
      });
    }
    perStep.push(worst);
  });
  const worst = perStep.reduce((a, b) => (b.ratio > a.ratio ? b : a), { ratio: 0, where: '', diff: 0 });
  return { worst, perStep };
}

/** Every case written for Keras (twice where the engines' dropout masks differ) and run in one Keras process. */
export async function kerasRuns(cases: ParityCase[], python: string): Promise<Map<string, { initial: tf.Tensor[]; dirs: Partial<Record<EngineKind, string>> }>> {
  const root = tempDir();
  const out = new Map<string, { initial: tf.Tensor[]; dirs: Partial<Record<EngineKind, string>> }>();
  const all: string[] = [];
  for (const [i, c] of cases.entries()) {
    const built = await buildModel(experimentOf(c));
    const initial = built.model.getWeights().map((w) => w.clone());
    built.model.dispose();
    const dirs: Partial<Record<EngineKind, string>> = {};
    for (const kind of (await hasDropout(c)) ? (['graph', 'eager'] as const) : (['graph'] as const)) {
      const dir = path.join(root, `${i}-${kind}`);
      await writeKerasCase(c, dir, initial, kind);
      dirs[kind] = dir;
      all.push(dir);
    }
    out.set(c.name, { initial, dirs });
  }
  await runKeras(python, all);
  return out;
}

/** The Keras records for this engine (its dropout masks), and the initial weights both sides started from. */
export function kerasFor(runs: Awaited<ReturnType<typeof kerasRuns>>, c: ParityCase, kind: EngineKind): { initial: tf.Tensor[]; keras: StepRecord[] } {
  const r = runs.get(c.name)!;
  return { initial: r.initial, keras: readKerasSteps(c, r.dirs[kind] ?? r.dirs.graph!) };
}
