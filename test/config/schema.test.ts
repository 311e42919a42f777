import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { generatedFiles } from '../../src/config/docs.js';
import { experimentJsonSchema } from '../../src/config/json-schema.js';
import { ROOT } from './helpers.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every property schema in the tree, with its dotted path. */
function properties(s: Json, at = ''): [string, Json][] {
  const out: [string, Json][] = [];
  const visit = (node: unknown, p: string) => {
    if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${p}[${i}]`));
    if (!isObj(node)) return;
    if (isObj(node.properties)) for (const [k, v] of Object.entries(node.properties)) {
      out.push([p ? `${p}.${k}` : k, v as Json]);
      visit(v, p ? `${p}.${k}` : k);
    }
    for (const key of ['items', 'prefixItems', 'anyOf', 'patternProperties']) if (node[key] !== undefined) visit(key === 'patternProperties' ? Object.values(node[key] as Json) : node[key], p);
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
