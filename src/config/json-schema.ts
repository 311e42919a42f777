import { ExperimentSchema } from './schema/experiment.js';

export const JSON_SCHEMA_DRAFT = 'https://json-schema.org/draft/2020-12/schema';

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `learningRate` -> `Learning rate`, `l2` -> `L2`. */
export function titleFromKey(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/^\$/, '')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * TypeBox emits draft-07 tuples (`items: [...]`, `additionalItems`) and open records; the published schema is
 * draft 2020-12 and closed at every level, and every property gets a title (from its key) and examples
 * (its default when the source names none) so that editors can complete and document every key.
 */
function transform(node: unknown, key?: string): unknown {
  if (Array.isArray(node)) return node.map((n) => transform(n));
  if (!isObj(node)) return node;
  const out: Json = {};
  if (key !== undefined && node.title === undefined) out.title = titleFromKey(key);
  for (const [k, v] of Object.entries(node)) {
    if (k === 'properties' && isObj(v)) {
      out.properties = Object.fromEntries(Object.entries(v).map(([pk, pv]) => [pk, transform(pv, pk)]));
    } else if (k === 'patternProperties' && isObj(v)) {
      out.patternProperties = Object.fromEntries(Object.entries(v).map(([pk, pv]) => [pk, transform(pv)]));
    } else if (k === 'items' && Array.isArray(v)) {
      out.prefixItems = v.map((n) => transform(n));
    } else if (k === 'additionalItems') {
      out.items = v;
    } else {
      out[k] = transform(v);
    }
  }
  if (out.patternProperties && out.additionalProperties === undefined) out.additionalProperties = false;
  if (key !== undefined && out.examples === undefined && out.default !== undefined) out.examples = [out.default];
  return out;
}

/** A TypeBox schema as published JSON Schema (draft 2020-12). */
export function toJsonSchema(schema: unknown): Json {
  const plain = JSON.parse(JSON.stringify(schema)) as Json;
  return { $schema: JSON_SCHEMA_DRAFT, ...(transform(plain) as Json) };
}

const SCHEMA_BASE = 'https://fitspec.dev/schema/';

/** Copies of `value` with the defaults of `schema` filled in, nested ones included (as ajv's `useDefaults` does). */
function withDefaults(schema: Json, value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = schema.items;
    return isObj(items) ? value.map((v) => withDefaults(items, v)) : value;
  }
  if (!isObj(value) || !isObj(schema.properties)) return value;
  const out: Json = { ...value };
  for (const [k, ps] of Object.entries(schema.properties)) {
    if (!isObj(ps)) continue;
    if (out[k] === undefined && ps.default !== undefined) out[k] = structuredClone(ps.default);
    if (out[k] !== undefined) out[k] = withDefaults(ps, out[k]);
  }
  return out;
}

/**
 * The strict schema describes a resolved config, in which every defaulted key is present: its examples
 * (written short, for people) get their defaults so that a strict client accepts them too.
 */
function completeExamples(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(completeExamples);
  if (!isObj(node)) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === 'examples' || k === 'default' ? v : completeExamples(v);
  if (Array.isArray(out.examples)) out.examples = out.examples.map((ex) => withDefaults(out, ex));
  if (out.default !== undefined) out.default = withDefaults(out, out.default);
  return out;
}

/** A schema that also accepts `null` (which deletes an inherited key). */
function nullable(s: Json): Json {
  if (Array.isArray(s.anyOf)) return { ...s, anyOf: [...s.anyOf, { type: 'null' }] };
  const out: Json = { ...s };
  if (typeof s.type === 'string') out.type = [s.type, 'null'];
  if (Array.isArray(s.enum)) out.enum = [...s.enum, null];
  if ('const' in s) {
    delete out.const;
    out.enum = [s.const, null];
  }
  return out;
}

const PATCH_TARGET = {
  type: ['string', 'integer'],
  description:
    'The inherited item to edit: a layer name (its `name`, or the Keras-style default `conv2d`, `conv2d_1`, `max_pooling2d`, ...) or an index (negative counts from the end).',
  examples: ['conv2d_1', -1],
};

