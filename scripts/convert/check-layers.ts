// `npm run check:layers`: every row of layer-rows.json built by fitspec and by Keras (the conversion
// venv that `npm run check:vgg16-conversion` installs): the same parameter count, output shape and
// default layer name, and for layers without weights the same output on the same input.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend.js';
import { buildModel, summarize } from '../../src/model/index.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const VENV = process.env.FITSPEC_CONVERT_VENV ? path.resolve(process.env.FITSPEC_CONVERT_VENV) : path.join(ROOT, '.venv/convert');
const python = path.join(VENV, 'bin', 'python');
if (!fs.existsSync(python)) {
  process.stderr.write(`no Keras venv at ${VENV}: run \`npm run check:vgg16-conversion\` once (it installs it), or set FITSPEC_CONVERT_VENV\n`);
  process.exit(1);
}
const rowsFile = path.join(HERE, 'layer-rows.json');
const rows = JSON.parse(fs.readFileSync(rowsFile, 'utf8')) as { kind: string; args: object; input: number[] }[];
const r = spawnSync(python, [path.join(HERE, 'keras_layers.py'), rowsFile], { encoding: 'utf8', maxBuffer: 1 << 28 });
if (r.status !== 0) {
  process.stderr.write(r.stderr);
  process.exit(1);
}
const keras = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { params: number; output: (number | null)[]; name: string; y?: number[] }[];

await initBackend('tensorflow');
let failed = 0;
for (const [i, row] of rows.entries()) {
  const k = keras[i]!;
  const [height, width, channels] = row.input;
  const built = await buildModel({ name: 'check', seed: 1, data: { image: { height, width, channels } }, model: { layers: [{ [row.kind]: row.args }] } } as never);
  const s = summarize(built);
  const layer = built.model.layers.at(-1)!;
  const problems: string[] = [];
  if (s.total !== k.params) problems.push(`params ${s.total} vs Keras ${k.params}`);
  if (JSON.stringify(layer.outputShape) !== JSON.stringify(k.output)) problems.push(`output ${JSON.stringify(layer.outputShape)} vs Keras ${JSON.stringify(k.output)}`);
  if (layer.name.replace(/_\d+$/, '') !== k.name.replace(/_\d+$/, '')) problems.push(`name ${layer.name} vs Keras ${k.name}`);
  let diff = 0;
  if (k.y) {
    const n = row.input.reduce((a, b) => a * b, 1);
    const x = tf.tensor(
      Float32Array.from({ length: 2 * n }, (_, j) => Math.fround(Math.sin(j) * 4 + 2)),
      [2, ...row.input],
    );
    const y = (built.model.predict(x) as tf.Tensor).dataSync();
    diff = Math.max(...Array.from(y, (v, j) => Math.abs(v - k.y![j]!)));
    if (!(diff <= 1e-5)) problems.push(`output values differ by ${diff}`);
  }
  const what = `${row.kind} ${JSON.stringify(row.args)}`;
  process.stdout.write(
    `${problems.length ? 'FAIL' : 'ok  '} ${what}: ${s.total} params, output ${JSON.stringify(layer.outputShape)}${k.y ? `, max |y - keras| ${diff.toExponential(1)}` : ''}${problems.length ? ` (${problems.join('; ')})` : ''}\n`,
  );
  if (problems.length) failed++;
}
process.stdout.write(failed ? `${failed} of ${rows.length} layer rows differ from Keras\n` : `all ${rows.length} layer rows match Keras\n`);
process.exit(failed ? 1 : 0);
