import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ArchitectureSchema } from './architectures.js';
import { describeSchema } from './describe.js';
import { checks } from './checks/index.js';
import { experimentJsonSchema, experimentJsonSchemaText, resolvedJsonSchemaText, toEditorSchema } from './json-schema.js';
import { MAX_CONFIG_BYTES } from './parse.js';
import { UNHASHED_CALLBACKS, UNHASHED_PATHS } from './hash.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (v: unknown) => (v === undefined ? '' : `\`${cell(JSON.stringify(v))}\``);

const GUIDE = `# Experiment file reference

<!-- Generated from the schema by \`fitspec schema --write\`; do not edit by hand. -->

An experiment is one YAML file. Start it with the schema comment so that editors running the YAML
language server complete and document every key:

\`\`\`yaml
# yaml-language-server: $schema=../schema/experiment.schema.json
name: baseline
data:
  source: {type: directory, path: data/faces}
  classes: [young, middle, old]
model:
  layers:
    - conv2d: {filters: 32, kernelSize: 3, activation: relu}
    - maxPooling2d: {poolSize: 2}
    - flatten: {}
    - dense: {units: 3, activation: softmax}
train:
  epochs: 30
  optimizer: {name: rmsprop, learningRate: 1.0e-4}
\`\`\`

\`schema/experiment.schema.json\` describes files as written: a file that \`extends\` another, or a
mixin, may leave anything out, \`key: null\` and \`$patch\` are accepted, and unknown keys, wrong types
and bad values are flagged at their line. \`schema/resolved.schema.json\` is the strict schema of a
resolved config, in which every key is present; the output of \`fitspec resolve\` names it.

Layers, optimizers and arguments use the TensorFlow.js / Keras names. A Keras snake_case spelling
(\`kernel_size\`, \`learning_rate\`, \`lr\`) is an error whose hint names the tfjs spelling.

## Building on another experiment: \`extends\`

\`extends: 01-baseline.yaml\` (or a list of files, applied in order) takes that file as the starting
point; paths are relative to the file that says \`extends\`, unless absolute. The rules follow JSON Merge Patch
(RFC 7396):

- mappings merge key by key, so \`train: {epochs: 50}\` changes the epochs and keeps the rest of \`train\`;
- any other value, lists included, replaces the inherited one whole;
- \`key: null\` (or \`key: ~\`) deletes an inherited key, e.g. \`augment: null\`.

To edit an inherited layer stack without copying it, give \`model.layers\` a \`$patch\` list:

\`\`\`yaml
extends: 01-baseline.yaml
model:
  layers:
    $patch:
      - update: conv2d_2                  # merge arguments into a layer
        with: {filters: 64}
      - insertAfter: flatten              # insertBefore works the same way
        with: {dropout: {rate: 0.3}}
      - replace: max_pooling2d_4
        with: {globalAveragePooling2d: {}}
      - remove: -2                        # an index; negative counts from the end
\`\`\`

A target is a layer name or an index into the inherited stack. Names are a layer's \`name\`, or the
Keras-style default: the kind in snake_case numbered per kind, \`conv2d\`, \`conv2d_1\`, \`conv2d_2\`,
\`max_pooling2d\`, \`max_pooling2d_1\`, ... (an explicit \`name\` does not advance the numbering).
Targets are looked up in the inherited stack before any edit is applied. \`fitspec resolve FILE\`
shows the result. \`$patch\` works on any inherited list, and \`null\` inside \`with\` deletes an argument.

## Overrides: \`--set\`

Every command that reads a config accepts \`--set path=value\` (repeatable). The value is YAML:
\`--set train.optimizer.learningRate=1e-5\`, \`--set model.layers.0.conv2d.kernelSize=[5,5]\`,
\`--set augment=null\`. The path must exist in the schema (the error names the nearest valid
path), list indices must exist, and the result is validated like the file. Overrides are recorded
with the run.

## Resolving, hashing and comparing

\`fitspec resolve FILE\` prints the resolved config (extends, overrides and defaults applied) with
its hash; \`--explain\` annotates every value with the \`file:line\` it came from, the \`--set\` that
gave it, or \`default\`.

The config hash identifies what is trained: the sha256 of the resolved config serialized
canonically (keys sorted, numbers in shortest form, so \`1e-4\` and \`0.0001\` are equal) after
leaving out what only names, describes, tags, places or schedules the run:
${UNHASHED_PATHS.map((p) => `\`${p}\``).join(', ')}, and the callbacks that only write files
(${UNHASHED_CALLBACKS.map((p) => `\`${p}\``).join(', ')}). Everything else (\`seed\`, \`data\` but its cache,
\`augment\`, \`model\`, \`train\`) is in it. Two files that resolve to the same training setup have the
same hash whatever their formatting, inheritance, name or tracking settings. Runs record it
(\`run.json\`, the MLflow tag \`fitspec.config_hash\`); \`compare\`, \`review\` and sweeps use it.
\`extends\` and \`$schema\` are not part of the resolved config.

\`fitspec diff A B\` (or \`fitspec diff A --git REV\`) compares two resolved configs: one line per
dotted path, \`~ path: old -> new\`, \`+ path: value\`, \`- path: value\`; layer stacks are aligned by
layer name when layers have one and otherwise by kind, and shown as inserted, removed or changed
layers. \`--format markdown\` prints a table for a pull-request comment. Exit code 0 means equal,
1 different, 2 an error. \`fitspec review BASE [HEAD]\` does this for every experiment between two git
revisions, listing each one whose resolved config a change affects, through its own file, a file it
extends or its architecture.

## Errors and checks

\`fitspec validate FILE...\` reports every problem at once as \`file:line:col\` with the offending
line, the config path, what was expected and what was found, and a "did you mean" for unknown keys
and values. Errors in an inherited file point into that file. Files larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB, files that
are not UTF-8, YAML with tabs, duplicate keys or runaway aliases are refused. After the schema,
these cross-field checks run (errors stop the command, warnings are printed):

${checks.map((c) => `- \`${c.name}\`: ${c.description}`).join('\n')}

