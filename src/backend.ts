/**
 * Chooses and initializes the TensorFlow.js backend, once per process.
 * Code that needs TensorFlow imports `@tensorflow/tfjs` only after `initBackend` resolved:
 * tfjs-node registers its native `tensorflow` backend on the same tfjs-core instance.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
import { fail } from './errors.js';
import { loadGraphAddon } from './native-addon.js';
import { bindingPath, cacheRoot, findTfjsNode } from '../scripts/native/layout.mjs';

export type BackendChoice = 'auto' | 'tensorflow' | 'tensorflow-gpu' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'tensorflow-gpu', 'cpu'];

export interface Threads {
  intraOp: number;
  interOp: number;
}

export interface Kernels {
  /** `oneDNN` (TensorFlow's oneDNN kernels and graph passes) or `Eigen` (its portable kernels). */
  name: 'oneDNN' | 'Eigen';
  /** Who chose: fitspec's default, or TF_ENABLE_ONEDNN_OPTS set in the environment. */
  setBy: 'fitspec' | 'environment' | 'tensorflow';
}

export interface GpuInfo {
  /** True when @tensorflow/tfjs-node-gpu is installed and a CUDA runtime and driver were found. */
  usable: boolean;
  /** Folder of @tensorflow/tfjs-node-gpu, when installed. */
  package?: string;
  nvidiaSmi?: string;
  /** `name, driver version` per GPU, from nvidia-smi. */
  devices?: string[];
  cudart?: string;
  cudnn?: string;
  /** Why the GPU backend cannot be used (when `usable` is false). */
  reason?: string;
}

export interface BackendInfo {
  name: 'tensorflow' | 'tensorflow-gpu' | 'cpu';
  native: boolean;
  /** Version of the TensorFlow C library the native binding runs on. */
  tensorflowVersion?: string;
  tfjsVersion: string;
  threads: Threads;
  /** tfjs_binding.node that was loaded (native backends). */
  bindingPath?: string;
  /** Native backends: which CPU kernels TensorFlow runs (see `applyKernels`). */
  kernels?: Kernels;
  /** Set when training will be slow or the requested backend was not used. */
  warning?: string;
  gpu?: GpuInfo;
}

const SLOW_WARNING =
  'USING THE PURE-JS `cpu` BACKEND: training is orders of magnitude slower than native TensorFlow ' +
  '(minutes per batch for a small CNN). Run `node scripts/native/install.mjs` and `fitspec doctor` to get the native backend.';

let current: { choice: BackendChoice; info: Promise<BackendInfo> } | undefined;

/** The backend this process initialized, if any (without initializing one). */
export function activeBackend(): Promise<BackendInfo> | undefined {
  return current?.info;
}

/**
 * Initializes the backend for `choice`; later calls return the same result.
 * `auto` takes the GPU when usable, else native TensorFlow, else the pure-JS backend with a loud warning.
 * Asking for another backend after one was initialized is an error: tfjs-node cannot be unloaded.
 */
export function initBackend(choice: BackendChoice = 'auto', threads?: Threads): Promise<BackendInfo> {
  if (current) {
    if (current.choice !== choice) {
      return current.info.then((info) => {
        if (choice === 'auto' || choice === info.name) return info;
        return fail('backend.already-initialized', `the \`${info.name}\` backend is already running in this process; \`${choice}\` cannot be loaded next to it.`, {
          expected: info.name,
          received: choice,
          hint: 'Run one backend per process (for example one `fitspec train` per backend).',
        });
      });
    }
    return current.info;
  }
  const info = start(choice, threads);
  current = { choice, info };
  // A failed start may be retried (for example after installing the native backend).
  info.catch(() => {
    if (current?.info === info) current = undefined;
  });
  return info;
}

