import * as tf from '@tensorflow/tfjs';
import type { Augment } from '../config/schema/experiment.js';
import { applyDraws, drawBatch, isIdentity } from './augment/index.js';
import { graphAssembler, paddedLength, type GraphAssembler } from './augment-graph.js';
import { loadGraphAddon } from '../native-addon.js';
import { activeBackend } from '../backend.js';
import { DecodeError } from './decode.js';
import { storeFor, type PreparedData } from './prepare.js';
import { Rng } from './random.js';
import { fail } from '../errors.js';

export interface Batch {
  xs: tf.Tensor4D;
  ys: tf.Tensor2D;
  size: number;
}

export interface BatchOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  epoch: number;
  augment?: Augment;
  rescale: number;
  /** Batches per epoch (Keras `steps_per_epoch`); wraps around, reshuffled, past the end of the part. */
  steps?: number;
  /** Batches prepared ahead of the consumer besides the next one (default PREFETCH). */
  prefetch?: number;
}

/**
 * Default prefetch: while the consumer trains on one batch, PREFETCH + 1 more are read, assembled,
 * augmented and rescaled, ready as tensors (at 128x128, batch 32: 3 x 6.3 MB of float32).
 */
export const PREFETCH = 2;

/** Index lists of every batch of one epoch: Keras-style passes, the last batch of a pass may be short. */
export function batchIndices(n: number, o: Pick<BatchOptions, 'batchSize' | 'shuffle' | 'seed' | 'epoch' | 'steps'>, part = 'train'): number[][] {
  const perPass = Math.ceil(n / o.batchSize);
  const steps = o.steps ?? perPass;
  const out: number[][] = [];
  for (let pass = 0; out.length < steps; pass++) {
    const order = Array.from({ length: n }, (_, i) => i);
    if (o.shuffle) Rng.from(o.seed, 'shuffle', part, o.epoch, pass).shuffle(order);
    for (let b = 0; b < perPass && out.length < steps; b++) out.push(order.slice(b * o.batchSize, (b + 1) * o.batchSize));
  }
  return out;
}

/**
 * Batches of one epoch of a part. Each batch is built from cached uint8 pixels (a copy from RAM, or
 * positioned reads of the disk cache's records), augmented on the backend with draws keyed by
 * (seed, epoch, batch index), rescaled, and `prefetch` batches are started ahead so that reading
 * (or decoding, with `cache: none`) overlaps with the consumer's work. With `disk` and `none` the
 * pixels in RAM are those of the batches in that window.
 */
export async function* batchStream(data: PreparedData, part: 'train' | 'validation' | 'test', o: BatchOptions): AsyncGenerator<Batch> {
  const p = data.parts[part];
  if (!p || p.ids.length === 0) fail('data.empty-part', `The ${part} part is empty; set \`data.split.${part}\`.`, { path: `data.split.${part}` });
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${o.batchSize}`);
  const store = storeFor(data);
  const { height: H, width: W, channels: C } = data.image;
  const K = data.classes.length;
  const plan = batchIndices(p.ids.length, o, part);
  const frame = H * W * C;

  const reader = await store.reader();
  // On native TensorFlow, cast + augmentation + rescale run as one graph off the main thread; the
  // per-pixel ops (channel shift, brightness) and other backends use tfjs ops on this thread.
  const assembler = await assemblerFor(data.image, o.augment);

  const build = async (bi: number): Promise<Batch> => {
    const idx = plan[bi]!;
    const files = idx.map((i) => p.files[i]!);
    // Counted as held by the store until the tensor has copied it: the prefetch window is what
    // `disk` and `none` keep in RAM.
    const bytes = idx.length * frame;
    const pixels = new Uint8Array(assembler ? paddedLength(bytes) : bytes);
    store.hold(bytes);
    let xs: tf.Tensor4D;
    try {
      await reader.read(files, pixels);
      const draws = o.augment ? drawBatch(o.augment, Rng.from(o.seed, 'augment', o.epoch, bi), idx.length, H, W) : undefined;
      if (assembler && !draws?.pixel.length) {
        const maps = draws && !draws.maps.every(isIdentity) ? draws.maps : undefined;
        const fillValue = o.augment?.fill === 'constant' ? o.augment.fillValue : 0;
        xs = tf.tensor4d(await assembler.assemble(pixels, idx.length, maps, fillValue, o.rescale), [idx.length, H, W, C]);
      } else {
        xs = tf.tidy(() => {
          let x = tf.tensor4d(new Float32Array(pixels), [idx.length, H, W, C], 'float32');
          if (o.augment) x = applyDraws(x, o.augment, draws!);
          return o.rescale === 1 ? x : (tf.mul(x, o.rescale) as tf.Tensor4D);
        });
      }
    } catch (e) {
      if (e instanceof DecodeError) fail('data.unreadable-image', `${e.file} cannot be decoded: ${e.message}.`, { file: e.file });
      throw e;
    } finally {
      store.drop(bytes);
    }
    const labels = Int32Array.from(idx, (i) => p.labels[i]!);
    const ys = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), K), 'float32') as tf.Tensor2D);
    return { xs, ys, size: idx.length };
  };

  const ahead = Math.max(0, o.prefetch ?? PREFETCH);
  const queue: Promise<Batch>[] = [];
  let next = 0;
  let closed = false;
  const start = () => {
    const pr = build(next++);
    pr.catch(() => {}); // surfaced when awaited below
    queue.push(pr);
  };
  const fill = () => {
    while (!closed && next < plan.length && queue.length <= ahead) start();
  };
  try {
    while (queue.length || next < plan.length) {
      if (!queue.length) start();
      // Shifted once ready: the batch being waited for counts against the window too.
      const b = await queue[0]!;
      queue.shift();
      // The next batch is started in a later macrotask, not here: its synchronous part (assembly,
      // augmentation and rescale on the backend) would otherwise run before the consumer receives
      // `b` and count as the consumer's wait. Deferred, it runs while the consumer's step does (the
      // graph engine's session run is off the main thread).
      setImmediate(fill);
      yield b;
    }
  } finally {
    closed = true;
    // A consumer that stops early must not leak the batches prepared ahead.
    const pending = queue.splice(0).map((pr) =>
      pr.then(
        (b) => {
          b.xs.dispose();
          b.ys.dispose();
        },
        () => {},
      ),
    );
    void Promise.all(pending).then(() => reader.close());
  }
}

const assemblers = new Map<string, Promise<GraphAssembler | undefined>>();

/** One graph assembler per image shape, fill mode and interpolation for the process, on native TensorFlow (CPU) with the graph addon. */
function assemblerFor(image: { height: number; width: number; channels: number }, augment: Augment | undefined): Promise<GraphAssembler | undefined> {
  const fill = augment?.fill ?? 'nearest';
  const interpolation = augment?.interpolation ?? 'bilinear';
  const key = JSON.stringify([image.height, image.width, image.channels, fill, interpolation]);
  let a = assemblers.get(key);
  if (!a) {
    a = (async () => {
      const info = await activeBackend()?.catch(() => undefined);
      if (info?.name !== 'tensorflow') return undefined;
      const addon = loadGraphAddon();
      return typeof addon === 'string' ? undefined : graphAssembler(addon, image, fill, interpolation);
    })();
    assemblers.set(key, a);
  }
  return a;
}
