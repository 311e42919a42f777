/**
 * Blocks of a layer stack (`residual`, `parallel`, `block` uses of named blocks) turned into a network:
 * a list of nodes in build order, each one layer or merge with the nodes it reads. Named blocks are
 * instantiated here, their `${param}` placeholders substituted, so that `validate` checks every use's
 * layers and shapes without TensorFlow; src/model/build.ts builds exactly these nodes.
 */
import { BLOCK_KINDS, MERGES } from './schema/layers.js';
import { outputShape, type PluginShapes, type Shape } from './checks/shapes.js';
import { kindOf, snakeCase } from './names.js';

type Obj = Record<string, unknown>;
export type Path = (string | number)[];
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export type Merge = (typeof MERGES)[number];

export interface NetNode {
  /** Layer name: the explicit `name`, else Keras-style numbered per kind in the order written. */
  name: string;
  /** A layer kind of the schema, or a merge (`add`, `concatenate`, `multiply`). */
  kind: string;
  /** The layer's arguments, placeholders substituted (merges: `axis`). */
  args: Obj;
  /** Indices of the nodes this node reads; -1 is the network input. */
  inputs: number[];
  /** Where the layer is written: its entry in the config (inside a block definition for named blocks). */
  path: Path;
  /** The `block` use that produced the node, if any. */
  via?: Path;
  /** Output shape without the batch axis; undefined once a shape could not be computed. */
  shape?: Shape;
}

export interface NetProblem {
  code: string;
  message: string;
  path: Path;
  atKey?: boolean;
  expected?: string;
  received?: string;
}

export interface Network {
  nodes: NetNode[];
  /** The node whose output is the network's (-1: the input itself). */
  output: number;
  /** True when the stack has no block: it builds as a Keras Sequential, exactly as before blocks existed. */
  plain: boolean;
  /** Input shape of each top-level entry of the stack (for the stack-level checks). */
  entryInputs: (Shape | undefined)[];
  problems: NetProblem[];
}

export interface BlockDefT {
  description?: string;
  params?: Record<string, { default?: unknown; description?: string }>;
  layers: unknown[];
}

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const WHOLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
/** How deep named blocks may use one another (a cycle shows as this depth). */
const MAX_DEPTH = 16;

export function isBlockEntry(entry: unknown): boolean {
  const k = kindOf(entry);
  return k !== undefined && (BLOCK_KINDS as readonly string[]).includes(k);
}

/** True when no entry of the stack is a block. */
export function isPlainStack(layers: readonly unknown[]): boolean {
  return !layers.some(isBlockEntry);
}

/** `value` with every `${param}` replaced: a whole-string placeholder by the value itself, an embedded one by its text. */
export function substitute(value: unknown, params: Obj, path: Path, problems: NetProblem[]): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole) {
      if (!Object.hasOwn(params, whole[1]!)) {
        problems.push({
          code: 'check.block-param',
          message: `\`${value}\` names no parameter of the block; its parameters are ${
            Object.keys(params)
              .filter((p) => p !== 'repetition')
              .join(', ') || 'none'
          } (and \`repetition\`).`,
          path,
          received: value,
        });
        return value;
      }
      return params[whole[1]!];
    }
    return value.replace(PLACEHOLDER, (m, name: string) => {
      if (!Object.hasOwn(params, name)) {
        problems.push({
          code: 'check.block-param',
          message: `\`${m}\` names no parameter of the block; its parameters are ${
            Object.keys(params)
              .filter((p) => p !== 'repetition')
              .join(', ') || 'none'
          } (and \`repetition\`).`,
          path,
          received: m,
        });
        return m;
      }
      return String(params[name]);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, params, [...path, i], problems));
  if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, params, [...path, k], problems)]));
  return value;
}