async function start(choice: BackendChoice, threads?: Threads): Promise<BackendInfo> {
  if (!BACKEND_CHOICES.includes(choice)) {
    fail('backend.unknown', `unknown backend \`${String(choice)}\`.`, { expected: BACKEND_CHOICES.join(' | '), received: String(choice) });
  }
  const t = applyThreads(threads);
  if (choice === 'cpu') return startCpu(t);
  const kernelsSetBy = applyKernels();

  if (choice === 'tensorflow-gpu' || choice === 'auto') {
    const gpu = probeGpu();
    if (gpu.usable) {
      try {
        return { ...(await startNative('@tensorflow/tfjs-node-gpu', t, kernelsSetBy)), name: 'tensorflow-gpu', gpu };
      } catch (e) {
        if (choice === 'tensorflow-gpu') {
          fail('backend.gpu-load', `@tensorflow/tfjs-node-gpu is installed and CUDA was found, but its binding does not load: ${firstLine(e)}`, {
            hint: 'Check that the CUDA and cuDNN versions match the ones tfjs-node-gpu was built for; `fitspec doctor` lists what was found.',
          });
        }
        gpu.reason = `tfjs-node-gpu does not load: ${firstLine(e)}`;
      }
    } else if (choice === 'tensorflow-gpu') {
      fail('backend.gpu-unavailable', `the \`tensorflow-gpu\` backend cannot be used: ${gpu.reason}`, {
        expected: '@tensorflow/tfjs-node-gpu installed, an NVIDIA driver (nvidia-smi) and the CUDA runtime (libcudart)',
        hint: 'Use `train.backend: tensorflow` (native CPU) or `auto`; `fitspec doctor` shows what was found.',
      });
    }
    if (choice === 'auto') {
      try {
        return { ...(await startNative('@tensorflow/tfjs-node', t, kernelsSetBy)), gpu };
      } catch (e) {
        const info = await startCpu(t);
        return { ...info, gpu, warning: `${info.warning} (native TensorFlow does not load: ${firstLine(e)})` };
      }
    }
  }
  try {
    return await startNative('@tensorflow/tfjs-node', t, kernelsSetBy);
  } catch (e) {
    return fail('backend.native-unavailable', `native TensorFlow (@tensorflow/tfjs-node) does not load: ${firstLine(e)}`, {
      hint: 'Run `node scripts/native/install.mjs` (it runs on `npm install`) and `fitspec doctor`; `train.backend: cpu` runs without it, very slowly.',
    });
  }
}

/**
 * TensorFlow sizes its thread pools from TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS when
 * the runtime starts, so they are set before tfjs-node is first imported.
 * Precedence: explicit non-zero value, then the environment, then one thread per core.
 */
function applyThreads(threads?: Threads): Threads {
  const cores = availableParallelism();
  const pick = (explicit: number | undefined, env: string): number => {
    if (explicit && explicit > 0) return explicit;
    const fromEnv = Number(process.env[env]);
    return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : cores;
  };
  const t = { intraOp: pick(threads?.intraOp, 'TF_NUM_INTRAOP_THREADS'), interOp: pick(threads?.interOp, 'TF_NUM_INTEROP_THREADS') };
  process.env.TF_NUM_INTRAOP_THREADS = String(t.intraOp);
  process.env.TF_NUM_INTEROP_THREADS = String(t.interOp);
  // Hides TensorFlow's start-up info lines (oneDNN, CPU features); warnings still show.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  return t;
}

/**
 * TensorFlow's x86-64 builds contain oneDNN, but TensorFlow turns it on by default only on some
 * CPUs; on the others its Eigen kernels run. On an AVX2 AMD EPYC where TensorFlow's default is
 * Eigen, Keras trains every model of `npm run bench:train` 1.1-1.4x faster with oneDNN (the frozen
 * VGG16 head gains least), so fitspec turns it on wherever the environment does not say otherwise
 * (TF_ENABLE_ONEDNN_OPTS=0 gets Eigen back). TensorFlow reads it once, when it first needs it, so it
 * is set before tfjs-node loads.
 */
