import { mkdirSync, writeFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import type { DataConfig } from '../config/schema/experiment.js';
import { FitspecError, fail, type Problem } from '../errors.js';
import { activeBackend } from '../backend.js';
import type { BatchDecoder } from './decode-native.js';
import { DecodeError, type ImageSpec } from './decode.js';
import { MemoryStore, createStore, type CacheMode, type ImageStore } from './store.js';
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
  /** Where the decoded images are kept (`auto` resolved). */
  cache: CacheMode;
}

/** Decoded pixels travel with the PreparedData object without becoming part of its JSON. */
const stores = new WeakMap<PreparedData, ImageStore>();

export function imageSpec(data: DataConfig): ImageSpec {
  return { height: data.image.height, width: data.image.width, channels: data.image.channels, resize: data.image.resize, interpolation: data.image.interpolation };
}

export function storeFor(data: PreparedData, spec?: ImageSpec): ImageStore {
  let s = stores.get(data);
  if (!s) {
    s = new MemoryStore(spec ?? { ...data.image, resize: 'stretch' });
    stores.set(data, s);
  }
  return s;
}

const MAX_LISTED = 20;

function throwProblems(problems: Problem[]): never {
  const shown = problems.slice(0, MAX_LISTED);
  if (problems.length > MAX_LISTED) {
    shown.push({
      code: 'data.more-problems',
      message: `... and ${problems.length - MAX_LISTED} more problem(s) with the data.`,
      hint: 'Fix them, or set `data.onError: skip` to leave these files out (they are listed in the run summary).',
    });
  } else {
    shown[shown.length - 1] = {
      ...shown[shown.length - 1]!,
      hint: shown[shown.length - 1]!.hint ?? 'Fix the file, or set `data.onError: skip` to leave such files out (they are listed in the run summary).',
    };
  }
  throw new FitspecError(shown);
}

/**
 * TensorFlow's decode and resize ops when this process runs the native backend (set up by the
 * trainer before it prepares the data); otherwise undefined and sharp decodes everything. Commands
 * that never start a backend (`data check`) do not load TensorFlow for this.
 */
async function nativeDecoder(spec: ImageSpec): Promise<BatchDecoder | undefined> {
  const key = JSON.stringify([spec, process.env.FITSPEC_DECODER]);
  // One decoder (one graph and session) per spec for the process: predictions decode in many calls.
  let dec = decoders.get(key);
  if (!dec) decoders.set(key, (dec = makeNativeDecoder(spec)));
  return dec;
}
const decoders = new Map<string, Promise<BatchDecoder | undefined>>();

async function makeNativeDecoder(spec: ImageSpec): Promise<BatchDecoder | undefined> {
  const info = await activeBackend()?.catch(() => undefined);
  const choice = process.env.FITSPEC_DECODER;
  if (!info?.native || choice === 'sharp') return undefined;
  if (choice !== 'tfjs') {
    const { loadGraphAddon } = await import('../native-addon.js');
    const addon = loadGraphAddon();
    if (typeof addon !== 'string') {
      const { graphDecoder } = await import('./decode-graph.js');
      const dec = graphDecoder(addon, spec);
      if (dec) return dec;
    }
  }
  const tf = await import('@tensorflow/tfjs');
  const { tensorflowDecoder } = await import('./decode-native.js');
  return tensorflowDecoder(tf, spec);
}

/**
 * Pixels of `files`, one record after another, decoded as prepareData decodes them (the same
 * decoder, so a model sees at prediction time what it saw in training); DecodeError names the file.
 */
export async function decodeLikeTraining(files: readonly string[], spec: ImageSpec): Promise<Uint8Array> {
  const store = new MemoryStore(spec, undefined, await nativeDecoder(spec));
  const failed = await store.fill(files);
  for (const f of files) {
    const why = failed.get(f);
    if (why === undefined) continue;
    const e = new DecodeError(why);
    e.file = f;
    throw e;
  }
  const out = new Uint8Array(files.length * store.frame);
  const reader = await store.reader();
  await reader.read(files, out);
  return out;
}

