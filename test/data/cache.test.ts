import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECODE_CONCURRENCY, cacheRoot, decodeImage } from '../../src/data/decode.js';
import { batches, prepareData } from '../../src/data/index.js';
import { chooseCache, storeFor } from '../../src/data/prepare.js';
import { DiskStore, MemoryStore, NoStore } from '../../src/data/store.js';
import { FitspecError } from '../../src/errors.js';
import { dataConfig, makeDirectoryDataset, tempDir, writeImage } from './fixtures.js';

let dir: string;
let cleanup: () => void;
const oldXdg = process.env.XDG_CACHE_HOME;
beforeAll(async () => {
  ({ dir, cleanup } = tempDir('fitspec-cache-'));
  process.env.XDG_CACHE_HOME = join(dir, 'xdg');
  await tf.setBackend('cpu');
});
afterAll(() => {
  if (oldXdg === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = oldXdg;
  cleanup();
});

const spec = { height: 5, width: 5, channels: 3 as const, resize: 'stretch' as const };
const frame = 5 * 5 * 3;

async function files(name: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = join(dir, name, `${i}.png`);
    await writeImage(f, i * 5);
    out.push(f);
  }
  return out;
}

async function readAll(store: { reader(): Promise<{ read(f: readonly string[], o: Uint8Array): Promise<void>; close(): Promise<void> }> }, fs: string[]): Promise<Uint8Array> {
  const r = await store.reader();
  const out = new Uint8Array(fs.length * frame);
  await r.read(fs, out);
  await r.close();
  return out;
}

describe('decoding', () => {
  it('decodes to the requested size and channels with each resize mode', async () => {
    const f = join(dir, 'wide.png');
    await writeImage(f, 0, 'png', [20, 10]);
    for (const resize of ['stretch', 'fit', 'cover'] as const) {
      const px = await decodeImage(f, { height: 8, width: 8, channels: 3, resize });
      expect(px.length).toBe(8 * 8 * 3);
    }
    // `fit` pads a wide image top and bottom with black; `stretch` does not.
    const fit = await decodeImage(f, { height: 8, width: 8, channels: 3, resize: 'fit' });
    const stretch = await decodeImage(f, { height: 8, width: 8, channels: 3, resize: 'stretch' });
    expect([...fit.subarray(0, 3)]).toEqual([0, 0, 0]);
    expect(stretch[1]).toBe(120);
    const grey = await decodeImage(f, { height: 4, width: 4, channels: 1, resize: 'stretch' });
    expect(grey.length).toBe(16);
  });

  it('data.image.interpolation picks the resize kernel (sharp, also on the pure-JS backend): nearest copies pixels, the others blend', async () => {
    // A 4x4 checkerboard of 0 and 200, enlarged 2x.
    const raw = Buffer.alloc(4 * 4 * 3);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) raw.fill((x + y) % 2 ? 200 : 0, (y * 4 + x) * 3, (y * 4 + x + 1) * 3);
    const f = join(dir, 'checker.png');
    writeFileSync(
      f,
      await (await import('sharp'))
        .default(raw, { raw: { width: 4, height: 4, channels: 3 } })
        .png()
        .toBuffer(),
    );
    const values = async (interpolation?: 'nearest' | 'bilinear' | 'bicubic' | 'lanczos3') =>
      new Set(await decodeImage(f, { height: 8, width: 8, channels: 3, resize: 'stretch', interpolation }));
    expect([...(await values('nearest'))].sort((a, b) => a - b)).toEqual([0, 200]);
    for (const k of ['bilinear', 'bicubic', 'lanczos3'] as const) expect((await values(k)).size, k).toBeGreaterThan(2);
    expect([...(await values())]).toEqual([...(await values('lanczos3'))]);
    // The disk cache of one kernel is not reused for another.
    const fs = await files('kernels', 2);
    const lanczos = new DiskStore(spec);
    await lanczos.fill(fs);
    const nearest = new DiskStore({ ...spec, interpolation: 'nearest' });
    await nearest.fill(fs);
    expect(nearest.decoded).toBe(2);
    expect(nearest.path).not.toBe(lanczos.path);
  });
});

