import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { leafLayers, loadModel, saveModel } from '../model/index.js';
import type { Engine } from './engine/types.js';
import { CHECKPOINT_DIR as DIR, CHECKPOINT_NEW as NEW, CHECKPOINT_OLD as OLD, discard, settle, STATE, type CheckpointState } from './checkpoint-files.js';

export { phaseResume, readCheckpointState, type CheckpointState } from './checkpoint-files.js';

/**
 * Written after every epoch into `checkpoint.tmp`; the previous checkpoint is renamed aside before
 * the new one is renamed into place and only removed after, so a kill at any point leaves a
 * complete copy (the newest one is picked on resume).
 */
export async function saveCheckpoint(runDir: string, model: tf.LayersModel, engine: Engine, state: Omit<CheckpointState, 'optimizerSaved'>): Promise<void> {
  settle(runDir);
  const tmp = path.join(runDir, NEW);
  await engine.syncToModel();
  await saveModel(model, path.join(tmp, 'model'));
  let optimizerSaved = false;
  try {
    const weights = await engine.getOptimizerState();
    const specs = weights.map((w) => ({ name: w.name, shape: w.tensor.shape, dtype: w.tensor.dtype }));
    const data = weights.map((w) => Buffer.from((w.tensor.dataSync() as Float32Array).buffer));
    fs.writeFileSync(path.join(tmp, 'optimizer.json'), JSON.stringify(specs));
    fs.writeFileSync(path.join(tmp, 'optimizer.bin'), Buffer.concat(data));
    optimizerSaved = true;
  } catch {
    // Some tfjs optimizers cannot export their slots; resuming then restarts them from zero (said on resume).
  }
  fs.writeFileSync(path.join(tmp, `${STATE}.part`), JSON.stringify({ ...state, optimizerSaved }, null, 2));
  fs.renameSync(path.join(tmp, `${STATE}.part`), path.join(tmp, STATE));
  const final = path.join(runDir, DIR);
  if (fs.existsSync(final)) fs.renameSync(final, path.join(runDir, OLD));
  fs.renameSync(tmp, final);
  discard(runDir, OLD);
}


/**
 * Copies checkpointed weights into `model` (built from the same config) and the engine, and restores
 * optimizer slots where saved (unless `optimizer: false`); true when the slots were restored.
 */
export async function restoreCheckpoint(runDir: string, model: tf.LayersModel, engine: Engine, opts: { optimizer?: boolean } = {}): Promise<boolean> {
  settle(runDir);
  const saved = await loadModel(path.join(runDir, DIR, 'model'));
  copyWeights(saved, model);
  saved.dispose();
  await engine.syncFromModel();
  if (opts.optimizer === false) return false;
  const specFile = path.join(runDir, DIR, 'optimizer.json');
  if (!fs.existsSync(specFile)) return false;
  const specs = JSON.parse(fs.readFileSync(specFile, 'utf8')) as { name: string; shape: number[]; dtype: 'float32' | 'int32' }[];
  const bin = fs.readFileSync(path.join(runDir, DIR, 'optimizer.bin'));
  let offset = 0;
  const named = specs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    // The step counter (`iter`) is saved as int32 bytes: read as float they would be a denormal, i.e. 0.
    const bytes = bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + n * 4);
    const arr = s.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes);
    offset += n * 4;
    return { name: s.name, tensor: tf.tensor(arr, s.shape, s.dtype) };
  });
  await engine.setOptimizerState(named);
  return true;
}

/**
 * Layer by layer (the same config builds the same layers in the same order): a model's getWeights()
 * lists trainable variables first, so its order changes with the trainable flags, and a checkpoint
 * saved in one phase may be restored in the next.
 */
function copyWeights(from: tf.LayersModel, to: tf.LayersModel): void {
  const saved = leafLayers(from);
  const layers = leafLayers(to);
  if (saved.length !== layers.length) throw new Error(`the checkpoint's model has ${saved.length} layers, this one ${layers.length}`);
  layers.forEach((layer, i) => layer.setWeights(saved[i]!.getWeights()));
}
