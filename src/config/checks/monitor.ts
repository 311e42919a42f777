import type { Experiment } from '../schema/experiment.js';
import { closest } from '../suggest.js';
import type { Check, Finding } from './types.js';

/** Old Keras and tfjs spellings of the names a run logs. */
const ALIASES: Record<string, string> = { acc: 'accuracy', learning_rate: 'lr', learningRate: 'lr' };

/** The per-epoch names a run logs, as `metrics.csv` and MLflow show them. */
export function loggedMetrics(exp: Experiment): string[] {
  const train = ['loss', ...exp.train.metrics];
  return [...train, ...(exp.data.split.validation > 0 ? train.map((m) => `val_${m}`) : []), 'lr'];
}

/** The logged name `monitor` most likely means. */
function meant(monitor: string, known: string[]): string | undefined {
  const val = monitor.startsWith('val_');
  const base = val ? monitor.slice(4) : monitor;
  const alias = ALIASES[base];
  const guess = alias && (val ? `val_${alias}` : alias);
  return guess && known.includes(guess) ? guess : closest(monitor, known);
}

/**
 * A callback watching a metric the run never logs never fires: Keras only warns once per epoch.
 * `val_*` without a validation split gets its own message (the fix is in `data.split`, not the name).
 */
export const monitor: Check = {
  name: 'monitor',
  description:
    'error: a callback `monitor` names a metric the run does not log (`loss`, the metrics in `train.metrics`, their `val_` forms when `data.split.validation` > 0, `lr`).',
  run(exp) {
    const known = loggedMetrics(exp);
    const out: Finding[] = [];
    const scan = (callbacks: readonly unknown[] | undefined, path: (string | number)[]) =>
      (callbacks ?? []).forEach((cb, i) => {
        const kind = Object.keys(cb as object)[0]!;
        const name = (cb as Record<string, { monitor?: unknown }>)[kind]?.monitor;
        if (typeof name !== 'string' || known.includes(name)) return;
        const at = [...path, i, kind, 'monitor'];
        if (name.startsWith('val_') && exp.data.split.validation === 0 && known.includes(name.slice(4))) {
          out.push({
            code: 'check.val-monitor',
            severity: 'error',
            path: at,
            message: `\`${kind}\` monitors \`${name}\`, but \`data.split.validation\` is 0, so there is no validation metric; monitor \`${name.slice(4)}\` or add a validation split.`,
            expected: 'a validation split > 0',
            received: 'data.split.validation: 0',
          });
          return;
        }
        const guess = meant(name, known);
        out.push({
          code: 'check.monitor',
          severity: 'error',
          path: at,
          message: `\`${kind}\` monitors \`${name}\`, which this run never logs, so it would never act${guess ? `; did you mean \`${guess}\`?` : '.'}`,
          expected: known.join(' | '),
          received: name,
        });
      });
    scan(exp.train.callbacks, ['train', 'callbacks']);
    exp.train.phases?.forEach((p, i) => scan(p.callbacks, ['train', 'phases', i, 'callbacks']));
    return out;
  },
};
