import * as tf from '@tensorflow/tfjs';
import type { Kernels, Threads } from '../../../backend.js';
import { GRAPH_BUILDER, GraphBuilder, GraphUnsupported, type GraphLayerContext, type NativeGraph, type Ref } from '../../../graph-builder.js';
import { layerDefByClass } from '../../../model/layers/index.js';
import type { Engine, EnginePhase, NamedTensor, StepLogs } from '../types.js';
import { sessionConfig, type Feed, type GraphAddon, type NativeSession } from './native.js';
import { graphLosses, type LossName } from './losses.js';
import { graphOptimizer, type GraphOptimizer } from './optimizers.js';

const METRICS = ['accuracy'];

/** A layer's graph builder: its own (a layer plugin's), else its kind's by class name. */
function graphOf(layer: tf.layers.Layer): ((ctx: GraphLayerContext) => Ref) | undefined {
  const own = (layer as unknown as Record<symbol, unknown>)[GRAPH_BUILDER];
  if (typeof own === 'function') return own as (ctx: GraphLayerContext) => Ref;
  return layerDefByClass.get(layer.getClassName())?.graph;
}

/** One layer of the forward pass: the tensors it reads and the one it writes, by SymbolicTensor id. */
export interface GraphStep {
  layer: tf.layers.Layer;
  inputs: number[];
  output: number;
}

/**
 * The model's layers in topological order (a functional model's DAG walked node by node, nested models
 * such as a base replaced by their own layers), each with its input and output tensors; throws
 * GraphUnsupported for what has no graph builder.
 */
export function graphPlan(model: tf.LayersModel): { input: number; output: number; steps: GraphStep[] } {
  const steps: GraphStep[] = [];
  // An inner model's tensors are renamed to the ids of the outer tensors they stand for.
  const walk = (m: tf.LayersModel, inputs: number[]): number[] => {
    if (m.inputs.length !== inputs.length || m.outputs.length !== 1) throw new GraphUnsupported(`the model \`${m.name}\` with several inputs or outputs`);
    const ids = new Map<number, number>(m.inputs.map((t, i) => [t.id, inputs[i]!]));
    // Container.layers is in topological order (by depth); a layer's node of this model is the one whose inputs are known.
    for (const l of m.layers) {
      if (l.getClassName() === 'InputLayer') continue;
      const node = l.inboundNodes.find((n) => n.inputTensors.length > 0 && n.inputTensors.every((t) => ids.has(t.id)));
      if (!node) throw new GraphUnsupported(`layer \`${l.name}\` of \`${m.name}\` (not connected to the model's input)`);
      if (node.outputTensors.length !== 1) throw new GraphUnsupported(`layer \`${l.name}\` with several outputs`);
      const ins = node.inputTensors.map((t) => ids.get(t.id)!);
      if (l instanceof tf.LayersModel) {
        ids.set(node.outputTensors[0]!.id, walk(l, ins)[0]!);
        continue;
      }
      if (!graphOf(l)) throw new GraphUnsupported(`layer \`${l.name}\` (${l.getClassName()}) has no graph ops`);
      steps.push({ layer: l, inputs: ins, output: node.outputTensors[0]!.id });
      ids.set(node.outputTensors[0]!.id, node.outputTensors[0]!.id);
    }
    const out = ids.get(m.outputs[0]!.id);
    if (out === undefined) throw new GraphUnsupported(`the model \`${m.name}\` whose output is not computed from its input`);
    return [out];
  };
  if (model.inputs.length !== 1) throw new GraphUnsupported('a model with several inputs or outputs');
  const input = model.inputs[0]!.id;
  const [output] = walk(model, [input]);
  return { input, output: output!, steps };
}

/** The model's layers in order, nested bases flattened; throws GraphUnsupported for what has no graph builder. */
export function graphLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return graphPlan(model).steps.map((s) => s.layer);
}

interface VarSlot {
  handle: Ref;
  init: Ref;
  assign: string;
  value: Ref;
}

