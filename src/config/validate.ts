import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Problem } from '../errors.js';
import { describeSchema, show } from './describe.js';
import { experimentJsonSchema, type PluginKinds } from './json-schema.js';
import { placeOf, type PathOrigin, type Sources } from './origins.js';
import { suggestion } from './suggest.js';
import { PACKAGE_ROOT } from '../paths.js';

type Json = Record<string, unknown>;
const require = createRequire(import.meta.url);
const OPTIONS = { allErrors: true, strict: true, useDefaults: true, verbose: true } as const;
/** Compiled validators are cached as standalone code: compiling the schema costs far more than validating. */
const CACHE_DIR = process.env.FITSPEC_CACHE_DIR ?? path.join(PACKAGE_ROOT, 'node_modules/.cache/fitspec');
const compiled = new Map<string, ValidateFunction>();

/**
 * An ajv (draft 2020-12) validator for `schema`, compiled once per process and kept as standalone code
 * under node_modules/.cache, keyed by the schema, the options and the ajv version.
 */
export function cachedValidator(name: string, schema: Json): ValidateFunction {
  const ajvVersion = (require('ajv/package.json') as { version: string }).version;
  const key = createHash('sha256')
    .update(JSON.stringify([schema, OPTIONS, ajvVersion]))
    .digest('hex')
    .slice(0, 16);
  const hit = compiled.get(key);
  if (hit) return hit;
  const file = path.join(CACHE_DIR, `${name}-validator-${key}.cjs`);
  let fn: ValidateFunction | undefined;
  try {
    fn = require(file) as ValidateFunction;
  } catch {
    // Not cached yet (or unreadable): compile below.
  }
  if (!fn) {
    const { Ajv2020 } = require('ajv/dist/2020') as typeof import('ajv/dist/2020.js');
    const ajv = new Ajv2020({ ...OPTIONS, code: { source: true } });
    fn = ajv.compile(schema);
    try {
      const standalone = (require('ajv/dist/standalone') as typeof import('ajv/dist/standalone/index.js')).default;
      mkdirSync(CACHE_DIR, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      // Runtime helpers by absolute path, so that the cached file loads from any cache folder.
      const code = standalone(ajv, fn).replace(/require\("(ajv\/dist\/runtime\/[^"]+)"\)/g, (_, m: string) => `require(${JSON.stringify(require.resolve(m))})`);
      writeFileSync(tmp, code);
      renameSync(tmp, file);
      // Validators for older versions of the schema are of no further use.
      for (const f of readdirSync(CACHE_DIR))
        if (f.startsWith(`${name}-validator-`) && f.endsWith('.cjs') && path.join(CACHE_DIR, f) !== file) rmSync(path.join(CACHE_DIR, f), { force: true });
    } catch {
      // A read-only install just compiles once per process.
    }
  }
  compiled.set(key, fn);
  return fn;
}

// With plugins, another cache name: the validator of the plain schema is not evicted by a project's.
const validator = (plugins?: PluginKinds) =>
  plugins && Object.keys(plugins).length ? cachedValidator('experiment-plugins', experimentJsonSchema(plugins)) : cachedValidator('experiment', experimentJsonSchema());

function segments(pointer: string): string[] {
  return pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function kindOfValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list ${show(v)}`;
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${show(v)}`;
  if (typeof v === 'number' && !Number.isInteger(v)) return `the number ${v}`;
  return `${typeof v === 'number' ? 'the number' : typeof v === 'boolean' ? 'the boolean' : typeof v} ${show(v)}`;
}

/**
 * For a failed `anyOf`, keeps the errors of the one branch whose type matched (the user clearly meant it),
 * or replaces them all by one "expected A, or B" problem.
 */
function collapseAnyOf(errors: ErrorObject[]): ErrorObject[] {
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf').sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  let list = errors;
  for (const a of anyOfs) {
    if (!list.includes(a)) continue;
    const prefix = a.schemaPath + '/';
    // schemaPath does not tell list items apart: the instance path must match too.
    const inside = list.filter((e) => e.schemaPath.startsWith(prefix) && (e.instancePath === a.instancePath || e.instancePath.startsWith(a.instancePath + '/')));
    const branches = new Map<string, ErrorObject[]>();
    for (const e of inside) {
      const b = e.schemaPath.slice(prefix.length).split('/')[0];
      branches.set(b, [...(branches.get(b) ?? []), e]);
    }
    const candidates = [...branches.values()].filter((errs) => !errs.some((e) => e.keyword === 'type' && e.instancePath === a.instancePath));
    list = list.filter((e) => e !== a && !inside.includes(e));
    if (candidates.length === 1) list.push(...candidates[0]);
    else list.push(a);
  }
  return list;
}

/** `model.layers.3` -> "layer kind": the noun for the key of a single-key list item. */
function nounFor(itemPath: string[]): string {
  const parent = itemPath[itemPath.length - 2];
  if (parent === 'layers') return 'layer kind';
  if (parent === 'callbacks') return 'callback kind';
  return 'kind';
}

/** Where the value (or key) at a path was written: the nearest enclosing origin that is not a default. */
function placer(origins: Map<string, PathOrigin>, sources: Sources, rootFile: string) {
  return (path: string[], preferKey = false): Partial<Problem> => {
    for (let i = path.length; i >= 0; i--) {
      const o = origins.get(path.slice(0, i).join('.'));
      const origin = preferKey || i < path.length ? (o?.key ?? o?.value) : (o?.value ?? o?.key);
      if (origin && origin.kind !== 'default') return placeOf(origin, sources);
    }
    return placeOf({ kind: 'file', file: rootFile, line: 1, col: 1 }, sources);
  };
}

/**
 * YAML's `.inf`, `-.inf` and `.nan`, anywhere in the tree: no setting takes them, and JSON (which the
 * schema checks) has no way to write them, so they are reported here as what was written.
 */
export function nonFiniteProblems(tree: unknown, origins: Map<string, PathOrigin>, sources: Sources, rootFile: string): Problem[] {
  const where = placer(origins, sources, rootFile);
  const out: Problem[] = [];
  const walk = (v: unknown, path: string[]) => {
    if (typeof v === 'number' && !Number.isFinite(v)) {
      const got = Number.isNaN(v) ? '.nan (not a number)' : v > 0 ? '.inf (infinity)' : '-.inf (minus infinity)';
      const name = path.join('.') || '(root)';
      out.push({ code: 'schema.not-finite', message: `\`${name}\` must be a finite number, got ${got}.`, path: name, expected: 'a finite number', received: got, ...where(path) });
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    }
  };
  walk(tree, []);
  return out;
}

/**
 * Validates (and fills defaults into) `data` in place. Every ajv error becomes a Problem placed at the
 * file, line and column the offending value (or key) came from.
 */
export function validateConfig(data: Json, origins: Map<string, PathOrigin>, sources: Sources, rootFile: string, plugins?: PluginKinds): Problem[] {
  const validate = validator(plugins);
  if (validate(data)) return [];
  const where = placer(origins, sources, rootFile);
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const e of collapseAnyOf(validate.errors ?? [])) {
    const path = segments(e.instancePath);
    const name = path.join('.') || '(root)';
    const parent = (e.parentSchema ?? {}) as Json;
    const received = kindOfValue(e.data);
    let p: Problem;
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = String((e.params as { additionalProperty: string }).additionalProperty);
        const allowed = Object.keys((parent.properties as Json) ?? {});
        const full = [...path, key];
        const hint = suggestion(key, allowed);
        if (parent.maxProperties === 1) {
          const noun = nounFor(path);
          p = {
            code: noun === 'layer kind' ? 'schema.unknown-layer' : noun === 'callback kind' ? 'schema.unknown-callback' : 'schema.unknown-kind',
            message: `unknown ${noun} \`${key}\` at \`${name}\`; known kinds: ${allowed.join(', ')}.`,
            path: full.join('.'),
            expected: `one of ${allowed.join(', ')}`,
            received: key,
            ...where(full, true),
          };
        } else {
          p = {
            code: 'schema.unknown-key',
            message: `unknown key \`${key}\` in \`${name}\`; allowed here: ${allowed.join(', ')}.`,
            path: full.join('.'),
            expected: `one of ${allowed.join(', ')}`,
            received: key,
            ...where(full, true),
          };
        }
        if (hint) p.hint = hint;
        break;
      }
      case 'required': {
        const key = String((e.params as { missingProperty: string }).missingProperty);
        const full = [...path, key];
        const want = describeSchema(((parent.properties as Json)?.[key] ?? {}) as Json);
        p = {
          code: 'schema.required',
          message: `\`${name}\` is missing the required key \`${key}\` (${want}).`,
          path: full.join('.'),
          expected: `\`${key}\`: ${want}`,
          received: 'nothing',
          ...where(path, true),
        };
        break;
      }
      case 'enum': {
        const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
        const hint = typeof e.data === 'string' ? suggestion(e.data, allowed) : undefined;
        p = {
          code: 'schema.enum',
          message: `\`${name}\` must be one of ${allowed.join(', ')}; got ${show(e.data)}.`,
          path: name,
          expected: `one of ${allowed.join(', ')}`,
          received: show(e.data),
          ...(hint ? { hint } : {}),
          ...where(path),
        };
        break;
      }
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum': {
        const want = describeSchema(parent);
        p = { code: 'schema.range', message: `\`${name}\` must be ${want}, got ${show(e.data)}.`, path: name, expected: want, received: show(e.data), ...where(path) };
        break;
      }
      case 'type':
      case 'const':
      case 'anyOf': {
        const want = describeSchema(e.keyword === 'anyOf' ? parent : parent);
        p = {
          code: e.keyword === 'type' ? 'schema.type' : 'schema.value',
          message: `\`${name}\` must be ${want}, got ${received}.`,
          path: name,
          expected: want,
          received: show(e.data),
          ...where(path),
        };
        const kind = path[path.length - 1];
        if (e.data === null && want === 'a mapping' && /^\d+$/.test(path[path.length - 2] ?? '')) p.hint = `write \`${kind}: {}\` for no arguments`;
        break;
      }
      case 'minProperties':
      case 'maxProperties': {
        const keys = Object.keys((e.data as Json) ?? {});
        const noun = parent.maxProperties === 1 ? nounFor(path) : '';
        p = noun
          ? {
              code: 'schema.single-key',
              message: `\`${name}\` must name exactly one ${noun} (a mapping with one key), got ${keys.length ? keys.map((k) => `\`${k}\``).join(', ') : 'an empty mapping'}; put each ${noun.replace(' kind', '')} in its own list item.`,
              path: name,
              expected: `one ${noun}`,
              received: `${keys.length} keys`,
              ...where(path),
            }
          : { code: 'schema.size', message: `\`${name}\` ${e.message}.`, path: name, ...where(path) };
        break;
      }
      case 'minItems':
      case 'maxItems':
      case 'items': {
        const n = Array.isArray(e.data) ? e.data.length : 0;
        p = {
          code: 'schema.items',
          message: `\`${name}\` must be ${describeSchema(parent)}${typeof parent.minItems === 'number' && e.keyword === 'minItems' ? ` with at least ${parent.minItems} item(s)` : ''}, got ${n} item(s).`,
          path: name,
          expected: describeSchema(parent),
          received: show(e.data),
          ...where(path),
        };
        break;
      }
      case 'uniqueItems': {
        const { i, j } = e.params as { i: number; j: number };
        p = { code: 'schema.unique', message: `\`${name}\` lists the same value twice (items ${j} and ${i}).`, path: name, received: show(e.data), ...where([...path, String(i)]) };
        break;
      }
      case 'pattern':
      case 'minLength':
      case 'maxLength': {
        const want =
          e.keyword === 'pattern'
            ? `a string matching ${(e.params as { pattern: string }).pattern}`
            : e.keyword === 'minLength'
              ? 'a non-empty string'
              : `a string of at most ${parent.maxLength} characters`;
        p = { code: 'schema.string', message: `\`${name}\` must be ${want}, got ${show(e.data)}.`, path: name, expected: want, received: show(e.data), ...where(path) };
        break;
      }
      default:
        p = { code: `schema.${e.keyword}`, message: `\`${name}\` ${e.message ?? 'is invalid'}.`, path: name, received: show(e.data), ...where(path) };
    }
    const key = `${p.code}|${p.path}|${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(p);
  }
  return problems;
}
