import type { Experiment } from './schema/experiment.js';

export type FlatValue = string | number | boolean;

/**
 * Dotted leaves of a config: `train.optimizer.learningRate`, `model.layers.3.conv2d.filters`. Lists of
 * scalars are one leaf holding their JSON text (`data.classes: ["young","middle","old"]`); empty
 * mappings and lists are leaves `{}` and `[]` so that a layer without arguments still shows up.
 */
export function flattenValue(value: unknown, prefix = ''): Record<string, FlatValue> {
  const out: Record<string, FlatValue> = {};
  const walk = (v: unknown, path: string) => {
    if (Array.isArray(v)) {
      if (!v.length) out[path] = '[]';
      else if (v.every((x) => x === null || typeof x !== 'object')) out[path] = JSON.stringify(v);
      else v.forEach((x, i) => walk(x, `${path}.${i}`));
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      if (!entries.length) out[path] = '{}';
      for (const [k, x] of entries) walk(x, path ? `${path}.${k}` : k);
    } else if (v === null) out[path] = 'null';
    else out[path] = v as FlatValue;
  };
  walk(value, prefix);
  return out;
}

export function flattenConfig(exp: Experiment): Record<string, FlatValue> {
  return flattenValue(exp);
}