interface PhaseGraph {
  session: NativeSession;
  /** The model's variables in the order of `vars` (model.weights' order changes with the trainable flags). */
  weights: tf.LayerVariable[];
  vars: VarSlot[];
  /** Per trainable variable (model.trainableWeights order): its index in `vars` and its slots. */
  trainable: { index: number; name: string; slots: VarSlot[] }[];
  optimizer: GraphOptimizer;
  x: Ref;
  y: Ref;
  lr: Ref;
  step: Ref;
  scalars: Record<string, Ref>;
  trainFetches: Ref[];
  trainTargets: string[];
  evalFetches: Ref[];
  metricNames: string[];
}

/** What the session runs on: its thread pools and TensorFlow's CPU kernels (the layers' graph formulations follow the kernels). */
export interface GraphRuntime {
  threads?: Threads;
  kernels: Kernels['name'];
}

/** The graph being built: its inputs and the model's variables, which the training and inference branches share. */
interface GraphParts {
  native: NativeGraph;
  g: GraphBuilder;
  plan: ReturnType<typeof graphPlan>;
  kernels: Kernels['name'];
  x: Ref;
  y: Ref;
  lr: Ref;
  step: Ref;
  weights: tf.LayerVariable[];
  /** Each weight's index in `weights` and `vars`. */
  index: Map<tf.LayerVariable, number>;
  vars: VarSlot[];
}

/** One pass of the model's layers: its output, the variables it read, its moving-statistics updates and its layers' loss terms. */
interface ForwardPass {
  out: Ref;
  reads: Map<number, Ref>;
  updates: string[];
  losses: Ref[];
}

/**
 * Builds the whole training step as one TensorFlow graph (forward pass of every layer, loss,
 * gradients by TF_AddGradients, fused optimizer updates, moving statistics) plus an inference
 * branch on the same variables, and runs each step as one session call.
 */
export function buildPhaseGraph(addon: GraphAddon, model: tf.LayersModel, phase: EnginePhase, { threads, kernels }: GraphRuntime): PhaseGraph {
  const lossDef = Object.hasOwn(graphLosses, phase.loss) ? graphLosses[phase.loss as LossName] : undefined;
  if (!lossDef) throw new GraphUnsupported(`loss \`${phase.loss}\``);
  const unknownMetric = phase.metrics.find((m) => !METRICS.includes(m));
  if (unknownMetric) throw new GraphUnsupported(`metric \`${unknownMetric}\``);
  if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new GraphUnsupported('a model with several inputs or outputs');
  const parts = graphParts(addon, model, graphPlan(model), kernels);
  const { g } = parts;
  // tfjs' `accuracy`: binary (thresholded at 0.5, averaged over the units) for binaryCrossentropy or a
  // single output unit, else categorical (argmax).
  const binaryAccuracy = lossDef.accuracy === 'binary' || model.outputs[0]!.shape.at(-1) === 1;
  const lossOf = (pass: ForwardPass, weightsPerClass?: number[]) => withLayerLosses(g, meanLoss(parts, lossDef, pass.out, weightsPerClass), pass.losses);
  const fetches = (pass: ForwardPass, loss: Ref) => [loss, ...phase.metrics.map(() => accuracy(parts, pass.out, binaryAccuracy))];

  const train = forward(parts, true);
  const loss = lossOf(train, phase.classWeights);
  const trainFetches = fetches(train, loss);
  const { optimizer, scalars, trainable, applies } = optimizerUpdates(parts, model, phase, loss, train);

  const evaluation = forward(parts, false);
  // Keras' evaluation loss has the weight penalties too (tfjs' evaluate leaves them out; the eager engine adds them).
  const evalFetches = fetches(evaluation, lossOf(evaluation));

  const session = new addon.Session(parts.native, threads ? sessionConfig(threads.intraOp, threads.interOp) : undefined);
  const { weights, vars, x, y, lr, step } = parts;
  const metricNames = ['loss', ...phase.metrics];
  return { session, weights, vars, trainable, optimizer, x, y, lr, step, scalars, trainFetches, trainTargets: [...applies, ...train.updates], evalFetches, metricNames };
}

