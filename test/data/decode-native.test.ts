import type * as TF from '@tensorflow/tfjs';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { decodeImage, type ImageSpec, type Interpolation } from '../../src/data/decode.js';
import { graphDecoder, jpegRatio, jpegSize } from '../../src/data/decode-graph.js';
import { loadGraphAddon, type GraphAddon } from '../../src/native-addon.js';
import type { BatchDecoder } from '../../src/data/decode-native.js';
import { prepareData, synthesize } from '../../src/data/index.js';
import { decodeLikeTraining, storeFor } from '../../src/data/prepare.js';
import { DiskStore, MemoryStore, NoStore } from '../../src/data/store.js';
import { dataConfig, tempDir } from './fixtures.js';

// On the native backend the cache is filled with TensorFlow's DecodeJpeg / DecodePng and
// ScaleAndTranslate (lanczos3, antialiased); sharp (lanczos3 too) stays for everything else. The two
// must give close pixels. Measured: the same JPEG decoded at its own size differs by about 1 level
// (of 255) on average, at most 3 (libjpeg builds); downscaling agrees within about 0.6 on average;
// upscaling the synthetic faces (87x85 -> 128x128) differs by about 3 on average and up to about 70
// at hard edges, where libvips upsamples with its own interpolator.
let dir: string;
let cleanup: () => void;
let tf: typeof TF;
let tensorflowDecoder: typeof import('../../src/data/decode-native.js').tensorflowDecoder;
const oldXdg = process.env.XDG_CACHE_HOME;
const spec: ImageSpec = { height: 128, width: 128, channels: 3, resize: 'stretch' };