const MB = 1024 * 1024;
/** Share of the available memory that `cache: memory` / `auto` may fill by default. */
export const MEMORY_SHARE = 0.5;

/** Bytes decoded images may take in RAM: `data.memoryBudget`, else a share of what is available now. */
export function memoryBudget(data: Pick<DataConfig, 'memoryBudget'>): { bytes: number; stated: string } {
  if (data.memoryBudget !== undefined) return { bytes: data.memoryBudget * MB, stated: `data.memoryBudget (${formatBytes(data.memoryBudget * MB)})` };
  let available = freemem();
  // Inside a container the cgroup limit may be far below the machine's free memory.
  const limit = process.constrainedMemory?.() ?? 0;
  if (limit > 0 && limit < Number.MAX_SAFE_INTEGER) available = Math.min(available, Math.max(0, limit - process.memoryUsage.rss()));
  const bytes = Math.floor(available * MEMORY_SHARE);
  return { bytes, stated: `half of the available memory (${formatBytes(bytes)} of ${formatBytes(available)})` };
}

export function formatBytes(n: number): string {
  if (n >= 1024 * MB) return `${(n / (1024 * MB)).toFixed(1)} GB`;
  return n >= MB ? `${(n / MB).toFixed(0)} MB` : `${(n / 1024).toFixed(0)} KB`;
}

/**
 * `auto` becomes `memory` when the decoded images fit in the memory budget, else `disk` with a
 * warning; a pinned `memory` that does not fit stops here, before anything is decoded.
 */
export function chooseCache(data: Pick<DataConfig, 'cache' | 'memoryBudget'>, images: number, spec: ImageSpec, warn: (msg: string) => void): CacheMode {
  if (data.cache === 'disk' || data.cache === 'none') return data.cache;
  const need = images * spec.height * spec.width * spec.channels;
  const budget = memoryBudget(data);
  if (need <= budget.bytes) return 'memory';
  const what = `${images} decoded images at ${spec.height}x${spec.width}x${spec.channels} need ${formatBytes(need)}, more than ${budget.stated}`;
  if (data.cache === 'memory') {
    fail('data.cache-memory', `\`data.cache: memory\`: ${what}.`, {
      path: 'data.cache',
      expected: `at most ${formatBytes(budget.bytes)} of decoded images`,
      received: formatBytes(need),
      hint: 'Set `data.cache: disk` (streams from an on-disk cache, memory stays bounded) or `auto`, or raise `data.memoryBudget` if the machine has the memory.',
    });
  }
  warn(`warning: data: ${what}: caching them on disk instead (data.cache: disk)`);
  return 'disk';
}

/**
 * Lists, validates, decodes and splits the data. Every image is decoded here, once, so that an
 * unreadable file stops the run before training (or is skipped) and the cache is complete before
 * the first batch: training never waits on decoding, and with `disk` it reads records of a
 * finished, checksummed cache file.
 */
