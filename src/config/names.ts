/** `maxPooling2d` -> `max_pooling2d`, as Keras derives default layer names from class names. */
export function snakeCase(kind: string): string {
  return kind.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** `kernel_size` -> `kernelSize`: the tfjs spelling of a Keras argument. */
export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The key of a single-key mapping such as `{conv2d: {...}}`. */
export function kindOf(item: unknown): string | undefined {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return undefined;
  const keys = Object.keys(item);
  return keys.length === 1 ? keys[0] : undefined;
}

/**
 * Keras-style default names, numbered per kind within one stack: `conv2d`, `conv2d_1`, `conv2d_2`,
 * `max_pooling2d`, `max_pooling2d_1`, ... An explicit `name` wins and does not advance the numbering.
 * The same names are used by `$patch` selectors, `fitspec diff` and the built model.
 */
export function defaultLayerNames(layers: readonly unknown[]): string[] {
  const seen = new Map<string, number>();
  return layers.map((item, i) => {
    const kind = kindOf(item);
    if (!kind) return `#${i}`;
    const args = (item as Record<string, unknown>)[kind];
    const explicit = typeof args === 'object' && args !== null ? (args as { name?: unknown }).name : undefined;
    if (typeof explicit === 'string' && explicit) return explicit;
    const base = snakeCase(kind);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  });
}
