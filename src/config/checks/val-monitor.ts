import type { Check, Finding } from './types.js';

/** A callback watching `val_*` never sees a value when nothing is held out for validation. */
export const valMonitor: Check = {
  name: 'val-monitor',
  description: 'error: a callback monitors a `val_*` metric but `data.split.validation` is 0.',
  run(exp) {
    if (exp.data.split.validation > 0) return [];
    const out: Finding[] = [];
    const scan = (callbacks: readonly unknown[] | undefined, path: (string | number)[]) =>
      (callbacks ?? []).forEach((cb, i) => {
        const kind = Object.keys(cb as object)[0];
        const monitor = ((cb as Record<string, { monitor?: unknown }>)[kind] ?? {}).monitor;
        if (typeof monitor === 'string' && monitor.startsWith('val_')) {
          out.push({ code: 'check.val-monitor', severity: 'error', path: [...path, i, kind, 'monitor'], message: `\`${kind}\` monitors \`${monitor}\`, but \`data.split.validation\` is 0, so there is no validation metric; monitor \`${monitor.slice(4)}\` or add a validation split.`, expected: 'a validation split > 0', received: 'data.split.validation: 0' });
        }
      });
    scan(exp.train.callbacks, ['train', 'callbacks']);
    exp.train.phases?.forEach((p, i) => scan(p.callbacks, ['train', 'phases', i, 'callbacks']));
    return out;
  },
};
