import * as tf from '@tensorflow/tfjs';
import type { Experiment, LayerSpecT } from '../config/schema/experiment.js';
import { fail, FitspecError, isFitspecError } from '../errors.js';
import type { LoadedPlugin } from '../config/plugins.js';
import { GRAPH_BUILDER, type GraphLayerContext } from '../graph-builder.js';
import { loadModel } from './io.js';
import { buildNetwork, isPlainStack, type BlockDefT, type Network } from '../config/blocks.js';
import type { LayerKind } from '../config/schema/layers.js';
import { layerDefByKind, mergeDefByKind } from './layers/index.js';
import { layerKind, layerNames } from './names.js';

export interface BuiltModel {
  /** A Keras Sequential for a plain stack (as before blocks existed); a functional model when the stack has blocks. */
  model: tf.LayersModel;
  /** The pretrained / architecture base, nested as one layer of `model` (Keras' `vgg16 (Functional)` row). */
  base?: tf.LayersModel;
  /** Kind of each layer of `model`, by layer name (for summaries). */
  kinds: Map<string, string>;
  /** The base's layer names in the order written (where `unfreezeFrom` starts), blocks included. */
  baseOrder?: string[];
}

type Blocks = Record<string, BlockDefT> | undefined;

export interface BuildOptions {
  loadWeights?: boolean;
  /** The experiment's layer plugins (`LoadedExperiment.plugins`). */
  plugins?: readonly LoadedPlugin[];
}

/** A plugin's layer, built; a plugin that throws is one error naming the plugin and the layer. */
function buildPluginLayer(lp: LoadedPlugin, args: Record<string, unknown>, ctx: { name: string; seed: number }, where: string): tf.layers.Layer {
  let layer: unknown;
  try {
    layer = lp.plugin.build(tf, args, { ...ctx, trainable: (args.trainable as boolean | undefined) ?? true });
  } catch (e) {
    if (isFitspecError(e)) throw e;
    fail('plugin.build', `plugin ${lp.entry} (\`${lp.plugin.kind}\`) threw while building layer \`${ctx.name}\`: ${(e as Error)?.message ?? e}`, { path: where });
  }
  if (!(layer instanceof tf.layers.Layer))
    fail('plugin.build', `plugin ${lp.entry} (\`${lp.plugin.kind}\`) returned no tfjs layer for layer \`${ctx.name}\`.`, {
      path: where,
      expected: 'an instance of tf.layers.Layer (built from the `tf` argument)',
      received: typeof layer,
    });
  // Deserializing a saved model needs the class (predict, checkpoints).
  tf.serialization.registerClass(layer.constructor as never);
  const graph = lp.plugin.graph;
  if (graph) (layer as unknown as Record<symbol, unknown>)[GRAPH_BUILDER] = (c: GraphLayerContext) => graph({ ...c, tf });
  return layer;
}

function buildStack(layers: readonly LayerSpecT[], seed: number, kinds: Map<string, string>, plugins: readonly LoadedPlugin[] = [], where = 'model.layers'): tf.layers.Layer[] {
  const names = layerNames(layers);
  return layers.map((spec, i) => {
    const kind = layerKind(spec);
    const lp = plugins.find((p) => p.plugin.kind === kind);
    if (lp) {
      const layer = buildPluginLayer(lp, (spec as Record<string, Record<string, unknown>>)[kind] ?? {}, { name: names[i]!, seed: seed + i }, `${where}.${i}`);
      kinds.set(names[i]!, lp.plugin.kerasClass ?? layer.getClassName());
      return layer;
    }
    const def = layerDefByKind.get(kind as LayerKind);
    if (!def) fail('model.unknown-layer', `Unknown layer kind \`${String(kind)}\`.`, { path: `${where}.${i}` });
    kinds.set(names[i]!, def.kerasClass);
    // Each layer gets its own seed so that identical layers do not start with identical weights.
    return def.build((spec as Record<string, never>)[kind] ?? {}, { name: names[i]!, seed: seed + i });
  });
}

/** Adds layers one by one so a shape mistake names the layer that caused it. */
function addAll(model: tf.Sequential, layers: tf.layers.Layer[], where: string, specs: readonly LayerSpecT[] = [], plugins: readonly LoadedPlugin[] = []): void {
  layers.forEach((layer, i) => {
    const kind = specs[i] ? layerKind(specs[i]!) : undefined;
    const lp = plugins.find((p) => p.plugin.kind === kind);
    const input = lp ? (model.outputs[0]?.shape.slice(1) as number[] | undefined) : undefined;
    try {
      model.add(layer);
    } catch (e) {
      if (lp) fail('plugin.build', `plugin ${lp.entry} (\`${lp.plugin.kind}\`) failed on layer \`${layer.name}\`: ${(e as Error).message}`, { path: `${where}.${i}` });
      fail('model.shape', `Layer ${i} (\`${layer.name}\`) cannot follow the previous layer: ${(e as Error).message}`, { path: `${where}.${i}` });
    }
    if (lp && input) {
      // The shape `validate` used must be the shape the layer computes.
      const declared = lp.plugin.outputShape((specs[i] as Record<string, Record<string, unknown>>)[kind as string] ?? {}, [...input]);
      const actual = (layer.outputShape as (number | null)[]).slice(1);
      if (JSON.stringify(declared) !== JSON.stringify(actual)) {
        throw new FitspecError({
          code: 'plugin.output-shape',
          message: `plugin ${lp.entry} (\`${lp.plugin.kind}\`): layer \`${layer.name}\` outputs (batch, ${actual.join(', ')}), but its outputShape says (batch, ${declared.join(', ')}).`,
          path: `${where}.${i}`,
          expected: `(batch, ${declared.join(', ')})`,
          received: `(batch, ${actual.join(', ')})`,
        });
      }
    }
  });
}