/** `{$patch: [...]}`: the edits of an inherited list, each edit's `with` checked against the list's items. */
function patchSchema(item: Json, inline: Json): Json {
  const edit = (op: string, description: string, withSchema?: Json): Json => ({
    type: 'object',
    description,
    properties: { [op]: { title: titleFromKey(op), ...PATCH_TARGET }, ...(withSchema ? { with: withSchema } : {}) },
    required: withSchema ? [op, 'with'] : [op],
    additionalProperties: false,
  });
  const newItem = { ...item, title: 'With', description: `The new item. ${String(inline.description ?? '')}`.trim() };
  return {
    type: 'array',
    title: 'Patch',
    description: 'Edits of the inherited list, applied in order; targets are looked up in the inherited list before any edit.',
    examples: [[...(Array.isArray(inline.examples) && inline.examples.length ? [{ insertBefore: 0, with: inline.examples[0] }] : []), { remove: -1 }]],
    items: {
      description: 'One edit: `update`, `replace`, `insertBefore`, `insertAfter` or `remove`, naming its target.',
      anyOf: [
        edit('update', 'Merge arguments into an inherited item; `null` deletes an argument.', {
          type: 'object',
          title: 'With',
          description: 'Arguments to merge into the item, e.g. `{filters: 64}`.',
          examples: [{ filters: 64 }],
        }),
        edit('replace', 'Replace an inherited item.', newItem),
        edit('insertBefore', 'Insert an item before the target.', newItem),
        edit('insertAfter', 'Insert an item after the target.', newItem),
        edit('remove', 'Remove an inherited item.'),
      ],
    },
  };
}

/** Shared subschemas, emitted once under `$defs`. */
class Defs {
  readonly entries: Record<string, Json> = {};
  private byText = new Map<string, string>();
  ref(name: string, schema: Json): Json {
    const text = JSON.stringify(schema);
    let key = this.byText.get(text);
    if (!key) {
      key = name;
      for (let i = 2; this.entries[key]; i++) key = `${name}${i}`;
      this.entries[key] = schema;
      this.byText.set(text, key);
    }
    return { $ref: `#/$defs/${key}` };
  }
}

/**
 * The schema an editor checks a file against, as written rather than resolved: a file may be partial
 * (it `extends` others, or is a mixin), so nothing is required where files merge; defaulted keys are
 * never required; `key: null` deletes an inherited key; an inherited list may be edited with `$patch`.
 * Unknown keys, wrong types and bad enum values are still errors. Inside list items (layers, callbacks,
 * phases), which replace inherited ones whole, an item is complete except for its defaults.
 */
function toInputSchema(node: unknown, merging: boolean, defs: Defs): unknown {
  if (Array.isArray(node)) return node.map((n) => toInputSchema(n, merging, defs));
  if (!isObj(node)) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'properties' && isObj(v)) {
      out.properties = Object.fromEntries(
        Object.entries(v).map(([pk, pv]) => {
          const sub = toInputSchema(pv, merging, defs) as Json;
          if (!merging || pk === '$schema' || pk === 'extends') return [pk, sub];
          return [pk, mergeable(sub, pk, defs)];
        }),
      );
    } else if (k === 'patternProperties' && isObj(v)) {
      out.patternProperties = Object.fromEntries(
        Object.entries(v).map(([pk, pv]) => [pk, merging ? nullable(toInputSchema(pv, true, defs) as Json) : toInputSchema(pv, false, defs)]),
      );
    } else if (k === 'items' || k === 'prefixItems') {
      out[k] = toInputSchema(v, false, defs);
    } else if (k === 'required' && Array.isArray(v)) {
      const props = isObj(node.properties) ? node.properties : {};
      const required = merging ? [] : v.filter((r) => !(isObj(props[r]) && (props[r] as Json).default !== undefined));
      if (required.length) out.required = required;
    } else if (k === 'examples' || k === 'default') {
      out[k] = v;
    } else {
      out[k] = toInputSchema(v, merging, defs);
    }
  }
  return out;
}

const ITEM_NAMES: Record<string, string> = { layers: 'layer', callbacks: 'callback', phases: 'phase' };

/** A property where files merge: `null` deletes it, and a list may instead be `{$patch: [...]}`. */
function mergeable(s: Json, key: string, defs: Defs): Json {
  if (s.type !== 'array' || !isObj(s.items)) return nullable(s);
  const { type: _t, items: inline, minItems, maxItems, uniqueItems, ...common } = s;
  // The list and its patches share one item schema (layers appear in the stack, the base and the edits),
  // named by the noun editors show in messages such as `Expected "layer"`.
  const items = (inline as Json).type === 'object' ? defs.ref(ITEM_NAMES[key] ?? `${key}Item`, inline as Json) : (inline as Json);
  return {
    ...common,
    anyOf: [
      {
        type: 'array',
        items,
        ...(minItems !== undefined ? { minItems } : {}),
        ...(maxItems !== undefined ? { maxItems } : {}),
        ...(uniqueItems !== undefined ? { uniqueItems } : {}),
      },
      { type: 'object', properties: { $patch: patchSchema(items, inline as Json) }, required: ['$patch'], additionalProperties: false },
      { type: 'null' },
    ],
  };
}

/** A TypeBox schema published for editors: defaulted keys not required (the tools fill them in). */
export function toEditorSchema(schema: unknown): Json {
  return withDefs(schema, false);
}

