import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { DataConfig } from '../../src/config/schema/experiment.js';
import { FitspecError } from '../../src/errors.js';

export function tempDir(prefix = 'fitspec-data-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A small solid-colour image; `shade` makes files of one class differ. */
export async function writeImage(file: string, shade = 0, format: 'png' | 'jpeg' = 'png', size: [number, number] = [12, 10]): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const img = sharp({ create: { width: size[0], height: size[1], channels: 3, background: { r: (40 + shade * 7) % 256, g: 120, b: (200 - shade * 3 + 256) % 256 } } });
  await (format === 'png' ? img.png() : img.jpeg()).toFile(file);
}

/** `root/<class>/<class>_<i>.png`, `n` per class. */
export async function makeDirectoryDataset(root: string, classes: string[], n: number): Promise<void> {
  for (const [k, c] of classes.entries()) for (let i = 0; i < n; i++) await writeImage(join(root, c, `${c}_${String(i).padStart(3, '0')}.png`), k * 10 + i);
}

/** `root/Train/<id>.jpg` + `root/train.csv` (`ID,Class`). */
export async function makeCsvDataset(root: string, classes: string[], n: number, withExtension = true): Promise<string[]> {
  const rows = ['ID,Class'];
  let id = 100;
  for (const [k, c] of classes.entries()) {
    for (let i = 0; i < n; i++, id++) {
      await writeImage(join(root, 'Train', `${id}.jpg`), k * 10 + i, 'jpeg');
      rows.push(`${withExtension ? `${id}.jpg` : id},${c}`);
    }
  }
  writeFileSync(join(root, 'train.csv'), rows.join('\n') + '\n');
  return rows;
}

export function dataConfig(
  over: Partial<Omit<DataConfig, 'source' | 'image' | 'split'>> & { source: DataConfig['source']; image?: Partial<DataConfig['image']>; split?: Partial<DataConfig['split']> },
): DataConfig {
  return {
    classes: over.classes,
    onError: over.onError ?? 'fail',
    cache: over.cache ?? 'memory',
    memoryBudget: over.memoryBudget,
    source: over.source,
    image: { height: 6, width: 8, channels: 3, rescale: 1 / 255, resize: 'stretch', ...over.image },
    split: { train: 0.5, validation: 0.5, test: 0, ...over.split },
  } as DataConfig;
}

/** The FitspecError a promise rejects with (fails the test on anything else). */
export async function failure(p: Promise<unknown>): Promise<FitspecError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FitspecError) return e;
    throw e;
  }
  throw new Error('expected a FitspecError');
}
