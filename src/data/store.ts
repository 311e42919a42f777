import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { formatBytes, freeBytes, isDiskFull } from '../disk.js';
import type { BatchDecoder } from './decode-native.js';
import { DECODE_CONCURRENCY, DECODER_VERSION, DecodeError, cacheRoot, decodeFile, interpolationOf, mapLimit, type ImageSpec } from './decode.js';

export type CacheMode = 'memory' | 'disk' | 'none';

/** Reads the pixels of some files of the store into one buffer, record after record. */
export interface StoreReader {
  read(files: readonly string[], out: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * Decoded images of one listing, `frame` bytes each. Every store counts the pixel bytes it holds
 * in RAM (`resident`, `peakResident`): the whole dataset for `memory`, only what is being decoded
 * or batched for `disk` and `none`.
 */
export abstract class ImageStore {
  abstract readonly mode: CacheMode;
  readonly frame: number;
  decoded = 0;
  /** Images found in the disk cache instead of decoded. */
  reused = 0;
  /** Disk cache records that failed their checksum and were decoded again. */
  repaired = 0;
  resident = 0;
  peakResident = 0;

  constructor(
    readonly spec: ImageSpec,
    protected readonly warn: (msg: string) => void = () => {},
    /** Decodes what it can, many images per call (TensorFlow's ops); sharp does the rest. */
    protected readonly batchDecoder?: BatchDecoder,
  ) {
    this.frame = spec.height * spec.width * spec.channels;
  }

  /** Which decoder made the pixels: part of the disk cache key. */
  get decoderId(): string {
    return this.batchDecoder?.id ?? 'sharp';
  }

  /** Decodes (or finds) every file; returns the files that cannot be decoded, with the reason. */
  abstract fill(files: readonly string[]): Promise<Map<string, string>>;
  abstract reader(): Promise<StoreReader>;
  /** Frees what is not in `keep` (images outside the split). */
  retain(_keep: ReadonlySet<string>): void {}

  /** Counts `bytes` of pixels held in RAM until the matching `drop`. */
  hold(bytes: number): void {
    this.resident += bytes;
    if (this.resident > this.peakResident) this.peakResident = this.resident;
  }
  drop(bytes: number): void {
    this.resident -= bytes;
  }

  protected async decode(file: string): Promise<Uint8Array> {
    return (await this.decodeMany([file]))[0]!;
  }

  /** Pixels of each file, the batch decoder's in one call where it can; DecodeError names the file. */
  protected async decodeMany(files: readonly string[]): Promise<Uint8Array[]> {
    const first = this.batchDecoder ? await this.decodeBatch(files) : [];
    return mapLimit(files, DECODE_CONCURRENCY, async (file, k) => {
      try {
        const px = first[k] ?? (await decodeFile(file, this.spec));
        this.decoded++;
        return px;
      } catch (e) {
        if (e instanceof DecodeError) e.file = file;
        throw e;
      }
    });
  }

  /** The batch decoder's pixels for `files` (read concurrently); undefined where it cannot decode. */
  private async decodeBatch(files: readonly string[], contents = readAll(files)): Promise<(Uint8Array | undefined)[]> {
    return this.batchDecoder!.decode(await contents);
  }

  /** Decodes every file with bounded concurrency; `use` takes each image, failures are collected. */
  protected async decodeAll(files: readonly string[], use: (px: Uint8Array, i: number) => Promise<void> | void): Promise<Map<string, string>> {
    const failed = new Map<string, string>();
    const chunk = this.batchDecoder ? BATCH_DECODE : files.length;
    const start = (s: number) => (this.batchDecoder && s < files.length ? this.decodeBatch(files.slice(s, s + chunk)) : undefined);
    let decoding = start(0);
    for (let s = 0; s < files.length; s += chunk) {
      const part = files.slice(s, s + chunk);
      const pending = decoding;
      // Two chunks in flight: the next one is read and decoded (off this thread with the graph
      // decoder) while this one is stored.
      decoding = start(s + chunk);
      const first = pending ? await pending : [];
      for (const px of first) if (px) this.decoded++, this.hold(px.byteLength);
      await mapLimit(part, DECODE_CONCURRENCY, async (f, k) => {
        let px = first[k];
        if (!px) {
          // Not decoded by the batch decoder (or there is none): sharp, which also words the error.
          try {
            px = await decodeFile(f, this.spec);
          } catch (e) {
            if (!(e instanceof DecodeError)) throw e;
            failed.set(f, e.message);
            return;
          }
          this.decoded++;
          this.hold(px.byteLength);
        }
        try {
          await use(px, s + k);
        } finally {
          this.drop(px.byteLength);
        }
      });
    }
    return failed;
  }
}

/**
 * File contents for the batch decoder; an unreadable file is left to sharp, which words the error.
 * Read synchronously: an image file is small and usually in the page cache, where readFileSync
 * costs tens of microseconds while the promise version's open/stat/read/close hops through libuv's
 * pool (which the decoder's runs also use) cost several times more in all; the decoding itself
 * runs off this thread meanwhile.
 */
async function readAll(files: readonly string[]): Promise<Buffer[]> {
  return files.map((f) => {
    try {
      return readFileSync(f);
    } catch {
      return Buffer.alloc(0);
    }
  });
}

/** Images per call of the batch decoder while filling a cache. */
const BATCH_DECODE = 32;

/** Every decoded image in a Map: later epochs decode nothing, memory grows with the dataset. */
export class MemoryStore extends ImageStore {
  readonly mode = 'memory';
  private readonly images = new Map<string, Uint8Array>();

  async fill(files: readonly string[]): Promise<Map<string, string>> {
    const failed = await this.decodeAll(files, (px, i) => {
      this.images.set(files[i]!, px);
      // Kept: counted as resident until `retain` lets it go.
      this.hold(px.byteLength);
    });
    return failed;
  }

  async reader(): Promise<StoreReader> {
    return {
      read: async (files, out) => {
        for (const [k, f] of files.entries()) {
          let px = this.images.get(f);
          if (!px) {
            // A store made without fill (a PreparedData built by hand) decodes on first use.
            px = await this.decode(f);
            this.images.set(f, px);
            this.hold(px.byteLength);
          }
          out.set(px, k * this.frame);
        }
      },
      close: async () => {},
    };
  }

  retain(keep: ReadonlySet<string>): void {
    for (const [f, px] of this.images) {
      if (keep.has(f)) continue;
      this.images.delete(f);
      this.drop(px.byteLength);
    }
  }
}

/** Nothing kept: every read decodes again. */
export class NoStore extends ImageStore {
  readonly mode = 'none';

  fill(files: readonly string[]): Promise<Map<string, string>> {
    return this.decodeAll(files, () => {});
  }

  async reader(): Promise<StoreReader> {
    return {
      read: async (files, out) => {
        for (const [k, px] of (await this.decodeMany(files)).entries()) out.set(px, k * this.frame);
      },
      close: async () => {},
    };
  }
}

interface DiskIndex {
  version: number;
  spec: ImageSpec;
  count: number;
  /** CRC-32 of each record, base64 of a little-endian Uint32Array. */
  crc: string;
  /** Record index -> why that file cannot be decoded. */
  failed: Record<string, string>;
}

const INDEX_VERSION = 1;

/**
 * One file per dataset listing and image spec under `cacheRoot()`: record i is the decoded image of
 * the listing's i-th file, `frame` bytes at offset i * frame, so a batch is a few positioned reads
 * of one open file. A JSON index beside it holds a CRC-32 per record and the files that failed; it
 * is written last, so a cache without an index is an unfinished one. The cache key covers each
 * file's path, size and modification time, the image spec and the decoder version.
 */
export class DiskStore extends ImageStore {
  readonly mode = 'disk';
  /** Record lookup without a Map entry per file: the listing, and its positions in path order. */
  private files: readonly string[] = [];
  private byPath = new Uint32Array(0);
  private crc: Uint32Array = new Uint32Array(0);
  private dataPath = '';
  private indexPath = '';
  /** Decodes every time when the cache disk was full. */
  private fallback?: NoStore;

  constructor(
    spec: ImageSpec,
    warn?: (msg: string) => void,
    batchDecoder?: BatchDecoder,
    private readonly root = cacheRoot(),
  ) {
    super(spec, warn, batchDecoder);
  }

  /** The cache file of the last `fill`. */
  get path(): string {
    return this.dataPath;
  }

  private keyFor(files: readonly string[]): string {
    const { height, width, channels, resize } = this.spec;
    const h = createHash('sha256').update(`fitspec-images ${DECODER_VERSION} ${this.decoderId} ${height}x${width}x${channels} ${resize} ${interpolationOf(this.spec)}\n`);
    for (const f of files) {
      let stamp = 'missing';
      try {
        const st = statSync(f);
        stamp = `${st.size} ${st.mtimeMs}`;
      } catch {
        // A missing file is part of the key; decoding it reports the problem.
      }
      h.update(`${resolve(f)}\0${stamp}\n`);
    }
    return h.digest('hex');
  }

  async fill(files: readonly string[]): Promise<Map<string, string>> {
    this.files = files;
    this.byPath = Uint32Array.from(files.keys()).sort((a, b) => (files[a]! < files[b]! ? -1 : files[a]! > files[b]! ? 1 : b - a));
    const key = this.keyFor(files);
    const dir = join(this.root, key.slice(0, 2));
    this.dataPath = join(dir, `${key}.u8`);
    this.indexPath = join(dir, `${key}.json`);
    const cached = this.openCached(files.length);
    if (cached) {
      this.crc = cached.crc;
      this.reused = files.length - Object.keys(cached.failed).length;
      return new Map(Object.entries(cached.failed).map(([i, why]) => [files[Number(i)]!, why]));
    }

    // Written under a temporary name, renamed when complete: a concurrent run never reads half a cache.
    const tmp = `${this.dataPath}.${process.pid}.tmp`;
    const crc = new Uint32Array(files.length);
    let failed: Map<string, string>;
    try {
      mkdirSync(dir, { recursive: true });
      const fh = await open(tmp, 'w');
      try {
        await fh.truncate(files.length * this.frame);
        failed = await this.decodeAll(files, async (px, i) => {
          crc[i] = crc32(px);
          await fh.write(px, 0, px.byteLength, i * this.frame);
        });
      } finally {
        await fh.close();
      }
      renameSync(tmp, this.dataPath);
      this.crc = crc;
      const index: DiskIndex = {
        version: INDEX_VERSION,
        spec: this.spec,
        count: files.length,
        crc: Buffer.from(crc.buffer).toString('base64'),
        failed: Object.fromEntries([...failed].map(([f, why]) => [String(this.recordOf(f)), why])),
      };
      this.writeIndex(index);
    } catch (e) {
      rmSync(tmp, { force: true });
      if (!isDiskFull(e)) throw e;
      // A full cache disk costs speed, not the run: decode every time instead.
      rmSync(this.dataPath, { force: true });
      rmSync(this.indexPath, { force: true });
      const needed = files.length * this.frame;
      this.warn(
        `warning: data: no space left for the image cache in ${dir} (it needs about ${formatBytes(needed)}, ${formatBytes(freeBytes(dir) ?? 0)} free): decoding every epoch without the cache (slower); free space there or set data.cache: none`,
      );
      this.fallback = new NoStore(this.spec, this.warn, this.batchDecoder);
      return this.fallback.fill(files);
    }
    return failed;
  }

  private writeIndex(index: DiskIndex): void {
    const tmp = `${this.indexPath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(index));
    renameSync(tmp, this.indexPath);
  }

  /** The finished cache for this listing, or undefined (none yet, or unusable: then rebuilt). */
  private openCached(count: number): { crc: Uint32Array; failed: Record<string, string> } | undefined {
    let index: DiskIndex;
    try {
      index = JSON.parse(readFileSync(this.indexPath, 'utf8')) as DiskIndex;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        this.warn(`warning: data: the image cache index ${this.indexPath} is unreadable (${(e as Error).message}); decoding again`);
      return undefined;
    }
    const raw = Buffer.from(typeof index.crc === 'string' ? index.crc : '', 'base64');
    const crc = raw.byteLength % 4 === 0 ? new Uint32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)) : new Uint32Array(0);
    let size = -1;
    try {
      size = statSync(this.dataPath).size;
    } catch {
      // Counted as truncated below.
    }
    const want = count * this.frame;
    if (index.version !== INDEX_VERSION || index.count !== count || crc.length !== count) {
      this.warn(`warning: data: the image cache index ${this.indexPath} does not match the data; decoding again`);
      return undefined;
    }
    if (size !== want) {
      this.warn(`warning: data: the image cache ${this.dataPath} is ${size < 0 ? 'missing' : `truncated (${size} of ${want} bytes)`}; decoding again`);
      return undefined;
    }
    return { crc, failed: index.failed ?? {} };
  }

  /** Record index of `file` (its last place in the listing, as a Map built from it would give), by binary search of the path order. */
  private recordOf(file: string): number | undefined {
    let lo = 0;
    let hi = this.byPath.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.files[this.byPath[mid]!]! < file) lo = mid + 1;
      else hi = mid;
    }
    const i = this.byPath[lo];
    return i !== undefined && this.files[i] === file ? i : undefined;
  }

  async reader(): Promise<StoreReader> {
    if (this.fallback) return this.fallback.reader();
    const fh = await open(this.dataPath, 'r');
    return {
      read: async (files, out) => {
        await Promise.all(files.map((f, k) => this.readRecord(fh, f, out.subarray(k * this.frame, (k + 1) * this.frame))));
      },
      close: () => fh.close(),
    };
  }

  private async readRecord(fh: FileHandle, file: string, out: Uint8Array): Promise<void> {
    const i = this.recordOf(file);
    if (i === undefined) throw new Error(`${file} is not in the image cache`);
    const { bytesRead } = await fh.read(out, 0, this.frame, i * this.frame);
    if (bytesRead === this.frame && crc32(out) === this.crc[i]) return;
    // A damaged record is never handed on: decode the image again and repair the cache file.
    this.warn(
      `warning: data: record ${i} of the image cache ${this.dataPath} (${file}) is ${bytesRead < this.frame ? 'truncated' : 'corrupted'} (checksum mismatch); decoding it again`,
    );
    const px = await this.decode(file);
    out.set(px);
    this.repaired++;
    const sum = crc32(px);
    const w = await open(this.dataPath, 'r+');
    try {
      await w.write(px, 0, px.byteLength, i * this.frame);
    } finally {
      await w.close();
    }
    if (sum !== this.crc[i]) {
      // The source file changed in place without a new size or time: keep the cache consistent with it.
      this.crc[i] = sum;
      const index = JSON.parse(readFileSync(this.indexPath, 'utf8')) as DiskIndex;
      this.writeIndex({ ...index, crc: Buffer.from(this.crc.buffer).toString('base64') });
    }
  }
}

export function createStore(mode: CacheMode, spec: ImageSpec, warn?: (msg: string) => void, batchDecoder?: BatchDecoder): ImageStore {
  if (mode === 'disk') return new DiskStore(spec, warn, batchDecoder);
  if (mode === 'none') return new NoStore(spec, warn, batchDecoder);
  return new MemoryStore(spec, warn, batchDecoder);
}
