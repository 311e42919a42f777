// The fitspec side of the conversion check: loads the converted Keras VGG16 as `model.base` of
// experiments/04-vgg16-frozen.yaml and compares it with what Keras reported. Exits 1 on any mismatch.
// usage: tsx scripts/convert/check-vgg16.ts CONVERTED_DIR
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../../src/backend.js';
import { loadExperiment } from '../../src/config/index.js';
import { buildModel } from '../../src/model/index.js';

interface Reference {
  keras: string;
  tensorflowjs: string;
  params: number;
  layers: { name: string; class: string; output_shape: number[]; params: number }[];
  probe_shape: number[];
  prediction_shape: number[];
}

const dir = path.resolve(process.argv[2] ?? '');
const ref = JSON.parse(fs.readFileSync(path.join(dir, 'keras_reference.json'), 'utf8')) as Reference;
const floats = (f: string) => {
  const b = fs.readFileSync(path.join(dir, f));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const [, height, width] = ref.probe_shape as [number, number, number, number];

const backend = await initBackend('auto');
const tf = await import('@tensorflow/tfjs');
const file = path.join(import.meta.dirname, '../../experiments/04-vgg16-frozen.yaml');
const { experiment } = loadExperiment(file, { set: [`model.base.weights=${dir}`, `data.image.height=${height}`, `data.image.width=${width}`] });
const built = await buildModel(experiment);
const base = built.base!;

const problems: string[] = [];
const expect = (ok: boolean, what: string) => {
  if (!ok) problems.push(what);
};
const kerasLayers = ref.layers.filter((l) => l.class !== 'InputLayer');
const ours = base.layers.filter((l) => l.getClassName() !== 'InputLayer').map((l) => ({ name: l.name, shape: (l.outputShape as number[]).slice(1), params: l.countParams() }));
expect(ours.length === kerasLayers.length, `layer count: fitspec ${ours.length}, Keras ${kerasLayers.length}`);
kerasLayers.forEach((k, i) => {
  const o = ours[i];
  if (!o) return;
  expect(o.name === k.name, `layer ${i}: fitspec \`${o.name}\`, Keras \`${k.name}\``);
  expect(o.shape.join('x') === k.output_shape.join('x'), `${k.name}: output shape fitspec ${o.shape.join('x')}, Keras ${k.output_shape.join('x')}`);
  expect(o.params === k.params, `${k.name}: parameters fitspec ${o.params}, Keras ${k.params}`);
});
expect(base.countParams() === ref.params, `parameters: fitspec ${base.countParams()}, Keras ${ref.params}`);
expect(base.countParams() === 14_714_688, `parameters: ${base.countParams()}, VGG16's base has 14,714,688`);

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
// float32 convolutions summed in another order: relative error around 1e-6 per layer, 13 layers deep.
const tolerance = 1e-4 * maxAbs + 1e-6;
expect(maxAbs > 0, 'Keras predicted only zeros: the probe says nothing');
expect(maxDiff <= tolerance, `predictions differ by up to ${maxDiff.toExponential(3)} (tolerance ${tolerance.toExponential(3)})`);

process.stdout.write(
  [
    `backend            ${backend.name}${backend.tensorflowVersion ? ` (TensorFlow ${backend.tensorflowVersion})` : ''}`,
    `converted with     tensorflowjs ${ref.tensorflowjs}, tf-keras ${ref.keras}`,
    `layers             ${ours.length} (names, output shapes and parameter counts compared with Keras)`,
    `parameters         ${base.countParams().toLocaleString('en-US')}`,
    `predictions        ${want.length} values, max |fitspec - Keras| = ${maxDiff.toExponential(3)} (largest value ${maxAbs.toExponential(3)})`,
    problems.length ? `\nMISMATCH:\n  ${problems.join('\n  ')}` : 'OK: the converted Keras VGG16 loads as model.base and predicts what Keras predicts',
    '',
  ].join('\n'),
);
process.exitCode = problems.length ? 1 : 0;
