/**
 * Assembles a TensorFlow graph op by op through a thin native bridge (the graph engine's addon).
 * Layer kinds describe their forward pass with these helpers (src/model/layers/<kind>.ts, `graph`);
 * this module imports no TensorFlow itself, so the layer files stay loadable without the addon.
 */
import type * as tf from '@tensorflow/tfjs';

/** An op output: [op name, output index]. */
export type Ref = readonly [string, number];

type AttrKind = 'type' | 'int' | 'float' | 'bool' | 'string' | 'shape' | 'ints' | 'types' | 'tensor';
export type Attr = readonly [string, AttrKind, unknown];

/** What the addon's Graph object offers (native/graph/graph.cc). */
export interface NativeGraph {
  op(type: string, name: string, inputs: (Ref | Ref[])[], attrs?: Attr[], control?: string[]): number;
  gradients(ys: Ref[], xs: Ref[], prefix: string): (Ref | null)[];
  shape(ref: Ref): number[] | null;
  /** Every op as [name, type, inputs], for tests and debugging. */
  ops(): [string, string, Ref[]][];
}

/** A built layer's own graph builder (a layer plugin's `graph`), found before the built-in kinds by class. */
export const GRAPH_BUILDER = Symbol.for('fitspec.graph-builder');

/** A model feature the graph engine cannot express; the trainer then uses the eager engine. */
export class GraphUnsupported extends Error {}

const F: Attr = ['T', 'type', 'float32'];

export class GraphBuilder {
  private counter = 0;
  private scope = '';

  constructor(readonly native: NativeGraph) {}

  /** Ops created inside `fn` are named `<name>/...` (readable errors and graph dumps). */
  within<T>(name: string, fn: () => T): T {
    const saved = this.scope;
    this.scope = `${saved}${name}/`;
    try {
      return fn();
    } finally {
      this.scope = saved;
    }
  }

  uniqueName(type: string): string {
    return `${this.scope}${type}_${this.counter++}`;
  }

  /** Adds an op; returns its first output. */
  op(type: string, inputs: (Ref | Ref[])[], attrs: Attr[] = [], opts: { name?: string; control?: string[] } = {}): Ref {
    const name = opts.name ?? this.uniqueName(type);
    this.native.op(type, name, inputs, attrs, opts.control);
    return [name, 0];
  }

  /** Adds an op run only for its effect (assignments); returns its name. */
  target(type: string, inputs: (Ref | Ref[])[], attrs: Attr[] = [], control?: string[]): string {
    return this.op(type, inputs, attrs, { control })[0];
  }

  shape(x: Ref): number[] | null {
    return this.native.shape(x);
  }

  placeholder(name: string, shape: number[], dtype = 'float32'): Ref {
    return this.op(
      'Placeholder',
      [],
      [
        ['dtype', 'type', dtype],
        ['shape', 'shape', shape],
      ],
      { name },
    );
  }

  constant(data: Float32Array | Int32Array, shape: number[]): Ref {
    const dtype = data instanceof Int32Array ? 'int32' : 'float32';
    return this.op(
      'Const',
      [],
      [
        ['dtype', 'type', dtype],
        ['value', 'tensor', { data, shape }],
      ],
    );
  }

  scalar(v: number): Ref {
    return this.constant(new Float32Array([v]), []);
  }

  ints(v: number[]): Ref {
    return this.constant(new Int32Array(v), [v.length]);
  }

  /** A float32 resource variable; `sharedName` must be unique within the graph. */
  variable(sharedName: string, shape: number[]): Ref {
    return this.op(
      'VarHandleOp',
      [],
      [
        ['dtype', 'type', 'float32'],
        ['shape', 'shape', shape],
        ['shared_name', 'string', sharedName],
        ['container', 'string', ''],
      ],
    );
  }

  read(handle: Ref): Ref {
    return this.op('ReadVariableOp', [handle], [['dtype', 'type', 'float32']]);
  }

  assign(handle: Ref, value: Ref, control?: string[]): string {
    return this.target('AssignVariableOp', [handle, value], [['dtype', 'type', 'float32']], control);
  }