/** Applies a network's nodes (blocks expanded, merges included) to `input`, Keras functional style; returns its output. */
function applyNetwork(net: Network, input: tf.SymbolicTensor, seed: number, kinds: Map<string, string>, plugins: readonly LoadedPlugin[] = []): tf.SymbolicTensor {
  if (net.problems.length) fail(net.problems[0]!.code, net.problems[0]!.message, { path: net.problems[0]!.path.join('.') });
  const outs: tf.SymbolicTensor[] = [];
  net.nodes.forEach((n, i) => {
    const ins = n.inputs.map((j) => (j < 0 ? input : outs[j]!));
    const merge = mergeDefByKind.get(n.kind);
    const lp = plugins.find((p) => p.plugin.kind === n.kind);
    let layer: tf.layers.Layer;
    if (merge) {
      layer = merge.build(n.args as { axis?: number }, { name: n.name });
      kinds.set(n.name, merge.kerasClass);
    } else if (lp) {
      layer = buildPluginLayer(lp, (n.args ?? {}) as Record<string, unknown>, { name: n.name, seed: seed + i }, n.path.join('.'));
      kinds.set(n.name, lp.plugin.kerasClass ?? layer.getClassName());
    } else {
      const def = layerDefByKind.get(n.kind as LayerKind);
      if (!def) fail('model.unknown-layer', `Unknown layer kind \`${n.kind}\`.`, { path: n.path.join('.') });
      layer = def.build(n.args as never, { name: n.name, seed: seed + i });
      kinds.set(n.name, def.kerasClass);
    }
    try {
      outs[i] = layer.apply(ins.length === 1 ? ins[0]! : ins) as tf.SymbolicTensor;
    } catch (e) {
      fail('model.shape', `Layer \`${n.name}\` cannot take its input${ins.length > 1 ? 's' : ''}: ${(e as Error).message}`, { path: n.path.join('.') });
    }
  });
  return net.output < 0 ? input : outs[net.output]!;
}

const modelName = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');

