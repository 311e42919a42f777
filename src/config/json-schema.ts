import { ExperimentSchema } from './schema/experiment.js';

export const JSON_SCHEMA_DRAFT = 'https://json-schema.org/draft/2020-12/schema';

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `learningRate` -> `Learning rate`, `l2` -> `L2`. */
export function titleFromKey(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/^\$/, '').toLowerCase();
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

let cached: Json | undefined;

/** The experiment JSON Schema, as published in schema/experiment.schema.json. */
export function experimentJsonSchema(): Json {
  cached ??= toJsonSchema(ExperimentSchema);
  return cached;
}

/** The committed file's exact text. */
export function experimentJsonSchemaText(): string {
  return JSON.stringify(experimentJsonSchema(), null, 2) + '\n';
}

/** Follows `properties`, `patternProperties`, `prefixItems`, `items` and `anyOf` to the schemas a path may denote. */
export function schemaAt(root: Json, path: (string | number)[]): Json[] {
  let current: Json[] = [root];
  for (const seg of path) {
    const next: Json[] = [];
    for (const s of expand(current)) {
      if (typeof seg === 'number' || /^\d+$/.test(String(seg))) {
        const i = Number(seg);
        if (Array.isArray(s.prefixItems)) {
          if (s.prefixItems[i]) next.push(s.prefixItems[i] as Json);
        } else if (isObj(s.items)) next.push(s.items);
      }
      if (typeof seg === 'string') {
        if (isObj(s.properties) && isObj(s.properties[seg])) next.push(s.properties[seg] as Json);
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
