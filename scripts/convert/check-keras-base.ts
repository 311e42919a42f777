// The fitspec side of a Keras -> fitspec conversion check: loads a converted Keras Applications base
// (keras_to_tfjs.py) as `model.base` of an experiment and compares it with what Keras reported:
// every layer's name, class-free output shape and parameter count, the total, and the predictions
// on Keras' probe images. Exits 1 on any mismatch.
// usage: tsx scripts/convert/check-keras-base.ts CONVERTED_DIR EXPERIMENT PARAMETERS
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../../src/backend.js';
import { loadExperiment } from '../../src/config/index.js';
import { buildModel, leafLayers } from '../../src/model/index.js';

interface Reference {
  application: string;
  keras: string;
  tensorflowjs: string;
  params: number;
  batch_normalization_layers: number;
  layers: { name: string; class: string; output_shape: number[]; params: number }[];
  probe_shape: number[];
  prediction_shape: number[];
}

const [dirArg, experimentArg, paramsArg] = process.argv.slice(2);
const dir = path.resolve(dirArg ?? '');
const file = path.resolve(experimentArg ?? '');
const expectedParams = Number(paramsArg);
const ref = JSON.parse(fs.readFileSync(path.join(dir, 'keras_reference.json'), 'utf8')) as Reference;
const floats = (f: string) => {
  const b = fs.readFileSync(path.join(dir, f));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const [, height, width] = ref.probe_shape as [number, number, number, number];

const backend = await initBackend('auto');
const tf = await import('@tensorflow/tfjs');
const { experiment } = loadExperiment(file, { set: [`model.base.weights=${dir}`, `data.image.height=${height}`, `data.image.width=${width}`] });
const built = await buildModel(experiment);
const base = built.base!;

const problems: string[] = [];
const expect = (ok: boolean, what: string) => {
  if (!ok) problems.push(what);
};
// Compared by name: a functional base lists its layers in an order of its own (branches), Keras in another.
const kerasLayers = ref.layers.filter((l) => l.class !== 'InputLayer');
const ours = new Map(
  leafLayers(base)
    .filter((l) => l.getClassName() !== 'InputLayer')
    .map((l) => [l.name, { shape: (l.outputShape as number[]).slice(1), params: l.countParams() }]),
);
expect(ours.size === kerasLayers.length, `layer count: fitspec ${ours.size}, Keras ${kerasLayers.length}`);
for (const k of kerasLayers) {
  const o = ours.get(k.name);
  if (!o) {
    problems.push(`Keras layer \`${k.name}\` (${k.class}) has no fitspec layer of that name`);
    continue;
  }
  expect(o.shape.join('x') === k.output_shape.join('x'), `${k.name}: output shape fitspec ${o.shape.join('x')}, Keras ${k.output_shape.join('x')}`);
  expect(o.params === k.params, `${k.name}: parameters fitspec ${o.params}, Keras ${k.params}`);
}
expect(base.countParams() === ref.params, `parameters: fitspec ${base.countParams()}, Keras ${ref.params}`);
expect(base.countParams() === expectedParams, `parameters: ${base.countParams()}, ${ref.application}'s base has ${expectedParams.toLocaleString('en-US')}`);

const probe = tf.tensor(floats('probe.f32'), ref.probe_shape);
const predicted = base.predict(probe) as import('@tensorflow/tfjs').Tensor;
const got = predicted.dataSync() as Float32Array;
const want = floats('keras_prediction.f32');
expect(predicted.shape.join('x') === ref.prediction_shape.join('x'), `prediction shape: fitspec ${predicted.shape.join('x')}, Keras ${ref.prediction_shape.join('x')}`);
let maxDiff = 0;
let maxAbs = 0;
for (let i = 0; i < want.length; i++) {
  maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
  maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
}
// float32 convolutions summed in another order: relative error around 1e-6 per layer, up to ~50 layers deep.
const tolerance = 1e-4 * maxAbs + 1e-6;
expect(maxAbs > 0, 'Keras predicted only zeros: the probe says nothing');
expect(maxDiff <= tolerance, `predictions differ by up to ${maxDiff.toExponential(3)} (tolerance ${tolerance.toExponential(3)})`);

process.stdout.write(
  [
    `backend            ${backend.name}${backend.tensorflowVersion ? ` (TensorFlow ${backend.tensorflowVersion})` : ''}`,
    `converted with     tensorflowjs ${ref.tensorflowjs}, tf-keras ${ref.keras}`,
    `experiment         ${path.relative(process.cwd(), file)} at ${height}x${width}x3`,
    `layers             ${ours.size} (names, output shapes and parameter counts compared with Keras; ${ref.batch_normalization_layers} batch normalizations with non-trivial statistics)`,
    `parameters         ${base.countParams().toLocaleString('en-US')}`,
    `predictions        ${want.length} values, max |fitspec - Keras| = ${maxDiff.toExponential(3)} (largest value ${maxAbs.toExponential(3)}, relative ${(maxDiff / maxAbs).toExponential(2)})`,
    problems.length ? `\nMISMATCH:\n  ${problems.join('\n  ')}` : `OK: the converted Keras ${ref.application} loads as model.base and predicts what Keras predicts`,
    '',
  ].join('\n'),
);
process.exitCode = problems.length ? 1 : 0;
