import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { fail } from '../../errors.js';
import { DECODE_CONCURRENCY, mapLimit } from '../decode.js';
import { Rng } from '../random.js';
import { drawFace } from './face.js';

export const DEFAULT_CLASSES = ['YOUNG', 'MIDDLE', 'OLD'];

export interface SynthOptions {
  out: string;
  perClass: number;
  layout: 'csv' | 'directory';
  seed: number;
  /** Class names from youngest to oldest; CSV labels keep this spelling, folders are lowercase. */
  classes?: string[];
  /** Fraction of images whose age comes from a neighbouring class: borderline or mislabelled. */
  borderline?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SynthResult {
  count: number;
  out: string;
  seconds: number;
  imagesPerSecond: number;
}

/**
 * The hidden age of an image of class k of K: a band per class, widened so that neighbouring
 * classes overlap (a young-looking middle-aged face exists), and a few images drawn from a
 * neighbour's band outright.
 */
export function ageFor(r: Rng, k: number, K: number, borderline: number): number {
  let cls = k;
  if (r.bernoulli(borderline)) cls = k === 0 ? 1 : k === K - 1 ? K - 2 : k + (r.bernoulli(0.5) ? 1 : -1);
  const lo = cls / K;
  const hi = (cls + 1) / K;
  const widen = 0.25 / K;
  return Math.min(1, Math.max(0, r.uniform(lo - widen, hi + widen)));
}

/**
 * Writes a synthetic face-age dataset: `csv` layout `out/Train/<id>.jpg` + `out/train.csv`
 * (`ID,Class`, as the notebook's source data), or `directory` layout `out/<class>/<id>.jpg`.
 * The same seed always writes the same bytes.
 */
export async function synthesize(opts: SynthOptions): Promise<SynthResult> {
  const classes = opts.classes?.length ? opts.classes : DEFAULT_CLASSES;
  if (classes.length < 2) fail('synth.classes', 'A dataset needs at least 2 classes.', { expected: 'two or more class names', received: classes.join(', ') });
  if (new Set(classes.map((c) => c.toLowerCase())).size !== classes.length) fail('synth.classes', 'Class names must differ (ignoring case).', { received: classes.join(', ') });
  if (!Number.isInteger(opts.perClass) || opts.perClass < 1) fail('synth.per-class', `--per-class must be a positive integer, got ${opts.perClass}.`, { expected: 'an integer >= 1', received: String(opts.perClass) });
  const out = resolve(opts.out);
  if (existsSync(out) && readdirSync(out).length > 0) fail('synth.out-exists', `${out} already exists and is not empty.`, { file: out, hint: 'Choose a new folder, or delete this one first.' });
  const borderline = opts.borderline ?? 0.03;
  const K = classes.length;
  const total = K * opts.perClass;

  // Ids are unique numbers in a random order, like the notebook's `377.jpg`.
  const numbers = Rng.from(opts.seed, 'ids').shuffle(Array.from({ length: total * 4 }, (_, i) => i + 1)).slice(0, total);
  const labels = Rng.from(opts.seed, 'labels').shuffle(Array.from({ length: total }, (_, i) => i % K));
  const dirs = opts.layout === 'csv' ? [join(out, 'Train')] : classes.map((c) => join(out, c.toLowerCase()));
  for (const d of dirs) mkdirSync(d, { recursive: true });

  const t0 = performance.now();
  let done = 0;
  await mapLimit(labels, DECODE_CONCURRENCY * 2, async (k, i) => {
    const r = Rng.from(opts.seed, 'face', i);
    const face = drawFace(r, ageFor(r, k, K, borderline));
    const file = opts.layout === 'csv' ? join(out, 'Train', `${numbers[i]}.jpg`) : join(out, classes[k]!.toLowerCase(), `${numbers[i]}.jpg`);
    await sharp(Buffer.from(face.svg)).removeAlpha().jpeg({ quality: face.quality }).toFile(file);
    done++;
    opts.onProgress?.(done, total);
  });
  if (opts.layout === 'csv') {
    writeFileSync(join(out, 'train.csv'), 'ID,Class\n' + labels.map((k, i) => `${numbers[i]}.jpg,${classes[k]}\n`).join(''));
  }
  const seconds = (performance.now() - t0) / 1000;
  return { count: total, out, seconds, imagesPerSecond: total / seconds };
}
