/** Shared by the benchmark's runner and its fitspec worker. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const BATCH = 32;
export const CLASSES = 3;
/** Images per size: enough distinct batches that no step sees the same input as the previous one. */
export const IMAGES = 128;

export function imagesFile(dir: string, size: number): string {
  return join(dir, `images-${size}x${size}x3.u8`);
}

export function labelsFile(dir: string): string {
  return join(dir, `labels-${IMAGES}.u8`);
}

/**
 * The notebook's baseline uses `valid` convolutions; at 64x64 five of them with 2x2 pooling
 * shrink the map to nothing, so below 128 both frameworks use `same` padding (flatten stays 512).
 */
export function padding(size: number): 'valid' | 'same' {
  return size >= 128 ? 'valid' : 'same';
}

/** The models the benchmark trains: an experiment file of the notebook, and what the bench overrides in it. */
export const BENCH_MODELS = {
  /** Notebook step 1: five Conv2D + MaxPool, Dense 512, softmax 3. */
  baseline: { experiment: '01-baseline.yaml', set: (pad: string) => [0, 2, 4, 6, 8].map((i) => `model.layers.${i}.conv2d.padding=${pad}`), freezeBase: false },
  /** Notebook step 2: BatchNormalization(axis=1) after every conv and Dense 512, Dropout 0.3 (valid padding: 128x128 only). */
  'bn-dropout': { experiment: '02-bn-dropout.yaml', set: () => [], freezeBase: false },
  /** Notebook step 4: VGG16 base (random weights: the speed is the same), frozen, Flatten, Dense 256, softmax 3. */
  'vgg16-head': { experiment: '04-vgg16-frozen.yaml', set: () => ['model.base.weights=null'], freezeBase: true },
  /** Step 06: the small ResNet (strided stem, three stages of two basic residual blocks, batch normalization, global pooling), Adam 1e-3. */
  resnet: { experiment: '06-resnet.yaml', set: () => [], freezeBase: false },
} as const;
export type BenchModel = keyof typeof BENCH_MODELS;

/** Deterministic uint8 images and labels (mulberry32), written once and read by every worker. */
export function generate(size: number, seed = 1234): { images: Uint8Array; labels: Uint8Array } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const images = new Uint8Array(IMAGES * size * size * 3);
  for (let i = 0; i < images.length; i++) images[i] = Math.floor(next() * 256);
  const labels = new Uint8Array(IMAGES);
  for (let i = 0; i < IMAGES; i++) labels[i] = i % CLASSES;
  return { images, labels };
}

export function readData(dir: string, size: number): { images: Uint8Array; labels: Uint8Array } {
  return { images: new Uint8Array(readFileSync(imagesFile(dir, size))), labels: new Uint8Array(readFileSync(labelsFile(dir))) };
}

/** What each worker prints as its last stdout line. */
export interface WorkerResult {
  framework: string;
  backend: string;
  /** fitspec's training engine (eager: tfjs op by op; graph: one TensorFlow session run per step). */
  engine?: string;
  model?: string;
  size: number;
  batch: number;
  warmupSteps: number;
  steps: number;
  seconds: number;
  imagesPerSec: number;
  firstStepSeconds: number;
  /** CPU time of the worker's process over the timed steps' wall time: below the core count when other work took the CPU. */
  coresUsed?: number;
  /** CPU the rest of the machine used meanwhile (all of /proc/stat's busy time minus the worker's), in cores; Linux only. */
  otherCores?: number;
  /** Set by the runner: the rest of the machine used more than `--max-others` cores meanwhile. */
  disturbed?: boolean;
  /** Set by the runner: which round of its row the worker ran in (0-based). */
  round?: number;
  peakRssMB: number;
  threads?: { intraOp: number; interOp: number };
  /** TensorFlow's CPU kernels in the worker: `oneDNN` or `Eigen`. */
  kernels?: string;
  versions: Record<string, string>;
  finalLoss: number;
}

/** Busy and total jiffies of the whole machine from /proc/stat's first line (Linux), else undefined. */
export function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - f[3]! - f[4]!, total };
  } catch {
    return undefined;
  }
}

/** Cores the machine kept busy between two readings, out of `cores`. */
export function busyCores(a: ReturnType<typeof machineTicks>, b: ReturnType<typeof machineTicks>, cores: number): number | undefined {
  if (!a || !b || b.total <= a.total) return undefined;
  return ((b.busy - a.busy) / (b.total - a.total)) * cores;
}