function applyKernels(): Kernels['setBy'] {
  if (process.env.TF_ENABLE_ONEDNN_OPTS !== undefined) return 'environment';
  if (process.arch !== 'x64') return 'tensorflow';
  process.env.TF_ENABLE_ONEDNN_OPTS = '1';
  return 'fitspec';
}

/** What TensorFlow actually runs, asked from the graph addon (undefined when it is not built). */
function kernelsInUse(setBy: Kernels['setBy']): Kernels | undefined {
  const addon = loadGraphAddon();
  if (typeof addon === 'string') return undefined;
  return { name: addon.onednnEnabled() ? 'oneDNN' : 'Eigen', setBy };
}

async function startNative(pkgName: string, threads: Threads, kernelsSetBy: Kernels['setBy']): Promise<BackendInfo> {
  const tfjs = findTfjsNode(pkgName);
  if (!tfjs) throw new Error(`${pkgName} is not installed`);
  const mod = await import(pkgName);
  const tf = (mod.default ?? mod) as typeof import('@tensorflow/tfjs-node');
  await tf.ready();
  if (tf.getBackend() !== 'tensorflow') throw new Error(`${pkgName} loaded but the active backend is ${tf.getBackend()}`);
  fastStepKernel(tf, pkgName);
  const binding = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding;
  return {
    name: 'tensorflow',
    native: true,
    tensorflowVersion: binding?.TF_Version,
    tfjsVersion: tf.version.tfjs ?? tf.version_core,
    threads,
    bindingPath: bindingPath(tfjs),
    kernels: kernelsInUse(kernelsSetBy),
  };
}

/**
 * tfjs computes every ReLU gradient as `dy * step(y)`, and tfjs-node builds `step` out of seven
 * TensorFlow ops (IsNan, Greater, Fill, OnesLike, two Select...) over the whole activation map:
 * that cost more than all convolutions of a training step of the notebook's CNN. For the ReLU case
 * (alpha 0) `Sign(Relu(x))` gives the same values, NaN included, in two ops.
 */
function fastStepKernel(tf: typeof import('@tensorflow/tfjs-node'), pkgName: string): void {
  const original = tf.getKernel('Step', 'tensorflow');
  if (!original || (original.kernelFunc as { fitspec?: boolean }).fitspec) return;
  const { createTensorsTypeOpAttr } = createRequire(import.meta.url)(`${pkgName}/dist/nodejs_kernel_backend.js`) as {
    createTensorsTypeOpAttr(name: string, dtype: string): unknown;
  };
  type NativeBackend = { executeSingleOutput(op: string, attrs: unknown[], inputs: unknown[]): import('@tensorflow/tfjs').Tensor };
  const kernelFunc: import('@tensorflow/tfjs').KernelFunc = (args) => {
    const x = args.inputs.x as import('@tensorflow/tfjs').TensorInfo;
    if ((args.attrs as { alpha?: number } | undefined)?.alpha !== 0 || x.dtype !== 'float32') return original.kernelFunc(args);
    const backend = args.backend as unknown as NativeBackend;
    const attrs = [createTensorsTypeOpAttr('T', x.dtype)];
    return tf.tidy(() => backend.executeSingleOutput('Sign', attrs, [backend.executeSingleOutput('Relu', attrs, [x])]));
  };
  Object.assign(kernelFunc, { fitspec: true });
  tf.unregisterKernel('Step', 'tensorflow');
  tf.registerKernel({ ...original, kernelFunc });
}

async function startCpu(threads: Threads): Promise<BackendInfo> {
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  await tf.ready();
  process.stderr.write(`\n${'!'.repeat(100)}\n${SLOW_WARNING}\n${'!'.repeat(100)}\n\n`);
  // The pure-JS backend is single-threaded whatever TensorFlow's pools would be.
  return { name: 'cpu', native: false, tfjsVersion: tf.version.tfjs ?? tf.version_core, threads: { ...threads, intraOp: 1, interOp: 1 }, warning: SLOW_WARNING };
}

