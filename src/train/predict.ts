import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import type { Experiment } from '../config/schema/experiment.js';
import { DecodeError } from '../data/decode.js';
import { decodeLikeTraining, imageSpec } from '../data/prepare.js';
import { fail } from '../errors.js';
import { loadModel } from '../model/index.js';
import { registerPluginLayers } from '../model/build.js';
import type { LoadedPlugin } from '../config/plugins.js';

export interface TrainedRun {
  runDir: string;
  model: tf.LayersModel;
  classes: string[];
}

/** The trained model of a finished run and its class names. */
export async function loadTrainedRun(runDir: string, plugins?: { exp: Experiment; plugins: readonly LoadedPlugin[] }): Promise<TrainedRun> {
  // The run's layer plugins (its own copies, named by its resolved.yaml) register their classes first.
  if (plugins) registerPluginLayers(plugins.exp, plugins.plugins);
  const summaryFile = path.join(runDir, 'summary.json');
  if (!fs.existsSync(path.join(runDir, 'model', 'model.json'))) fail('run.no-model', `${runDir} has no trained model (model/model.json): is it a finished run folder?`, { file: runDir });
  const summary = fs.existsSync(summaryFile) ? (JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as { classes?: string[] }) : {};
  if (!summary.classes?.length) fail('run.no-classes', `${summaryFile} does not list the classes of the run.`, { file: summaryFile });
  return { runDir, model: await loadModel(path.join(runDir, 'model')), classes: summary.classes };
}

/** Class probabilities for image files, decoded exactly as in training (size, channels, resize, rescale). */
export async function predictFiles(run: TrainedRun, exp: Experiment, files: string[], batchSize = 32): Promise<number[][]> {
  const spec = imageSpec(exp.data);
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
      const x = tf.tensor4d(flat, [chunk.length, spec.height, spec.width, spec.channels], 'int32').toFloat().mul(exp.data.image.rescale);
      return run.model.predict(x) as tf.Tensor2D;
    });
    out.push(...(await probs.array()));
    probs.dispose();
  }
  return out;
}