/** Compiles the layer stack of an experiment (and its base, if any) into a tfjs model. Not compiled with an optimizer yet. */
export async function buildModel(exp: Experiment, opts: BuildOptions = {}): Promise<BuiltModel> {
  const plugins = opts.plugins ?? [];
  const { height, width, channels } = exp.data.image;
  const inputShape = [height, width, channels];
  const kinds = new Map<string, string>();
  let base: tf.LayersModel | undefined;
  let baseOrder: string[] | undefined;
  const baseCfg = exp.model.base as (NonNullable<Experiment['model']['base']> & { layers?: LayerSpecT[]; blocks?: Blocks }) | undefined;
  if (baseCfg) {
    if (!baseCfg.layers?.length) fail('model.base-empty', `The base \`${baseCfg.architecture}\` has no layers.`, { path: 'model.base' });
    const baseName = modelName(baseCfg.architecture.replace(/^.*\//, '').replace(/\.ya?ml$/, ''));
    if (isPlainStack(baseCfg.layers)) {
      const seq = tf.sequential({ name: baseName });
      seq.add(tf.layers.inputLayer({ inputShape }));
      addAll(seq, buildStack(baseCfg.layers, exp.seed + 10_000, new Map(), plugins, 'model.base.layers'), 'model.base.layers', baseCfg.layers, plugins);
      base = seq;
      baseOrder = layerNames(baseCfg.layers);
    } else {
      const net = buildNetwork(baseCfg.layers, baseCfg.blocks, ['model', 'base', 'layers']);
      const input = tf.input({ shape: inputShape, name: `${baseName}_input` });
      base = tf.model({ inputs: input, outputs: applyNetwork(net, input, exp.seed + 10_000, new Map(), plugins), name: baseName });
      baseOrder = net.nodes.map((n) => n.name);
    }
    if (baseCfg.weights && opts.loadWeights !== false) await loadBaseWeights(base, baseCfg.weights);
    base.trainable = baseCfg.trainable;
    markBase(base);
    kinds.set(base.name, 'Functional');
  }
  const layers = exp.model.layers;
  if (isPlainStack(layers)) {
    const model = tf.sequential({ name: modelName(exp.name) });
    model.add(base ?? tf.layers.inputLayer({ inputShape }));
    addAll(model, buildStack(layers, exp.seed, kinds, plugins), 'model.layers', layers, plugins);
    return { model, base, kinds, baseOrder };
  }
  const input = tf.input({ shape: inputShape, name: 'input_layer' });
  kinds.set(input.sourceLayer.name, 'InputLayer');
  const start = base ? (base.apply(input) as tf.SymbolicTensor) : input;
  const net = buildNetwork(layers, (exp.model as { blocks?: Blocks }).blocks, ['model', 'layers']);
  const model = tf.model({ inputs: input, outputs: applyNetwork(net, start, exp.seed, kinds, plugins), name: modelName(exp.name) });
  return { model, base, kinds, baseOrder };
}

/** Copies pretrained weights into the base by layer name; shapes must match. */
export async function loadBaseWeights(base: tf.LayersModel, location: string): Promise<void> {
  const source = await loadModel(location);
  const byName = new Map<string, tf.layers.Layer>();
  const collect = (layers: tf.layers.Layer[]) => {
    for (const l of layers) {
      byName.set(l.name, l);
      if (l instanceof tf.LayersModel) collect(l.layers);
    }
  };
  collect(source.layers);
  let copied = 0;
  for (const layer of leafLayers(base)) {
    if (layer.weights.length === 0) continue;
    const from = byName.get(layer.name);
    if (!from)
      fail('model.weights-missing-layer', `Pretrained weights in ${location} have no layer \`${layer.name}\`; the architecture and the weights must use the same layer names.`, {
        file: location,
      });
    const w = from.getWeights();
    const expected = layer.weights.map((v) => v.shape.join('x')).join(', ');
    const received = w.map((t) => t.shape.join('x')).join(', ');
    if (expected !== received)
      fail('model.weights-shape', `Layer \`${layer.name}\`: pretrained weights have shapes ${received}, the architecture expects ${expected}.`, {
        file: location,
        expected,
        received,
      });
    layer.setWeights(w);
    copied++;
  }
  if (copied === 0) fail('model.weights-empty', `No weights were loaded from ${location}.`, { file: location });
  source.dispose();
}

/** The model's layers in order, nested models (a base) replaced by their own layers. */
export function leafLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.flatMap((l) => (l instanceof tf.LayersModel ? leafLayers(l) : [l]));
}

/** Freezes the base, or unfreezes it from a named layer on (Keras fine-tuning); returns nothing, recompile afterwards. */
export function applyTrainable(built: BuiltModel, freeze: 'none' | 'base' | undefined, unfreezeFrom: string | undefined): void {
  const base = built.base;
  if (!base) {
    if (freeze === 'base' || unfreezeFrom) fail('train.no-base', '`freeze`/`unfreezeFrom` need a `model.base`.', { path: 'train.phases' });
    return;
  }
  try {
    setTrainable(base, built.baseOrder, freeze, unfreezeFrom);
  } finally {
    markBase(base);
  }
}

/**
 * Tells each layer of the base whether the base is frozen (`inFrozenBase`): a layer that behaves
 * differently when not trainable (BatchNormalization, in inference mode as in Keras) cannot see it
 * otherwise, as tfjs marks only the layer's variables, and not reliably.
 */
function markBase(base: tf.LayersModel): void {
  for (const l of leafLayers(base)) (l as tf.layers.Layer & { inFrozenBase?: boolean }).inFrozenBase = !base.trainable;
}

function setTrainable(base: tf.LayersModel, baseOrder: string[] | undefined, freeze: 'none' | 'base' | undefined, unfreezeFrom: string | undefined): void {
  if (unfreezeFrom) {
    const order = baseOrder ?? base.layers.map((l) => l.name);
    const idx = order.indexOf(unfreezeFrom);
    if (idx < 0) fail('train.unknown-layer', `\`unfreezeFrom: ${unfreezeFrom}\` names no layer of the base; its layers are ${order.join(', ')}.`, { path: 'train.phases' });
    base.trainable = true;
    const from = new Set(order.slice(idx));
    base.layers.forEach((l) => (l.trainable = from.has(l.name)));
  } else if (freeze === 'base') {
    base.trainable = false;
  } else if (freeze === 'none') {
    base.trainable = true;
    base.layers.forEach((l) => (l.trainable = true));
  }
}

/**
 * Makes tfjs able to load a saved model with plugin layers: builds each plugin layer of the experiment
 * once (a plugin's class exists only inside its `build`), which registers its class.
 */
export function registerPluginLayers(exp: Experiment, plugins: readonly LoadedPlugin[]): void {
  if (!plugins.length) return;
  const base = (exp.model.base as { layers?: LayerSpecT[] } | undefined)?.layers ?? [];
  for (const [layers, where] of [
    [base, 'model.base.layers'],
    [exp.model.layers, 'model.layers'],
  ] as const) {
    const names = layerNames(layers);
    layers.forEach((spec, i) => {
      const kind = layerKind(spec);
      const lp = plugins.find((p) => p.plugin.kind === kind);
      if (lp) buildPluginLayer(lp, (spec as Record<string, Record<string, unknown>>)[kind] ?? {}, { name: names[i]!, seed: exp.seed + i }, `${where}.${i}`);
    });
  }
}
