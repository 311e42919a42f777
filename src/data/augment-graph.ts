import { availableParallelism } from 'node:os';
import type { Attr, NativeGraph, Ref } from '../graph-builder.js';
import { sessionConfig, type Feed, type GraphAddon, type NativeSession } from '../native-addon.js';
import { toTensorflowTransforms, type FillMode } from './augment/resample.js';
import type { Affine } from './augment/types.js';

/**
 * Turns a batch of cached uint8 pixels into the float32 batch the model takes: cast, the augmentation's
 * affine transforms (TensorFlow's ImageProjectiveTransformV3, the op the native tfjs path runs) and the
 * rescale, in one graph run through the project's graph addon. The run happens on a worker thread, so
 * the main thread stays free while the trainer's step runs and answers as soon as that step ends.
 */
export interface GraphAssembler {
  /**
   * `pixels`: `count` images of `frame` bytes, in a buffer whose length is a multiple of 4 (the tail
   * is padding); `maps`: one affine map per image, or undefined for none.
   */
  assemble(pixels: Uint8Array, count: number, maps: Affine[] | undefined, fillValue: number, rescale: number): Promise<Float32Array>;
  close(): void;
}

/** Byte length of a pixel buffer for `bytes` bytes of pixels, as `assemble` takes it. */
export const paddedLength = (bytes: number) => Math.ceil(bytes / 4) * 4;

export function graphAssembler(
  addon: GraphAddon,
  shape: { height: number; width: number; channels: number },
  fill: FillMode,
  interpolation: 'bilinear' | 'nearest',
): GraphAssembler {
  const { height: H, width: W, channels: C } = shape;
  const g = new addon.Graph() as NativeGraph;
  const op = (type: string, name: string, inputs: (Ref | Ref[])[], attrs: Attr[] = []): Ref => (g.op(type, name, inputs, attrs), [name, 0]);
  const placeholder = (name: string, dtype: 'int32' | 'float32', dims: number[]) =>
    op(
      'Placeholder',
      name,
      [],
      [
        ['dtype', 'type', dtype],
        ['shape', 'shape', dims],
      ],
    );
  const f32: Attr = ['T', 'type', 'float32'];
  // The pixels travel as int32 words (a view of the same bytes, no copy in JavaScript) and are
  // reinterpreted as bytes here: the addon feeds a Uint8Array as bool.
  const words = placeholder('words', 'int32', [-1]);
  const bytes = op(
    'Reshape',
    'bytes',
    [
      op(
        'Bitcast',
        'bitcast',
        [words],
        [
          ['T', 'type', 'int32'],
          ['type', 'type', 'uint8'],
        ],
      ),
      placeholder('flat', 'int32', [1]),
    ],
    [
      ['T', 'type', 'uint8'],
      ['Tshape', 'type', 'int32'],
    ],
  );
  const used = op(
    'Slice',
    'used',
    [
      bytes,
      op(
        'Const',
        'zero',
        [],
        [
          ['dtype', 'type', 'int32'],
          ['value', 'tensor', { data: Int32Array.from([0]), shape: [1] }],
        ],
      ),
      placeholder('length', 'int32', [1]),
    ],
    [
      ['T', 'type', 'uint8'],
      ['Index', 'type', 'int32'],
    ],
  );
  const images = op(
    'Reshape',
    'images',
    [used, placeholder('shape', 'int32', [4])],
    [
      ['T', 'type', 'uint8'],
      ['Tshape', 'type', 'int32'],
    ],
  );
  const x = op(
    'Cast',
    'float',
    [images],
    [
      ['SrcT', 'type', 'uint8'],
      ['DstT', 'type', 'float32'],
    ],
  );
  const rescale = placeholder('rescale', 'float32', []);
  const transformed = op(
    'ImageProjectiveTransformV3',
    'transform',
    [
      x,
      placeholder('transforms', 'float32', [-1, 8]),
      op(
        'Const',
        'size',
        [],
        [
          ['dtype', 'type', 'int32'],
          ['value', 'tensor', { data: Int32Array.from([H, W]), shape: [2] }],
        ],
      ),
      placeholder('fillValue', 'float32', []),
    ],
    [
      ['dtype', 'type', 'float32'],
      ['interpolation', 'string', interpolation.toUpperCase()],
      ['fill_mode', 'string', fill.toUpperCase()],
    ],
  );
  const plain = op('Mul', 'plain', [x, rescale], [f32]);
  const augmented = op('Mul', 'augmented', [transformed, rescale], [f32]);
  const session: NativeSession = new addon.Session(g, sessionConfig(availableParallelism(), 1));
  // One run at a time, in the order asked: the batch wanted first is ready first, and the other
  // threads of libuv's pool stay free for cache reads and the training step.
  let tail: Promise<unknown> = Promise.resolve();

  return {
    assemble(pixels, count, maps, fillValue, rescaleBy) {
      const length = count * H * W * C;
      if (pixels.byteLength % 4 !== 0 || pixels.byteOffset % 4 !== 0 || pixels.byteLength < length) throw new Error(`assemble: ${pixels.byteLength} bytes for ${length}`);
      const feeds: Feed[] = [
        [words, new Int32Array(pixels.buffer, pixels.byteOffset, pixels.byteLength / 4), [pixels.byteLength / 4]],
        [['flat', 0], Int32Array.from([pixels.byteLength]), [1]],
        [['length', 0], Int32Array.from([length]), [1]],
        [['shape', 0], Int32Array.from([count, H, W, C]), [4]],
        [rescale, Float32Array.from([rescaleBy]), []],
      ];
      if (maps) feeds.push([['transforms', 0], toTensorflowTransforms(maps, H, W), [count, 8]], [['fillValue', 0], Float32Array.from([fillValue]), []]);
      const run = tail.then(() => session.run(feeds, [maps ? augmented : plain], []));
      tail = run.catch(() => {});
      return run.then(([out]) => out!.data as Float32Array);
    },
    close: () => session.close(),
  };
}
