import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureConvertVenv } from '../../scripts/convert/venv.mjs';
import { initBackend } from '../../src/backend.js';
import { loadExperiment } from '../../src/config/index.js';
import { buildModel, leafLayers, summarize } from '../../src/model/index.js';

/**
 * The zoo's ResNet50 and MobileNetV2 against Keras Applications built with weights=None: the same
 * total, and layer by layer the same names, classes, parameter counts and output shapes. The Keras
 * side runs in the conversion venv (made here on a fresh machine, as the conversion check makes it).
 */
interface KerasLayer {
  name: string;
  class: string;
  params: number;
  shape: (number | null)[];
}
let keras: Record<string, { total: number; layers: KerasLayer[] }>;

beforeAll(async () => {
  await initBackend('auto');
  const python = await ensureConvertVenv();
  const script = resolve('scripts/convert/keras_applications.py');
  keras = JSON.parse(execFileSync(python, [script, 'ResNet50', 'MobileNetV2'], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } }));
}, 900_000);

const cases = [
  { keras: 'ResNet50', file: 'experiments/zoo/resnet50-imagenet.yaml', total: 25_636_712 },
  { keras: 'MobileNetV2', file: 'experiments/zoo/mobilenet-v2-imagenet.yaml', total: 3_538_984 },
];

describe('reference architectures match Keras Applications', () => {
  it.each(cases)(
    '$file: $total parameters, and every layer as in keras.applications.$keras',
    async ({ keras: name, file, total }) => {
      const k = keras[name]!;
      expect(k.total).toBe(total);
      const exp = loadExperiment(join(process.cwd(), file)).experiment;
      const built = await buildModel(exp, { loadWeights: false });
      expect(summarize(built).total).toBe(total);
      const ours = new Map(
        leafLayers(built.model)
          .filter((l) => l.getClassName() !== 'InputLayer')
          .map((l) => [l.name, l]),
      );
      const theirs = k.layers.filter((l) => l.class !== 'InputLayer');
      expect([...ours.keys()].sort()).toEqual(theirs.map((l) => l.name).sort());
      for (const l of theirs) {
        const o = ours.get(l.name)!;
        expect({ name: l.name, class: o.getClassName(), params: o.countParams(), shape: (o.outputShape as (number | null)[]).slice(1) }).toEqual({
          name: l.name,
          class: l.class,
          params: l.params,
          shape: l.shape.slice(1),
        });
      }
      built.model.dispose();
      tf.disposeVariables();
    },
    120_000,
  );
});