describe('image stores', () => {
  it('memory decodes each file once and holds all of it; none decodes on every read and holds nothing after', async () => {
    const fs = await files('mem', 3);
    const mem = new MemoryStore(spec);
    await mem.fill(fs);
    const a = await readAll(mem, fs);
    await readAll(mem, fs);
    expect(mem.decoded).toBe(3);
    expect(mem.resident).toBe(3 * frame);
    mem.retain(new Set(fs.slice(0, 1)));
    expect(mem.resident).toBe(frame);

    const none = new NoStore(spec);
    await none.fill(fs);
    const b = await readAll(none, fs);
    expect(none.decoded).toBe(6);
    expect(none.resident).toBe(0);
    expect([...b]).toEqual([...a]);
  });

  it('none decodes a read batch in one call of the batch decoder; a file damaged after the fill is named', async () => {
    const fs = await files('none-batch', 3);
    const calls: number[] = [];
    // Decodes nothing itself, so sharp does the pixels: only how it is called is checked here.
    const none = new NoStore(spec, undefined, { id: 'counting', decode: async (contents) => (calls.push(contents.length), contents.map(() => undefined)) });
    await none.fill(fs);
    calls.length = 0;
    const b = await readAll(none, fs);
    expect(calls).toEqual([3]);
    expect([...b]).toEqual([...(await readAll(new NoStore(spec), fs))]);
    writeFileSync(fs[1]!, 'not an image');
    await expect(readAll(none, fs)).rejects.toMatchObject({ file: fs[1] });
    expect(none.resident).toBe(0);
  });

  it('disk writes one record file + index under $XDG_CACHE_HOME/fitspec/images; a later store decodes nothing', async () => {
    const fs = await files('disk', 4);
    const first = new DiskStore(spec);
    const failed = await first.fill([...fs, join(dir, 'disk', 'missing.png')]);
    expect([...failed.values()]).toEqual(['the file does not exist']);
    expect(first.decoded).toBe(4);
    expect(first.path.startsWith(cacheRoot())).toBe(true);
    expect(statSync(first.path).size).toBe(5 * frame);
    expect(existsSync(first.path.replace(/\.u8$/, '.json'))).toBe(true);
    // While filling, only the images being decoded are in RAM; afterwards nothing.
    expect(first.peakResident).toBeLessThanOrEqual(DECODE_CONCURRENCY * frame);
    expect(first.resident).toBe(0);

    const second = new DiskStore(spec);
    const failedAgain = await second.fill([...fs, join(dir, 'disk', 'missing.png')]);
    expect(second.decoded).toBe(0);
    expect(second.reused).toBe(4);
    expect([...failedAgain.values()]).toEqual(['the file does not exist']);
    const mem = new MemoryStore(spec);
    await mem.fill(fs);
    const order = [fs[2]!, fs[0]!, fs[3]!];
    expect([...(await readAll(second, order))]).toEqual([...(await readAll(mem, order))]);

    // Another size is another cache file.
    const other = new DiskStore({ ...spec, width: 6 });
    await other.fill(fs);
    expect(other.decoded).toBe(4);
    expect(other.path).not.toBe(first.path);
  });

  it('a truncated cache file is detected when opened and rebuilt', async () => {
    const fs = await files('trunc', 3);
    const first = new DiskStore(spec);
    await first.fill(fs);
    truncateSync(first.path, 2 * frame + 7);
    const warnings: string[] = [];
    const again = new DiskStore(spec, (m) => warnings.push(m));
    await again.fill(fs);
    expect(warnings.join('\n')).toMatch(/truncated \(157 of 225 bytes\); decoding again/);
    expect(again.decoded).toBe(3);
    expect(again.reused).toBe(0);
    expect(statSync(again.path).size).toBe(3 * frame);
  });

  it('a corrupted record fails its checksum, is decoded again and repaired, and never reaches a batch', async () => {
    const fs = await files('corrupt', 3);
    const mem = new MemoryStore(spec);
    await mem.fill(fs);
    const truth = await readAll(mem, fs);

    const first = new DiskStore(spec);
    await first.fill(fs);
    const bytes = readFileSync(first.path);
    bytes[frame + 10] ^= 0xff; // one byte of record 1
    writeFileSync(first.path, bytes);

    const warnings: string[] = [];
    const store = new DiskStore(spec, (m) => warnings.push(m));
    await store.fill(fs);
    expect(store.reused).toBe(3);
    const got = await readAll(store, fs);
    expect([...got]).toEqual([...truth]);
    expect(store.repaired).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/record 1 of the image cache .* is corrupted \(checksum mismatch\)/);
    // The file itself was repaired: the next read needs no repair.
    expect([...(await readAll(store, fs))]).toEqual([...truth]);
    expect(store.repaired).toBe(1);
    expect(readFileSync(first.path).equals(Buffer.from(truth))).toBe(true);
  });
});