/** A new graph with the step's inputs (placeholders) and one resource variable per model weight. */
function graphParts(addon: GraphAddon, model: tf.LayersModel, plan: GraphParts['plan'], kernels: Kernels['name']): GraphParts {
  const native = new addon.Graph();
  const g = new GraphBuilder(native);
  const x = g.placeholder(
    'x',
    model.inputs[0]!.shape.map((d) => d ?? -1),
  );
  const y = g.placeholder(
    'y',
    model.outputs[0]!.shape.map((d) => d ?? -1),
  );
  const lr = g.placeholder('lr', []);
  const step = g.placeholder('step', [], 'int32');
  const weights = model.weights;
  const index = new Map(weights.map((w, i) => [w, i]));
  const vars = weights.map((w, i) => variableSlot(g, `w${i}`, w.shape as number[]));
  return { native, g, plan, kernels, x, y, lr, step, weights, index, vars };
}

/** A variable with the placeholder and assign op that load its value, and its read for fetching it. */
function variableSlot(g: GraphBuilder, name: string, shape: number[]): VarSlot {
  const handle = g.variable(name, shape);
  const init = g.placeholder(`${name}/init`, shape);
  return { handle, init, assign: g.assign(handle, init), value: g.read(handle) };
}

/** The model's layers on `x`, in the training branch (dropout active, batch statistics) or the inference one. */
function forward(parts: GraphParts, training: boolean): ForwardPass {
  const { g, plan, vars, index } = parts;
  const reads = new Map<number, Ref>();
  const updates: string[] = [];
  const losses: Ref[] = [];
  const idx = (v: tf.LayerVariable) => {
    const i = index.get(v);
    if (i === undefined) throw new Error(`variable ${v.name} is not among the model's weights`);
    return i;
  };
  const values = new Map<number, Ref>([[plan.input, parts.x]]);
  for (const { layer, inputs, output } of plan.steps) {
    const graph = graphOf(layer)!;
    const xs = inputs.map((id) => values.get(id)!);
    const h = g.within(`${training ? 'train' : 'eval'}/${layer.name}`, () =>
      graph({
        g,
        x: xs[0]!,
        ...(xs.length > 1 ? { xs } : {}),
        layer,
        training,
        step: parts.step,
        kernels: parts.kernels,
        read: (v) => {
          const i = idx(v);
          if (!reads.has(i)) reads.set(i, g.read(vars[i]!.handle));
          return reads.get(i)!;
        },
        update: (v, value) => updates.push(g.assign(vars[idx(v)]!.handle, value)),
        addLoss: (t) => losses.push(t),
      }),
    );
    values.set(output, h);
  }
  return { out: values.get(plan.output)!, reads, updates, losses };
}

/** The batch mean of the loss of the output `p`. */
function meanLoss(parts: GraphParts, lossDef: (typeof graphLosses)[LossName], p: Ref, weightsPerClass?: number[]): Ref {
  const { g, y } = parts;
  return g.within('loss', () => {
    let l = lossDef.perExample(g, y, p);
    // Keras / tfjs class_weight: each example's loss times its class' weight, then the batch mean.
    if (weightsPerClass) l = g.mul(l, g.reduce('Sum', g.mul(y, g.constant(new Float32Array(weightsPerClass), [weightsPerClass.length])), [-1]));
    return g.reduce('Mean', l, [0]);
  });
}

/** The loss plus the layers' own terms (weight regularizers), when there are any. */
function withLayerLosses(g: GraphBuilder, loss: Ref, terms: Ref[]): Ref {
  if (!terms.length) return loss;
  return g.op(
    'AddN',
    [[loss, ...terms]],
    [
      ['N', 'int', terms.length + 1],
      ['T', 'type', 'float32'],
    ],
  );
}

