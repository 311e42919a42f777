import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { fail } from '../../errors.js';
import { DECODE_CONCURRENCY, mapLimit } from '../decode.js';
import { Rng } from '../random.js';
import { drawFace, drawPersona, type Persona } from './face.js';
import { synthProfile, type SynthProfile } from './profiles.js';

export const DEFAULT_CLASSES = ['YOUNG', 'MIDDLE', 'OLD'];

export interface SynthOptions {
  out: string;
  perClass: number;
  layout: 'csv' | 'directory';
  seed: number;
  /** Class names from youngest to oldest; CSV labels keep this spelling, folders are lowercase. Not for the identity task, whose classes are the persons. */
  classes?: string[];
  /** A named set of difficulty knobs (profiles.ts); `default` when omitted. */
  profile?: string;
  /** Fraction of images whose age comes from a neighbouring class: borderline or mislabelled (overrides the profile). */
  borderline?: number;
  /** Number of persons (overrides the profile). */
  identities?: number;
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
export function ageFor(r: Rng, k: number, K: number, borderline: number, overlap = 0.25): number {
  let cls = k;
  if (r.bernoulli(borderline)) cls = k === 0 ? 1 : k === K - 1 ? K - 2 : k + (r.bernoulli(0.5) ? 1 : -1);
  const lo = cls / K;
  const hi = (cls + 1) / K;
  const widen = overlap / K;
  return Math.min(1, Math.max(0, r.uniform(lo - widen, hi + widen)));
}

/**
 * Writes a synthetic face-age dataset: `csv` layout `out/Train/<id>.jpg` + `out/train.csv`
 * (`ID,Class`, as the notebook's source data), or `directory` layout `out/<class>/<id>.jpg`.
 * The same seed always writes the same bytes.
 */
export async function synthesize(opts: SynthOptions): Promise<SynthResult> {
  const profile: SynthProfile = { ...synthProfile(opts.profile ?? 'default') };
  if (opts.identities !== undefined) profile.identities = opts.identities;
  if (opts.borderline !== undefined) profile.borderline = opts.borderline;
  if (!Number.isInteger(profile.identities) || profile.identities < 0)
    fail('synth.identities', `--identities must be a non-negative integer, got ${profile.identities}.`, { expected: 'an integer >= 0', received: String(profile.identities) });
  if (profile.task === 'identity' && profile.identities < 2)
    fail('synth.identities', `The identity task needs at least 2 persons, got ${profile.identities}.`, { expected: 'an integer >= 2', received: String(profile.identities) });
  if (profile.task === 'identity' && opts.classes?.length)
    fail('synth.classes', `The \`${profile.name}\` profile labels images by person; its classes cannot be named.`, {
      received: opts.classes.join(', '),
      hint: 'Leave out --classes.',
    });
  const classes = profile.task === 'identity' ? personNames(profile.identities) : opts.classes?.length ? opts.classes : DEFAULT_CLASSES;
  if (classes.length < 2) fail('synth.classes', 'A dataset needs at least 2 classes.', { expected: 'two or more class names', received: classes.join(', ') });
  if (new Set(classes.map((c) => c.toLowerCase())).size !== classes.length) fail('synth.classes', 'Class names must differ (ignoring case).', { received: classes.join(', ') });
  if (!Number.isInteger(opts.perClass) || opts.perClass < 1)
    fail('synth.per-class', `--per-class must be a positive integer, got ${opts.perClass}.`, { expected: 'an integer >= 1', received: String(opts.perClass) });
  const out = resolve(opts.out);
  if (existsSync(out) && readdirSync(out).length > 0)
    fail('synth.out-exists', `${out} already exists and is not empty.`, { file: out, hint: 'Choose a new folder, or delete this one first.' });
  const K = classes.length;
  const personas = profile.identities > 0 ? Array.from({ length: profile.identities }, (_, i) => drawPersona(Rng.from(opts.seed, 'persona', i))) : [];
  const cast = profile.task === 'age' && personas.length > 0 ? castByClass(Rng.from(opts.seed, 'cast'), personas.length, K) : [];
  const knobs = { cueNoise: profile.cueNoise, nuisance: profile.nuisance };
  const total = K * opts.perClass;

  // Ids are unique numbers in a random order, like the notebook's `377.jpg`.
  const numbers = Rng.from(opts.seed, 'ids')
    .shuffle(Array.from({ length: total * 4 }, (_, i) => i + 1))
    .slice(0, total);
  const labels = Rng.from(opts.seed, 'labels').shuffle(Array.from({ length: total }, (_, i) => i % K));
  const dirs = opts.layout === 'csv' ? [join(out, 'Train')] : classes.map((c) => join(out, c.toLowerCase()));
  for (const d of dirs) mkdirSync(d, { recursive: true });

  const t0 = performance.now();
  let done = 0;
  await mapLimit(labels, DECODE_CONCURRENCY * 2, async (k, i) => {
    const r = Rng.from(opts.seed, 'face', i);
    let face;
    if (profile.task === 'identity') {
      face = drawFace(r, r.next(), personas[k], knobs);
    } else {
      const persona: Persona | undefined = cast.length ? personas[Rng.from(opts.seed, 'who', i).pick(cast[k]!)] : undefined;
      face = drawFace(r, ageFor(r, k, K, profile.borderline, profile.ageOverlap), persona, knobs);
    }
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

/** `P000`, `P001`, ...: class names of the identity task. */
function personNames(n: number): string[] {
  const w = String(n - 1).length;
  return Array.from({ length: n }, (_, i) => `P${String(i).padStart(Math.max(3, w), '0')}`);
}

/**
 * Which persons appear in which age class: each person has a home class and, half of the time,
 * also one neighbouring class (an actor filmed over a few years), so a person says something
 * about age but not everything.
 */
function castByClass(r: Rng, persons: number, K: number): number[][] {
  const cast: number[][] = Array.from({ length: K }, () => []);
  for (let p = 0; p < persons; p++) {
    const home = p % K;
    cast[home]!.push(p);
    if (K > 1 && r.bernoulli(0.5)) cast[home === 0 ? 1 : home === K - 1 ? K - 2 : home + (r.bernoulli(0.5) ? 1 : -1)]!.push(p);
  }
  // With fewer persons than classes a class may have nobody: anyone may play it.
  return cast.map((c) => (c.length ? c : Array.from({ length: persons }, (_, p) => p)));
}