## Versions

\`schemaVersion\` (default and current: 1) names the format a file is written in. Older files are
upgraded when read (steps in \`src/config/upgrade/\`); a file for a newer version is refused.

## Reference
`;

function typeOf(s: Json): string {
  if (Array.isArray(s.anyOf)) return (s.anyOf as Json[]).map(typeOf).join(' or ');
  if (Array.isArray(s.enum)) return (s.enum as string[]).map((v) => `\`${v}\``).join(', ');
  if ('const' in s) return code(s.const);
  if (s.type === 'array' && Array.isArray(s.prefixItems)) return `[${(s.prefixItems as Json[]).map(typeOf).join(', ')}]`;
  if (s.type === 'array') return `list of ${isObj(s.items) ? typeOf(s.items) : 'values'}`;
  if (s.type === 'object') return isObj(s.patternProperties) ? 'mapping of names to values' : 'mapping';
  return describeSchema(s).replace(/^an? /, '');
}

function table(schema: Json, prefix: string, out: string[], sections: [string, Json][]): void {
  const props = isObj(schema.properties) ? schema.properties : {};
  const required = new Set((schema.required as string[] | undefined) ?? []);
  for (const [key, raw] of Object.entries(props)) {
    const s = raw as Json;
    const p = prefix ? `${prefix}.${key}` : key;
    const req = required.has(key) && s.default === undefined ? ' (required)' : '';
    out.push(`| \`${p}\`${req} | ${cell(typeOf(s))} | ${code(s.default)} | ${cell(String(s.description ?? ''))} | ${code((s.examples as unknown[] | undefined)?.[0])} |`);
    if (isObj(s.properties) && Object.keys(s.properties).length && s.maxProperties !== 1) table(s, p, out, sections);
    if (s.type === 'array' && isObj(s.items)) {
      const item = s.items;
      if (item.maxProperties === 1) sections.push([p, item]);
      else if (isObj(item.properties)) table(item, `${p}[]`, out, sections);
    }
  }
}

/** docs/config.md: a guide to the syntax, then every field of the schema. */
export function configDocs(): string {
  const root = experimentJsonSchema();
  const out: string[] = [GUIDE];
  const sections: [string, Json][] = [];
  out.push('| key | type | default | description | example |', '| --- | --- | --- | --- | --- |');
  table(root, '', out, sections);
  // The main stack documents the layer kinds; the base and the phases refer to it.
  const secondary = (p: string) => p.includes('base') || p.includes('[]');
  sections.sort(([a], [b]) => Number(secondary(a)) - Number(secondary(b)));
  const done = new Map<string, string>();
  for (const [p, item] of sections) {
    const seen = done.get(JSON.stringify(item));
    if (seen) {
      out.push('', `### Entries of \`${p}\``, '', `The same kinds as \`${seen}\`.`);
      continue;
    }
    done.set(JSON.stringify(item), p);
    out.push('', `### Entries of \`${p}\``, '', String(item.description ?? ''));
    for (const [kind, ks] of Object.entries(item.properties as Json)) {
      const k = ks as Json;
      out.push('', `#### \`${kind}\``, '', String(k.description ?? ''), '');
      if (!Object.keys((k.properties as Json) ?? {}).length) {
        out.push('No arguments.');
        continue;
      }
      out.push('| argument | type | default | description | example |', '| --- | --- | --- | --- | --- |');
      table(k, '', out, []);
    }
  }
  return out.join('\n') + '\n';
}

export function architectureJsonSchemaText(): string {
  return JSON.stringify(toEditorSchema(ArchitectureSchema), null, 2) + '\n';
}

/** The generated files, by path relative to the project folder. */
export function generatedFiles(): Record<string, string> {
  return {
    'schema/experiment.schema.json': experimentJsonSchemaText(),
    'schema/resolved.schema.json': resolvedJsonSchemaText(),
    'schema/architecture.schema.json': architectureJsonSchemaText(),
    'docs/config.md': configDocs(),
  };
}

export function writeGenerated(root: string): string[] {
  return Object.entries(generatedFiles()).map(([rel, text]) => {
    const file = path.join(root, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  });
}
