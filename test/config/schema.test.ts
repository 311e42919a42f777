import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { generatedFiles } from '../../src/config/docs.js';
import { parse } from 'yaml';
import { loadExperiment } from '../../src/config/index.js';
import { experimentJsonSchema, inputJsonSchema } from '../../src/config/json-schema.js';
import { pluginKinds } from '../../src/config/plugins.js';
import { ROOT } from './helpers.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every property schema in the tree, with its dotted path. */
function properties(s: Json, at = ''): [string, Json][] {
  const out: [string, Json][] = [];
  const visit = (node: unknown, p: string) => {
    if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${p}[${i}]`));
    if (!isObj(node)) return;
    if (isObj(node.properties))
      for (const [k, v] of Object.entries(node.properties)) {
        out.push([p ? `${p}.${k}` : k, v as Json]);
        visit(v, p ? `${p}.${k}` : k);
      }
    for (const key of ['items', 'prefixItems', 'anyOf', 'patternProperties'])
      if (node[key] !== undefined) visit(key === 'patternProperties' ? Object.values(node[key] as Json) : node[key], p);
  };
  visit(s, at);
  return out;
}

describe('generated files', () => {
  for (const [rel, text] of Object.entries(generatedFiles())) {
    it(`${rel} is up to date (run \`npm run schema\`)`, () => {
      expect(readFileSync(path.join(ROOT, rel), 'utf8')).toBe(text);
    });
  }
});

describe('experiment JSON Schema', () => {
  const schema = experimentJsonSchema();

  it('is draft 2020-12, declared first, and compiles in ajv strict mode', () => {
    expect(Object.keys(schema)[0]).toBe('$schema');
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(() => new Ajv2020({ strict: true, allErrors: true }).compile(schema)).not.toThrow();
  });

  const props = properties(schema);
  it('walks a realistic number of fields', () => expect(props.length).toBeGreaterThan(100));

  it('gives every field a title, a description and examples', () => {
    const missing = props.filter(([, s]) => !s.title || !s.description || !Array.isArray(s.examples) || !s.examples.length).map(([p]) => p);
    expect(missing).toEqual([]);
  });

  it('has defaults and examples that are valid for their own field', () => {
    // Nested defaults fill in what an example leaves out, as they do for a config.
    const ajv = new Ajv2020({ strict: false, useDefaults: true });
    const bad: string[] = [];
    for (const [p, s] of props) {
      const { default: def, examples, ...rest } = s;
      const check = ajv.compile(rest);
      if (def !== undefined && !check(structuredClone(def))) bad.push(`${p} default ${JSON.stringify(def)}`);
      for (const ex of (examples as unknown[]) ?? []) if (!check(structuredClone(ex))) bad.push(`${p} example ${JSON.stringify(ex)}`);
    }
    expect(bad).toEqual([]);
  });

  it('is closed at every level: a typo is never a silent default', () => {
    const open: string[] = [];
    const visit = (node: unknown, p: string) => {
      if (Array.isArray(node)) return node.forEach((n) => visit(n, p));
      if (!isObj(node)) return;
      if (node.type === 'object' && node.additionalProperties !== false) open.push(p || '(root)');
      for (const [k, v] of Object.entries(node)) if (typeof v === 'object') visit(v, k === 'properties' ? p : `${p}/${k}`);
    };
    visit(schema, '');
    expect(open).toEqual([]);
  });
});

describe('experiment files', () => {
  const dir = path.join(ROOT, 'experiments');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')) : [];
  for (const f of files) {
    it(`${f} starts with the yaml-language-server schema comment, pointing at the schema`, () => {
      const first = readFileSync(path.join(dir, f), 'utf8').split('\n')[0];
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m).not.toBeNull();
      expect(path.isAbsolute(m![1])).toBe(false);
      expect(path.resolve(dir, m![1])).toBe(path.join(ROOT, 'schema/experiment.schema.json'));
    });
  }
});

