/**
 * The data stage: source -> split -> decode -> cache -> batches -> augment.
 * Listing, splitting and generating data need no TensorFlow; `batches` and `augmentPreview` load it
 * on first use, after the backend has been initialized.
 */
import type { DataConfig, Augment } from '../config/schema/experiment.js';
import type { Batch, BatchOptions } from './batches.js';

export { prepareData, writeSplit, type Part, type PreparedData } from './prepare.js';
export type { Batch, BatchOptions } from './batches.js';
export { synthesize } from './synth/index.js';
export { SYNTH_PROFILES, synthProfile, type SynthProfile } from './synth/profiles.js';
import type { PreparedData } from './prepare.js';

export async function* batches(data: PreparedData, part: 'train' | 'validation' | 'test', opts: BatchOptions): AsyncIterableIterator<Batch> {
  const { batchStream } = await import('./batches.js');
  yield* batchStream(data, part, opts);
}

export async function augmentPreview(data: DataConfig, augment: Augment, opts: { image?: string; n: number; seed: number; out: string }): Promise<string> {
  const { renderPreview } = await import('./preview.js');
  return renderPreview(data, augment, opts);
}
