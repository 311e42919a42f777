import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../config/helpers.js';
import { YamlLanguageServer, type Diagnostic } from './language-server.js';

const EXPERIMENTS = path.join(ROOT, 'experiments');
const MODELINE = '# yaml-language-server: $schema=../schema/experiment.schema.json\n';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? yamlFiles(path.join(dir, f)) : /\.ya?ml$/.test(f) ? [path.join(dir, f)] : []))
    .sort();
}

const show = (d: Diagnostic[]) => d.map((x) => `${x.range.start.line + 1}: ${x.message}`);

/**
 * Typo files an editor must flag, each at its line (1-based, counting the modeline). They are opened
 * as unsaved buffers under experiments/, so the relative modeline resolves as in a real file there.
 */
const TYPOS: { name: string; text: string; line: number; message: RegExp; dir?: string }[] = [
  { name: 'unknown top-level key', text: 'name: t\ntrian: {epochs: 3}\n', line: 3, message: /trian/ },
  { name: 'unknown nested key (Keras spelling)', text: 'name: t\ntrain:\n  optimizer: {name: adam, learning_rate: 0.1}\n', line: 4, message: /learning_rate/ },
  { name: 'wrong type', text: 'name: t\ntrain:\n  epochs: ten\n', line: 4, message: /integer|type/i },
  { name: 'bad enum value', text: 'name: t\ntrain:\n  optimizer: {name: adamw}\n', line: 4, message: /adamw|Value is not accepted|Valid values/i },
  { name: 'misspelled layer kind', text: 'name: t\nmodel:\n  layers:\n    - flatten: {}\n    - dense2: {units: 3}\n', line: 6, message: /dense2/ },
  { name: 'layer missing a required argument', text: 'name: t\nmodel:\n  layers:\n    - dense: {activation: relu}\n', line: 5, message: /units/ },
  { name: 'unknown key in a partial file that extends another', text: 'extends: 01-baseline.yaml\nname: t\ntrain:\n  batchsize: 8\n', line: 5, message: /batchsize/ },
  { name: 'bad enum in a partial file', text: 'extends: 01-baseline.yaml\ndata:\n  image: {resize: squash}\n', line: 4, message: /squash|Value is not accepted|Valid values/i },
  {
    name: 'misspelled layer kind inside a $patch edit',
    text: 'extends: 01-baseline.yaml\nmodel:\n  layers:\n    $patch:\n      - insertAfter: flatten\n        with: {dropuot: {rate: 0.3}}\n',
    line: 7,
    message: /dropuot/,
  },
  {
    name: 'misspelled $patch operation',
    text: 'extends: 01-baseline.yaml\nmodel:\n  layers:\n    $patch:\n      - insertafter: flatten\n        with: {dropout: {rate: 0.3}}\n',
    line: 6,
    message: /insertafter|not allowed|Missing property/i,
  },
  {
    name: 'out-of-range value in a callback',
    text: 'extends: 01-baseline.yaml\ntrain:\n  callbacks:\n    - earlyStopping: {patience: -1}\n',
    line: 5,
    message: /minimum|-1|Value is below/i,
  },
  { name: 'unknown augmentation in a mixin', text: 'augment: {rotaton: 20}\n', line: 2, message: /rotaton/, dir: 'mixins' },
  {
    name: 'wrong type in a file one folder down',
    text: 'extends: [../01-baseline.yaml, ../mixins/quick.yaml]\ndata:\n  split: {train: many}\n',
    line: 4,
    message: /number|type/i,
    dir: 'quick',
  },
];

