// fitspec as a user's project gets it: `npm pack`, the tarball installed into an empty project, the package
// imported by its name (the `exports` map, the bundled library, its declaration files), the demo trained
// through the API, and the typed example checked against the installed declarations.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-pack-'));
const project = path.join(dir, 'project');
// Without a tracking server, whatever the shell that runs the tests has set.
const env = { ...process.env, MLFLOW_TRACKING_URI: '', FITSPEC_FROM_SOURCE: '' };
let tarball = '';
const timings: Record<string, number> = {};

async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await f();
  } finally {
    timings[what] = (Date.now() - t0) / 1000;
  }
}

/** Runs `node -e` in the scratch project; the script's last stdout line is its JSON answer. */
async function nodeEval(script: string): Promise<any> {
  const { stdout } = await run(process.execPath, ['-e', script], { cwd: project, env, maxBuffer: 64 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

beforeAll(async () => {
  const packed = await timed('npm pack', () => run('npm', ['pack', '--pack-destination', dir, '--json'], { cwd: ROOT, env, maxBuffer: 64 << 20 }));
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(dir, info!.filename);
  fs.mkdirSync(project);
  // The install scripts the project itself denies (tfjs-node's would download libtensorflow from Google):
  // a user's project denies the same ones, and fitspec's own postinstall makes the native backend.
  const denied = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).allowScripts as Record<string, boolean>;
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'uses-fitspec', private: true, type: 'module', allowScripts: denied }, null, 2));
  await timed('npm install <tarball>', () => run('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: project, env, maxBuffer: 64 << 20 }));
}, 900_000);

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`packed package test, seconds: ${JSON.stringify(timings)}`);
});