function accuracy(parts: GraphParts, p: Ref, binary: boolean): Ref {
  const { g, y } = parts;
  const equal = (a: Ref, b: Ref, type: string) =>
    g.cast(
      g.op(
        'Equal',
        [a, b],
        [
          ['T', 'type', type],
          ['incompatible_shape_error', 'bool', true],
        ],
      ),
      'bool',
      'float32',
    );
  return g.within('accuracy', () =>
    binary
      ? g.reduce('Mean', g.reduce('Mean', equal(y, g.cast(g.op('Greater', [p, g.scalar(0.5)], [['T', 'type', 'float32']]), 'bool', 'float32'), 'float32'), [-1]), [0])
      : g.reduce('Mean', equal(g.argMax(y, -1), g.argMax(p, -1), 'int32'), [0]),
  );
}

/** The gradients of the trainable variables the training pass read, and the optimizer's update of each (with its slot variables). */
function optimizerUpdates(parts: GraphParts, model: tf.LayersModel, phase: EnginePhase, loss: Ref, train: ForwardPass) {
  const { g, weights, vars, lr } = parts;
  const trainableSet = new Set(model.trainableWeights);
  const trainableIdx = weights.map((w, i) => (trainableSet.has(w) && train.reads.has(i) ? i : -1)).filter((i) => i >= 0);
  const grads = trainableIdx.length
    ? parts.native.gradients(
        [loss],
        trainableIdx.map((i) => train.reads.get(i)!),
        'gradients',
      )
    : [];

  const optimizer = graphOptimizer(phase.optimizer);
  const scalars = Object.fromEntries(Object.keys(optimizer.stepScalars(1)).map((k) => [k, g.placeholder(k, [])]));
  const trainable: PhaseGraph['trainable'] = [];
  const applies: string[] = [];
  trainableIdx.forEach((i, k) => {
    const w = weights[i]!;
    const slots = optimizer.slots.map((s) => variableSlot(g, `w${i}/${s.suffix}`, w.shape as number[]));
    trainable.push({ index: i, name: (w.read() as tf.Variable).name, slots });
    const grad = grads[k];
    if (grad) applies.push(g.within(`update/w${i}`, () => optimizer.apply(g, { handle: vars[i]!.handle, slots: slots.map((s) => s.handle), grad }, { lr, scalars })));
  });
  return { optimizer, scalars, trainable, applies };
}

export class GraphEngine implements Engine {
  readonly name = 'graph';
  private pg?: PhaseGraph;
  private phase?: EnginePhase;
  private lr = 0.001;
  /** Optimizer steps in this phase (tfjs' `iterations`). */
  private iterations = 0;
  /** Training steps since this engine was made: the global step when the caller gives none. */
  private calls = 0;

  constructor(
    private readonly model: tf.LayersModel,
    private readonly addon: GraphAddon,
    private readonly runtime: GraphRuntime,
  ) {}

  async beginPhase(phase: EnginePhase): Promise<void> {
    if (this.pg) {
      await this.syncToModel();
      this.pg.session.close();
      this.pg = undefined;
    }
    this.pg = buildPhaseGraph(this.addon, this.model, phase, this.runtime);
    this.phase = phase;
    this.lr = phase.optimizer.learningRate;
    this.iterations = 0;
    await this.syncFromModel();
    // A new optimizer per phase, as the eager engine compiles one: slots start at their initial values.
    const pg = this.pg;
    const feeds: Feed[] = [];
    const targets: string[] = [];
    for (const t of pg.trainable) {
      const shape = pg.weights[t.index]!.shape as number[];
      t.slots.forEach((s, k) => {
        feeds.push([s.init, new Float32Array(sizeOf(shape)).fill(pg.optimizer.slots[k]!.init), shape]);
        targets.push(s.assign);
      });
    }
    if (targets.length) await pg.session.run(feeds, [], targets);
  }

  async trainBatch(xs: tf.Tensor, ys: tf.Tensor, step = this.calls): Promise<StepLogs> {
    const pg = this.need();
    this.iterations++;
    this.calls++;
    const feeds: Feed[] = [
      [pg.x, await floats(xs), xs.shape],
      [pg.y, await floats(ys), ys.shape],
      [pg.lr, new Float32Array([this.lr]), []],
      [pg.step, new Int32Array([step]), []],
    ];
    for (const [k, v] of Object.entries(pg.optimizer.stepScalars(this.iterations))) feeds.push([pg.scalars[k]!, new Float32Array([v]), []]);
    const out = await pg.session.run(feeds, pg.trainFetches, pg.trainTargets);
    return logsOf(
      pg.metricNames,
      out.map((o) => o.data[0]!),
    );
  }

