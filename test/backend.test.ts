import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { describeBackend, initBackend, probeGpu } from '../src/backend.js';
import { isFitspecError } from '../src/errors.js';
import { TF_VERSION } from '../scripts/native/layout.mjs';

const root = resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'fitspec-backend-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `body` (ESM, top-level await) in a fresh Node process with the TypeScript sources loadable. */
function runChild(body: string): { status: number | null; stdout: string; stderr: string } {
  const file = join(tmp, `child-${Math.random().toString(36).slice(2)}.mjs`);
  const tsxApi = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'esm', 'api', 'index.mjs')).href;
  writeFileSync(file, `import { register } from ${JSON.stringify(tsxApi)};\nregister();\n${body}\n`);
  const r = spawnSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('backend', () => {
  it('refuses tensorflow-gpu with the reason when no GPU setup is usable', async () => {
    const gpu = probeGpu();
    if (gpu.usable) {
      // On a CUDA machine with tfjs-node-gpu the choice must work instead (checked by doctor there).
      expect(gpu.reason).toBeUndefined();
      return;
    }
    const err = await initBackend('tensorflow-gpu').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isFitspecError(err)).toBe(true);
    if (!isFitspecError(err)) return;
    expect(err.code).toBe('backend.gpu-unavailable');
    expect(err.message).toContain(gpu.reason!);
  });

  it('auto picks native TensorFlow, sets the thread pools, and a conv net trains on it', async () => {
    const info = await initBackend('auto', { intraOp: 2, interOp: 1 });
    expect(info.name).toBe('tensorflow');
    expect(info.native).toBe(true);
    expect(info.tensorflowVersion).toBe(TF_VERSION);
    expect(info.threads).toEqual({ intraOp: 2, interOp: 1 });
    expect(process.env.TF_NUM_INTRAOP_THREADS).toBe('2');
    expect(process.env.TF_NUM_INTEROP_THREADS).toBe('1');
    expect(describeBackend(info)).toContain(`native TensorFlow ${TF_VERSION}`);

    const tf = await import('@tensorflow/tfjs');
    expect(tf.getBackend()).toBe('tensorflow');
    // The faster ReLU-gradient step kernel keeps tfjs' values, NaN included; other alphas use the original.
    const s = tf.tensor1d([NaN, -1, 0, 2.5, -3]);
    expect(Array.from(tf.step(s).dataSync())).toEqual([NaN, 0, 0, 1, 0]);
    expect(Array.from(tf.step(s, 0.5).dataSync())).toEqual([NaN, 0.5, 0.5, 1, 0.5]);
    expect((tf.getKernel('Step', 'tensorflow')!.kernelFunc as { fitspec?: boolean }).fitspec).toBe(true);
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [16, 16, 3], filters: 8, kernelSize: 3, activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    model.compile({ optimizer: tf.train.rmsprop(1e-3), loss: 'categoricalCrossentropy' });
    const x = tf.randomUniform([32, 16, 16, 3], 0, 1, 'float32', 1);
    const y = tf.oneHot(
      tf.tensor1d(
        Array.from({ length: 32 }, (_, i) => i % 3),
        'int32',
      ),
      3,
    );
    const before = model.getWeights()[0]!.dataSync().slice();
    const h = await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    const losses = h.history.loss as number[];
    expect(losses).toHaveLength(1);
    expect(Number.isFinite(losses[0])).toBe(true);
    const after = model.getWeights()[0]!.dataSync();
    expect(after.some((v, i) => v !== before[i])).toBe(true);
    expect(tf.getBackend()).toBe('tensorflow');
  });

  it('is idempotent, and refuses a second, different backend in the same process', async () => {
    const a = await initBackend('auto');
    const b = await initBackend('tensorflow');
    expect(b).toBe(a);
    const err = await initBackend('cpu').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isFitspecError(err) && err.code).toBe('backend.already-initialized');
  });

  it('cpu gives the pure-JS backend with a loud warning and never loads libtensorflow', () => {
    const backendUrl = pathToFileURL(join(root, 'src', 'backend.ts')).href;
    const tfjsUrl = pathToFileURL(createRequire(join(root, 'package.json')).resolve('@tensorflow/tfjs')).href;
    const r = runChild(`
      const { initBackend } = await import(${JSON.stringify(backendUrl)});
      const info = await initBackend('cpu');
      const tf = await import(${JSON.stringify(tfjsUrl)});
      const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
      console.log(JSON.stringify({ info, active: tf.getBackend(), libtensorflow: maps.includes('libtensorflow') }));`);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.info.name).toBe('cpu');
    expect(out.info.native).toBe(false);
    expect(out.active).toBe('cpu');
    expect(out.libtensorflow).toBe(false);
    expect(out.info.warning).toMatch(/orders of magnitude slower/);
    expect(r.stderr).toContain('PURE-JS `cpu` BACKEND');
  });

  it('fitspec doctor reports the native backend and its TensorFlow version', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'fitspec.js'), 'doctor'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backend\s+tensorflow \(native\)$/m);
    expect(r.stdout).toMatch(new RegExp(`^TensorFlow\\s+${TF_VERSION.replace(/\./g, '\\.')}$`, 'm'));
    expect(r.stdout).toMatch(/^native binding\s+\S+tfjs_binding\.node$/m);
    expect(r.stdout).toMatch(/^GPU\s+(usable|not usable: .+)$/m);
  });

  it("fitspec doctor reports the CPU kernels TensorFlow runs: oneDNN by fitspec's choice, Eigen when the environment says so", () => {
    const doctor = (onednn?: string) => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.TF_ENABLE_ONEDNN_OPTS;
      if (onednn !== undefined) env.TF_ENABLE_ONEDNN_OPTS = onednn;
      const r = spawnSync(process.execPath, [join(root, 'bin', 'fitspec.js'), 'doctor'], { cwd: root, encoding: 'utf8', timeout: 120_000, env });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    if (process.arch === 'x64') expect(doctor()).toMatch(/^kernels\s+oneDNN \(TF_ENABLE_ONEDNN_OPTS=1 set by fitspec;/m);
    // The addon asks TensorFlow itself, so this also shows the variable reached the library.
    expect(doctor('0')).toMatch(/^kernels\s+Eigen \(TF_ENABLE_ONEDNN_OPTS=0 in the environment\)$/m);
    expect(doctor('1')).toMatch(/^kernels\s+oneDNN \(TF_ENABLE_ONEDNN_OPTS=1 in the environment\)$/m);
  });
});