/** Which CPU kernels run and why, for `fitspec doctor`. */
export function describeKernels(k: Kernels): string {
  const why = {
    fitspec: 'TF_ENABLE_ONEDNN_OPTS=1 set by fitspec; TF_ENABLE_ONEDNN_OPTS=0 in the environment gives Eigen',
    environment: `TF_ENABLE_ONEDNN_OPTS=${process.env.TF_ENABLE_ONEDNN_OPTS ?? ''} in the environment`,
    tensorflow: "TensorFlow's default on this platform",
  }[k.setBy];
  return `${k.name} (${why})`;
}

/** One line printed at the start of training. */
export function describeBackend(info: BackendInfo): string {
  const parts = [
    info.native ? `native TensorFlow ${info.tensorflowVersion ?? '?'}` : 'pure JavaScript',
    `tfjs ${info.tfjsVersion}`,
    `threads intra-op ${info.threads.intraOp}, inter-op ${info.threads.interOp}`,
  ];
  if (info.kernels) parts.push(`${info.kernels.name} kernels`);
  if (info.name === 'tensorflow-gpu' && info.gpu?.devices?.length) parts.push(`GPU ${info.gpu.devices.join('; ')}`);
  const line = `backend: ${info.name} (${parts.join(', ')})`;
  return info.warning ? `${line}\nWARNING: ${info.warning}` : line;
}

/** Cache folder of the native install (extracted TensorFlow library, built bindings). */
export function nativeCacheDir(): string {
  return join(cacheRoot(), 'native');
}

/** Looks for what the GPU backend needs, without loading it. */
export function probeGpu(): GpuInfo {
  const gpu: GpuInfo = { usable: false };
  gpu.package = findTfjsNode('@tensorflow/tfjs-node-gpu')?.dir;
  gpu.nvidiaSmi = which('nvidia-smi');
  if (gpu.nvidiaSmi) {
    const r = spawnSync(gpu.nvidiaSmi, ['--query-gpu=name,driver_version', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000 });
    if (r.status === 0) gpu.devices = r.stdout.trim().split('\n').filter(Boolean);
  }
  gpu.cudart = findSharedLib('libcudart.so');
  gpu.cudnn = findSharedLib('libcudnn.so');
  const missing: string[] = [];
  if (!gpu.package) missing.push('@tensorflow/tfjs-node-gpu is not installed (`npm install @tensorflow/tfjs-node-gpu`)');
  if (!gpu.nvidiaSmi) missing.push('no NVIDIA driver (nvidia-smi not on PATH)');
  else if (!gpu.devices?.length) missing.push('nvidia-smi lists no GPU');
  if (!gpu.cudart) missing.push('no CUDA runtime (libcudart.so not in the linker cache, LD_LIBRARY_PATH or /usr/local/cuda)');
  if (!gpu.cudnn) missing.push('no cuDNN (libcudnn.so not found)');
  gpu.usable = missing.length === 0;
  if (!gpu.usable) gpu.reason = missing.join('; ');
  return gpu;
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

function findSharedLib(prefix: string): string | undefined {
  const ldconfig = ['/sbin/ldconfig', '/usr/sbin/ldconfig'].find(existsSync);
  if (ldconfig) {
    const r = spawnSync(ldconfig, ['-p'], { encoding: 'utf8', timeout: 10_000 });
    const hit = r.stdout?.split('\n').find((l) => l.trim().startsWith(prefix));
    if (hit) return hit.split('=>').pop()?.trim();
  }
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(delimiter), '/usr/local/cuda/lib64', '/usr/local/cuda/lib'];
  for (const dir of dirs.filter(Boolean)) {
    try {
      const f = readdirSync(dir).find((n) => n.startsWith(prefix));
      if (f) return join(dir, f);
    } catch {
      // not a readable folder
    }
  }
  return undefined;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
