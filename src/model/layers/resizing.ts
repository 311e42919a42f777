import * as tf from '@tensorflow/tfjs';
import { GraphUnsupported, layerConfig } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

interface ResizingArgs {
  name?: string;
  trainable?: boolean;
  height: number;
  width: number;
  interpolation?: 'bilinear' | 'nearest';
  cropToAspectRatio?: boolean;
}

/** Keras' centered crop to the output's aspect ratio (keras.ops.image.resize, crop_to_aspect_ratio). */
export function cropBox(height: number, width: number, targetHeight: number, targetWidth: number): { top: number; left: number; height: number; width: number } {
  const h = Math.max(Math.min(height, Math.trunc((width * targetHeight) / targetWidth)), 1);
  const w = Math.max(Math.min(width, Math.trunc((height * targetWidth) / targetHeight)), 1);
  return { top: Math.trunc((height - h) / 2), left: Math.trunc((width - w) / 2), height: h, width: w };
}

/**
 * The [outSize, inSize] matrix of TensorFlow's half-pixel-center resize along one axis
 * (ResizeBilinear / ResizeNearestNeighbor with half_pixel_centers, as Keras resizes).
 */
export function resizeMatrix(inSize: number, outSize: number, nearest: boolean): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    if (nearest) {
      m[i * inSize + Math.max(0, Math.min(Math.floor((i + 0.5) * scale), inSize - 1))] = 1;
      continue;
    }
    const at = (i + 0.5) * scale - 0.5;
    const floor = Math.floor(at);
    const lerp = at - floor;
    m[i * inSize + Math.max(floor, 0)] += 1 - lerp;
    m[i * inSize + Math.min(Math.ceil(at), inSize - 1)] += lerp;
  }
  return m;
}

/** Multiplies axis 1 (rows) or 2 (columns) of an NHWC tensor by `m` ([out, in]). */
function alongAxis(x: tf.Tensor4D, m: tf.Tensor2D, axis: 1 | 2): tf.Tensor4D {
  const [_b, h, w, _c] = x.shape;
  const perm = axis === 1 ? [0, 2, 3, 1] : [0, 1, 3, 2];
  const moved = tf.transpose(x, perm);
  const out = tf.matMul(tf.reshape(moved, [-1, axis === 1 ? h : w]), m, false, true);
  const back = tf.reshape(out, [...moved.shape.slice(0, 3), m.shape[0]]);
  return tf.transpose(back, axis === 1 ? [0, 3, 1, 2] : [0, 1, 3, 2]) as tf.Tensor4D;
}

/**
 * TensorFlow's resize forward, with the gradient of the same linear map. tfjs' resize gradients
 * ignore half-pixel centers (they differ from TensorFlow's, which the graph engine uses, by whole
 * pixels), so the eager engine takes the gradient as the transposed interpolation matrices.
 */
function resize(x: tf.Tensor4D, height: number, width: number, nearest: boolean): tf.Tensor4D {
  const size: [number, number] = [height, width];
  const [, h, w] = x.shape;
  const rows = tf.tensor2d(resizeMatrix(h, height, nearest), [height, h]);
  const cols = tf.tensor2d(resizeMatrix(w, width, nearest), [width, w]);
  const f = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    save([rows, cols]);
    const t = input as tf.Tensor4D;
    return {
      value: nearest ? tf.image.resizeNearestNeighbor(t, size, false, true) : tf.image.resizeBilinear(t, size, false, true),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        alongAxis(alongAxis(dy as tf.Tensor4D, tf.transpose(saved[0]!) as tf.Tensor2D, 1), tf.transpose(saved[1]!) as tf.Tensor2D, 2),
    };
  }) as never);
  return f(x) as tf.Tensor4D;
}

/**
 * Keras' Resizing. tfjs' own layer resizes with aligned corners (Keras uses half-pixel centers), does
 * not crop for `cropToAspectRatio`, and computes its output shape without the batch axis; this class
 * replaces it under the same class name and config, so saved models keep loading in tfjs and Keras.
 */
export class KerasResizing extends tf.layers.Layer {
  static className = 'Resizing';
  readonly height: number;
  readonly width: number;
  readonly interpolation: 'bilinear' | 'nearest';
  readonly cropToAspectRatio: boolean;

  constructor(args: ResizingArgs) {
    super(args);
    this.height = args.height;
    this.width = args.width;
    this.interpolation = args.interpolation ?? 'bilinear';
    this.cropToAspectRatio = Boolean(args.cropToAspectRatio);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [s[0] ?? null, this.height, this.width, s[3] ?? null];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      let x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      if (this.cropToAspectRatio) {
        const box = cropBox(x.shape[1], x.shape[2], this.height, this.width);
        x = tf.slice(x, [0, box.top, box.left, 0], [-1, box.height, box.width, -1]);
      }
      return resize(x, this.height, this.width, this.interpolation === 'nearest');
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { height: this.height, width: this.width, interpolation: this.interpolation, cropToAspectRatio: this.cropToAspectRatio, ...super.getConfig() };
  }
}

export const resizing: LayerDef<'resizing'> = {
  kind: 'resizing',
  kerasClass: 'Resizing',
  layerClass: KerasResizing,
  build: (a, ctx) =>
    new KerasResizing({ ...common(a, ctx), height: a.height, width: a.width, interpolation: a.interpolation ?? 'bilinear', cropToAspectRatio: a.cropToAspectRatio ?? false }),
  graph: ({ g, x, layer }) => {
    const c = layerConfig(layer);
    const shape = g.shape(x);
    if (shape?.length !== 4 || shape.slice(1).some((d) => d < 0)) throw new GraphUnsupported('resizing of an input without a static image shape');
    let input = x;
    if (c.cropToAspectRatio) {
      const box = cropBox(shape[1]!, shape[2]!, Number(c.height), Number(c.width));
      input = g.op(
        'Slice',
        [x, g.ints([0, box.top, box.left, 0]), g.ints([-1, box.height, box.width, -1])],
        [
          ['T', 'type', 'float32'],
          ['Index', 'type', 'int32'],
        ],
      );
    }
    const op = c.interpolation === 'nearest' ? 'ResizeNearestNeighbor' : 'ResizeBilinear';
    return g.op(
      op,
      [input, g.ints([Number(c.height), Number(c.width)])],
      [
        ['T', 'type', 'float32'],
        ['align_corners', 'bool', false],
        ['half_pixel_centers', 'bool', true],
      ],
    );
  },
};
