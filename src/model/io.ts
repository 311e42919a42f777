import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors.js';
import { registerLayerClasses } from './layers/index.js';

/**
 * Save and load tfjs-format models (model.json + weights.bin) with plain file I/O, so that the same
 * code works on the native backend and on the pure-JS fallback (which has no file:// handler).
 */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const bytes = data === undefined ? new ArrayBuffer(0) : Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
      fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(bytes));
      const json = {
        modelTopology: artifacts.modelTopology,
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** Loads a tfjs layers model from a directory holding model.json, or from a model.json path. */
export async function loadModel(location: string): Promise<tf.LayersModel> {
  registerLayerClasses();
  const jsonPath = location.endsWith('.json') ? location : path.join(location, 'model.json');
  if (/^https?:\/\//.test(location)) return tf.loadLayersModel(location);
  if (!fs.existsSync(jsonPath)) fail('model.missing', `No tfjs model at ${jsonPath}: expected a folder with model.json and its weight files.`, { file: jsonPath });
  let json: { modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    json = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    fail('model.invalid', `${jsonPath} is not a tfjs model.json: ${(e as Error).message}`, { file: jsonPath });
  }
  const dir = path.dirname(jsonPath);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of json.weightsManifest ?? []) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) {
      const f = path.join(dir, p);
      if (!fs.existsSync(f)) fail('model.missing-weights', `Weight file ${f} named by ${jsonPath} is missing.`, { file: f });
      buffers.push(fs.readFileSync(f));
    }
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData }));
}
