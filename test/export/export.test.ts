// `fitspec export` in every format, each run by its own runtime on the same images and compared with
// `fitspec predict`: Keras load_model, a SavedModel signature and the TFLite interpreter in the
// project's conversion venv (scripts/models), ONNX in onnxruntime-node.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, ROOT, tinyExperiment, tmpDir } from '../train/helpers.js';
import { ensureModelsVenv } from '../../scripts/models/venv.mjs';

const dir = tmpDir('export');
const csv = path.join(dir, 'csv');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const TOLERANCE = 1e-4;

interface Case {
  name: string;
  train: () => string[];
}

// The notebook's step-2 model at small shapes (Conv/MaxPool blocks, BatchNormalization on axis 1 after
// each conv and after the Dense layer, Dropout around it), and a frozen MobileNet-style base under a
// new head; both on a few synthetic 32x32 images, one epoch.
const NOTEBOOK_LAYERS = `model:
  layers:
    - conv2d: {filters: 8, kernelSize: 3, activation: relu}
    - batchNormalization: {axis: 1}
    - maxPooling2d: {poolSize: 2}
    - conv2d: {filters: 8, kernelSize: 3, activation: relu}
    - batchNormalization: {axis: 1}
    - maxPooling2d: {poolSize: 2}
    - flatten: {}
    - dropout: {rate: 0.3}
    - dense: {units: 16, activation: relu}
    - batchNormalization: {axis: 1}
    - dropout: {rate: 0.3}
    - dense: {units: 3, activation: softmax}
`;

const cases: Case[] = [
  {
    name: 'notebook step 2: BatchNormalization on axis 1 and Dropout',
    train: () => {
      const file = tinyExperiment(dir, path.join(dir, 'dirdata'));
      const text = fs
        .readFileSync(file, 'utf8')
        .replace('split: {train: 8, validation: 4}', 'split: {train: 4, validation: 2}')
        .replace(/model:\n( {4}.*\n| {2}layers:\n)+/, NOTEBOOK_LAYERS)
        .replace('epochs: 2', 'epochs: 1\n  optimizer: {name: rmsprop, learningRate: 0.001}')
        .replace(/ {2}optimizer: \{name: adam.*\n/, '')
        .replace(`runsDir: ${path.join(dir, 'runs')}`, `runsDir: ${path.join(dir, 'runs-nb')}`);
      fs.writeFileSync(path.join(dir, 'notebook.yaml'), text);
      return ['train', path.join(dir, 'notebook.yaml'), '--no-progress'];
    },
  },
  {
    name: 'frozen base (mobilenet-mini) with a new head',
    train: () => {
      const file = tinyExperiment(path.join(dir), path.join(dir, 'dirdata'));
      const text = fs
        .readFileSync(file, 'utf8')
        .replace('split: {train: 8, validation: 4}', 'split: {train: 4, validation: 2}')
        .replace(
          /model:\n( {4}.*\n| {2}layers:\n)+/,
          'model:\n  base: {architecture: mobilenet-mini}\n  layers:\n    - globalAveragePooling2d: {}\n    - dense: {units: 3, activation: softmax}\n',
        )
        .replace('train:\n', 'train:\n  phases:\n    - {name: head, epochs: 1, freeze: base, optimizer: {name: adam, learningRate: 0.01}}\n')
        .replace(`runsDir: ${path.join(dir, 'runs')}`, `runsDir: ${path.join(dir, 'runs-frozen')}`);
      fs.writeFileSync(path.join(dir, 'frozen.yaml'), text);
      return ['train', path.join(dir, 'frozen.yaml'), '--no-progress'];
    },
  },
];

let python = '';
beforeAll(async () => {
  python = await ensureModelsVenv({ log: () => {} });
  for (const [args, out] of [
    [['data', 'synth', '--out', csv, '--per-class', '6', '--layout', 'csv', '--seed', '9'], csv],
    [['data', 'synth', '--out', path.join(dir, 'dirdata'), '--per-class', '6', '--layout', 'directory', '--seed', '5'], ''],
  ] as const) {
    const r = cli([...args], ROOT);
    if (r.code !== 0) throw new Error(`${out}: ${r.stderr}`);
  }
}, 900_000);

function runDirOf(stdout: string): string {
  const m = /run finished: (.*)$/m.exec(stdout);
  if (!m) throw new Error(`no run folder in:\n${stdout}`);
  return path.resolve(dir, m[1]!.trim());
}

/** The images as the model sees them: decoded, resized and rescaled by fitspec's own code, per the model's descriptor. */
async function modelInput(modelDir: string, files: string[]): Promise<{ data: Float32Array; shape: number[] }> {
  const { initBackend } = await import('../../src/backend.js');
  await initBackend('auto');
  const { decodeLikeTraining } = await import('../../src/data/prepare.js');
  const d = JSON.parse(fs.readFileSync(path.join(modelDir, 'fitspec-model.json'), 'utf8'));
  const p = d.preprocessing;
  const u8 = await decodeLikeTraining(files, { height: p.height, width: p.width, channels: p.channels, resize: p.resize, interpolation: p.interpolation });
  const rescale = Math.fround(p.rescale);
  return { data: Float32Array.from(u8, (v) => Math.fround(v * rescale)), shape: [files.length, p.height, p.width, p.channels] };
}

const maxDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i]![j]!))));

