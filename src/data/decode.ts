import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

export interface ImageSpec {
  height: number;
  width: number;
  channels: 1 | 3;
  resize: 'stretch' | 'fit' | 'cover';
}

/** Bump when the decoded bytes for the same file and spec could change. */
const DECODER_VERSION = 1;

const FIT = { stretch: 'fill', fit: 'contain', cover: 'cover' } as const;

export class DecodeError extends Error {}

/** Decodes any JPEG/PNG/WebP/... to `height x width x channels` uint8, row-major HWC. */
export async function decodeImage(input: Buffer | string, spec: ImageSpec): Promise<Uint8Array> {
  try {
    let img = sharp(input, { failOn: 'warning' }).removeAlpha();
    img = spec.channels === 1 ? img.grayscale() : img.toColourspace('srgb');
    const { data, info } = await img
      .resize(spec.width, spec.height, { fit: FIT[spec.resize], background: { r: 0, g: 0, b: 0 } })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== spec.channels || info.width !== spec.width || info.height !== spec.height) {
      throw new DecodeError(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${spec.width}x${spec.height}x${spec.channels}`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError((e as Error).message.replace(/\s+/g, ' ').trim());
  }
}

export function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME && process.env.XDG_CACHE_HOME.length ? process.env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'fitspec', 'images');
}

/**
 * Decoded images, keyed by file content hash + size + channels + resize mode, so that epochs after
 * the first decode nothing (`memory`), and with `disk` neither do later runs.
 */
export class ImageStore {
  private readonly mem = new Map<string, Uint8Array>();
  private readonly pending = new Map<string, Promise<Uint8Array>>();
  decoded = 0;
  diskHits = 0;

  constructor(
    readonly spec: ImageSpec,
    readonly mode: 'memory' | 'disk' | 'none',
    private readonly root = cacheRoot(),
  ) {}

  private key(content: Buffer): string {
    const { height, width, channels, resize } = this.spec;
    return createHash('sha256').update(content).update(`\0${DECODER_VERSION}:${height}x${width}x${channels}:${resize}`).digest('hex');
  }

  /** Decoded pixels of `file`; throws DecodeError when the file cannot be decoded. */
  get(file: string): Promise<Uint8Array> {
    const hit = this.mem.get(file);
    if (hit) return Promise.resolve(hit);
    let p = this.pending.get(file);
    if (!p) {
      p = this.load(file).finally(() => this.pending.delete(file));
      this.pending.set(file, p);
    }
    return p;
  }

  has(file: string): boolean {
    return this.mem.has(file);
  }

  /** Frees what is not in `keep` (images outside the split). */
  retain(keep: Set<string>): void {
    for (const f of this.mem.keys()) if (!keep.has(f)) this.mem.delete(f);
  }

  private async load(file: string): Promise<Uint8Array> {
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch (e) {
      throw new DecodeError((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (e as Error).message);
    }
    if (content.length === 0) throw new DecodeError('the file is empty (0 bytes)');
    const size = this.spec.height * this.spec.width * this.spec.channels;
    let pixels: Uint8Array | undefined;
    let path: string | undefined;
    if (this.mode === 'disk') {
      const key = this.key(content);
      path = join(this.root, key.slice(0, 2), `${key}.raw`);
      if (existsSync(path)) {
        const raw = readFileSync(path);
        if (raw.length === size) {
          pixels = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
          this.diskHits++;
        }
      }
    }
    if (!pixels) {
      pixels = await decodeImage(content, this.spec);
      this.decoded++;
      if (path) {
        mkdirSync(join(path, '..'), { recursive: true });
        // Write then rename so that a concurrent run never reads half an entry.
        const tmp = `${path}.${process.pid}.tmp`;
        writeFileSync(tmp, pixels);
        renameSync(tmp, path);
      }
    }
    if (this.mode !== 'none') this.mem.set(file, pixels);
    return pixels;
  }
}

/** Runs `fn` over `xs` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(xs: readonly T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(xs.length);
  let next = 0;
  const worker = async () => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await fn(xs[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, xs.length)) }, worker));
  return out;
}

/** sharp works in libuv's thread pool; a few calls per core in flight keep every core busy while files are read. */
export const DECODE_CONCURRENCY = Math.max(4, 2 * availableParallelism());
