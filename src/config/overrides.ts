import { parse as parseYaml } from 'yaml';
import type { Problem } from '../errors.js';
import { allowedKeys, experimentJsonSchema, schemaAt, type PluginKinds } from './json-schema.js';
import { stamp } from './merge.js';
import { kindOf } from './names.js';
import { ensureMeta, isMapping, setKey, type Origin } from './origins.js';
import { nearestName, suggestion } from './suggest.js';

/** Splits `a.b.0.c=value`; the value is a YAML scalar or flow collection (`16`, `1e-4`, `[3, 3]`, `{rate: 0.3}`). */
export function parseSet(text: string): { path: string[]; value: unknown } | { error: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) return { error: 'expected `path=value`, e.g. `train.epochs=5`' };
  const path = text.slice(0, eq).trim().split('.');
  if (path.some((s) => s === '')) return { error: 'the path has an empty segment' };
  try {
    return { path, value: parseYaml(text.slice(eq + 1), { strict: true, uniqueKeys: true, maxAliasCount: 10 }) ?? null };
  } catch (e) {
    return { error: `the value is not valid YAML: ${(e as Error).message.split('\n')[0]}` };
  }
}

/**
 * Applies `--set` overrides in order to a merged tree (in place). A path must exist in the schema; list
 * indices must exist in the current list. `path=null` (or an empty value) deletes the key, as in a file.
 */
export function applyOverrides(tree: Record<string, unknown>, sets: readonly string[], problems: Problem[], plugins?: PluginKinds): void {
  // With layer plugins, their arguments are paths too (`model.layers.3.scaledResidual.scale=0.7`).
  const schema = experimentJsonSchema(plugins);
  for (const text of sets) {
    const origin: Origin = { kind: 'set', text };
    const where = { file: `--set ${text}` };
    const parsed = parseSet(text);
    if ('error' in parsed) {
      problems.push({ code: 'set.syntax', message: `--set ${text}: ${parsed.error}.`, ...where });
      continue;
    }
    const { path, value } = parsed;
    if (path[0] === 'extends' || path[0] === '$schema') {
      problems.push({ code: 'set.path', message: `--set ${text}: \`${path[0]}\` belongs in the file; it cannot be overridden.`, path: path.join('.'), ...where });
      continue;
    }
    let node: unknown = tree;
    let ok = true;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      const here = path.slice(0, i);
      const last = i === path.length - 1;
      if (Array.isArray(node)) {
        const idx = Number(seg);
        if (!/^-?\d+$/.test(seg) || !node[idx < 0 ? node.length + idx : idx]) {
          problems.push({
            code: 'set.path',
            message: `--set ${text}: \`${[...here].join('.')}\` is a list of ${node.length} items; \`${seg}\` is not one of its indices (0 to ${node.length - 1}).`,
            path: path.join('.'),
            expected: `an index from 0 to ${node.length - 1}`,
            received: seg,
            ...where,
          });
          ok = false;
          break;
        }
        const j = idx < 0 ? node.length + idx : idx;
        path[i] = String(j);
        if (last) {
          node[j] = value;
          ensureMeta(node, origin).vals.set(String(j), origin);
        } else node = node[j];
        continue;
      }
      const schemas = schemaAt(schema, path.slice(0, i + 1));
      if (!schemas.length) {
        const allowed = allowedKeys(schemaAt(schema, here));
        const hint = suggestion(seg, allowed);
        const near = nearestName(seg, allowed);
        const nearest = near ? [...here, near].join('.') : here.join('.') || '(root)';
        problems.push({
          code: 'set.path',
          message: `--set ${text}: \`${path.join('.')}\` is not a config path; the nearest valid path is \`${nearest}\`.`,
          path: path.join('.'),
          expected: allowed.length ? `one of ${allowed.join(', ')}` : 'no deeper key here',
          received: seg,
          ...(hint ? { hint } : {}),
          ...where,
        });
        ok = false;
        break;
      }
      if (!isMapping(node)) {
        problems.push({
          code: 'set.path',
          message: `--set ${text}: \`${here.join('.')}\` is not a mapping here, so \`${seg}\` cannot be set inside it.`,
          path: path.join('.'),
          ...where,
        });
        ok = false;
        break;
      }
      const kind = kindOf(node);
      const single = schemaAt(schema, here).some((s) => s.maxProperties === 1);
      if (single && kind && kind !== seg) {
        problems.push({
          code: 'set.path',
          message: `--set ${text}: \`${here.join('.')}\` is a \`${kind}\` item, not \`${seg}\`; use \`${[...here, kind].join('.')}.…\`.`,
          path: path.join('.'),
          expected: kind,
          received: seg,
          ...where,
        });
        ok = false;
        break;
      }
      const meta = ensureMeta(node, origin);
      if (last) {
        if (value === null) {
          delete node[seg];
          meta.keys.delete(seg);
          meta.vals.delete(seg);
        } else {
          setKey(node, seg, value);
          meta.keys.set(seg, origin);
          meta.vals.set(seg, origin);
        }
      } else {
        if (node[seg] === undefined || node[seg] === null) {
          const child = {};
          ensureMeta(child, origin);
          setKey(node, seg, child);
          meta.keys.set(seg, origin);
          meta.vals.set(seg, origin);
        }
        node = node[seg];
      }
    }
    if (ok) stamp(value, origin);
  }
}