function withDefs(schema: unknown, merging: boolean): Json {
  const defs = new Defs();
  const out = toInputSchema(toJsonSchema(schema), merging, defs) as Json;
  return Object.keys(defs.entries).length ? { ...out, $defs: defs.entries } : out;
}

let cached: Json | undefined;
let input: Json | undefined;

/** Extra layer kinds (layer plugins): kind -> JSON Schema of its arguments. */
export type PluginKinds = Record<string, Json>;

/**
 * The experiment schema with plugin layer kinds added wherever a layer may stand (the stack, the base,
 * `$patch` edits): every single-key mapping that lists the built-in kinds.
 */
function withPluginKinds(schema: unknown, kinds: PluginKinds): unknown {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!isObj(node)) return node;
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) out[k] = walk(v);
    if (out.maxProperties === 1 && isObj(out.properties) && 'conv2d' in out.properties) out.properties = { ...out.properties, ...kinds };
    return out;
  };
  return walk(JSON.parse(JSON.stringify(schema)));
}

/** The strict schema of a resolved experiment (schema/resolved.schema.json): what `validate` checks after merging. */
export function experimentJsonSchema(plugins?: PluginKinds): Json {
  if (plugins && Object.keys(plugins).length)
    return completeExamples({ ...toJsonSchema(withPluginKinds(ExperimentSchema, plugins)), $id: `${SCHEMA_BASE}resolved.schema.json` }) as Json;
  cached ??= completeExamples({
    ...toJsonSchema(ExperimentSchema),
    $id: `${SCHEMA_BASE}resolved.schema.json`,
    title: 'fitspec resolved experiment',
    description:
      'A resolved experiment, as `fitspec resolve` prints it and runs store it: `extends`, `$patch`, overrides and defaults applied, every key present. Experiment files are checked against experiment.schema.json instead.',
  }) as Json;
  return cached;
}

/** The schema of experiment files as written (schema/experiment.schema.json, named by their modelines). */
export function inputJsonSchema(plugins?: PluginKinds): Json {
  if (plugins && Object.keys(plugins).length) return withDefs(withPluginKinds(ExperimentSchema, plugins), true);
  input ??= withDefs(ExperimentSchema, true);
  return input;
}

/** The committed file's exact text: the schema editors use (with `plugins`: a project's schema, its plugin kinds included). */
export function experimentJsonSchemaText(plugins?: PluginKinds): string {
  return JSON.stringify(inputJsonSchema(plugins), null, 2) + '\n';
}

export function resolvedJsonSchemaText(): string {
  return JSON.stringify(experimentJsonSchema(), null, 2) + '\n';
}

/** Follows `properties`, `patternProperties`, `prefixItems`, `items` and `anyOf` to the schemas a path may denote. */
export function schemaAt(root: Json, path: (string | number)[]): Json[] {
  let current: Json[] = [root];
  for (const seg of path) {
    const next: Json[] = [];
    for (const s of expand(current)) {
      // A node that accepts anything (a named block's layers, checked once substituted) has every path below it.
      if (isOpen(s)) {
        next.push(s);
        continue;
      }
      if (typeof seg === 'number' || /^\d+$/.test(String(seg))) {
        const i = Number(seg);
        if (Array.isArray(s.prefixItems)) {
          if (s.prefixItems[i]) next.push(s.prefixItems[i] as Json);
        } else if (isObj(s.items)) next.push(s.items);
      }
      if (typeof seg === 'string') {
        if (isObj(s.properties) && Object.hasOwn(s.properties, seg) && isObj(s.properties[seg])) next.push(s.properties[seg] as Json);
        else if (isObj(s.patternProperties)) {
          for (const [re, ps] of Object.entries(s.patternProperties)) if (new RegExp(re, 'u').test(seg) && isObj(ps)) next.push(ps);
        }
      }
    }
    current = next;
    if (!current.length) return [];
  }
  return expand(current);
}

const ANNOTATIONS = new Set(['title', 'description', 'examples', 'default', '$comment']);
function isOpen(s: Json): boolean {
  return Object.keys(s).every((k) => ANNOTATIONS.has(k));
}

function expand(list: Json[]): Json[] {
  const out: Json[] = [];
  for (const s of list) {
    out.push(s);
    if (Array.isArray(s.anyOf)) out.push(...expand(s.anyOf.filter(isObj)));
  }
  return out;
}

/** Keys allowed at a place in the schema (for "did you mean" and for `--set` paths). */
export function allowedKeys(schemas: Json[]): string[] {
  const keys = new Set<string>();
  for (const s of schemas) if (isObj(s.properties)) for (const k of Object.keys(s.properties)) keys.add(k);
  return [...keys];
}
