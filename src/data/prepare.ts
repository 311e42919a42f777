import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataConfig } from '../config/schema/experiment.js';
import { FitspecError, fail, type Problem } from '../errors.js';
import { DECODE_CONCURRENCY, DecodeError, ImageStore, mapLimit, type ImageSpec } from './decode.js';
import { listSource, type Item } from './sources.js';
import { PART_NAMES, splitDigest, stratifiedSplit, type PartName } from './split.js';

export interface Part {
  ids: string[];
  files: string[];
  /** Class index in `PreparedData.classes`. */
  labels: number[];
}

export interface PreparedData {
  classes: string[];
  parts: { train: Part; validation?: Part; test?: Part };
  /** sha256 hex of the canonical split lists (part of the run identity). */
  splitDigest: string;
  source: { type: 'directory' | 'csv'; location: string };
  /** part -> class -> count */
  profile: Record<string, Record<string, number>>;
  /** What `onError: skip` left out, with the reason. */
  skipped: { file: string; reason: string }[];
  image: { height: number; width: number; channels: 1 | 3 };
}

/** Decoded pixels travel with the PreparedData object without becoming part of its JSON. */
const stores = new WeakMap<PreparedData, ImageStore>();

export function imageSpec(data: DataConfig): ImageSpec {
  return { height: data.image.height, width: data.image.width, channels: data.image.channels, resize: data.image.resize };
}

export function storeFor(data: PreparedData, spec?: ImageSpec): ImageStore {
  let s = stores.get(data);
  if (!s) {
    s = new ImageStore(spec ?? { ...data.image, resize: 'stretch' }, 'memory');
    stores.set(data, s);
  }
  return s;
}

const MAX_LISTED = 20;

function throwProblems(problems: Problem[]): never {
  const shown = problems.slice(0, MAX_LISTED);
  if (problems.length > MAX_LISTED) {
    shown.push({ code: 'data.more-problems', message: `... and ${problems.length - MAX_LISTED} more problem(s) with the data.`, hint: 'Fix them, or set `data.onError: skip` to leave these files out (they are listed in the run summary).' });
  } else {
    shown[shown.length - 1] = { ...shown[shown.length - 1]!, hint: shown[shown.length - 1]!.hint ?? 'Fix the file, or set `data.onError: skip` to leave such files out (they are listed in the run summary).' };
  }
  throw new FitspecError(shown);
}

/**
 * Lists, validates, decodes and splits the data. Every image is decoded here, once, so that an
 * unreadable file stops the run before training (or is skipped) and the cache is full before the
 * first batch: training never waits on decoding.
 */
export async function prepareData(data: DataConfig, seed: number, opts: { log?: (msg: string) => void } = {}): Promise<PreparedData> {
  const log = opts.log ?? (() => {});
  const listing = listSource(data);
  const spec = imageSpec(data);
  const store = new ImageStore(spec, data.cache);
  const problems: Problem[] = [...listing.problems];
  // A split that cannot be satisfied fails now, not after decoding every image.
  if (data.onError === 'fail') stratifiedSplit(listing.items, listing.classes, data.split, seed, 'fail');

  const t0 = Date.now();
  const ok = await mapLimit(listing.items, DECODE_CONCURRENCY, async (it) => {
    try {
      await store.get(it.file);
      return true;
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      problems.push({ code: 'data.unreadable-image', message: `${it.file} cannot be decoded: ${e.message}.`, file: it.file, expected: 'a readable image', received: e.message });
      return false;
    }
  });
  const good: Item[] = listing.items.filter((_, i) => ok[i]);
  const secs = (Date.now() - t0) / 1000;
  log(`data: ${listing.items.length} images listed from ${listing.location}, ${store.decoded} decoded${store.diskHits ? `, ${store.diskHits} from the disk cache` : ''} in ${secs.toFixed(1)}s`);

  if (problems.length && data.onError === 'fail') throwProblems(problems);
  const skipped = problems.map((p) => ({ file: p.file ?? listing.location, reason: p.line && p.file && !p.message.includes(`:${p.line}`) ? `line ${p.line}: ${p.message}` : p.message }));
  for (const s of skipped) log(`data: skipped ${s.file}: ${s.reason}`);

  listing.classes.forEach((c, i) => {
    if (!good.some((it) => it.label === i)) fail('data.empty-class', `Class ${c} has no usable images${problems.length ? ` (${problems.length} file(s) were skipped)` : ''}.`, { file: listing.location, path: 'data.classes', expected: `images of class ${c}`, received: 'none' });
  });

  const { parts, shortfalls } = stratifiedSplit(good, listing.classes, data.split, seed, data.onError);
  for (const s of shortfalls) {
    skipped.push({ file: s.cls, reason: s.reason });
    log(`data: ${s.reason}`);
  }
  const toPart = (items: Item[]): Part => ({ ids: items.map((i) => i.id), files: items.map((i) => i.file), labels: items.map((i) => i.label) });
  const out: PreparedData = {
    classes: listing.classes,
    parts: { train: toPart(parts.train) },
    splitDigest: splitDigest(listing.classes, parts),
    source: { type: listing.type, location: listing.location },
    profile: {},
    skipped,
    image: { height: spec.height, width: spec.width, channels: spec.channels },
  };
  if (parts.validation.length) out.parts.validation = toPart(parts.validation);
  if (parts.test.length) out.parts.test = toPart(parts.test);
  for (const p of PART_NAMES) {
    const part = out.parts[p];
    if (!part) continue;
    out.profile[p] = Object.fromEntries(listing.classes.map((c, i) => [c, part.labels.filter((l) => l === i).length]));
  }
  store.retain(new Set(PART_NAMES.flatMap((p) => out.parts[p]?.files ?? [])));
  stores.set(out, store);
  log(`data: ${PART_NAMES.filter((p) => out.parts[p]).map((p) => `${p} ${out.parts[p]!.ids.length}`).join(', ')} (${listing.classes.join(', ')})`);
  return out;
}

/** `dir/train.txt`, `validation.txt`, `test.txt`: the ids of each part, one per line. */
export function writeSplit(data: PreparedData, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const p of PART_NAMES as readonly PartName[]) {
    const part = data.parts[p];
    if (part) writeFileSync(join(dir, `${p}.txt`), part.ids.map((id) => id + '\n').join(''));
  }
}
