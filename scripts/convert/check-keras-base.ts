// The fitspec side of a Keras -> fitspec conversion check: loads a converted Keras Applications base
// (keras_to_tfjs.py) as `model.base` of an experiment and compares it with what Keras reported:
// every layer's name, class-free output shape and parameter count, the total, and the predictions
// on Keras' probe images; with a converted top, the whole classifier's probabilities too. Each side's
// distance from the float64 result is printed beside the difference. Exits 1 on any mismatch.
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
  /** The 1000-class top's Dense layer, when the application was converted with `top`. */
  top: { layer: string; kernel_shape: [number, number] } | null;
}

const [dirArg, experimentArg, paramsArg] = process.argv.slice(2);
const dir = path.resolve(dirArg ?? '');
const file = path.resolve(experimentArg ?? '');
const expectedParams = Number(paramsArg);
const ref = JSON.parse(fs.readFileSync(path.join(dir, 'keras_reference.json'), 'utf8')) as Reference;
const read = (f: string) => {
  const b = fs.readFileSync(path.join(dir, f));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};
const floats = (f: string) => new Float32Array(read(f));
const doubles = (f: string) => new Float64Array(read(f));
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const largest = (a: ArrayLike<number>) => maxAbsDiff(a, new Float32Array(a.length));
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
const maxDiff = maxAbsDiff(got, want);
const maxAbs = largest(want);
const exact = doubles('keras_prediction.f64');
// float32 convolutions summed in another order: relative error around 1e-6 per layer, up to ~50 layers deep.
const tolerance = 1e-4 * maxAbs + 1e-6;
expect(maxAbs > 0, 'Keras predicted only zeros: the probe says nothing');
expect(maxDiff <= tolerance, `predictions differ by up to ${maxDiff.toExponential(3)} (tolerance ${tolerance.toExponential(3)})`);
const fromExact = (x: ArrayLike<number>, e: Float64Array) => maxAbsDiff(x, e).toExponential(2);
const lines = [`float64 result     max |fitspec - exact| = ${fromExact(got, exact)}, max |Keras - exact| = ${fromExact(want, exact)} (the float32 floor of this network)`];

// The whole classifier: the base as loaded, the experiment's own top given Keras' top weights.
if (ref.top) {
  const top = built.model.getLayer(ref.top.layer);
  top.setWeights([tf.tensor(floats('top_kernel.f32'), ref.top.kernel_shape), tf.tensor(floats('top_bias.f32'), [ref.top.kernel_shape[1]])]);
  const p = (built.model.predict(probe) as import('@tensorflow/tfjs').Tensor).dataSync() as Float32Array;
  const pWant = floats('keras_probabilities.f32');
  const pDiff = maxAbsDiff(p, pWant);
  const pExact = doubles('keras_probabilities.f64');
  const kerasError = maxAbsDiff(pWant, pExact);
  // The aim for a converted model is its probabilities within 1e-5 of Keras'. Keras' own float32
  // result is itself a few 1e-6 from the exact one on a saturated softmax, and another CPU rounds
  // otherwise: the check fails only beyond 4x that floor, and says whether the aim was met.
  const bound = Math.max(1e-5, 4 * kerasError);
  expect(p.length === pWant.length, `probabilities: fitspec ${p.length} values, Keras ${pWant.length}`);
  expect(pDiff <= bound, `probabilities differ by up to ${pDiff.toExponential(3)} (bound ${bound.toExponential(2)})`);
  lines.push(
    `probabilities      ${p.length} values (${ref.probe_shape[0]} images x ${ref.top.kernel_shape[1]} classes, top \`${ref.top.layer}\` given Keras' weights; largest ${largest(pWant).toFixed(4)})`,
    `                   max |fitspec - Keras| = ${pDiff.toExponential(3)}: ${pDiff <= 1e-5 ? 'within' : 'NOT within'} 1e-5`,
    `                   max |fitspec - exact| = ${fromExact(p, pExact)}, max |Keras - exact| = ${kerasError.toExponential(2)}`,
  );
}

process.stdout.write(
  [
    `backend            ${backend.name}${backend.tensorflowVersion ? ` (TensorFlow ${backend.tensorflowVersion})` : ''}`,
    `converted with     tensorflowjs ${ref.tensorflowjs}, tf-keras ${ref.keras}`,
    `experiment         ${path.relative(process.cwd(), file)} at ${height}x${width}x3`,
    `layers             ${ours.size} (names, output shapes and parameter counts compared with Keras; ${ref.batch_normalization_layers} batch normalizations with non-trivial statistics)`,
    `parameters         ${base.countParams().toLocaleString('en-US')}`,
    `predictions        ${want.length} values, max |fitspec - Keras| = ${maxDiff.toExponential(3)} (largest value ${maxAbs.toExponential(3)}, relative ${(maxDiff / maxAbs).toExponential(2)})`,
    ...lines,
    problems.length ? `\nMISMATCH:\n  ${problems.join('\n  ')}` : `OK: the converted Keras ${ref.application} loads as model.base and predicts what Keras predicts`,
    '',
  ].join('\n'),
);
process.exitCode = problems.length ? 1 : 0;
