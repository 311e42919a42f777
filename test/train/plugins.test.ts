import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExperiment } from '../../src/config/index.js';
import { configHash } from '../../src/config/hash.js';
import { pluginSchemaText } from '../../src/config/plugins.js';
import { ROOT, cli } from './helpers.js';

/**
 * Layer plugins: experiments/examples/plugin-layer.yaml and its module, trained on a small generated
 * data set; the ways a plugin can be wrong, each one error naming the plugin and the layer (exit 2).
 */
const EXAMPLE = path.join(ROOT, 'experiments/examples/plugin-layer.yaml');
const PLUGIN = path.join(ROOT, 'experiments/examples/layers/scaled-residual.ts');
let dir: string;
let data: string;

beforeAll(() => {
  // Inside the project, so that plugin modules resolve @sinclair/typebox as a user's project does.
  fs.mkdirSync(path.join(ROOT, '.tmp'), { recursive: true });
  dir = fs.mkdtempSync(path.join(ROOT, '.tmp', 'plugins-'));
  data = path.join(dir, 'faces');
  const r = cli(['data', 'synth', '--out', data, '--per-class', '8', '--layout', 'csv', '--seed', '3'], ROOT);
  if (r.code !== 0) throw new Error(r.stderr);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An experiment in its own folder with a plugin module next to it. */
function project(name: string, plugin: string, layers: string, pluginsLine = 'plugins: [./layers/my-layer.ts]'): string {
  const d = path.join(dir, name);
  fs.mkdirSync(path.join(d, 'layers'), { recursive: true });
  fs.writeFileSync(path.join(d, 'layers', 'my-layer.ts'), plugin);
  const file = path.join(d, 'exp.yaml');
  fs.writeFileSync(
    file,
    `name: ${name}\n${pluginsLine}\ndata:\n  source: {type: csv, images: ${data}/Train, labels: ${data}/train.csv}\n  image: {height: 16, width: 16}\n  split: {train: 5, validation: 3}\nmodel:\n  layers:\n${layers}\ntrain: {epochs: 1, batchSize: 5}\ntracking: {runsDir: ${path.join(dir, 'runs')}}\n`,
  );
  return file;
}

const good = fs.readFileSync(PLUGIN, 'utf8').replace("'../../../src/config/plugins.js'", JSON.stringify(path.join(ROOT, 'src/config/plugins.js')));
const stack = '    - conv2d: {filters: 4, kernelSize: 3}\n    - scaledResidual: {scale: 2}\n    - flatten: {}\n    - dense: {units: 3, activation: softmax}\n';

describe('layer plugins', () => {
  it('the example validates, and its plugin source is part of the config hash', () => {
    const loaded = loadExperiment(EXAMPLE);
    expect(loaded.plugins.map((p) => [p.entry, p.plugin.kind])).toEqual([['./layers/scaled-residual.ts', 'scaledResidual']]);
    // Another byte of plugin code, another hash; the config alone hashes as before plugins existed.
    const a = loadExperiment(project('hash-a', good, stack));
    const b = loadExperiment(project('hash-b', `${good}\n// changed\n`, stack));
    expect(a.hash).not.toBe(b.hash);
    expect(configHash(a.experiment)).toBe(configHash(b.experiment));
    expect(a.hash).not.toBe(configHash(a.experiment));
  });

  it('is loaded only when the experiment names it: the kind is unknown otherwise', () => {
    const r = cli(['validate', project('unnamed', good, stack, '')], ROOT);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exp\.yaml:10:\d+: error \[schema\.unknown-layer\] unknown layer kind `scaledResidual`/);
  });

  it('validates its arguments with positions, as a built-in kind', () => {
    const r = cli(['validate', project('bad-arg', good, stack.replace('{scale: 2}', '{scale: -1, scael: 2}'))], ROOT);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exp\.yaml:10:\d+: error \[schema\.range\] `model\.layers\.1\.scaledResidual\.scale` must be/);
    expect(r.stderr).toMatch(/exp\.yaml:10:\d+: error \[schema\.unknown-key\] unknown key `scael`[^\n]*\n\s*did you mean `scale`/);
  });

  it("--set reaches a plugin layer's arguments (sweeps too)", () => {
    expect(cli(['validate', EXAMPLE, '--set', 'model.layers.3.scaledResidual.scale=0.7'], ROOT).code).toBe(0);
    const r = cli(['validate', EXAMPLE, '--set', 'model.layers.3.scaledResidual.scael=0.7'], ROOT);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error \[set\.path\][^\n]*`model\.layers\.3\.scaledResidual\.scael` is not a config path/);
  });

  it('validating loads no TensorFlow: the plugin module is read without it', () => {
    const code = `import { loadExperiment } from ${JSON.stringify(path.join(ROOT, 'src/config/index.ts'))};
      const l = loadExperiment(${JSON.stringify(EXAMPLE)});
      console.log(l.plugins.length, globalThis._tfengine === undefined ? 'no-tf' : 'tf-loaded');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('1 no-tf');
  });

  const broken: [string, string, RegExp][] = [
    [
      'outputShape throws',
      good.replace('(_args, input) => input', "() => { throw new Error('no shape for you'); }"),
      /exp\.yaml:10:7: error \[plugin\.output-shape\] plugin \.\/layers\/my-layer\.ts \(`scaledResidual`\) threw in outputShape for layer `scaled_residual` with input \(batch, 14, 14, 4\): no shape for you/,
    ],
    [
      'outputShape returns no shape',
      good.replace('(_args, input) => input', '(_args, input) => [input[0], -3]'),
      /exp\.yaml:10:7: error \[plugin\.output-shape\] plugin \.\/layers\/my-layer\.ts \(`scaledResidual`\) returned an invalid output shape for layer `scaled_residual`/,
    ],
    ['exports no build', good.replace('export const build', 'const build'), /error \[plugin\.exports\] plugin \.\/layers\/my-layer\.ts must export `build\(tf, args, ctx\)`/],
    ['fails to load', `${good}\nthrow new Error('top-level failure');\n`, /error \[plugin\.load\] plugin \.\/layers\/my-layer\.ts failed to load: top-level failure/],
    ['takes a built-in kind', good.replace("kind = 'scaledResidual'", "kind = 'dense'"), /error \[plugin\.kind-taken\]/],
  ];
  for (const [what, source, message] of broken) {
    it(`a plugin whose ${what}: one error, exit 2`, () => {
      const r = cli(['validate', project(`broken-${what.replace(/\W+/g, '-')}`, source, stack)], ROOT);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.match(/error \[/g)).toHaveLength(1);
    });
  }

  const atBuild: [string, string, RegExp][] = [
    [
      'build throws',
      good.replace('const scale = Number(args.scale ?? 1);', "throw new Error('cannot build');"),
      /error \[plugin\.build\] plugin \.\/layers\/my-layer\.ts \(`scaledResidual`\) threw while building layer `scaled_residual`: cannot build/,
    ],
    [
      'outputShape disagrees with the built layer',
      good.replace('(_args, input) => input', '(_args, input) => [input[0], input[1], 99]'),
      /error \[plugin\.output-shape\] plugin \.\/layers\/my-layer\.ts \(`scaledResidual`\): layer `scaled_residual` outputs \(batch, 14, 14, 4\), but its outputShape says \(batch, 14, 14, 99\)/,
    ],
  ];
  for (const [what, source, message] of atBuild) {
    it(`a plugin whose ${what}: one error when the model is built, exit 2`, () => {
      const r = cli(['summary', project(`build-${what.replace(/\W+/g, '-')}`, source, stack)], ROOT);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.match(/error \[/g)).toHaveLength(1);
    });
  }

  it('trains experiments/examples/plugin-layer.yaml on the graph engine; the run keeps the plugin source, its hash as tag and param', () => {
    const runsDir = path.join(dir, 'runs-example');
    const set = [
      `data.source.images=${data}/Train`,
      `data.source.labels=${data}/train.csv`,
      'data.split.train=5',
      'data.split.validation=3',
      'train.batchSize=5',
      `tracking.runsDir=${runsDir}`,
    ];
    const r = cli(['train', EXAMPLE, '--max-epochs', '2', '--no-progress', ...set.flatMap((s) => ['--set', s])], ROOT);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^engine: graph$/m);
    expect(r.stdout).not.toMatch(/cannot run this experiment/);
    const run = path.join(runsDir, 'plugin-layer', fs.readdirSync(path.join(runsDir, 'plugin-layer'))[0]!);
    expect(fs.readFileSync(path.join(run, 'plugins', '0-scaled-residual.ts'), 'utf8')).toBe(fs.readFileSync(PLUGIN, 'utf8'));
    const record = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    const sha = loadExperiment(EXAMPLE).plugins[0]!.sha256;
    expect(JSON.parse(record.tags['fitspec.plugins'])).toEqual([{ kind: 'scaledResidual', module: './layers/scaled-residual.ts', sha256: sha }]);
    expect(record.params['plugin.scaledResidual.sha256']).toBe(sha);
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('FINISHED');
    // The trained gains moved away from their initial value.
    const rows = fs.readFileSync(path.join(run, 'metrics.csv'), 'utf8').trim().split('\n');
    expect(rows).toHaveLength(3);
    expect(fs.readFileSync(path.join(run, 'model_summary.txt'), 'utf8')).toMatch(/scaled_residual \(ScaledResidual\)\s+\(None, 32, 32, 16\)\s+16/);
    // The run's resolved config names the run's copy of the plugin: the same hash, and `evaluate` loads the model.
    const resolved = loadExperiment(path.join(run, 'resolved.yaml'));
    expect(resolved.plugins[0]!.file).toBe(path.join(run, 'plugins', '0-scaled-residual.ts'));
    expect(resolved.hash).toBe(summary.config_hash);
    const e = cli(['evaluate', run, '--json'], ROOT);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout).accuracy).toBeGreaterThanOrEqual(0);
  });

  it('a plugin without graph ops trains on the eager engine, with a one-line notice', () => {
    const file = project('eager', good.replace('export const graph', 'const graph'), stack);
    const r = cli(['train', file, '--no-progress'], ROOT);
    expect(r.code, r.stderr).toBe(0);
    const notices = r.stdout.split('\n').filter((l) => /cannot run this experiment/.test(l));
    expect(notices).toEqual([
      expect.stringMatching(/graph engine cannot run this experiment \(layer `scaled_residual` \(ScaledResidual\) has no graph ops\); training on the eager engine/),
    ]);
    expect(r.stdout).toMatch(/^engine: eager$/m);
  });

  it('the shipped editor schema of the example is what `fitspec schema --plugin` writes', () => {
    const out = path.join(ROOT, 'experiments/examples/plugins.schema.json');
    expect(pluginSchemaText([path.relative(ROOT, PLUGIN)], ROOT, out)).toBe(fs.readFileSync(out, 'utf8'));
  });
});
