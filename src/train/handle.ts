import type * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { saveModel } from '../model/index.js';
import type { TrainingHandle } from './callbacks/types.js';
import type { Engine } from './engine/types.js';

/** What callbacks may do to the model being trained, through the engine so either engine sees the same weights. */
export function makeHandle(model: tf.LayersModel, engine: Engine, runDir: string, log: (m: string) => void): TrainingHandle {
  return {
    stopTraining: false,
    getLearningRate: () => engine.getLearningRate(),
    setLearningRate: (lr) => engine.setLearningRate(lr),
    snapshotWeights: async () => {
      await engine.syncToModel();
      return model.getWeights().map((w) => w.clone());
    },
    restoreWeights: async (snap) => {
      model.setWeights(snap as tf.Tensor[]);
      await engine.syncFromModel();
    },
    disposeSnapshot: (snap) => (snap as tf.Tensor[]).forEach((t) => t.dispose()),
    saveModel: async (subdir) => {
      await engine.syncToModel();
      await saveModel(model, path.join(runDir, subdir));
    },
    runDir,
    log,
  };
}
