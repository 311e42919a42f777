import type * as tf from '@tensorflow/tfjs';
import type { BackendInfo } from '../../../backend.js';
import { GraphUnsupported } from '../../../graph-builder.js';
import type { Engine } from '../types.js';
import { GraphEngine, buildPhaseGraph } from './engine.js';
import { loadGraphAddon, type GraphAddon } from './native.js';

/**
 * The graph engine for this model, or what it cannot run. The model is compiled once with the
 * default loss and an SGD step here, so a layer without a graph builder or an op without a gradient
 * is found before training starts, not at the first step.
 */
export function createGraphEngine(model: tf.LayersModel, backend: BackendInfo, spec?: { loss: string; metrics: string[] }): Engine | { unsupported: string } {
  const available = graphEngineAvailability(backend);
  if (available !== true) return { unsupported: available };
  const addon = loadGraphAddon() as GraphAddon;
  const runtime = { threads: backend.threads, kernels: backend.kernels?.name ?? (addon.onednnEnabled() ? 'oneDNN' : 'Eigen') } as const;
  try {
    const trial = buildPhaseGraph(
      addon,
      model,
      { optimizer: { name: 'sgd', learningRate: 0.01 }, loss: spec?.loss ?? 'categoricalCrossentropy', metrics: spec?.metrics ?? [] },
      runtime,
    );
    trial.session.close();
  } catch (e) {
    if (e instanceof GraphUnsupported) return { unsupported: e.message };
    return { unsupported: (e as Error).message.split('\n')[0]! };
  }
  return new GraphEngine(model, addon, runtime);
}

/** True when the graph engine can run on this backend, else why not. */
export function graphEngineAvailability(backend: BackendInfo): true | string {
  if (backend.name !== 'tensorflow') return `the \`${backend.name}\` backend (the graph engine runs on native TensorFlow on the CPU)`;
  const addon = loadGraphAddon();
  return typeof addon === 'string' ? addon : true;
}

export { GraphEngine, graphLayers } from './engine.js';
