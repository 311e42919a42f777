// `npx tsx test/train/keras-parity/report.ts [name filter]`: the parity table's worst differences per
// row and engine, as ratios to their bounds (<= 1 passes), for docs/keras-parity.md and for debugging a row.
import { initBackend } from '../../../src/backend.js';
import { ensureConvertVenv } from '../../../scripts/convert/venv.mjs';
import { cases } from './cases.js';
import { compare, DEFAULT_TOLERANCE, fitspecSteps, kerasFor, kerasRuns } from './harness.js';

const backend = await initBackend('tensorflow');
const python = await ensureConvertVenv();
const only = cases.filter((c) => c.name.includes(process.argv[2] ?? ''));
const runs = await kerasRuns(only, python);
const lines = ['| row | graph | eager |', '| --- | --- | --- |'];
for (const c of only) {
  const cells: string[] = [];
  for (const kind of ['graph', 'eager'] as const) {
    try {
      const { initial, keras } = kerasFor(runs, c, kind);
      const ours = await fitspecSteps(c, kind, backend, initial);
      const { worst, perStep } = compare(c, ours, keras, { ...DEFAULT_TOLERANCE, ...c.tolerance });
      cells.push(`${worst.ratio.toFixed(3)} (${worst.where}, ${worst.diff.toExponential(1)})`);
      if (process.env.PARITY_VERBOSE)
        console.error(c.name, kind, perStep.map((w) => w.ratio.toFixed(2)).join(' '), ours.map((o, i) => `${o.loss.toFixed(5)}/${keras[i]!.loss.toFixed(5)}`).join(' '));
    } catch (e) {
      cells.push(`error: ${(e as Error).message.split('\n').slice(-2).join(' ')}`);
    }
  }
  lines.push(`| ${c.name} | ${cells.join(' | ')} |`);
}
console.log(lines.join('\n'));
