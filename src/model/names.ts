import type { LayerSpecT } from '../config/schema/experiment.js';

export function layerKind(spec: LayerSpecT): keyof LayerSpecT {
  return Object.keys(spec)[0] as keyof LayerSpecT;
}

export function snakeCase(kind: string): string {
  return kind.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * Keras-style default names: `conv2d`, `conv2d_1`, `max_pooling2d`, ... numbered per kind within a stack;
 * an explicit `name` wins.
 */
export function layerNames(layers: readonly LayerSpecT[]): string[] {
  const seen = new Map<string, number>();
  return layers.map((spec) => {
    const kind = layerKind(spec);
    const explicit = (spec[kind] as { name?: string } | undefined)?.name;
    if (explicit) return explicit;
    const base = snakeCase(kind);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  });
}