  unary(type: string, x: Ref): Ref {
    return this.op(type, [x], [F]);
  }

  binary(type: string, a: Ref, b: Ref): Ref {
    return this.op(type, [a, b], [F]);
  }

  add(a: Ref, b: Ref): Ref {
    return this.binary('AddV2', a, b);
  }

  sub(a: Ref, b: Ref): Ref {
    return this.binary('Sub', a, b);
  }

  mul(a: Ref, b: Ref): Ref {
    return this.binary('Mul', a, b);
  }

  div(a: Ref, b: Ref): Ref {
    return this.binary('RealDiv', a, b);
  }

  reduce(type: 'Sum' | 'Mean' | 'Max', x: Ref, axes: number[], keepDims = false): Ref {
    return this.op(type, [x, this.ints(axes)], [F, ['Tidx', 'type', 'int32'], ['keep_dims', 'bool', keepDims]]);
  }

  reshape(x: Ref, shape: number[]): Ref {
    return this.op('Reshape', [x, this.ints(shape)], [F, ['Tshape', 'type', 'int32']]);
  }

  matmul(a: Ref, b: Ref): Ref {
    return this.op('MatMul', [a, b], [F, ['transpose_a', 'bool', false], ['transpose_b', 'bool', false]]);
  }

  biasAdd(x: Ref, b: Ref): Ref {
    return this.op('BiasAdd', [x, b], [F, ['data_format', 'string', 'NHWC']]);
  }

  cast(x: Ref, from: string, to: string): Ref {
    return this.op(
      'Cast',
      [x],
      [
        ['SrcT', 'type', from],
        ['DstT', 'type', to],
        ['Truncate', 'bool', false],
      ],
    );
  }

  argMax(x: Ref, axis: number): Ref {
    return this.op('ArgMax', [x, this.constant(new Int32Array([axis]), [])], [F, ['Tidx', 'type', 'int32'], ['output_type', 'type', 'int32']]);
  }

  /** tfjs / Keras activation by its tfjs name. */
  activation(name: string, x: Ref): Ref {
    const op = UNARY_ACTIVATIONS.get(name);
    if (op) return this.unary(op, x);
    switch (name) {
      case 'linear':
        return x;
      case 'swish':
        return this.mul(x, this.unary('Sigmoid', x));
      case 'mish':
        return this.mul(x, this.unary('Tanh', this.unary('Softplus', x)));
      case 'hardSigmoid':
        // tfjs: clip(0.2 x + 0.5, 0, 1)
        return this.binary('Minimum', this.binary('Maximum', this.add(this.mul(x, this.scalar(0.2)), this.scalar(0.5)), this.scalar(0)), this.scalar(1));
      case 'gelu':
        // tfjs: 0.5 x (1 + erf(x / sqrt 2))
        return this.mul(this.mul(x, this.scalar(0.5)), this.add(this.scalar(1), this.unary('Erf', this.mul(x, this.scalar(Math.SQRT1_2)))));
      default:
        throw new GraphUnsupported(`activation \`${name}\``);
    }
  }
}

/** Activations that are one TensorFlow op of the same meaning. */
const UNARY_ACTIVATIONS = new Map<string, string>([
  ['relu', 'Relu'],
  ['relu6', 'Relu6'],
  ['elu', 'Elu'],
  ['selu', 'Selu'],
  ['sigmoid', 'Sigmoid'],
  ['tanh', 'Tanh'],
  ['softplus', 'Softplus'],
  ['softsign', 'Softsign'],
  ['softmax', 'Softmax'],
]);