describe.each(cases)('fitspec export: $name', (c) => {
  let run = '';
  let images: string[] = [];
  let reference: number[][] = [];
  let classes: string[] = [];

  beforeAll(() => {
    const t = cli(c.train(), dir);
    if (t.code !== 0) throw new Error(t.stderr);
    run = runDirOf(t.stdout);
    classes = JSON.parse(fs.readFileSync(path.join(run, 'model', 'fitspec-model.json'), 'utf8')).classes;
    const folder = c.name.startsWith('notebook') ? path.join(csv, 'Train') : path.join(dir, 'dirdata', 'old');
    images = fs
      .readdirSync(folder)
      .sort()
      .slice(0, 4)
      .map((f) => path.join(folder, f));
    const p = cli(['predict', run, ...images, '--json'], dir);
    if (p.code !== 0) throw new Error(p.stderr);
    reference = (JSON.parse(p.stdout) as { probabilities: Record<string, number> }[]).map((r) => classes.map((k) => r.probabilities[k]!));
    const e = cli(['export', run, '--format', 'keras,savedmodel,tflite,onnx,tfjs', '--json'], dir, { FITSPEC_MODELS_VENV: process.env.FITSPEC_MODELS_VENV ?? '' });
    if (e.code !== 0) throw new Error(e.stderr);
  }, 900_000);

  it('writes every format with the descriptor beside them', () => {
    const out = path.join(run, 'export');
    for (const f of ['model.keras', 'savedmodel/saved_model.pb', 'model.tflite', 'model.onnx', 'tfjs/model.json', 'tfjs/fitspec-model.json', 'fitspec-model.json'])
      expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    expect(reference.length).toBe(4);
    expect(reference.every((r) => Math.abs(r.reduce((a, b) => a + b, 0) - 1) < 1e-5)).toBe(true);
  });

  it('Keras load_model, the SavedModel signature and the TFLite interpreter give the probabilities of fitspec predict', async () => {
    const out = path.join(run, 'export');
    const { data, shape } = await modelInput(path.join(run, 'model'), images);
    const f32 = path.join(out, 'input.f32');
    fs.writeFileSync(f32, Buffer.from(data.buffer));
    const got = JSON.parse(
      execFileSync(python, [path.join(ROOT, 'scripts/models/run_exports.py'), out, f32, ...shape.map(String)], {
        encoding: 'utf8',
        env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
        maxBuffer: 1 << 26,
      })
        .trim()
        .split('\n')
        .at(-1)!,
    );
    expect(got.savedmodel_signature.shape).toEqual([null, ...shape.slice(1)]);
    expect(got.savedmodel_signature.dtype).toBe('float32');
    for (const runtime of ['keras', 'savedmodel', 'tflite']) {
      expect(got[runtime], runtime).toHaveLength(4);
      expect(maxDiff(got[runtime], reference), runtime).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('onnxruntime-node runs model.onnx with the probabilities of fitspec predict', async () => {
    const { data, shape } = await modelInput(path.join(run, 'model'), images);
    const session = await ort.InferenceSession.create(path.join(run, 'export', 'model.onnx'));
    const result = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, shape) });
    const probs = result[session.outputNames[0]!]!.data as Float32Array;
    const rows = Array.from({ length: shape[0]! }, (_, i) => Array.from(probs.slice(i * classes.length, (i + 1) * classes.length)));
    expect(maxDiff(rows, reference)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('the tfjs export predicts what the run does', () => {
    const p = cli(['predict', path.join(run, 'export', 'tfjs'), ...images, '--json'], dir);
    expect(p.code, p.stderr).toBe(0);
    const rows = (JSON.parse(p.stdout) as { probabilities: Record<string, number> }[]).map((r) => classes.map((k) => r.probabilities[k]!));
    expect(maxDiff(rows, reference)).toBe(0);
  });
});
