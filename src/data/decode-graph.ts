import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import type { Attr, NativeGraph, Ref } from '../graph-builder.js';
import { sessionConfig, type Feed, type GraphAddon, type NativeSession } from '../native-addon.js';
import { INTERPOLATION, interpolationOf, type ImageSpec, type Interpolation } from './decode.js';
import { isJpeg, isPng, type BatchDecoder } from './decode-native.js';

/** Images decoded by one session run: independent branches, so TensorFlow's inter-op pool spreads them over the cores. */
const SLOTS = 16;
/** Session runs at once. */
const IN_FLIGHT = 2;

/** libjpeg's scaled decoding (DCT scaling, like PIL's draft mode): 1/2, 1/4, 1/8 of the size, much faster. */
const RATIOS = [8, 4, 2, 1] as const;
type Variant = 'png' | `jpeg${(typeof RATIOS)[number]}`;

/**
 * Width and height from a JPEG's frame header, or undefined when there is none before the scan (a
 * damaged file, which TensorFlow then rejects and sharp words).
 */
export function jpegSize(b: Uint8Array): { width: number; height: number } | undefined {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const m = b[i + 1]!;
    if (m === 0xff) {
      i++;
      continue;
    }
    // SOF0..SOF15 carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return { height: (b[i + 5]! << 8) | b[i + 6]!, width: (b[i + 7]! << 8) | b[i + 8]! };
    if (m === 0xda || m === 0xd9) return undefined;
    i += 2 + ((b[i + 2]! << 8) | b[i + 3]!);
  }
  return undefined;
}

/**
 * The largest DCT scaling that still leaves at least a 2x reduction to the resize kernel, as sharp's
 * shrink-on-load does: the kernel then still smooths, and pixels stay close to sharp's.
 */
export function jpegRatio(size: { width: number; height: number } | undefined, spec: ImageSpec): (typeof RATIOS)[number] {
  if (!size) return 1;
  const factor = Math.min(size.height / spec.height, size.width / spec.width);
  return RATIOS.find((r) => factor >= 2 * r) ?? 1;
}

/**
 * JPEG and PNG decoded by TensorFlow's ops in one graph per image spec, run through the project's
 * graph addon, which resizes each image after the run: every run decodes up to SLOTS images as
 * independent branches (so all cores work) on a worker thread (so the event loop and the trainer's
 * thread stay free), and two runs are kept in flight. Pixels are those of TensorFlow's resize ops
 * (ResizeNearestNeighbor, ScaleAndTranslate; for lanczos3 those of tfjs' op-by-op path), within
 * rounding of sharp. RGB and `stretch` only; everything else, and every image a run cannot decode,
 * is left to the next decoder.
 */
