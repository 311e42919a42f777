import fs from 'node:fs';
import path from 'node:path';
import { tinyExperiment } from '../train/helpers.js';

/** tiny.yaml (5 + 3 images per class, `epochs` epochs) and sweep.yaml extending it with `block` under `sweep:`. */
export function tinySweep(dir: string, dataDir: string, epochs: number, block: string): string {
  const base = tinyExperiment(dir, dataDir, '');
  fs.writeFileSync(base, fs.readFileSync(base, 'utf8').replace('split: {train: 8, validation: 4}', 'split: {train: 5, validation: 3}').replace('epochs: 2', `epochs: ${epochs}`));
  const file = path.join(dir, 'sweep.yaml');
  fs.writeFileSync(file, `extends: tiny.yaml\nsweep:\n${block}`);
  return file;
}