/** What a layer kind's graph builder receives: its tfjs layer (configuration and variables) and its input. */
export interface GraphLayerContext {
  g: GraphBuilder;
  x: Ref;
  /** Every input, for layers with several (merges); `x` is the first. */
  xs?: Ref[];
  layer: tf.layers.Layer;
  /** Training branch (dropout active, batch statistics) or inference branch. */
  training: boolean;
  /**
   * The run's global training step (int32 scalar, fed at every step). Random ops take their seed from
   * it through TensorFlow's stateless kernels, so a draw depends on the step alone, not on how long
   * the session has lived: a resumed run draws exactly what the uninterrupted run drew.
   */
  step: Ref;
  /**
   * TensorFlow's CPU kernels the session runs on. A layer may pick the formulation that is fast on
   * them (the same values either way, up to float rounding).
   */
  kernels: 'oneDNN' | 'Eigen';
  /** The current value of one of the layer's variables. */
  read(v: tf.LayerVariable): Ref;
  /** Assigns a non-trainable variable at each training step (moving statistics). */
  update(v: tf.LayerVariable, value: Ref): void;
  /** Adds a term to the loss (weight regularizers). */
  addLoss(term: Ref): void;
}

/** tfjs layer configuration, as getConfig() returns it. */
export function layerConfig(layer: tf.layers.Layer): Record<string, unknown> {
  return layer.getConfig() as Record<string, unknown>;
}

export function pair(v: unknown): [number, number] {
  if (Array.isArray(v)) return [Number(v[0]), Number(v[1] ?? v[0])];
  return [Number(v), Number(v)];
}

export function tfPadding(p: unknown): 'SAME' | 'VALID' {
  if (p === 'same') return 'SAME';
  if (p === 'valid' || p === undefined) return 'VALID';
  throw new GraphUnsupported(`padding \`${String(p)}\``);
}

export function channelsLast(cfg: Record<string, unknown>, what: string): void {
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') throw new GraphUnsupported(`${what} with dataFormat ${String(cfg.dataFormat)}`);
}

/** l1/l2 weight penalty, as tfjs' L1L2 regularizer adds it to the loss (Keras: the evaluation loss too). */
export function regularize(ctx: GraphLayerContext, cfg: unknown, w: Ref): void {
  if (!cfg) return;
  const c = (cfg as { config?: { l1?: number; l2?: number }; className?: string }).config ?? {};
  const { g } = ctx;
  const axes = (g.shape(w) ?? []).map((_, i) => i);
  if (c.l1) ctx.addLoss(g.mul(g.scalar(c.l1), g.reduce('Sum', g.unary('Abs', w), axes)));
  if (c.l2) ctx.addLoss(g.mul(g.scalar(c.l2), g.reduce('Sum', g.unary('Square', w), axes)));
}

/** Conv2D / DepthwiseConv2dNative with tfjs' strides, padding, dilation, bias and activation. */
export function convolution(ctx: GraphLayerContext, op: 'Conv2D' | 'DepthwiseConv2dNative', kernel: Ref, bias: tf.LayerVariable | null | undefined): Ref {
  const { g } = ctx;
  const c = layerConfig(ctx.layer);
  channelsLast(c, op);
  const [sh, sw] = pair(c.strides);
  const [dh, dw] = pair(c.dilationRate ?? 1);
  let y = g.op(
    op,
    [ctx.x, kernel],
    [
      ['T', 'type', 'float32'],
      ['strides', 'ints', [1, sh, sw, 1]],
      ['padding', 'string', tfPadding(c.padding)],
      ['data_format', 'string', 'NHWC'],
      ['dilations', 'ints', [1, dh, dw, 1]],
    ],
  );
  if (c.useBias && bias) y = g.biasAdd(y, ctx.read(bias));
  return g.activation(String(c.activation), y);
}

/** MaxPool / AvgPool with tfjs' poolSize, strides (default: poolSize) and padding. */
export function pooling(ctx: GraphLayerContext, op: 'MaxPool' | 'AvgPool'): Ref {
  const c = layerConfig(ctx.layer);
  channelsLast(c, op);
  const [ph, pw] = pair(c.poolSize);
  const [sh, sw] = pair(c.strides ?? c.poolSize);
  return ctx.g.op(
    op,
    [ctx.x],
    [
      ['T', 'type', 'float32'],
      ['ksize', 'ints', [1, ph, pw, 1]],
      ['strides', 'ints', [1, sh, sw, 1]],
      ['padding', 'string', tfPadding(c.padding)],
      ['data_format', 'string', 'NHWC'],
    ],
  );
}