beforeAll(async () => {
  ({ dir, cleanup } = tempDir('fitspec-decode-native-'));
  // Loaded (once per process) from the install cache before the image cache moves to the temp folder.
  expect(typeof loadGraphAddon()).not.toBe('string');
  process.env.XDG_CACHE_HOME = join(dir, 'xdg');
  const info = await initBackend('auto');
  expect(info.native).toBe(true);
  tf = (await import('@tensorflow/tfjs')) as typeof TF;
  ({ tensorflowDecoder } = await import('../../src/data/decode-native.js'));
  await synthesize({ out: join(dir, 'faces'), perClass: 8, layout: 'directory', seed: 3 });
});
afterAll(() => {
  if (oldXdg === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = oldXdg;
  cleanup();
});

function diff(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  expect(a.length).toBe(b.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}

const faces = () => ['young', 'middle', 'old'].flatMap((c) => readdirSync(join(dir, 'faces', c)).map((f) => join(dir, 'faces', c, f)));

describe('TensorFlow decode + resize in one graph (the graph addon)', () => {
  const graph = (interpolation?: Interpolation, base: ImageSpec = spec) => {
    const addon = loadGraphAddon();
    if (typeof addon === 'string') throw new Error(addon);
    return graphDecoder(addon, { ...base, interpolation })!;
  };

  it('a session closed while a run is on its worker thread finishes that run, then refuses new ones', async () => {
    const addon = loadGraphAddon() as GraphAddon;
    const g = new addon.Graph();
    g.op(
      'Placeholder',
      'in',
      [],
      [
        ['dtype', 'type', 'string'],
        ['shape', 'shape', []],
      ],
    );
    g.op('DecodeJpeg', 'decode', [['in', 0]], [['channels', 'int', 3]]);
    const session = new addon.Session(g);
    const face = readFileSync(faces()[0]!);
    const running = session.run([[['in', 0], [face], []]], [['decode', 0]], [], { resize: { size: [7, 5], kernel: 'nearest' } });
    session.close();
    const [img] = await running;
    expect(img!.shape).toEqual([7, 5, 3]);
    expect(() => session.run([[['in', 0], [face], []]], [['decode', 0]], [])).toThrow(/session is closed/);
    // A decoder closed at once, while its warm-up run is in flight.
    graph('nearest').close();
    await new Promise((r) => setTimeout(r, 200));
  });

  it('reads the size from the JPEG frame header and picks the DCT scaling as sharp does (at least 2x left to the kernel)', async () => {
    const face = readFileSync(faces()[0]!);
    const meta = await sharp(face).metadata();
    expect(jpegSize(face)).toEqual({ width: meta.width, height: meta.height });
    const big = await sharp(face).resize(1100, 1030).jpeg().toBuffer();
    expect(jpegSize(big)).toEqual({ width: 1100, height: 1030 });
    expect(jpegRatio(jpegSize(big), spec)).toBe(4);
    expect(jpegRatio({ width: 600, height: 520 }, spec)).toBe(2);
    expect(jpegRatio({ width: 400, height: 380 }, spec)).toBe(1);
    expect(jpegRatio(undefined, spec)).toBe(1);
    expect(jpegSize(face.subarray(0, 20))).toBeUndefined();
  });

  it('lanczos3 gives exactly the pixels of the op-by-op path; the decoder is used for RGB stretch only', async () => {
    expect(graphDecoder(loadGraphAddon() as GraphAddon, { ...spec, channels: 1 })).toBeUndefined();
    expect(graphDecoder(loadGraphAddon() as GraphAddon, { ...spec, resize: 'cover' })).toBeUndefined();
    const dec = graph();
    expect(dec.id).toBe('tensorflow-lanczos3');
    const contents = faces().map((f) => readFileSync(f));
    const big = await sharp(contents[0]!).resize(400, 380).jpeg({ quality: 95 }).toBuffer();
    const png = await sharp(contents[1]!).resize(97, 61).png().toBuffer();
    const all = [...contents, big, png];
    // More than one run of images, in two formats, all in one call.
    const ours = await dec.decode(all);
    // 25 JPEGs are a run of 16 and one of 9 padded to 16 (no second executor); the PNG a run of 1.
    expect(dec.runSizes).toEqual(
      new Map([
        ['jpeg1', new Set([16])],
        ['png', new Set([1])],
      ]),
    );
    const old = tensorflowDecoder(tf, spec)!.decode(all);
    for (const [k] of all.entries()) expect(diff(ours[k]!, old[k]!).max, String(k)).toBe(0);
  });

  it("nearest gives exactly the pixels of TensorFlow's ResizeNearestNeighbor (half-pixel centers), up and down, odd sizes, DCT-scaled", async () => {
    const contents = faces()
      .slice(0, 2)
      .map((f) => readFileSync(f));
    const down = await sharp(contents[0]!).resize(401, 379).jpeg({ quality: 95 }).toBuffer();
    const png = await sharp(contents[1]!).resize(97, 61).png().toBuffer();
    // Loaded already by the native backend: its decodeJpeg / decodePng are TensorFlow's ops.
    const { node } = await import('@tensorflow/tfjs-node');
    const all = [...contents, down, png];
    const ratios = new Set<number>();
    for (const target of [spec, { ...spec, height: 97, width: 131 }, { ...spec, height: 7, width: 5 }]) {
      const s = { ...target, interpolation: 'nearest' as const };
      const dec = graph('nearest', target);
      const ours = await dec.decode(all);
      for (const [k, c] of all.entries()) {
        // The same DCT scaling as the decoder (1/8 for the 7x5 target), then the op itself.
        const ratio = k < 3 ? jpegRatio(jpegSize(c), s) : 1;
        ratios.add(ratio);
        const img = k < 3 ? node.decodeJpeg(c, 3, ratio) : node.decodePng(c, 3);
        const want = tf.image.resizeNearestNeighbor(img as TF.Tensor3D, [s.height, s.width], false, true);
        expect(diff(ours[k]!, Uint8Array.from(await want.data())).max, `${k} ${s.height}x${s.width}`).toBe(0);
        img.dispose();
        want.dispose();
      }
      dec.close();
    }
    expect([...ratios].sort()).toEqual([1, 4, 8]);
  });

  it.each(['triangle', 'keyscubic', 'lanczos3'] as const)(
    'the addon resizes with exactly the pixels of ScaleAndTranslate (%s, antialiased), rounded and clipped',
    async (kernel) => {
      // The ops the decoder graph ran before the resize moved into the addon, as the reference.
      const addon = loadGraphAddon() as GraphAddon;
      const g = new addon.Graph();
      const konst = (name: string, dtype: 'int32' | 'float32', data: number[], shape = [data.length]) =>
        g.op(
          'Const',
          name,
          [],
          [
            ['dtype', 'type', dtype],
            ['value', 'tensor', { data: dtype === 'int32' ? Int32Array.from(data) : Float32Array.from(data), shape }],
          ],
        );
      const contents = faces()
        .slice(0, 3)
        .map((f) => readFileSync(f));
      const png = await sharp(contents[1]!).resize(97, 61).png().toBuffer();
      const big = await sharp(contents[0]!).resize(401, 379).jpeg({ quality: 95 }).toBuffer();
      for (const [H, W] of [
        [128, 128],
        [97, 131],
        [7, 5],
      ] as const) {
        const p = `${kernel}_${H}x${W}`;
        konst(`${p}/size`, 'int32', [H, W]);
        konst(`${p}/target`, 'float32', [H, W]);
        konst(`${p}/zero`, 'float32', [0, 0]);
        konst(`${p}/axis`, 'int32', [0], []);
        konst(`${p}/lo`, 'float32', [0], []);
        konst(`${p}/hi`, 'float32', [255], []);
        // Fed as int32 (a Uint8Array feed is a bool tensor), narrowed to the decoder's uint8 here.
        g.op(
          'Placeholder',
          `${p}/in32`,
          [],
          [
            ['dtype', 'type', 'int32'],
            ['shape', 'shape', [-1, -1, 3]],
          ],
        );
        g.op(
          'Cast',
          `${p}/in`,
          [[`${p}/in32`, 0]],
          [
            ['SrcT', 'type', 'int32'],
            ['DstT', 'type', 'uint8'],
          ],
        );
        g.op(
          'Shape',
          `${p}/shape`,
          [[`${p}/in`, 0]],
          [
            ['T', 'type', 'uint8'],
            ['out_type', 'type', 'int32'],
          ],
        );
        konst(`${p}/begin`, 'int32', [0]);
        konst(`${p}/two`, 'int32', [2]);
        g.op(
          'Slice',
          `${p}/hw`,
          [
            [`${p}/shape`, 0],
            [`${p}/begin`, 0],
            [`${p}/two`, 0],
          ],
          [
            ['T', 'type', 'int32'],
            ['Index', 'type', 'int32'],
          ],
        );
        g.op(
          'Cast',
          `${p}/hwf`,
          [[`${p}/hw`, 0]],
          [
            ['SrcT', 'type', 'int32'],
            ['DstT', 'type', 'float32'],
          ],
        );
        g.op(
          'RealDiv',
          `${p}/scale`,
          [
            [`${p}/target`, 0],
            [`${p}/hwf`, 0],
          ],
          [['T', 'type', 'float32']],
        );
        g.op(
          'ExpandDims',
          `${p}/batch`,
          [
            [`${p}/in`, 0],
            [`${p}/axis`, 0],
          ],
          [['T', 'type', 'uint8']],
        );
        g.op(
          'ScaleAndTranslate',
          `${p}/resize`,
          [
            [`${p}/batch`, 0],
            [`${p}/size`, 0],
            [`${p}/scale`, 0],
            [`${p}/zero`, 0],
          ],
          [
            ['T', 'type', 'uint8'],
            ['kernel_type', 'string', kernel],
            ['antialias', 'bool', true],
          ],
        );
        g.op('Round', `${p}/round`, [[`${p}/resize`, 0]], [['T', 'type', 'float32']]);
        g.op(
          'ClipByValue',
          `${p}/clip`,
          [
            [`${p}/round`, 0],
            [`${p}/lo`, 0],
            [`${p}/hi`, 0],
          ],
          [['T', 'type', 'float32']],
        );
        g.op(
          'Cast',
          `${p}/u8`,
          [[`${p}/clip`, 0]],
          [
            ['SrcT', 'type', 'float32'],
            ['DstT', 'type', 'uint8'],
          ],
        );
      }
      const session = new addon.Session(g);
      const { node } = await import('@tensorflow/tfjs-node');
      for (const [H, W] of [
        [128, 128],
        [97, 131],
        [7, 5],
      ] as const) {
        const p = `${kernel}_${H}x${W}`;
        const interpolation = (['bilinear', 'bicubic', 'lanczos3'] as const)[['triangle', 'keyscubic', 'lanczos3'].indexOf(kernel)]!;
        const ours = await graph(interpolation, { ...spec, height: H, width: W }).decode([...contents, png, big]);
        for (const [k, c] of [...contents, png, big].entries()) {
          const ratio = k === 3 ? 1 : jpegRatio(jpegSize(c), { ...spec, height: H, width: W });
          const img = k === 3 ? node.decodePng(c, 3) : node.decodeJpeg(c, 3, ratio);
          const [want] = session.runSync([[[`${p}/in32`, 0], Int32Array.from(await img.data()), img.shape]], [[`${p}/u8`, 0]], []);
          img.dispose();
          expect(want!.shape, `${k} ${H}x${W}`).toEqual([1, H, W, 3]);
          expect(diff(ours[k]!, want!.data as Uint8Array).max, `${k} ${H}x${W}`).toBe(0);
        }
      }
      session.close();
    },
  );

  it.each([
    ['nearest', 1, 2.5],
    ['bilinear', 1.5, 1.5],
    ['bicubic', 1.5, 1.5],
    ['lanczos3', 1.5, 1.5],
  ] as const)('%s stays close to sharp with the same kernel (upscaled faces, downscaled and DCT-scaled JPEGs)', async (interpolation, downMean, bigMean) => {
    const dec = graph(interpolation);
    expect(dec.id).toBe(`tensorflow-${interpolation}`);
    const s = { ...spec, interpolation };
    const contents = faces().map((f) => readFileSync(f));
    const ours = await dec.decode(contents);
    let sum = 0;
    for (const [k, c] of contents.entries()) sum += diff(ours[k]!, await decodeImage(c, s)).mean;
    // Upscaling a small face: the kernels agree but sample at slightly other positions at edges.
    expect(sum / contents.length).toBeLessThan(6);
    const down = await sharp(contents[0]!).resize(400, 380).jpeg({ quality: 95 }).toBuffer();
    expect(diff((await dec.decode([down]))[0]!, await decodeImage(down, s)).mean).toBeLessThan(downMean);
    // 1100x1030 to 128x128: libjpeg decodes at 1/4 (TensorFlow's `ratio`, sharp's shrink-on-load).
    const big = await sharp(contents[0]!).resize(1100, 1030).jpeg({ quality: 95 }).toBuffer();
    expect(diff((await dec.decode([big]))[0]!, await decodeImage(big, s)).mean).toBeLessThan(bigMean);
  });

  it('cache none decodes each batch in one call, not image by image', async () => {
    const dec = graph('bilinear');
    const files = faces();
    const store = new NoStore({ ...spec, interpolation: 'bilinear' }, undefined, dec);
    const r = await store.reader();
    const out = new Uint8Array(files.length * store.frame);
    await r.read(files, out);
    await r.close();
    expect(dec.runSizes.get('jpeg1')).toEqual(new Set([16]));
    const want = await dec.decode(files.map((f) => readFileSync(f)));
    expect(diff(out, Buffer.concat(want.map((x) => x!))).max).toBe(0);
  });

  it('leaves other formats and damaged files to sharp, whose error names the file; a bad image does not fail its run', async () => {
    const dec = graph();
    const files = faces();
    const face = readFileSync(files[0]!);
    const webp = await sharp(face).webp().toBuffer();
    // Not the half the op-by-op test below uses: libvips words a second failure on the same bytes otherwise.
    const truncated = face.subarray(0, Math.floor(face.length * 0.6));
    const got = await dec.decode([...files.slice(0, 5).map((f) => readFileSync(f)), truncated, webp, face]);
    expect(got.map((x) => x !== undefined)).toEqual([true, true, true, true, true, false, false, true]);

    const bad = join(dir, 'bad-graph.jpg');
    writeFileSync(bad, truncated);
    const store = new MemoryStore(spec, undefined, dec);
    const failed = await store.fill([files[0]!, bad, files[1]!]);
    expect([...failed.keys()]).toEqual([bad]);
    expect(failed.get(bad)).toBe(
      await decodeImage(truncated, spec).then(
        () => 'decoded',
        (e: Error) => e.message,
      ),
    );
    await expect(decodeLikeTraining([bad], spec)).rejects.toMatchObject({ file: bad });
  });

  it('prepareData uses it by default; FITSPEC_DECODER=tfjs falls back to the op-by-op path, which has no nearest (sharp then)', async () => {
    const cfg = (interpolation: Interpolation) =>
      dataConfig({
        source: { type: 'directory', path: join(dir, 'faces') },
        image: { height: 128, width: 128, interpolation },
        split: { train: 6, validation: 2 },
        cache: 'memory',
      });
    const px = async (interpolation: Interpolation) => {
      const data = await prepareData(cfg(interpolation), 1);
      return { id: storeFor(data).decoderId, px: await decodeLikeTraining(faces().slice(0, 2), { ...spec, interpolation }) };
    };
    const viaGraph = await px('nearest');
    expect(viaGraph.id).toBe('tensorflow-nearest');
    const want = await graph('nearest').decode(
      faces()
        .slice(0, 2)
        .map((f) => readFileSync(f)),
    );
    expect(diff(viaGraph.px, Buffer.concat(want.map((x) => x!))).max).toBe(0);
    process.env.FITSPEC_DECODER = 'tfjs';
    try {
      expect((await px('lanczos3')).id).toBe('tensorflow-lanczos3');
      const nearest = await px('nearest');
      expect(nearest.id).toBe('sharp');
      const bySharp = await Promise.all(
        faces()
          .slice(0, 2)
          .map((f) => decodeImage(readFileSync(f), { ...spec, interpolation: 'nearest' })),
      );
      expect(diff(nearest.px, Buffer.concat(bySharp)).max).toBe(0);
    } finally {
      delete process.env.FITSPEC_DECODER;
    }
  });
});

describe('TensorFlow decode + resize vs sharp', () => {
  it('is used only for RGB stretch on the native backend', () => {
    expect(tensorflowDecoder(tf, spec)?.id).toBe('tensorflow-lanczos3');
    expect(tensorflowDecoder(tf, { ...spec, channels: 1 })).toBeUndefined();
    expect(tensorflowDecoder(tf, { ...spec, resize: 'fit' })).toBeUndefined();
  });

  it('gives close pixels on the synthetic faces (upscaled JPEGs), on downscaled JPEGs and on PNGs', async () => {
    const dec = tensorflowDecoder(tf, spec)!;
    const files = faces();
    const contents = files.map((f) => readFileSync(f));
    const ours = dec.decode(contents);
    const means: number[] = [];
    for (const [k, c] of contents.entries()) {
      const d = diff(ours[k]!, await decodeImage(c, spec));
      means.push(d.mean);
      expect(d.mean, files[k]).toBeLessThan(6);
    }
    expect(means.reduce((a, b) => a + b, 0) / means.length).toBeLessThan(4);

    // Downscaling (a 400x380 photo-sized JPEG to 128x128): the kernels agree closely.
    const big = await sharp(contents[0]!).resize(400, 380).jpeg({ quality: 95 }).toBuffer();
    const down = diff(dec.decode([big])[0]!, await decodeImage(big, spec));
    expect(down.mean).toBeLessThan(1.5);
    expect(down.max).toBeLessThan(20);

    // A PNG already at the target size: no resize, identical pixels.
    const same = await sharp(contents[1]!).resize(128, 128).png().toBuffer();
    expect(diff(dec.decode([same])[0]!, await decodeImage(same, spec)).max).toBe(0);

    // A smooth PNG with alpha, upscaled: alpha dropped as sharp does, values within a few levels.
    const raw = Buffer.alloc(97 * 61 * 4);
    for (let y = 0; y < 61; y++) for (let x = 0; x < 97; x++) raw.set([Math.round((x / 96) * 200 + (y / 60) * 50), 90, 200 - x, 128], (y * 97 + x) * 4);
    const png = await sharp(raw, { raw: { width: 97, height: 61, channels: 4 } })
      .png()
      .toBuffer();
    const up = diff(dec.decode([png])[0]!, await decodeImage(png, spec));
    expect(up.mean).toBeLessThan(2.5);
    expect(up.max).toBeLessThanOrEqual(6);
  });

  it('leaves other formats and damaged files to sharp, which reports the error as before', async () => {
    const dec = tensorflowDecoder(tf, spec)!;
    const face = readFileSync(faces()[0]!);
    const webp = await sharp(face).webp().toBuffer();
    const truncated = face.subarray(0, Math.floor(face.length / 2));
    expect(dec.decode([webp, truncated, face]).map((x) => x !== undefined)).toEqual([false, false, true]);

    const bad = join(dir, 'bad.jpg');
    writeFileSync(bad, truncated);
    const w = join(dir, 'pic.webp');
    writeFileSync(w, webp);
    const store = new MemoryStore(spec, undefined, dec);
    const failed = await store.fill([faces()[0]!, w, bad]);
    expect([...failed.keys()]).toEqual([bad]);
    const sharpSays = await decodeImage(truncated, spec).then(
      () => 'decoded',
      (e: Error) => e.message,
    );
    expect(sharpSays).not.toBe('decoded');
    // libvips has one error buffer for all its threads: while the WebP decodes beside it, sharp may
    // word the damaged JPEG with its generic failOn message instead.
    expect([sharpSays, 'Warning treated as error due to failOn setting']).toContain(failed.get(bad));
    expect(store.decoded).toBe(2);
  });

  it('prepareData on the native backend fills the cache with it; the disk cache of one decoder is not reused by the other', async () => {
    const cfg = dataConfig({ source: { type: 'directory', path: join(dir, 'faces') }, image: { height: 128, width: 128 }, split: { train: 6, validation: 2 }, cache: 'disk' });
    const data = await prepareData(cfg, 1);
    const store = storeFor(data);
    expect(store.decoderId).toBe('tensorflow-lanczos3');
    expect(store.decoded).toBe(24);

    const viaTf = () => new DiskStore(spec, undefined, tensorflowDecoder(tf, spec) as BatchDecoder);
    const first = viaTf();
    await first.fill(faces());
    expect(first.decoded).toBe(24);
    const viaSharp = new DiskStore(spec);
    await viaSharp.fill(faces());
    expect(viaSharp.decoded).toBe(24);
    expect(viaSharp.path).not.toBe(first.path);
    const again = viaTf();
    await again.fill(faces());
    expect(again.decoded).toBe(0);
    expect(again.reused).toBe(24);
  });

  it('predictions decode new images the way training did', async () => {
    const files = faces().slice(0, 3);
    const got = await decodeLikeTraining(files, spec);
    const want = tensorflowDecoder(tf, spec)!.decode(files.map((f) => readFileSync(f)));
    expect(diff(got, Buffer.concat(want.map((x) => x!))).max).toBe(0);
    await expect(decodeLikeTraining([join(dir, 'bad.jpg')], spec)).rejects.toMatchObject({ file: join(dir, 'bad.jpg') });
  });
});