export async function prepareData(data: DataConfig, seed: number, opts: { log?: (msg: string) => void; split?: Partial<Record<PartName, string[]>> } = {}): Promise<PreparedData> {
  const log = opts.log ?? (() => {});
  const spec = imageSpec(data);
  // The decoder before the listing: its first session run (TensorFlow builds the executor) then
  // goes on TensorFlow's threads while this one lists the folder.
  const decoder = await nativeDecoder(spec);
  const listing = listSource(data);
  const problems: Problem[] = [...listing.problems];
  // A split that cannot be satisfied fails now, not after decoding every image.
  if (data.onError === 'fail' && !opts.split) stratifiedSplit(listing.items, listing.classes, data.split, seed, 'fail');
  const mode = chooseCache(data, listing.items.length, spec, log);
  const store = createStore(mode, spec, log, decoder);

  const t0 = Date.now();
  const failed = await store.fill(listing.items.map((it) => it.file));
  for (const it of listing.items) {
    const why = failed.get(it.file);
    if (why !== undefined)
      problems.push({ code: 'data.unreadable-image', message: `${it.file} cannot be decoded: ${why}.`, file: it.file, expected: 'a readable image', received: why });
  }
  const good: Item[] = listing.items.filter((it) => !failed.has(it.file));
  const secs = (Date.now() - t0) / 1000;
  log(
    `data: ${listing.items.length} images listed from ${listing.location}, ${store.decoded} decoded${store.reused ? `, ${store.reused} from the disk cache` : ''} in ${secs.toFixed(1)}s (cache: ${mode})`,
  );

  if (problems.length && data.onError === 'fail') throwProblems(problems);
  const skipped = problems.map((p) => ({
    file: p.file ?? listing.location,
    reason: p.line && p.file && !p.message.includes(`:${p.line}`) ? `line ${p.line}: ${p.message}` : p.message,
  }));
  for (const s of skipped) log(`data: skipped ${s.file}: ${s.reason}`);

  listing.classes.forEach((c, i) => {
    if (!good.some((it) => it.label === i))
      fail('data.empty-class', `Class ${c} has no usable images${problems.length ? ` (${problems.length} file(s) were skipped)` : ''}.`, {
        file: listing.location,
        path: 'data.classes',
        expected: `images of class ${c}`,
        received: 'none',
      });
  });

  const { parts, shortfalls } = opts.split ? givenSplit(good, opts.split, listing.location) : stratifiedSplit(good, listing.classes, data.split, seed, data.onError);
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
    cache: mode,
  };
  if (parts.validation.length) out.parts.validation = toPart(parts.validation);
  if (parts.test.length) out.parts.test = toPart(parts.test);
  for (const p of PART_NAMES) {
    const part = out.parts[p];
    if (!part) continue;
    out.profile[p] = Object.fromEntries(listing.classes.map((c, i) => [c, part.labels.filter((l) => l === i).length]));
  }
  // Only the memory store holds pixels to free; the set of every file is not built for the others.
  if (store.mode === 'memory') store.retain(new Set(PART_NAMES.flatMap((p) => out.parts[p]?.files ?? [])));
  stores.set(out, store);
  log(
    `data: ${PART_NAMES.filter((p) => out.parts[p])
      .map((p) => `${p} ${out.parts[p]!.ids.length}`)
      .join(', ')} (${listing.classes.join(', ')})`,
  );
  return out;
}

/** The parts a run logged (`split/*.txt`), in their order: a rerun trains on exactly those images. */
function givenSplit(
  items: Item[],
  split: Partial<Record<PartName, string[]>>,
  location: string,
): { parts: Record<PartName, Item[]>; shortfalls: { cls: string; reason: string }[] } {
  const byId = new Map(items.map((it) => [it.id, it]));
  const parts = { train: [], validation: [], test: [] } as Record<PartName, Item[]>;
  for (const p of PART_NAMES) {
    const ids = split[p] ?? [];
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length)
      fail('data.split-missing', `${missing.length} image(s) of the logged ${p} split are not in ${location} (first: ${missing[0]}).`, {
        file: location,
        expected: `the ${ids.length} images of the logged split`,
        received: `${ids.length - missing.length} of them`,
      });
    parts[p] = ids.map((id) => byId.get(id)!);
  }
  return { parts, shortfalls: [] };
}

/** `dir/train.txt`, `validation.txt`, `test.txt`: the ids of each part, one per line. */
export function writeSplit(data: PreparedData, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const p of PART_NAMES as readonly PartName[]) {
    const part = data.parts[p];
    if (part) writeFileSync(join(dir, `${p}.txt`), part.ids.map((id) => id + '\n').join(''));
  }
}
