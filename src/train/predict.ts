import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import type { Experiment } from '../config/schema/experiment.js';
import { decodeImage } from '../data/decode.js';
import { imageSpec } from '../data/prepare.js';
import { fail } from '../errors.js';
import { loadModel } from '../model/index.js';

export interface TrainedRun {
  runDir: string;
  model: tf.LayersModel;
  classes: string[];
}

/** The trained model of a finished run and its class names. */
export async function loadTrainedRun(runDir: string): Promise<TrainedRun> {
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
    const pixels = await Promise.all(
      chunk.map(async (f) => {
        if (!fs.existsSync(f)) fail('predict.missing-image', `Image ${f} does not exist.`, { file: f });
        try {
          return await decodeImage(f, spec);
        } catch (e) {
          fail('predict.bad-image', `Cannot decode ${f}: ${(e as Error).message}`, { file: f });
        }
      }),
    );
    const flat = new Uint8Array(pixels.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of pixels) {
      flat.set(p, at);
      at += p.length;
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
