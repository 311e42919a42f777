import path from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';

/** The demo experiment shipped with the package (`fitspec demo` trains it): a small CNN on generated face images in `data/demo`. */
export const demoExperimentFile: string = path.join(PACKAGE_ROOT, 'experiments', 'demo.yaml');

/** What {@link generateImages} draws. */
export interface GenerateImagesOptions {
  /** Folder to write into. */
  out: string;
  /** Images per class. */
  perClass: number;
  /** `directory`: one folder per class (as `data.source.type: directory` reads); `csv`: one folder and a labels CSV. Default: `directory`. */
  layout?: 'csv' | 'directory';
  /** Default: 7, the demo experiment's seed. */
  seed?: number;
  /** Class names from youngest to oldest (default: YOUNG, MIDDLE, OLD). */
  classes?: string[];
}

/**
 * Draws synthetic face images of three age classes (the project's stand-in for the notebook's dataset, as
 * `fitspec demo` and `fitspec data synth` make them), e.g. to train {@link demoExperimentFile} or to test a
 * pipeline without real data.
 */
export async function generateImages(opts: GenerateImagesOptions): Promise<{ count: number; out: string; seconds: number }> {
  const { synthesize } = await import('../data/synth/index.js');
  const r = await synthesize({ out: opts.out, perClass: opts.perClass, layout: opts.layout ?? 'directory', seed: opts.seed ?? 7, classes: opts.classes });
  return { count: r.count, out: r.out, seconds: r.seconds };
}
