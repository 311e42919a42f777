import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import type { Augment, DataConfig } from '../config/schema/experiment.js';
import { fail } from '../errors.js';
import { augmentBatch } from './augment/index.js';
import { DecodeError, decodeImage } from './decode.js';
import { imageSpec } from './prepare.js';
import { Rng } from './random.js';
import { listSource } from './sources.js';

const GAP = 4;

/**
 * The notebook's augmentation figure: one image (the first of the data, or `image`) and `n`
 * augmented versions of it, as a PNG grid. Returns the path written.
 */
export async function renderPreview(data: DataConfig, augment: Augment, opts: { image?: string; n: number; seed: number; out: string }): Promise<string> {
  let file = opts.image;
  if (!file) {
    const listing = listSource(data);
    const first = [...listing.items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0];
    if (!first) fail('data.no-images', `No images found in ${listing.location}.`, { file: listing.location });
    file = first.file;
  }
  const spec = imageSpec(data);
  let pixels: Uint8Array;
  try {
    pixels = await decodeImage(resolve(file), spec);
  } catch (e) {
    if (e instanceof DecodeError) fail('data.unreadable-image', `${file} cannot be decoded: ${e.message}.`, { file });
    throw e;
  }
  const { height: H, width: W, channels: C } = spec;
  const n = Math.max(1, Math.floor(opts.n));
  const augmented = tf.tidy(() => {
    const one = tf.tensor4d(new Float32Array(pixels), [1, H, W, C]);
    const x = tf.tile(one, [n, 1, 1, 1]) as tf.Tensor4D;
    return tf.clipByValue(tf.round(augmentBatch(x, augment, Rng.from(opts.seed, 'preview'))), 0, 255);
  });
  const values = Uint8Array.from(augmented.dataSync());
  augmented.dispose();
  const tiles = [pixels, ...Array.from({ length: n }, (_, i) => values.subarray(i * H * W * C, (i + 1) * H * W * C))];
  const cols = Math.ceil(Math.sqrt(tiles.length));
  const rows = Math.ceil(tiles.length / cols);
  const composites = await Promise.all(
    tiles.map(async (t, i) => ({
      input: await sharp(Buffer.from(t), { raw: { width: W, height: H, channels: C } })
        .png()
        .toBuffer(),
      left: GAP + (i % cols) * (W + GAP),
      top: GAP + Math.floor(i / cols) * (H + GAP),
    })),
  );
  const out = resolve(opts.out);
  mkdirSync(dirname(out), { recursive: true });
  await sharp({ create: { width: GAP + cols * (W + GAP), height: GAP + rows * (H + GAP), channels: 3, background: '#ffffff' } })
    .composite(composites)
    .png()
    .toFile(out);
  return out;
}