describe('choosing the cache by size', () => {
  const img = { height: 128, width: 128, channels: 3 as const, resize: 'stretch' as const }; // 48 KiB each
  it('auto keeps images in memory when they fit the budget, else caches on disk with one warning', () => {
    const warnings: string[] = [];
    expect(chooseCache({ cache: 'auto', memoryBudget: 10 }, 100, img, (m) => warnings.push(m))).toBe('memory');
    expect(warnings).toEqual([]);
    expect(chooseCache({ cache: 'auto', memoryBudget: 10 }, 1000, img, (m) => warnings.push(m))).toBe('disk');
    expect(warnings).toEqual(['warning: data: 1000 decoded images at 128x128x3 need 47 MB, more than data.memoryBudget (10 MB): caching them on disk instead (data.cache: disk)']);
  });

  it('a pinned memory cache that does not fit stops before decoding with a clear message', () => {
    let err: unknown;
    try {
      chooseCache({ cache: 'memory', memoryBudget: 10 }, 1000, img, () => {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FitspecError);
    const p = (err as FitspecError).problems[0]!;
    expect(p.code).toBe('data.cache-memory');
    expect(p.path).toBe('data.cache');
    expect(p.message).toMatch(/need 47 MB, more than data.memoryBudget \(10 MB\)/);
    expect(p.hint).toMatch(/data.cache: disk/);
    expect(chooseCache({ cache: 'memory', memoryBudget: 100 }, 1000, img, () => {})).toBe('memory');
  });

  it('without a stated budget, half of the available memory is the limit', () => {
    expect(chooseCache({ cache: 'auto' }, 10, img, () => {})).toBe('memory');
    const warnings: string[] = [];
    // 10 million images at 128x128 (458 GB) fit on no machine this runs on.
    expect(chooseCache({ cache: 'auto' }, 10_000_000, img, (m) => warnings.push(m))).toBe('disk');
    expect(warnings[0]).toMatch(/more than half of the available memory/);
    expect(() => chooseCache({ cache: 'memory' }, 10_000_000, img, () => {})).toThrow(FitspecError);
    expect(chooseCache({ cache: 'disk' }, 10_000_000, img, () => {})).toBe('disk');
    expect(chooseCache({ cache: 'none' }, 10_000_000, img, () => {})).toBe('none');
  });
});

describe('training from the disk cache', () => {
  it('a dataset larger than the memory budget trains in disk mode with only the prefetch window in RAM', async () => {
    const root = join(dir, 'big');
    await makeDirectoryDataset(root, ['a', 'b', 'c'], 12);
    const image = { height: 16, width: 16 };
    const imgBytes = 16 * 16 * 3;
    const total = 36 * imgBytes; // 27 KiB decoded
    const logs: string[] = [];
    // A budget of 8 KiB: the whole dataset does not fit, about ten images do.
    const data = await prepareData(
      dataConfig({ source: { type: 'directory', path: root }, image, split: { train: 10, validation: 2 }, cache: 'auto', memoryBudget: 8 / 1024 }),
      1,
      { log: (m) => logs.push(m) },
    );
    expect(data.cache).toBe('disk');
    expect(logs.filter((l) => l.startsWith('warning:'))).toHaveLength(1);
    const store = storeFor(data);
    expect(store.mode).toBe('disk');

    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [16, 16, 3] }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const batchSize = 4;
    const prefetch = 1;
    const losses: number[] = [];
    for (let epoch = 0; epoch < 3; epoch++) {
      for await (const b of batches(data, 'train', { batchSize, shuffle: true, seed: 1, epoch, rescale: 1 / 255, prefetch })) {
        losses.push(Number(await model.trainOnBatch(b.xs, b.ys)));
        b.xs.dispose();
        b.ys.dispose();
      }
    }
    expect(losses).toHaveLength(3 * Math.ceil(30 / batchSize));
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    // What the store held: the decode window while filling, then at most prefetch + 1 batches.
    const bound = Math.max(DECODE_CONCURRENCY, (prefetch + 1) * batchSize) * imgBytes;
    expect(store.peakResident).toBeGreaterThan(0);
    expect(store.peakResident).toBeLessThanOrEqual(bound);
    expect(store.peakResident).toBeLessThan(total);
    expect(store.resident).toBe(0);
    model.dispose();

    // The same data in memory holds every image of the split.
    const inMemory = await prepareData(dataConfig({ source: { type: 'directory', path: root }, image, split: { train: 10, validation: 2 }, cache: 'memory' }), 1);
    expect(storeFor(inMemory).resident).toBe(36 * imgBytes);
  });
});
