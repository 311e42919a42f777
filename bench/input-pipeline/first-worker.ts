/**
 * One first decode in a fresh process, for `npm run bench:input -- --rounds N`: the process's
 * one-time costs (the graph addon, TensorFlow's first graph and session), the listing and the decode
 * of the whole folder into the memory cache, as `fitspec train` pays them once per run.
 *
 *   tsx first-worker.ts <folder> <per-class> <size> <interpolation> <decoder: default|tfjs|sharp>
 *
 * Prints one JSON line: { "rate": images/s }.
 */
import { initBackend } from '../../src/backend.js';
import type { DataConfig } from '../../src/config/schema/experiment.js';
import { folderData } from './train-loop.js';

const [dir, perClass, size, interpolation, decoder] = process.argv.slice(2) as [string, string, string, DataConfig['image']['interpolation'], string];
if (decoder !== 'default') process.env.FITSPEC_DECODER = decoder;
await initBackend('auto');
const { prepareData } = await import('../../src/data/index.js');
const t = performance.now();
await prepareData(folderData(dir, Number(size), Number(perClass), 'memory', interpolation), 1);
console.log(JSON.stringify({ rate: (3 * Number(perClass)) / ((performance.now() - t) / 1000) }));
