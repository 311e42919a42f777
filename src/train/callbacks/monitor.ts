import type { Logs, TrainingHandle } from './types.js';

export type MonitorMode = 'auto' | 'min' | 'max';

/**
 * Direction of a monitored metric. `auto` follows Keras' name rule: accuracy-like names (containing
 * `acc`, or `auc` / `precision` / `recall`) go up, everything else (losses, errors) goes down.
 */
export function resolveMode(monitor: string, mode: MonitorMode = 'auto'): 'min' | 'max' {
  if (mode !== 'auto') return mode;
  const name = monitor.replace(/^val_/, '');
  return name.includes('acc') || /^(auc|precision|recall)/.test(name) ? 'max' : 'min';
}

/**
 * Keras' improvement test: `minDelta` is taken as a magnitude and must be beaten, so in `min` mode
 * `current + minDelta < reference` and in `max` mode `current - minDelta > reference`.
 */
export function isImprovement(current: number, reference: number | undefined, mode: 'min' | 'max', minDelta: number): boolean {
  if (reference === undefined) return true;
  const d = Math.abs(minDelta);
  return mode === 'min' ? current + d < reference : current - d > reference;
}

/** The monitored value, or undefined with a warning naming what is available (Keras warns, it does not stop). */
export function monitorValue(kind: string, monitor: string, logs: Logs, h: TrainingHandle): number | undefined {
  const v = logs[monitor];
  if (v === undefined || v === null) {
    h.log(`warning: ${kind} watches \`${monitor}\`, which is not available; available metrics: ${Object.keys(logs).join(', ') || '(none)'}`);
    return undefined;
  }
  return v;
}

/** A metric value in a message, with Keras' five decimals. */
export function fmt(v: number | undefined): string {
  return v === undefined ? 'none' : Number.isFinite(v) ? v.toFixed(5) : String(v);
}