/** Shape of a merge of `shapes`, as Keras computes it; a message when they do not fit. */
function mergeShape(merge: Merge, shapes: Shape[], axis: number): Shape | string {
  const show = (s: Shape) => `(batch, ${s.join(', ')})`;
  if (merge === 'concatenate') {
    const rank = shapes[0]!.length;
    const ax = axis < 0 ? axis + rank + 1 : axis;
    if (ax < 1 || ax > rank) return `axis ${axis} is outside inputs of rank ${rank + 1}`;
    const bad = shapes.find((s) => s.length !== rank || s.some((d, i) => i !== ax - 1 && d !== shapes[0]![i]));
    if (bad) return `concatenate needs equal shapes except on axis ${axis}; received ${shapes.map(show).join(' and ')}`;
    return shapes[0]!.map((d, i) => (i === ax - 1 ? shapes.reduce((n, s) => n + s[i]!, 0) : d));
  }
  // add / multiply broadcast as Keras' merge layers do: the same rank, each dimension equal or 1.
  const rank = Math.max(...shapes.map((s) => s.length));
  if (shapes.some((s) => s.length !== rank)) return `${merge} needs inputs of the same rank; received ${shapes.map(show).join(' and ')}`;
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    const dims = new Set(shapes.map((s) => s[i]!).filter((d) => d !== 1));
    if (dims.size > 1) return `${merge} needs equal shapes (or 1 where they differ); received ${shapes.map(show).join(' and ')}`;
    out.push(dims.size ? [...dims][0]! : 1);
  }
  return out;
}

/**
 * The network of a layer stack: nodes in build order, merges included, default names numbered across
 * the whole network as Keras numbers layers (`conv2d`, `conv2d_1`, ...), shapes from `input`.
 */
