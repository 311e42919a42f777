import type * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../../../backend.js';
import { GraphUnsupported } from '../../../model/graph/builder.js';
import type { Engine } from '../types.js';
import { GraphEngine, buildPhaseGraph } from './engine.js';
import { loadGraphAddon } from './native.js';

/**
 * The graph engine for this model, or what it cannot run. The model is compiled once with the
 * default loss and an SGD step here, so a layer without a graph builder or an op without a gradient
 * is found before training starts, not at the first step.
 */
export function createGraphEngine(model: tf.LayersModel, backend: BackendInfo): Engine | { unsupported: string } {
  if (backend.name !== 'tensorflow') return { unsupported: `the \`${backend.name}\` backend (the graph engine runs on native TensorFlow on the CPU)` };
  const addon = loadGraphAddon();
  if (typeof addon === 'string') return { unsupported: addon };
  try {
    const trial = buildPhaseGraph(addon, model, { optimizer: { name: 'sgd', learningRate: 0.01 }, loss: 'categoricalCrossentropy', metrics: [] });
    trial.session.close();
  } catch (e) {
    if (e instanceof GraphUnsupported) return { unsupported: e.message };
    return { unsupported: (e as Error).message.split('\n')[0]! };
  }
  return new GraphEngine(model, addon, backend.threads);
}

export { GraphEngine, graphLayers } from './engine.js';