describe('the packed package', () => {
  it('holds the bundled library, its declarations and the exports map, and not the generated API reference', () => {
    const pkg = path.join(project, 'node_modules', 'fitspec');
    for (const f of ['dist/index.js', 'dist/main.js', 'dist/types/index.d.ts', 'dist/types/api/train.d.ts', 'experiments/demo.yaml', 'schema/experiment.schema.json']) {
      expect(fs.existsSync(path.join(pkg, f)), f).toBe(true);
    }
    expect(fs.existsSync(path.join(pkg, 'docs', 'api'))).toBe(false);
    const manifest = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'));
    expect(manifest.exports['.']).toEqual({ types: './dist/types/index.d.ts', import: './dist/index.js' });
  });

  it('loads no TensorFlow on import: the entry and the chunks it imports statically name no @tensorflow package', () => {
    const dist = path.join(project, 'node_modules', 'fitspec', 'dist');
    const seen = new Set<string>();
    const packages = new Set<string>();
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of fs.readFileSync(path.join(dist, file), 'utf8').matchAll(/^import\s[^;]*?from\s*"([^"]+)"|^import\s*"([^"]+)"/gm)) {
        const dep = (m[1] ?? m[2])!;
        if (dep.startsWith('./')) walk(dep.slice(2));
        else packages.add(dep);
      }
    };
    walk('index.js');
    expect(packages).toContain('yaml');
    expect([...packages].filter((p) => p.startsWith('@tensorflow'))).toEqual([]);
  });

  it('validates an object and a file, with positioned FitspecError problems', async () => {
    const r = await nodeEval(`
      import('fitspec').then((m) => {
        const ok = m.validateExperiment({ name: 'tiny', extends: m.demoExperimentFile, train: { epochs: 2 } });
        let problems = [];
        try {
          m.validateExperiment({ name: 'bad', extends: m.demoExperimentFile, train: { optimizer: { name: 'adamw' } } });
        } catch (e) {
          problems = e instanceof m.FitspecError ? e.problems : [String(e)];
        }
        let missing;
        try { m.loadExperiment('nope.yaml'); } catch (e) { missing = e.code; }
        console.log(JSON.stringify({ epochs: ok.experiment.train.epochs, batch: ok.experiment.train.batchSize, layers: ok.experiment.model.layers.length, problems, missing }));
      });`);
    expect(r).toMatchObject({ epochs: 2, batch: 32, layers: 10, missing: 'config.not-found' });
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ code: 'schema.enum', path: 'train.optimizer.name', file: 'experiment.yaml', line: 5, col: 11, hint: 'did you mean `adam`?' });
    expect(r.problems[0].excerpt).toContain('name: adamw');
  });

  it('trains the demo through the API: epoch callbacks, the summary, predict, evaluate, compare, and an abort', async () => {
    const r = await timed('train the demo via import("fitspec")', () =>
      nodeEval(`
      import('fitspec').then(async (m) => {
        await m.generateImages({ out: 'data/demo', perClass: 12 });
        const set = ['data.image.height=32', 'data.image.width=32', 'data.split.train=8', 'data.split.validation=4', 'train.epochs=2', 'train.batchSize=8'];
        const loaded = m.loadExperiment(m.demoExperimentFile, { set, data: true });
        const seen = [];
        const result = await m.train(loaded, { progress: false, log: () => {}, callbacks: { onEpochEnd: (epoch, logs) => { seen.push([epoch, typeof logs.val_accuracy]); } } });
        const { predictions } = await m.predict(result.runDir, ['data/demo/old']);
        const report = await m.evaluate(result.runDir);
        const aborted = await m.train(loaded, { progress: false, log: () => {}, signal: AbortSignal.abort() });
        const { comparison } = await m.compare([], { experiment: 'demo' });
        console.log(JSON.stringify({ status: result.status, summary: result.summary, seen, predictions: predictions.length, images: report.images, aborted: aborted.status, compared: comparison.rows.map((row) => row.status) }));
      });`),
    );
    expect(r.status).toBe('FINISHED');
    expect(r.seen).toEqual([
      [0, 'number'],
      [1, 'number'],
    ]);
    expect(r.summary).toMatchObject({ status: 'FINISHED', epochs: 2, classes: ['middle', 'old', 'young'], backend: 'tensorflow' });
    expect(r.summary.best_val_accuracy).toBeGreaterThanOrEqual(0);
    expect(r.predictions).toBe(12);
    expect(r.images).toBe(12);
    expect(r.aborted).toBe('KILLED');
    expect(r.compared.sort()).toEqual(['FINISHED', 'KILLED']);
  }, 600_000);

  it('type-checks the example against the installed declarations, and rejects a wrong config value', async () => {
    fs.copyFileSync(path.join(ROOT, 'examples', 'train-from-script.ts'), path.join(project, 'example.ts'));
    fs.writeFileSync(
      path.join(project, 'wrong.ts'),
      "import type { ExperimentInput } from 'fitspec';\nexport const c: ExperimentInput = { train: { optimizer: { name: 'adamw' } } };\n",
    );
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['example.ts', 'wrong.ts'],
      }),
    );
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const out = await timed('tsc', () =>
      run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project, env }).then(
        () => '',
        (e: { stdout: string }) => e.stdout,
      ),
    );
    const errors = out.split('\n').filter((l) => /error TS/.test(l));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^wrong\.ts\(2,\d+\): error TS\d+: Type '"adamw"' is not assignable to type '"sgd" \| "adam" \|/);
  }, 300_000);

  it('runs the example as a user would, through tsx', async () => {
    fs.copyFileSync(path.join(ROOT, 'examples', 'train-from-script.ts'), path.join(project, 'example.ts'));
    const { stdout } = await timed('run the example', () =>
      run(process.execPath, ['--import', 'tsx', 'example.ts'], { cwd: project, env: { ...env, PER_CLASS: '12', EPOCHS: '2' }, maxBuffer: 64 << 20 }),
    );
    expect(stdout).toMatch(/^epoch 1: loss \d/m);
    expect(stdout).toMatch(/^epoch 2: loss \d/m);
    expect(stdout).toMatch(/^FINISHED: runs\/from-script\/\d{8}-\d{6}-[0-9a-f]{4}, best val_accuracy/m);
    expect(stdout).toMatch(/^predict: \d+ of 12 images of data\/script-faces\/old classed old/m);
    expect(stdout).toMatch(/^evaluate: accuracy [\d.]+ on 9 validation images/m);
    expect(stdout).toMatch(/^compare: \d{8}-\d{6}-[0-9a-f]{4} 2 epochs/m);
  }, 300_000);
});
