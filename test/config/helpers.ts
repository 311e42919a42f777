import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isFitspecError, type Problem } from '../../src/errors.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = path.join(ROOT, 'test/fixtures/config');
export const fixture = (name: string) => path.join(FIXTURES, name);

/** The problems a call throws (fails the test when it does not throw a FitspecError). */
export function problemsOf(fn: () => unknown): Problem[] {
  try {
    fn();
  } catch (e) {
    if (isFitspecError(e)) return e.problems;
    throw e;
  }
  throw new Error('expected a FitspecError, nothing was thrown');
}

/** A small valid experiment to build cases on. */
export const MINIMAL = `name: t
data:
  source: {type: directory, path: data/x}
model:
  layers:
    - flatten: {}
    - dense: {units: 3, activation: softmax}
`;
