import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { loadModel, saveModel } from '../model/index.js';
import type { Engine } from './engine/types.js';
import type { EpochRow } from './run-folder.js';

/** What `--resume` needs besides the weights. */
export interface CheckpointState {
  /** Last completed global epoch (0-based). */
  epoch: number;
  phase: number;
  learningRate: number;
  history: EpochRow[];
  /** Whether the optimizer's slots (moments, accumulators) were saved too. */
  optimizerSaved: boolean;
  /** Each callback's counters (patience, best value), in the order of the phase's callbacks. */
  callbacks?: unknown[];
}

const DIR = 'checkpoint';

/**
 * Written after every epoch, into a temporary folder renamed over the old one, so a crash mid-write
 * leaves the previous checkpoint intact.
 */
export async function saveCheckpoint(runDir: string, model: tf.LayersModel, engine: Engine, state: Omit<CheckpointState, 'optimizerSaved'>): Promise<void> {
  const tmp = path.join(runDir, `${DIR}.tmp`);
  fs.rmSync(tmp, { recursive: true, force: true });
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
  fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify({ ...state, optimizerSaved }, null, 2));
  const final = path.join(runDir, DIR);
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
}

export function readCheckpointState(runDir: string): CheckpointState | undefined {
  const f = path.join(runDir, DIR, 'state.json');
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as CheckpointState) : undefined;
}

/** Copies checkpointed weights into `model` (built from the same config) and the engine, and restores optimizer slots where saved. */
export async function restoreCheckpoint(runDir: string, model: tf.LayersModel, engine: Engine): Promise<boolean> {
  const saved = await loadModel(path.join(runDir, DIR, 'model'));
  model.setWeights(saved.getWeights());
  saved.dispose();
  await engine.syncFromModel();
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
