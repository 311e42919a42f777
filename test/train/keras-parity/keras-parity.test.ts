/**
 * Step parity with Keras: the same network, initial weights, batches (in order, with the last short
 * batch of an epoch and `stepsPerEpoch` wrapping), optimizer, loss, class weights and learning rates,
 * trained step by step by Keras 3 (scripts/keras-parity/keras_steps.py, in the venv of
 * scripts/convert/venv.mjs, installed on first use) and by fitspec's graph and eager engines. After
 * every step the batch's loss, its inference-mode loss, every weight (moving statistics included)
 * and every optimizer slot must agree within DEFAULT_TOLERANCE (harness.ts says why those bounds).
 *
 * Adding a row: one entry in the table of ./cases.ts (how, in its header): a new layer kind is
 * usually one row and nothing else.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../../src/backend.js';
import type { EngineKind } from '../../../src/train/engine/types.js';
import { ensureConvertVenv } from '../../../scripts/convert/venv.mjs';
import { cases } from './cases.js';
import { compare, DEFAULT_TOLERANCE, fitspecSteps, kerasFor, kerasRuns } from './harness.js';

const ENGINES: EngineKind[] = ['graph', 'eager'];

let backend: BackendInfo;
let runs: Awaited<ReturnType<typeof kerasRuns>>;
beforeAll(async () => {
  backend = await initBackend('tensorflow');
  const python = await ensureConvertVenv({ log: (m) => process.stderr.write(`${m}\n`) });
  // One Keras process for every row: importing TensorFlow costs more than a row's steps.
  runs = await kerasRuns(cases, python);
});

describe('training steps match Keras', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const tol = { ...DEFAULT_TOLERANCE, ...c.tolerance };
      const report: string[] = [];
      const failures: string[] = [];
      for (const kind of ENGINES) {
        const { initial, keras } = kerasFor(runs, c, kind);
        const ours = await fitspecSteps(c, kind, backend, initial);
        expect(ours.length).toBe(keras.length);
        const { worst } = compare(c, ours, keras, tol);
        report.push(`${kind}: worst ${worst.ratio.toFixed(3)} of its bound at ${worst.where} (|diff| ${worst.diff.toExponential(2)})`);
        const differs = c.differs?.[kind];
        if (differs ? worst.ratio <= 1 : worst.ratio > 1) failures.push(`${kind}: ${differs ? `expected to differ (${differs}) but matches` : 'differs from Keras'}`);
      }
      expect(failures, `${c.name}\n${report.join('\n')}`).toEqual([]);
    });
  }
});
