import { createHash } from 'node:crypto';
import type { DataConfig } from '../config/schema/experiment.js';
import { fail } from '../errors.js';
import { Rng } from './random.js';
import type { Item } from './sources.js';

export const PART_NAMES = ['train', 'validation', 'test'] as const;
export type PartName = (typeof PART_NAMES)[number];

export interface SplitResult {
  parts: Record<PartName, Item[]>;
  /** Shortfalls accepted under `onError: skip` (a class with fewer images than the split asks). */
  shortfalls: { cls: string; reason: string }[];
}

/** Images per part for one class of `n` images: counts (>= 1) or fractions (< 1) of the class. */
export function partCounts(split: DataConfig['split'], n: number): Record<PartName, number> {
  const spec = PART_NAMES.map((p) => split[p] ?? 0);
  for (const [i, v] of spec.entries()) {
    if (v >= 1 && !Number.isInteger(v))
      fail('data.split-value', `data.split.${PART_NAMES[i]} is ${v}: use a whole number of images per class, or a fraction below 1.`, {
        path: `data.split.${PART_NAMES[i]}`,
        expected: 'an integer >= 1 or a number in [0, 1)',
        received: String(v),
      });
  }
  const fractions = spec.filter((v) => v > 0 && v < 1);
  const fracSum = fractions.reduce((a, b) => a + b, 0);
  if (fracSum > 1 + 1e-9)
    fail('data.split-fractions', `The split fractions add up to ${+fracSum.toFixed(6)}; they must not exceed 1.`, {
      path: 'data.split',
      expected: 'fractions adding up to at most 1',
      received: PART_NAMES.map((p, i) => `${p}: ${spec[i]}`).join(', '),
    });
  const counts = spec.map((v) => (v >= 1 ? v : Math.floor(v * n)));
  // Fractions that add up to 1 use every image: the rounding remainder goes to the largest remainders.
  if (fractions.length === spec.filter((v) => v > 0).length && Math.abs(fracSum - 1) < 1e-9) {
    let left = n - counts.reduce((a, b) => a + b, 0);
    const order = spec
      .map((v, i) => ({ i, r: v * n - Math.floor(v * n) }))
      .filter((o) => spec[o.i]! > 0)
      .sort((a, b) => b.r - a.r || a.i - b.i);
    for (let k = 0; left > 0; k = (k + 1) % order.length, left--) counts[order[k]!.i]!++;
  }
  return { train: counts[0]!, validation: counts[1]!, test: counts[2]! };
}

/**
 * Stratified, seeded split: every class is ordered by id (so the file system's listing order does
 * not matter), shuffled with a generator keyed by the seed and the class name, then cut into
 * train / validation / test. The same seed and images always give the same split.
 */
export function stratifiedSplit(items: Item[], classes: string[], split: DataConfig['split'], seed: number, onError: 'fail' | 'skip'): SplitResult {
  const parts: Record<PartName, Item[]> = { train: [], validation: [], test: [] };
  const shortfalls: SplitResult['shortfalls'] = [];
  classes.forEach((cls, label) => {
    const own = items.filter((it) => it.label === label).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    Rng.from(seed, 'split', cls).shuffle(own);
    const want = partCounts(split, own.length);
    const total = want.train + want.validation + want.test;
    if (total > own.length) {
      const asked = PART_NAMES.filter((p) => want[p] > 0)
        .map((p) => `${p} ${want[p]}`)
        .join(' + ');
      if (onError === 'fail') {
        fail('data.too-few-images', `Class ${cls} has ${own.length} usable images but the split asks for ${total} (${asked}).`, {
          path: 'data.split',
          expected: `at least ${total} images of class ${cls}`,
          received: String(own.length),
          hint: 'Lower the counts in `data.split`, use fractions, or set `data.onError: skip` to give the last parts what is left.',
        });
      }
      shortfalls.push({ cls, reason: `class ${cls} has ${own.length} usable images, the split asks for ${total} (${asked}); the last parts get what is left` });
    }
    let at = 0;
    for (const p of PART_NAMES) {
      const take = Math.min(want[p], own.length - at);
      parts[p].push(...own.slice(at, at + take));
      at += take;
    }
  });
  for (const p of PART_NAMES) parts[p].sort((a, b) => a.label - b.label || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (parts.train.length === 0) fail('data.empty-split', 'The training part is empty.', { path: 'data.split.train', expected: 'at least one image per class', received: '0' });
  return { parts, shortfalls };
}

/** sha256 of the canonical split lists: classes, then every part as `id<TAB>class` lines. */
export function splitDigest(classes: string[], parts: Record<PartName, Item[]>): string {
  const h = createHash('sha256');
  h.update(`classes\n${classes.join('\n')}\n`);
  for (const p of PART_NAMES) {
    h.update(`[${p}]\n`);
    for (const it of parts[p]) h.update(`${it.id}\t${classes[it.label]}\n`);
  }
  return h.digest('hex');
}