  async evaluateBatch(xs: tf.Tensor, ys: tf.Tensor): Promise<StepLogs> {
    const pg = this.need();
    const out = await pg.session.run(
      [
        [pg.x, await floats(xs), xs.shape],
        [pg.y, await floats(ys), ys.shape],
      ],
      pg.evalFetches,
      [],
    );
    return logsOf(
      pg.metricNames,
      out.map((o) => o.data[0]!),
    );
  }

  getLearningRate(): number {
    return this.lr;
  }

  setLearningRate(lr: number): void {
    this.lr = lr;
  }

  async syncToModel(): Promise<void> {
    const pg = this.need();
    const out = await pg.session.run(
      [],
      pg.vars.map((v) => v.value),
      [],
    );
    pg.weights.forEach((w, i) => {
      const t = tf.tensor(out[i]!.data as Float32Array, out[i]!.shape);
      w.write(t);
      t.dispose();
    });
  }

  async syncFromModel(): Promise<void> {
    const pg = this.need();
    const feeds: Feed[] = await Promise.all(pg.weights.map(async (w, i): Promise<Feed> => [pg.vars[i]!.init, (await w.read().data()) as Float32Array, w.shape as number[]]));
    await pg.session.run(
      feeds,
      [],
      pg.vars.map((v) => v.assign),
    );
  }

  async getOptimizerState(): Promise<NamedTensor[]> {
    const pg = this.need();
    const nSlots = pg.optimizer.slots.length;
    const refs: Ref[] = [];
    for (let k = 0; k < nSlots; k++) for (const t of pg.trainable) refs.push(t.slots[k]!.value);
    const out = refs.length ? await pg.session.run([], refs, []) : [];
    const named: NamedTensor[] = [{ name: 'iter', tensor: tf.scalar(this.iterations, 'int32') }];
    let j = 0;
    for (let k = 0; k < nSlots; k++) {
      for (const t of pg.trainable) {
        named.push({ name: `${t.name}/${pg.optimizer.slots[k]!.suffix}`, tensor: tf.tensor(out[j]!.data as Float32Array, out[j]!.shape) });
        j++;
      }
    }
    return named;
  }

  async setOptimizerState(state: NamedTensor[]): Promise<void> {
    const pg = this.need();
    const [iter, ...slots] = state;
    const expected = pg.optimizer.slots.length * pg.trainable.length;
    if (!iter || slots.length !== expected) {
      throw new Error(`optimizer state has ${slots.length} slots, ${this.phase?.optimizer.name} on ${pg.trainable.length} trainable variables needs ${expected}`);
    }
    this.iterations = (await iter.tensor.data())[0]!;
    const feeds: Feed[] = [];
    const targets: string[] = [];
    let j = 0;
    for (let k = 0; k < pg.optimizer.slots.length; k++) {
      for (const t of pg.trainable) {
        const s = slots[j++]!;
        feeds.push([t.slots[k]!.init, Float32Array.from(await s.tensor.data()), s.tensor.shape]);
        targets.push(t.slots[k]!.assign);
      }
    }
    if (targets.length) await pg.session.run(feeds, [], targets);
  }

  dispose(): void {
    this.pg?.session.close();
    this.pg = undefined;
  }

  private need(): PhaseGraph {
    if (!this.pg) throw new Error('engine used before beginPhase()');
    return this.pg;
  }
}

/** A tensor's values as float32 (labels may arrive as int32 one-hot). */
async function floats(t: tf.Tensor): Promise<Float32Array> {
  const d = await t.data();
  return d instanceof Float32Array ? d : Float32Array.from(d as Int32Array);
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function logsOf(names: string[], values: number[]): StepLogs {
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? NaN]));
}
