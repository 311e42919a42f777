/** The graph/session addon (native/graph): shared by the graph engine and the image decoder. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { findGraphAddon } from '../scripts/native/layout.mjs';
import type { NativeGraph, Ref } from './graph-builder.js';

export interface Fetched {
  data: Float32Array | Int32Array | Float64Array | Uint8Array;
  shape: number[];
}

/** A Uint8Array feeds a bool tensor; an array of Uint8Arrays a string tensor (encoded images). */
export type Feed = [Ref, Float32Array | Int32Array | Uint8Array | Uint8Array[], number[]];

export interface RunOptions {
  /**
   * Every fetched `[h, w, c]` uint8 tensor is resized to `[height, width, c]` on the run's thread,
   * before it is copied to JS, with the pixels of TensorFlow's ResizeNearestNeighbor
   * (half_pixel_centers) for `nearest`, else of ScaleAndTranslate with that kernel (antialias, no
   * translation), rounded half to even and clipped to 0..255.
   */
  resize?: { size: [number, number]; kernel: 'nearest' | 'lanczos3' | 'triangle' | 'keyscubic' };
}

export interface NativeSession {
  run(feeds: Feed[], fetches: Ref[], targets: string[], options?: RunOptions): Promise<Fetched[]>;
  runSync(feeds: Feed[], fetches: Ref[], targets: string[]): Fetched[];
  close(): void;
}

export interface GraphAddon {
  Graph: new () => NativeGraph;
  Session: new (graph: NativeGraph, config?: Uint8Array) => NativeSession;
  tfVersion: string;
  /** Whether TensorFlow's oneDNN kernels are on in this process. */
  onednnEnabled(): boolean;
}

let loaded: GraphAddon | string | undefined;

/** The graph/session addon built by `npm install` (scripts/native/install.mjs), or why it is not there. */
export function loadGraphAddon(): GraphAddon | string {
  if (loaded) return loaded;
  const file = findGraphAddon();
  if (!existsSync(file)) {
    loaded = `the graph addon is not built (${file} is missing; run \`node scripts/native/install.mjs\`)`;
    return loaded;
  }
  try {
    loaded = createRequire(import.meta.url)(file) as GraphAddon;
  } catch (e) {
    loaded = `the graph addon does not load: ${(e as Error).message.split('\n')[0]}`;
  }
  return loaded;
}

/** tensorflow.ConfigProto with intra_op_parallelism_threads (field 2) and inter_op_parallelism_threads (field 5). */
export function sessionConfig(intraOp: number, interOp: number): Uint8Array {
  const bytes: number[] = [];
  const varint = (v: number) => {
    while (v > 0x7f) {
      bytes.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    bytes.push(v);
  };
  for (const [field, v] of [
    [2, intraOp],
    [5, interOp],
  ] as const) {
    if (v > 0) {
      varint(field << 3);
      varint(v);
    }
  }
  return new Uint8Array(bytes);
}
