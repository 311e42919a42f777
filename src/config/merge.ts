import type { Problem } from '../errors.js';
import { defaultLayerNames, kindOf } from './names.js';
import { dotted, ensureMeta, isMapping, metaOf, placeOf, setKey, setMeta, type Meta, type Origin, type Sources } from './origins.js';
import { suggestion } from './suggest.js';

/** Marker key that turns a mapping into a list of edits of an inherited list. */
export const PATCH_KEY = '$patch';
export const PATCH_OPS = ['update', 'replace', 'insertBefore', 'insertAfter', 'remove'] as const;
type PatchOp = (typeof PATCH_OPS)[number];

export interface MergeContext {
  problems: Problem[];
  sources: Sources;
}

function copyMeta(from: object | undefined): Meta {
  const m = from ? metaOf(from) : undefined;
  return { self: m?.self ?? { kind: 'default' }, keys: new Map(m?.keys), vals: new Map(m?.vals) };
}

/** A copy of a parsed tree that keeps its positions, so that overrides never touch a cached file. */
export function cloneTracked<T>(v: T): T {
  if (Array.isArray(v)) {
    const out = v.map((x) => cloneTracked(x));
    setMeta(out, copyMeta(v));
    return out as T;
  }
  if (isMapping(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) setKey(out, k, cloneTracked(x));
    setMeta(out, copyMeta(v));
    return out as T;
  }
  return v;
}

/** Gives every container of a value (from `--set`) the same origin. */
export function stamp(v: unknown, origin: Origin): void {
  if (typeof v !== 'object' || v === null) return;
  const m = ensureMeta(v, origin);
  const entries: [string, unknown][] = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
  for (const [k, x] of entries) {
    m.keys.set(k, origin);
    m.vals.set(k, origin);
    stamp(x, origin);
  }
}

/**
 * Merges `over` onto `base` (JSON Merge Patch, RFC 7396, plus list edits): mappings merge key by key,
 * `key: null` deletes an inherited key, any other value (lists included) replaces the inherited one whole,
 * and `{$patch: [...]}` edits an inherited list item by item. Neither input is modified.
 */
export function mergeMaps(base: Record<string, unknown>, over: Record<string, unknown>, path: (string | number)[], ctx: MergeContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const meta = copyMeta(base);
  const om = metaOf(over);
  if (om) meta.self = om.self;
  for (const [k, v] of Object.entries(base)) setKey(out, k, v);
  for (const [k, ov] of Object.entries(over)) {
    const inherited = Object.hasOwn(out, k);
    if (ov === null && inherited) {
      delete out[k];
      meta.keys.delete(k);
      meta.vals.delete(k);
      continue;
    }
    let result: unknown = ov;
    if (isMapping(ov) && Object.hasOwn(ov, PATCH_KEY)) result = applyPatch(inherited ? out[k] : undefined, ov, [...path, k], ctx);
    else if (isMapping(ov) && inherited && isMapping(out[k])) result = mergeMaps(out[k] as Record<string, unknown>, ov, [...path, k], ctx);
    else if (isMapping(ov)) result = mergeMaps({}, ov, [...path, k], ctx);
    setKey(out, k, result);
    if (om?.keys.has(k)) meta.keys.set(k, om.keys.get(k)!);
    if (om?.vals.has(k)) meta.vals.set(k, om.vals.get(k)!);
  }
  setMeta(out, meta);
  return out;
}

function originAt(container: object, key: string): Origin | undefined {
  return metaOf(container)?.vals.get(key) ?? metaOf(container)?.self;
}

/**
 * `$patch` edits: each a mapping with one operation naming its target, by layer name (explicit `name` or the
 * Keras-style default) or by index (negative counts from the end), plus `with`:
 * `update: NAME, with: {ARGS}` merges arguments into a layer; `replace: NAME, with: LAYER`;
 * `insertBefore: NAME, with: LAYER`; `insertAfter: NAME, with: LAYER`; `remove: NAME`.
 * Targets are looked up in the inherited list, before any edit.
 */
