import { readFile } from 'node:fs/promises';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

export interface ImageSpec {
  height: number;
  width: number;
  channels: 1 | 3;
  resize: 'stretch' | 'fit' | 'cover';
  /** How pixels are resampled when resized; lanczos3 when omitted. */
  interpolation?: Interpolation;
}

export type Interpolation = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos3';

/**
 * Each resize kernel in sharp and in TensorFlow (`ScaleAndTranslate` kernel, antialiased as
 * `tf.image.resize(..., antialias=True)`, or `ResizeNearestNeighbor`). PIL, behind Keras'
 * `load_img`, has the same four: NEAREST, BILINEAR, BICUBIC, LANCZOS.
 */
export const INTERPOLATION: Record<Interpolation, { sharp: 'nearest' | 'linear' | 'cubic' | 'lanczos3'; tensorflow: 'nearest' | 'triangle' | 'keyscubic' | 'lanczos3' }> = {
  nearest: { sharp: 'nearest', tensorflow: 'nearest' },
  bilinear: { sharp: 'linear', tensorflow: 'triangle' },
  bicubic: { sharp: 'cubic', tensorflow: 'keyscubic' },
  lanczos3: { sharp: 'lanczos3', tensorflow: 'lanczos3' },
};

/** The spec's resize kernel; specs written before the option existed mean lanczos3 (sharp's default). */
export const interpolationOf = (spec: Pick<ImageSpec, 'interpolation'>): Interpolation => spec.interpolation ?? 'lanczos3';

/** Bump when the decoded bytes for the same file and spec could change. */
export const DECODER_VERSION = 2;

const FIT = { stretch: 'fill', fit: 'contain', cover: 'cover' } as const;

export class DecodeError extends Error {
  /** The image, when the error is reported away from the call that named it. */
  file?: string;
}

/** Decodes any JPEG/PNG/WebP/... to `height x width x channels` uint8, row-major HWC. */
export async function decodeImage(input: Buffer | string, spec: ImageSpec): Promise<Uint8Array> {
  try {
    let img = sharp(input, { failOn: 'warning' }).removeAlpha();
    img = spec.channels === 1 ? img.grayscale() : img.toColourspace('srgb');
    const { data, info } = await img
      .resize(spec.width, spec.height, { fit: FIT[spec.resize], kernel: INTERPOLATION[interpolationOf(spec)].sharp, background: { r: 0, g: 0, b: 0 } })
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
  const base = process.env.XDG_CACHE_HOME?.length ? process.env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'fitspec', 'images');
}

/** Decoded pixels of an image file; DecodeError when it is missing, empty or unreadable. */
export async function decodeFile(file: string, spec: ImageSpec): Promise<Uint8Array> {
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (e) {
    throw new DecodeError((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (e as Error).message);
  }
  if (content.length === 0) throw new DecodeError('the file is empty (0 bytes)');
  return decodeImage(content, spec);
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
