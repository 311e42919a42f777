import path from 'node:path';
import { Document, isMap, isPair, isScalar, isSeq, type Node } from 'yaml';
import { PACKAGE_ROOT } from '../paths.js';
import { experimentJsonSchema } from './json-schema.js';
import { describeOrigin, type PathOrigin } from './origins.js';

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reorders keys as the schema lists them (unknown keys, e.g. tags, sorted), so equal configs print alike. */
export function orderBySchema(value: unknown, schema: Json = experimentJsonSchema()): unknown {
  if (Array.isArray(value)) {
    const item = isObj(schema.items) ? schema.items : {};
    return value.map((v, i) => orderBySchema(v, Array.isArray(schema.prefixItems) && isObj(schema.prefixItems[i]) ? (schema.prefixItems[i] as Json) : item));
  }
  if (!isObj(value)) return value;
  const props = isObj(schema.properties) ? schema.properties : {};
  const known = Object.keys(props).filter((k) => k in value);
  const rest = Object.keys(value)
    .filter((k) => !(k in props))
    .sort();
  const out: Json = {};
  for (const k of [...known, ...rest]) {
    const sub = isObj(props[k]) ? (props[k] as Json) : isObj(schema.patternProperties) ? ((Object.values(schema.patternProperties)[0] as Json) ?? {}) : {};
    out[k] = orderBySchema(value[k], sub);
  }
  return out;
}

function document(value: unknown): Document {
  const doc = new Document(value);
  // Short lists of scalars (kernel sizes, class names) read better inline.
  const flowShort = (node: Node | null | undefined) => {
    if (isMap(node)) {
      if (!node.items.length) node.flow = true;
      node.items.forEach((p) => flowShort(p.value as Node));
    } else if (isSeq(node)) {
      if (node.items.every((i) => isScalar(i))) node.flow = true;
      else node.items.forEach((i) => flowShort(i as Node));
    }
  };
  flowShort(doc.contents as Node);
  return doc;
}

/** The resolved config as YAML, as `fitspec resolve` prints it and runs store it. */
export function toResolvedYaml(value: unknown): string {
  return document(value).toString({ lineWidth: 0 });
}

/** The resolved YAML with each leaf annotated with `file:line`, `--set ...` or `default`. */
export function toExplainedYaml(value: unknown, origins: Map<string, PathOrigin>): string {
  const doc = document(value);
  const annotate = (node: Node | null | undefined, path: string) => {
    const note = () => ' ' + describeOrigin(origins.get(path)?.value);
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const child = pair.value as Node;
        const p = path ? `${path}.${String(pair.key.value)}` : String(pair.key.value);
        if (isScalar(child) || (isSeq(child) && child.flow) || (isMap(child) && !child.items.length)) (child as Node).comment = ' ' + describeOrigin(origins.get(p)?.value);
        else annotate(child, p);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const p = `${path}.${i}`;
        if (isScalar(item)) (item as Node).comment = note();
        else annotate(item as Node, p);
      });
    }
  };
  annotate(doc.contents as Node, '');
  return doc.toString({ lineWidth: 0 });
}

/**
 * The comment that points editors at the strict schema of resolved configs, relative to `dir` (where the
 * output is usually saved: `fitspec resolve FILE > resolved.yaml`).
 */
export function resolvedModeline(dir: string): string {
  const rel = path.relative(dir, path.join(PACKAGE_ROOT, 'schema/resolved.schema.json')).split(path.sep).join('/');
  return `# yaml-language-server: $schema=${rel}`;
}
