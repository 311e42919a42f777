import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { leafLayers, loadModel, saveModel } from '../model/index.js';
import type { Engine } from './engine/types.js';
import { diskFullError, isDiskFull, isDiskFullError, writeFileSafe } from '../disk.js';
import { FitspecError } from '../errors.js';
import {
  CHECKPOINT_DIR as DIR,
  CHECKPOINT_NEW as NEW,
  CHECKPOINT_OLD as OLD,
  checkpointStatus,
  describeDamage,
  discard,
  manifestOf,
  markVerified,
  readCheckpointState,
  settle,
  STATE,
  type CheckpointState,
} from './checkpoint-files.js';

export { checkpointStatus, describeDamage, phaseResume, readCheckpointState, type CheckpointState } from './checkpoint-files.js';

/**
 * Written after every epoch into `checkpoint.tmp`, then state.json (the
 * state and the manifest: size and SHA-256 of every file, read back from disk) last, through a rename.
 * Then the previous previous copy goes, the previous one is renamed to `checkpoint.old` (kept: it is
 * what a resume falls back to when the newest is found damaged) and the new one into place, so a kill
 * at any point leaves a complete copy (the newest verified one is picked on resume). On a full disk
 * the new copy is removed and the earlier ones stay as they were.
 */
export async function saveCheckpoint(runDir: string, model: tf.LayersModel, engine: Engine, state: Omit<CheckpointState, 'optimizerSaved'>): Promise<void> {
  settle(runDir);
  const tmp = path.join(runDir, NEW);
  try {
    await engine.syncToModel();
    await saveModel(model, path.join(tmp, 'model'));
    let optimizerSaved = false;
    let weights: Awaited<ReturnType<Engine['getOptimizerState']>> | undefined;
    try {
      weights = await engine.getOptimizerState();
    } catch {
      // Some tfjs optimizers cannot export their slots; resuming then restarts them from zero (said on resume).
    }
    if (weights) {
      const specs = weights.map((w) => ({ name: w.name, shape: w.tensor.shape, dtype: w.tensor.dtype }));
      const data = weights.map((w) => Buffer.from((w.tensor.dataSync() as Float32Array).buffer));
      writeFileSafe(path.join(tmp, 'optimizer.json'), JSON.stringify(specs));
      writeFileSafe(path.join(tmp, 'optimizer.bin'), Buffer.concat(data));
      optimizerSaved = true;
    }
    const files = manifestOf(tmp);
    const full = { ...state, optimizerSaved, files };
    writeFileSafe(path.join(tmp, STATE), JSON.stringify(full, null, 2));
    // Just hashed from disk: the next save need not read it back again.
    markVerified(path.join(tmp, STATE), full);
  } catch (e) {
    if (!isDiskFullError(e) && !isDiskFull(e)) throw e;
    const needed = dirSize(tmp) + dirSize(path.join(runDir, DIR));
    discard(runDir, NEW);
    const kept = readCheckpointState(runDir);
    throw diskFullError(
      tmp,
      needed,
      `the checkpoint of epoch ${state.epoch + 1}`,
      kept ? `the checkpoint of epoch ${kept.epoch + 1} is kept intact` : 'no earlier checkpoint exists',
    );
  }
  const final = path.join(runDir, DIR);
  discard(runDir, OLD);
  if (fs.existsSync(final)) fs.renameSync(final, path.join(runDir, OLD));
  fs.renameSync(tmp, final);
}

function dirSize(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? dirSize(p) : fs.statSync(p).size;
  }
  return n;
}

/**
 * Copies checkpointed weights into `model` (built from the same config) and the engine, and restores
 * optimizer slots where saved (unless `optimizer: false`); true when the slots were restored.
 */
export async function restoreCheckpoint(runDir: string, model: tf.LayersModel, engine: Engine, opts: { optimizer?: boolean } = {}): Promise<boolean> {
  settle(runDir);
  const status = checkpointStatus(runDir);
  if (!status.usable) throw damagedCheckpoint(runDir, status.damaged.map((d) => describeDamage(runDir, d)).join('; ') || `${path.join(runDir, DIR)} is missing`);
  try {
    return await restoreFiles(runDir, model, engine, opts);
  } catch (e) {
    if (e instanceof FitspecError) throw e;
    // Only checkpoints of earlier versions (without a manifest) get here with damaged files.
    throw damagedCheckpoint(runDir, `${path.join(runDir, DIR)} cannot be read (${(e as Error).message})`);
  }
}

export function damagedCheckpoint(runDir: string, what: string): FitspecError {
  return new FitspecError({
    code: 'checkpoint.damaged',
    message: `The checkpoint cannot be resumed from: ${what}, and no earlier good checkpoint is kept`,
    file: runDir,
    hint: `start the experiment again as a new run: fitspec train ${path.join(runDir, 'resolved.yaml')}`,
  });
}

async function restoreFiles(runDir: string, model: tf.LayersModel, engine: Engine, opts: { optimizer?: boolean }): Promise<boolean> {
  const saved = await loadModel(path.join(runDir, DIR, 'model'));
  copyWeights(saved, model);
  saved.dispose();
  await engine.syncFromModel();
  if (opts.optimizer === false) return false;
  const specFile = path.join(runDir, DIR, 'optimizer.json');
  if (!fs.existsSync(specFile)) return false;
  const specs = JSON.parse(fs.readFileSync(specFile, 'utf8')) as { name: string; shape: number[]; dtype: 'float32' | 'int32' }[];
  const bin = fs.readFileSync(path.join(runDir, DIR, 'optimizer.bin'));
  const need = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (bin.length !== need) throw new Error(`optimizer.bin has ${bin.length} bytes, optimizer.json describes ${need}`);
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
