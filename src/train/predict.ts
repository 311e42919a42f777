import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { DecodeError, type ImageSpec } from '../data/decode.js';
import { decodeLikeTraining } from '../data/prepare.js';
import { fail } from '../errors.js';
import { loadModel, readDescriptor, type ModelDescriptor } from '../model/index.js';
import { registerPluginLayers } from '../model/build.js';
import type { LoadedPlugin } from '../config/plugins.js';
import type { Experiment } from '../config/schema/experiment.js';

export interface TrainedRun {
  /** The folder holding model.json and fitspec-model.json. */
  modelDir: string;
  model: tf.LayersModel;
  classes: string[];
  descriptor: ModelDescriptor;
}

/**
 * The trained model of a finished run (its `model/` folder) and what it expects and returns. A run
 * with layer plugins passes them (its own copies, named by its resolved.yaml): their classes are
 * registered before the model is read.
 */
export async function loadTrainedRun(runDir: string, plugins?: { exp: Experiment; plugins: readonly LoadedPlugin[] }): Promise<TrainedRun> {
  if (plugins) registerPluginLayers(plugins.exp, plugins.plugins);
  if (!fs.existsSync(path.join(runDir, 'model', 'model.json')))
    fail('run.no-model', `${runDir} has no trained model (model/model.json): is it a finished run folder?`, { file: runDir });
  return loadTrainedModel(path.join(runDir, 'model'));
}

/** A model folder: model.json and its weights, and fitspec-model.json (classes and preprocessing). */
export async function loadTrainedModel(modelDir: string): Promise<TrainedRun> {
  const descriptor = readDescriptor(modelDir);
  return { modelDir, model: await loadModel(modelDir), classes: descriptor.classes, descriptor };
}

/** Class probabilities for image files, decoded as the model was trained (size, channels, resize kernel, rescale: from its descriptor). */
export async function predictFiles(run: TrainedRun, files: string[], batchSize = 32): Promise<number[][]> {
  const pre = run.descriptor.preprocessing;
  const spec: ImageSpec = { height: pre.height, width: pre.width, channels: pre.channels, resize: pre.resize, interpolation: pre.interpolation };
  const out: number[][] = [];
  for (let i = 0; i < files.length; i += batchSize) {
    const chunk = files.slice(i, i + batchSize);
    for (const f of chunk) if (!fs.existsSync(f)) fail('predict.missing-image', `Image ${f} does not exist.`, { file: f });
    let flat: Uint8Array;
    try {
      flat = await decodeLikeTraining(chunk, spec);
    } catch (e) {
      if (e instanceof DecodeError) fail('predict.bad-image', `Cannot decode ${e.file}: ${e.message}`, { file: e.file });
      throw e;
    }
    const probs = tf.tidy(() => {
      const x = tf.tensor4d(flat, [chunk.length, spec.height, spec.width, spec.channels], 'int32').toFloat().mul(pre.rescale);
      return run.model.predict(x) as tf.Tensor2D;
    });
    out.push(...(await probs.array()));
    probs.dispose();
  }
  return out;
}