describe('the YAML language server (as editors run it) on experiment files', () => {
  const server = new YamlLanguageServer();
  beforeAll(() => server.start(ROOT), 60_000);
  afterAll(() => server.stop());

  const files = yamlFiles(EXPERIMENTS);
  it('finds the shipped files', () => expect(files.length).toBeGreaterThanOrEqual(14));

  for (const file of files) {
    const rel = path.relative(ROOT, file);
    it(`shows no diagnostic for ${rel}`, async () => {
      const text = readFileSync(file, 'utf8');
      expect(text.split('\n')[0]).toMatch(/^# yaml-language-server: \$schema=\S+$/);
      expect(show(await server.open(file, text))).toEqual([]);
      server.close(file);
    }, 30_000);
  }

  TYPOS.forEach((t, i) => {
    it(`flags ${t.name} at line ${t.line}`, async () => {
      const file = path.join(EXPERIMENTS, t.dir ?? '', `unsaved-typo-${i}.yaml`);
      const modeline = t.dir ? MODELINE.replace('../', '../../') : MODELINE;
      const diagnostics = await server.open(file, modeline + t.text);
      server.close(file);
      expect(show(diagnostics).length, `no diagnostic for:\n${t.text}`).toBeGreaterThan(0);
      const hit = diagnostics.filter((d) => d.range.start.line + 1 === t.line && t.message.test(d.message));
      expect(hit.length, show(diagnostics).join('\n')).toBeGreaterThan(0);
    }, 30_000);
  });

  it('the same typo is flagged in a full file, and its valid twin is clean', async () => {
    const base = readFileSync(path.join(EXPERIMENTS, '01-baseline.yaml'), 'utf8');
    const file = path.join(EXPERIMENTS, 'unsaved-twin.yaml');
    const typo = base.replace('learningRate: 0.0001', 'learningrate: 0.0001');
    const line = typo.split('\n').findIndex((l) => l.includes('learningrate')) + 1;
    const d = await server.open(file, typo);
    server.close(file);
    expect(show(d)).toEqual([expect.stringMatching(new RegExp(`^${line}: .*learningrate`))]);
  }, 30_000);

  it('a project schema with a layer plugin flags a typo in the plugin layer, and knows the new built-in kinds', async () => {
    const text = readFileSync(path.join(EXPERIMENTS, 'examples', 'plugin-layer.yaml'), 'utf8')
      .replace('{scale: 0.5}', '{scael: 0.5}')
      .replace('- reLU: {}', '- reLU: {maxValu: 6}');
    const file = path.join(EXPERIMENTS, 'examples', 'unsaved-plugin-typo.yaml');
    const lines = text.split('\n');
    const d = show(await server.open(file, text));
    server.close(file);
    expect(d).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${lines.findIndex((l) => l.includes('scael')) + 1}: .*scael`)),
        expect.stringMatching(new RegExp(`^${lines.findIndex((l) => l.includes('maxValu')) + 1}: .*maxValu`)),
      ]),
    );
    expect(d).toHaveLength(2);
  }, 30_000);

  it('documents keys on hover and completes them', async () => {
    const file = path.join(EXPERIMENTS, 'unsaved-hover.yaml');
    const text = `${MODELINE}extends: 01-baseline.yaml\ntrain:\n  optimizer: {learningRate: 0.001}\n  \n`;
    await server.open(file, text);
    const hover = await server.hover(file, 3, 17);
    const shown = typeof hover?.contents === 'string' ? hover.contents : hover?.contents.value;
    expect(shown).toMatch(/Learning rate/);
    const completion = await server.completion(file, 4, 2);
    expect(completion?.items.map((c) => c.label)).toEqual(expect.arrayContaining(['epochs', 'batchSize', 'callbacks', 'phases']));
    server.close(file);
    // Inside a $patch edit, the new layer's kinds complete too.
    const patch = `${MODELINE}extends: 01-baseline.yaml\nmodel:\n  layers:\n    $patch:\n      - insertAfter: flatten\n        with:\n          dr\n`;
    const patchFile = path.join(EXPERIMENTS, 'unsaved-patch.yaml');
    await server.open(patchFile, patch);
    const kinds = await server.completion(patchFile, 7, 12);
    expect(kinds?.items.map((c) => c.label)).toEqual(expect.arrayContaining(['dropout', 'dense', 'conv2d', 'batchNormalization']));
    server.close(patchFile);
  }, 30_000);
});

describe('the YAML language server with the schema set in its settings instead of a modeline', () => {
  const schemaUrl = pathToFileURL(path.join(ROOT, 'schema/experiment.schema.json')).href;
  const server = new YamlLanguageServer({ schemas: { [schemaUrl]: ['**/experiments/**/*.yaml'] } });
  beforeAll(() => server.start(ROOT), 60_000);
  afterAll(() => server.stop());

  it('checks files without a modeline the same way', async () => {
    const clean = readFileSync(path.join(EXPERIMENTS, '02-bn-dropout.yaml'), 'utf8').split('\n').slice(1).join('\n');
    const file = path.join(EXPERIMENTS, 'unsaved-settings.yaml');
    // First a typo, until it is flagged: then the association is in force and a clean result means clean.
    const typo = clean.replace('name: 02-bn-dropout', 'name: 02-bn-dropout\nseeed: 3');
    const d = await server.settle(file, typo, (x) => x.length > 0);
    expect(show(d)).toEqual([expect.stringMatching(/^3: .*seeed/)]);
    expect(show(await server.settle(file, clean, () => true))).toEqual([]);
  }, 60_000);
});