export function buildNetwork(layers: readonly unknown[], blocks: Record<string, BlockDefT> | undefined, root: Path, input?: Shape, plugins?: PluginShapes): Network {
  const nodes: NetNode[] = [];
  const problems: NetProblem[] = [];
  const counters = new Map<string, number>();
  const entryInputs: (Shape | undefined)[] = [];
  let shapesBroken = !input;
  const shapeOf = (id: number): Shape | undefined => (id < 0 ? input : nodes[id]!.shape);

  const nameFor = (kind: string, explicit: unknown): string => {
    if (typeof explicit === 'string' && explicit) return explicit;
    const base = snakeCase(kind);
    const n = counters.get(base) ?? 0;
    counters.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  };

  const push = (node: Omit<NetNode, 'shape'>, shape: () => Shape | string | undefined, at: Path): number => {
    let s: Shape | undefined;
    if (!shapesBroken) {
      const r = shape();
      if (typeof r === 'string') {
        problems.push({ code: 'check.block-shape', message: `\`${node.name}\`: ${r}.`, path: at, atKey: true });
        shapesBroken = true;
      } else if (r?.some((d) => !(d >= 1))) {
        problems.push({
          code: 'check.spatial-size',
          message: `\`${node.name}\` gets input (batch, ${shapeOf(node.inputs[0]!)?.join(', ')}) and would output (batch, ${r.join(', ')}); use larger images (\`data.image\`), \`padding: same\` or fewer pooling layers.`,
          path: at,
          atKey: true,
          expected: 'every dimension >= 1',
          received: `(batch, ${r.join(', ')})`,
        });
        shapesBroken = true;
      } else s = r;
    }
    nodes.push({ ...node, ...(s ? { shape: s } : {}) });
    return nodes.length - 1;
  };

  const stack = (entries: unknown, from: number, path: Path, via: Path | undefined, depth: number, top = false): number => {
    if (!Array.isArray(entries)) {
      problems.push({ code: 'check.block-syntax', message: 'expected a list of layers.', path, received: JSON.stringify(entries) });
      return from;
    }
    let cur = from;
    entries.forEach((entry, i) => {
      if (top) entryInputs.push(shapesBroken ? undefined : shapeOf(cur));
      cur = one(entry, cur, [...path, i], via, depth);
    });
    return cur;
  };

  const one = (entry: unknown, from: number, path: Path, via: Path | undefined, depth: number): number => {
    const kind = kindOf(entry);
    if (!kind) {
      problems.push({ code: 'check.block-syntax', message: 'each entry is a mapping with one key, a layer kind or `residual`, `parallel`, `block`.', path });
      return from;
    }
    const raw = (entry as Obj)[kind];
    const args: Obj = isObj(raw) ? raw : {};
    const at = [...path, kind];
    if (kind === 'residual') {
      const out = stack(args.layers, from, [...at, 'layers'], via, depth);
      const short = args.shortcut === undefined ? from : stack(args.shortcut, from, [...at, 'shortcut'], via, depth);
      const ins = [short, out];
      return push(
        { name: nameFor('add', args.name), kind: 'add', args: {}, inputs: ins, path, via },
        () =>
          mergeShape(
            'add',
            ins.map((i) => shapeOf(i)!),
            -1,
          ),
        at,
      );
    }
    if (kind === 'parallel') {
      const merge = args.merge as Merge;
      if (!(MERGES as readonly string[]).includes(merge)) {
        problems.push({ code: 'check.block-syntax', message: `\`merge\` is one of ${MERGES.join(', ')}.`, path: [...at, 'merge'], received: String(merge) });
        return from;
      }
      const branches = Array.isArray(args.branches) ? args.branches : [];
      if (branches.length < 2) problems.push({ code: 'check.block-syntax', message: '`parallel` needs at least two `branches`.', path: [...at, 'branches'] });
      const ins = branches.map((b, j) => stack(b, from, [...at, 'branches', j], via, depth));
      const axis = typeof args.axis === 'number' ? args.axis : -1;
      return push(
        { name: nameFor(merge, args.name), kind: merge, args: merge === 'concatenate' ? { axis } : {}, inputs: ins, path, via },
        () =>
          mergeShape(
            merge,
            ins.map((i) => shapeOf(i)!),
            axis,
          ),
        at,
      );
    }
    if (kind === 'block') return use(args, from, path, depth);
    // A plain layer kind; the schema (inline) or the block check (named blocks) validates its arguments.
    return push({ name: nameFor(kind, args.name), kind, args, inputs: [from], path, via }, () => outputShape({ [kind]: args } as never, shapeOf(from)!, plugins), at);
  };

  const use = (args: Obj, from: number, path: Path, depth: number): number => {
    const name = String(args.use);
    const def = blocks && Object.hasOwn(blocks, name) ? blocks[name] : undefined;
    const at = [...path, 'block', 'use'];
    if (!def) {
      const known = Object.keys(blocks ?? {});
      problems.push({
        code: 'check.unknown-block',
        message: `no block named \`${name}\`; ${known.length ? `\`blocks\` defines ${known.join(', ')}` : 'define it under `blocks`'}.`,
        path: at,
        received: name,
      });
      return from;
    }
    if (depth >= MAX_DEPTH) {
      problems.push({ code: 'check.block-cycle', message: `block \`${name}\` uses blocks more than ${MAX_DEPTH} levels deep (does it use itself?).`, path: at });
      return from;
    }
    const declared = def.params ?? {};
    const given = isObj(args.with) ? args.with : {};
    const reps: Obj[] = Array.isArray(args.repeat) ? (args.repeat as Obj[]) : Array.from({ length: typeof args.repeat === 'number' ? args.repeat : 1 }, () => ({}));
    let cur = from;
    reps.forEach((rep, r) => {
      const repPath = Array.isArray(args.repeat) ? [...path, 'block', 'repeat', r] : [...path, 'block', 'with'];
      // A use's values may count the repetitions: `id: 'unit${repetition}'`.
      const values = substitute({ ...given, ...(isObj(rep) ? rep : {}) }, { repetition: r + 1 }, repPath, problems) as Obj;
      for (const k of Object.keys(values)) {
        if (!Object.hasOwn(declared, k))
          problems.push({
            code: 'check.block-param',
            message: `block \`${name}\` has no parameter \`${k}\`; its parameters are ${Object.keys(declared).join(', ') || 'none'}.`,
            path: [...repPath, k],
            atKey: true,
            received: k,
          });
      }
      const params: Obj = { repetition: r + 1 };
      let missing = false;
      for (const [p, d] of Object.entries(declared)) {
        if (Object.hasOwn(values, p)) params[p] = values[p];
        else if (isObj(d) && Object.hasOwn(d, 'default')) params[p] = d.default;
        else {
          problems.push({
            code: 'check.block-param',
            message: `block \`${name}\` needs a value for its parameter \`${p}\` (it has no default).`,
            path: [...path, 'block'],
            atKey: true,
            expected: p,
          });
          missing = true;
        }
      }
      if (missing) return;
      const defPath: Path = ['model', 'blocks', name, 'layers'];
      const layers = substitute(def.layers, params, blocksPath(root, defPath), problems);
      cur = stack(layers, cur, blocksPath(root, defPath), path, depth + 1);
    });
    return cur;
  };

  const output = stack(layers, -1, root, undefined, 0, true);
  return { nodes, output, plain: isPlainStack(layers), entryInputs, problems };
}

/** `model.blocks.X` for the top stack, `model.base.blocks.X` for the base's. */
function blocksPath(root: Path, defPath: Path): Path {
  return root[1] === 'base' ? ['model', 'base', 'blocks', ...defPath.slice(2)] : defPath;
}

/** Names in the order of the network's nodes, for messages and `unfreezeFrom`. */
export function networkNames(net: Network): string[] {
  return net.nodes.map((n) => n.name);
}