/** Every node of a schema that carries `examples` or a `default`, with its JSON pointer. */
function annotated(root: Json): [string, Json][] {
  const out: [string, Json][] = [];
  const visit = (node: unknown, pointer: string) => {
    if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${pointer}/${i}`));
    if (!isObj(node)) return;
    if (node.examples !== undefined || node.default !== undefined) out.push([pointer, node]);
    for (const [k, v] of Object.entries(node))
      if (k !== 'examples' && k !== 'default' && k !== 'enum' && k !== 'const') visit(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
  };
  visit(root, '');
  return out;
}

/** A strict client: no defaults filled in, as editors and other JSON Schema tools see the schema. */
function strictClient(schema: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, allowUnionTypes: true });
  ajv.addSchema(schema);
  return (pointer: string) => ajv.getSchema(`${schema.$id as string}#${pointer}`)!;
}

const experimentFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === 'architectures' ? [] : experimentFiles(path.join(dir, e.name))) : e.name.endsWith('.yaml') ? [path.join(dir, e.name)] : [],
  );

describe('the two published schemas', () => {
  for (const [name, schema] of [
    ['experiment.schema.json (files as written)', inputJsonSchema()],
    ['resolved.schema.json (resolved configs)', experimentJsonSchema()],
  ] as const) {
    it(`${name}: every example and default validates against its own node, without defaults filled in`, () => {
      const at = strictClient(schema);
      const nodes = annotated(schema);
      expect(nodes.length).toBeGreaterThan(100);
      const bad: string[] = [];
      for (const [pointer, node] of nodes) {
        const check = at(pointer);
        for (const ex of (node.examples as unknown[] | undefined) ?? [])
          if (!check(ex)) bad.push(`${pointer || '(root)'} example ${JSON.stringify(ex).slice(0, 80)}: ${check.errors?.[0]?.message}`);
        if (node.default !== undefined && !check(node.default)) bad.push(`${pointer} default: ${check.errors?.[0]?.message}`);
      }
      expect(bad).toEqual([]);
    });
  }

  it('the editor schema accepts every shipped experiment and mixin file as written (partial, $patch, null)', () => {
    const check = strictClient(inputJsonSchema())('');
    const files = experimentFiles(path.join(ROOT, 'experiments'));
    expect(files.length).toBeGreaterThanOrEqual(12);
    // A file with layer plugins is checked against its project's schema, which has their kinds.
    const checkerFor = (f: string, text: string) =>
      (parse(text) as { plugins?: unknown }).plugins ? strictClient(inputJsonSchema(pluginKinds(loadExperiment(f).plugins)))('') : check;
    const bad = files.flatMap((f) => {
      const text = readFileSync(f, 'utf8');
      const c = checkerFor(f, text);
      return c(parse(text)) ? [] : [`${path.relative(ROOT, f)}: ${JSON.stringify(c.errors)}`];
    });
    expect(bad).toEqual([]);
    const deleting = {
      extends: 'base.yaml',
      augment: null,
      data: { classes: null },
      model: { layers: { $patch: [{ remove: -1 }, { insertAfter: 'flatten', with: { dropout: { rate: 0.2 } } }] } },
    };
    expect(check(deleting)).toBe(true);
    expect(check({ ...deleting, trian: {} })).toBe(false);
    expect(check({ model: { layers: { $patch: [{ insertAfter: 'flatten', with: { dropuot: {} } }] } } })).toBe(false);
    expect(check({ train: { optimizer: { name: 'adamw' } } })).toBe(false);
  });

  it('the resolved schema is strict: the resolved config of every shipped experiment validates, a partial file does not', () => {
    const check = strictClient(experimentJsonSchema())('');
    const dir = path.join(ROOT, 'experiments');
    const files = experimentFiles(dir).filter((f) => !f.includes('/mixins/'));
    for (const f of files) {
      const loaded = loadExperiment(f);
      const resolved = parse(loaded.resolvedYaml);
      const c = loaded.plugins.length ? strictClient(experimentJsonSchema(pluginKinds(loaded.plugins)))('') : check;
      expect(c(resolved), `${path.relative(ROOT, f)}: ${JSON.stringify(c.errors)}`).toBe(true);
    }
    expect(check(parse(readFileSync(path.join(dir, '02-bn-dropout.yaml'), 'utf8')))).toBe(false);
  });
});