export function graphDecoder(addon: GraphAddon, spec: ImageSpec): (BatchDecoder & { close(): void; readonly runSizes: ReadonlyMap<string, ReadonlySet<number>> }) | undefined {
  if (spec.channels !== 3 || spec.resize !== 'stretch') return undefined;
  const interpolation: Interpolation = interpolationOf(spec);
  const g = new addon.Graph() as NativeGraph;
  const { height: H, width: W } = spec;
  const op = (type: string, name: string, inputs: (Ref | Ref[])[], attrs: Attr[] = []): Ref => (g.op(type, name, inputs, attrs), [name, 0]);
  const kernel = INTERPOLATION[interpolation].tensorflow;

  // Branches of a variant are added when it is first met (a session picks up graph additions on
  // its next run): most datasets are one format at one size.
  const slots = new Map<Variant, { input: Ref; output: Ref }[]>();
  const branches = (v: Variant) => {
    let list = slots.get(v);
    if (list) return list;
    list = [];
    for (let k = 0; k < SLOTS; k++) {
      const p = `${v}_${k}`;
      const input = op(
        'Placeholder',
        `${p}/in`,
        [],
        [
          ['dtype', 'type', 'string'],
          ['shape', 'shape', []],
        ],
      );
      const img =
        v === 'png'
          ? op(
              'DecodePng',
              `${p}/decode`,
              [input],
              [
                ['channels', 'int', 3],
                ['dtype', 'type', 'uint8'],
              ],
            )
          : op(
              'DecodeJpeg',
              `${p}/decode`,
              [input],
              [
                ['channels', 'int', 3],
                ['ratio', 'int', Number(v.slice(4))],
                ['fancy_upscaling', 'bool', true],
                ['try_recover_truncated', 'bool', false],
                ['acceptable_fraction', 'float', 1],
                ['dct_method', 'string', ''],
              ],
            );
      list.push({ input, output: img });
    }
    slots.set(v, list);
    return list;
  };
  // Graph optimizations have nothing to gain on independent decode branches and would cost their
  // passes on every new feed/fetch signature. ConfigProto.graph_options (10): rewrite_options (10)
  // .disable_meta_optimizer (15) = true, optimizer_options (3).opt_level (3) = L0 (-1).
  const graphOptions = [0x52, 0x02, 0x78, 0x01, 0x1a, 0x0b, 0x18, ...new Array<number>(9).fill(0xff), 0x01];
  const noGrappler = [0x52, graphOptions.length, ...graphOptions];
  // use_per_session_threads (9): its own pools, so that it neither takes nor sets the sizes of the
  // process-wide pools the training session uses (TensorFlow sizes them from the first session).
  const ownThreads = [0x48, 0x01];
  const session: NativeSession = new addon.Session(g, new Uint8Array([...sessionConfig(1, availableParallelism()), ...noGrappler, ...ownThreads]));

  /**
   * Every new number of images per run costs TensorFlow an executor (tens of ms, the time of dozens
   * of images): a short run is padded with copies of its first image up to a size already run, when
   * that at most doubles its work (a lone image gets a run of its own size).
   */
  const sizes = new Map<Variant, Set<number>>();
  const runSize = (v: Variant, n: number) => {
    let seen = sizes.get(v);
    if (!seen) sizes.set(v, (seen = new Set()));
    const larger = [...seen].filter((x) => x > n && x <= 2 * n);
    const m = seen.has(n) || !larger.length ? n : Math.min(...larger);
    seen.add(m);
    return m;
  };

  // The resize runs in the addon on the run's thread, with the pixels of TensorFlow's
  // ResizeNearestNeighbor / ScaleAndTranslate (what tf.image.resize(method, antialias=True) runs:
  // the kernel widens when it shrinks, as sharp's and PIL's do) at a fraction of the ops' cost, and
  // only the small image is copied to JS.
  const options = { resize: { size: [H, W] as [number, number], kernel } };
  const frame = H * W * 3;

  // Runs of one signature wait for its first run: concurrent first runs would each build the executor.
  const built = new Map<string, Promise<unknown>>();
  // Two runs at a time fill TensorFlow's pool; more would hold libuv's threads, which read the next files.
  let active = 0;
  const waiting: (() => void)[] = [];
  const acquire = () => (active < IN_FLIGHT ? (active++, Promise.resolve()) : new Promise<void>((r) => waiting.push(r)));
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };

  // The first run of a signature builds its executor (with the process's first session, tens of
  // ms): a run of tiny JPEGs in every slot of the variant most folders need (JPEGs decoded at full
  // size) builds it now on TensorFlow's threads, while the caller lists the folder; short runs of that
  // variant are then padded to the warm size.
  const warm: Variant = 'jpeg1';
  sizes.set(warm, new Set([SLOTS]));
  built.set(
    `${warm} ${SLOTS}`,
    sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 128, g: 128, b: 128 } } })
      .jpeg()
      .toBuffer()
      .then(async (tiny) => {
        await acquire();
        const s = branches(warm);
        return session
          .run(
            s.map((b): Feed => [b.input, [tiny], []]),
            s.map((b) => b.output),
            [],
            options,
          )
          .finally(release);
      })
      .catch(() => undefined),
  );

  const run = async (v: Variant, items: Buffer[], pad = true): Promise<(Uint8Array | undefined)[]> => {
    const s = branches(v);
    const m = pad ? runSize(v, items.length) : items.length;
    const fed = [...items, ...new Array<Buffer>(m - items.length).fill(items[0]!)];
    const key = `${v} ${m}`;
    const first = built.get(key);
    if (first) await first;
    await acquire();
    try {
      const running = session.run(
        fed.map((b, k): Feed => [s[k]!.input, [b], []]),
        fed.map((_, k) => s[k]!.output),
        [],
        options,
      );
      if (!first)
        built.set(
          key,
          running.catch(() => undefined),
        );
      const got = await running.finally(release);
      return got.slice(0, items.length).map((r) => (r.data.length === frame ? (r.data as Uint8Array) : undefined));
    } catch {
      // One bad image fails its whole run: decode each alone, so that only the bad ones go to sharp.
      if (items.length === 1) return [undefined];
      return (await Promise.all(items.map((b) => run(v, [b], false)))).flat();
    }
  };

  return {
    id: `tensorflow-${interpolation}`,
    async decode(contents) {
      const out: (Uint8Array | undefined)[] = new Array(contents.length).fill(undefined);
      const groups = new Map<Variant, number[]>();
      for (const [k, c] of contents.entries()) {
        const v: Variant | undefined = isPng(c) ? 'png' : isJpeg(c) ? `jpeg${jpegRatio(jpegSize(c), spec)}` : undefined;
        if (!v) continue;
        let list = groups.get(v);
        if (!list) groups.set(v, (list = []));
        list.push(k);
      }
      const runs: Promise<void>[] = [];
      for (const [v, ks] of groups) {
        for (let s = 0; s < ks.length; s += SLOTS) {
          const part = ks.slice(s, s + SLOTS);
          runs.push(
            run(
              v,
              part.map((k) => contents[k]!),
            ).then((px) => part.forEach((k, j) => (out[k] = px[j]))),
          );
        }
      }
      await Promise.all(runs);
      return out;
    },
    close: () => session.close(),
    runSizes: sizes,
  };
}
