import type * as tfjs from '@tensorflow/tfjs';
import { interpolationOf, type ImageSpec } from './decode.js';

/**
 * Decodes many encoded images at once; `undefined` where this decoder cannot (another format, a
 * damaged file): the caller decodes those with sharp, which also words the error.
 */
export interface BatchDecoder {
  /** Part of the disk cache key: another decoder gives (slightly) other pixels. */
  readonly id: string;
  decode(contents: readonly Buffer[]): Promise<(Uint8Array | undefined)[]> | (Uint8Array | undefined)[];
}

/** A batch decoder that works on the calling thread. */
export interface SyncBatchDecoder extends BatchDecoder {
  decode(contents: readonly Buffer[]): (Uint8Array | undefined)[];
}

export const isJpeg = (b: Buffer) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
export const isPng = (b: Buffer) => b.length > 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a;

/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * JPEG and PNG through TensorFlow's own `DecodeJpeg` / `DecodePng`, resized with `ScaleAndTranslate`
 * (lanczos3 with antialiasing, what `tf.image.resize(method='lanczos3', antialias=True)` runs): the
 * same kernel as sharp's default, so pixels differ from sharp's by rounding, not by method. Images
 * of one source size are resized in one call. Only on the native backend, for RGB and `stretch`
 * (Keras' behaviour) and the default lanczos3; everything else stays with sharp. Runs op by op on the
 * calling thread, so it is only the fallback for when the graph addon (decode-graph.ts) is missing.
 */
export function tensorflowDecoder(tf: typeof tfjs, spec: ImageSpec): SyncBatchDecoder | undefined {
  // biome-ignore lint/suspicious/noExplicitAny: tfjs-node's backend class (its binding) has no public type
  const backend = tf.backend() as any;
  if (tf.getBackend() !== 'tensorflow' || typeof backend?.executeSingleOutput !== 'function' || !backend.binding) return undefined;
  if (spec.channels !== 3 || spec.resize !== 'stretch' || interpolationOf(spec) !== 'lanczos3') return undefined;
  const binding = backend.binding;
  const { height: H, width: W } = spec;
  const op = (name: string, attrs: { name: string; type: number; value: unknown }[], inputs: tfjs.Tensor[]) => backend.executeSingleOutput(name, attrs, inputs) as tfjs.Tensor;

  const type = (name: string, value: number) => ({ name, type: binding.TF_ATTR_TYPE, value });
  // tfjs has no uint8 dtype and labels TensorFlow's uint8 tensors int32, so every op on the decoded
  // image is called with its TensorFlow types here, never through tfjs' own ops.
  const decodeOne = (content: Buffer): tfjs.Tensor | undefined => {
    const jpeg = isJpeg(content);
    if (!jpeg && !isPng(content)) return undefined;
    const bytes = tf.scalar(new Uint8Array(content.buffer, content.byteOffset, content.byteLength) as unknown as string, 'string');
    try {
      return jpeg
        ? op(
            'DecodeJpeg',
            [
              { name: 'channels', type: binding.TF_ATTR_INT, value: 3 },
              { name: 'ratio', type: binding.TF_ATTR_INT, value: 1 },
              { name: 'fancy_upscaling', type: binding.TF_ATTR_BOOL, value: true },
              { name: 'try_recover_truncated', type: binding.TF_ATTR_BOOL, value: false },
              { name: 'acceptable_fraction', type: binding.TF_ATTR_FLOAT, value: 1 },
              { name: 'dct_method', type: binding.TF_ATTR_STRING, value: '' },
            ],
            [bytes],
          )
        : op('DecodePng', [{ name: 'channels', type: binding.TF_ATTR_INT, value: 3 }, type('dtype', binding.TF_UINT8)], [bytes]);
    } catch {
      return undefined;
    } finally {
      bytes.dispose();
    }
  };

  // Inputs of ScaleAndTranslate that only depend on the source size, made once.
  const size = tf.keep(tf.tensor1d([H, W], 'int32'));
  const translation = tf.keep(tf.tensor1d([0, 0], 'float32'));
  const scales = new Map<string, tfjs.Tensor>();
  const scaleFor = (h: number, w: number) => {
    const key = `${h}x${w}`;
    let t = scales.get(key);
    if (!t) scales.set(key, (t = tf.keep(tf.tensor1d([H / h, W / w], 'float32'))));
    return t;
  };
  const frame = H * W * 3;

  return {
    id: 'tensorflow-lanczos3',
    decode(contents) {
      const out: (Uint8Array | undefined)[] = new Array(contents.length).fill(undefined);
      const bySize = new Map<string, { k: number; img: tfjs.Tensor }[]>();
      for (const [k, c] of contents.entries()) {
        const img = decodeOne(c);
        if (!img) continue;
        const key = img.shape.join('x');
        let g = bySize.get(key);
        if (!g) bySize.set(key, (g = []));
        g.push({ k, img });
      }
      for (const g of bySize.values()) {
        const [h, w] = g[0]!.img.shape as [number, number, number];
        const batch = op(
          'Pack',
          [{ name: 'N', type: binding.TF_ATTR_INT, value: g.length }, type('T', binding.TF_UINT8), { name: 'axis', type: binding.TF_ATTR_INT, value: 0 }],
          g.map((x) => x.img),
        );
        for (const x of g) x.img.dispose();
        const resized = op(
          'ScaleAndTranslate',
          [type('T', binding.TF_UINT8), { name: 'kernel_type', type: binding.TF_ATTR_STRING, value: 'lanczos3' }, { name: 'antialias', type: binding.TF_ATTR_BOOL, value: true }],
          [batch, size, scaleFor(h, w), translation],
        );
        batch.dispose();
        const all = resized.dataSync() as Float32Array;
        resized.dispose();
        g.forEach(({ k }, j) => {
          // A clamped array rounds and clips on copy: lanczos overshoots at edges.
          const px = new Uint8ClampedArray(frame);
          px.set(all.subarray(j * frame, (j + 1) * frame));
          out[k] = new Uint8Array(px.buffer);
        });
      }
      return out;
    },
  };
}