function applyPatch(base: unknown, patch: Record<string, unknown>, path: (string | number)[], ctx: MergeContext): unknown {
  const problem = (code: string, message: string, origin: Origin | undefined, extra: Partial<Problem> = {}) => {
    ctx.problems.push({ code, message, path: dotted(path), ...placeOf(origin, ctx.sources), ...extra });
  };
  const patchOrigin = originAt(patch, PATCH_KEY);
  const patchKey = metaOf(patch)?.keys.get(PATCH_KEY) ?? patchOrigin;
  const extra = Object.keys(patch).filter((k) => k !== PATCH_KEY);
  if (extra.length) problem('extends.patch-syntax', `a \`${PATCH_KEY}\` mapping holds only the list of edits; move \`${extra[0]}\` elsewhere.`, metaOf(patch)?.keys.get(extra[0]));
  if (!Array.isArray(base)) {
    problem(
      'extends.patch-without-base',
      `\`${PATCH_KEY}\` edits an inherited list, but \`${dotted(path)}\` inherits ${base === undefined ? 'nothing' : 'no list'}; write the list itself, or check \`extends\`.`,
      patchKey,
    );
    return base;
  }
  const ops = patch[PATCH_KEY];
  if (!Array.isArray(ops)) {
    problem('extends.patch-syntax', `\`${PATCH_KEY}\` must be a list of edits such as \`- update: conv2d_1\` + \`with: {filters: 64}\`.`, patchOrigin, {
      expected: 'a list',
      received: typeof ops,
    });
    return base;
  }
  const names = defaultLayerNames(base);
  const baseMeta = metaOf(base);
  type Slot = { item: unknown; origin?: Origin };
  const slots: Slot[] = base.map((item, i) => ({ item, origin: baseMeta?.vals.get(String(i)) }));
  const targets = [...slots];
  const find = (sel: unknown, origin: Origin | undefined): Slot | undefined => {
    if (typeof sel === 'number' && Number.isInteger(sel)) {
      const t = targets[sel < 0 ? targets.length + sel : sel];
      if (!t)
        problem('extends.patch-target', `index ${sel} is outside the inherited list of ${targets.length} items.`, origin, {
          expected: `an index from 0 to ${targets.length - 1}, or a name`,
          received: String(sel),
        });
      return t;
    }
    if (typeof sel === 'string') {
      const i = names.indexOf(sel);
      if (i >= 0) return targets[i];
      const hint = suggestion(sel, names);
      problem('extends.patch-target', `no item named \`${sel}\` in the inherited \`${dotted(path)}\`; names are ${names.join(', ')}.`, origin, {
        expected: 'a layer name or index',
        received: sel,
        ...(hint ? { hint } : {}),
      });
      return undefined;
    }
    problem('extends.patch-target', 'a patch target is a layer name or an index.', origin, { received: JSON.stringify(sel) });
    return undefined;
  };
  ops.forEach((op, j) => {
    const opOrigin = originAt(ops, String(j));
    if (!isMapping(op)) {
      problem('extends.patch-syntax', `each \`${PATCH_KEY}\` entry is a mapping such as \`{remove: dropout}\`.`, opOrigin);
      return;
    }
    const kinds = Object.keys(op).filter((k) => (PATCH_OPS as readonly string[]).includes(k)) as PatchOp[];
    const unknown = Object.keys(op).filter((k) => k !== 'with' && !(PATCH_OPS as readonly string[]).includes(k));
    for (const u of unknown) {
      const hint = suggestion(u, [...PATCH_OPS, 'with']);
      problem('extends.patch-syntax', `unknown patch key \`${u}\`; an edit is one of ${PATCH_OPS.join(', ')} (with \`with\`).`, metaOf(op)?.keys.get(u), {
        received: u,
        ...(hint ? { hint } : {}),
      });
    }
    if (kinds.length !== 1) {
      if (!unknown.length)
        problem('extends.patch-syntax', `each edit names exactly one operation (${PATCH_OPS.join(', ')}), got ${kinds.length ? kinds.join(', ') : 'none'}.`, opOrigin);
      return;
    }
    const kind = kinds[0];
    const needsWith = kind !== 'remove';
    if (needsWith !== Object.hasOwn(op, 'with')) {
      problem(
        'extends.patch-syntax',
        needsWith ? `\`${kind}\` needs \`with\`: the ${kind === 'update' ? 'arguments to change' : 'new layer'}.` : '`remove` takes no `with`.',
        opOrigin,
      );
      return;
    }
    const target = find(op[kind], originAt(op, kind));
    if (!target) return;
    const at = slots.indexOf(target);
    if (at < 0) {
      problem('extends.patch-target', `\`${String(op[kind])}\` was already removed or replaced by an earlier edit.`, originAt(op, kind));
      return;
    }
    const withValue = op.with;
    const withOrigin = originAt(op, 'with');
    if (kind === 'remove') slots.splice(at, 1);
    else if (kind === 'update') {
      const itemKind = kindOf(target.item);
      if (!itemKind || !isMapping(withValue)) {
        problem('extends.patch-syntax', '`update` merges a mapping of arguments into a single-key item, e.g. `with: {filters: 64}`; use `replace` to change the kind.', withOrigin);
        return;
      }
      const item = target.item as Record<string, unknown>;
      const args = isMapping(item[itemKind]) ? (item[itemKind] as Record<string, unknown>) : {};
      const merged = mergeMaps({ [itemKind]: args }, { [itemKind]: withValue }, [...path, at], ctx);
      const mm = metaOf(merged)!;
      const im = metaOf(item);
      mm.self = im?.self ?? mm.self;
      mm.keys.set(itemKind, im?.keys.get(itemKind) ?? mm.self);
      mm.vals.set(itemKind, im?.vals.get(itemKind) ?? mm.self);
      slots[at] = { item: merged, origin: target.origin };
      targets[targets.indexOf(target)] = slots[at];
    } else {
      const item = isMapping(withValue) ? mergeMaps({}, withValue, [...path, at], ctx) : withValue;
      const slot = { item, origin: withOrigin };
      if (kind === 'replace') {
        slots[at] = slot;
        targets[targets.indexOf(target)] = slot;
      } else slots.splice(kind === 'insertBefore' ? at : at + 1, 0, slot);
    }
  });
  const out = slots.map((s) => s.item);
  const meta: Meta = { self: patchOrigin ?? baseMeta?.self ?? { kind: 'default' }, keys: new Map(), vals: new Map() };
  slots.forEach((s, i) => s.origin && meta.vals.set(String(i), s.origin));
  setMeta(out, meta);
  return out;
}
