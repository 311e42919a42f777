import type { Problem } from '../errors.js';

/** Where a value of the resolved config came from. */
export type Origin = { kind: 'file'; file: string; line: number; col: number } | { kind: 'set'; text: string } | { kind: 'default' };

/** Source positions of one mapping or list: its own, and those of its keys and values. */
export interface Meta {
  self: Origin;
  keys: Map<string, Origin>;
  vals: Map<string, Origin>;
}

/**
 * Positions ride along with the parsed values in a side table keyed by the containers themselves, so that
 * merging, list patches and overrides can move values around and every value still knows its file and line.
 */
const metas = new WeakMap<object, Meta>();

export function metaOf(container: object): Meta | undefined {
  return metas.get(container);
}

export function ensureMeta(container: object, self: Origin): Meta {
  let m = metas.get(container);
  if (!m) {
    m = { self, keys: new Map(), vals: new Map() };
    metas.set(container, m);
  }
  return m;
}

export function setMeta(container: object, meta: Meta): void {
  metas.set(container, meta);
}

/** Assigns without ever touching the prototype chain (a YAML key may be `__proto__`). */
export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

export function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Texts of every file read, for caret excerpts. */
export type Sources = Map<string, string>;

// The lines of the text excerpts were last taken from: a file with thousands of problems is split once.
let split: { text: string; lines: string[] } | undefined;

/** `  12 |   rate: 1.5` and a caret under the column. */
export function renderExcerpt(text: string, line: number, col: number): string {
  if (split?.text !== text) split = { text, lines: text.split(/\r?\n/) };
  const src = split.lines[line - 1];
  if (src === undefined) return '';
  const num = String(line);
  const gutter = ' '.repeat(num.length);
  return `${num} | ${src}\n${gutter} | ${' '.repeat(Math.max(0, col - 1))}^`;
}

/** The position fields of a Problem for an origin. */
export function placeOf(origin: Origin | undefined, sources: Sources): Partial<Problem> {
  if (!origin) return {};
  if (origin.kind === 'set') return { file: `--set ${origin.text}` };
  if (origin.kind === 'default') return {};
  const text = sources.get(origin.file);
  return { file: origin.file, line: origin.line, col: origin.col, ...(text !== undefined ? { excerpt: renderExcerpt(text, origin.line, origin.col) } : {}) };
}

export function describeOrigin(origin: Origin | undefined): string {
  if (!origin || origin.kind === 'default') return 'default';
  if (origin.kind === 'set') return `--set ${origin.text}`;
  return `${origin.file}:${origin.line}`;
}

/** Dotted path for messages: `model.layers.3.dropout.rate`. */
export function dotted(path: readonly (string | number)[]): string {
  return path.length ? path.join('.') : '(root)';
}

/** Origins of every node of a tree, keyed by dotted path; `key` is where the mapping key was written. */
export interface PathOrigin {
  value?: Origin;
  key?: Origin;
}

export function collectOrigins(root: unknown, rootOrigin?: Origin): Map<string, PathOrigin> {
  const out = new Map<string, PathOrigin>();
  const walk = (v: unknown, path: string, here: PathOrigin) => {
    out.set(path, here);
    if (typeof v !== 'object' || v === null) return;
    const m = metaOf(v);
    const entries: [string, unknown][] = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
    for (const [k, child] of entries) {
      walk(child, path ? `${path}.${k}` : k, { value: m?.vals.get(k) ?? (typeof child === 'object' && child ? metaOf(child)?.self : undefined), key: m?.keys.get(k) });
    }
  };
  walk(root, '', { value: rootOrigin ?? (typeof root === 'object' && root ? metaOf(root)?.self : undefined) });
  return out;
}
