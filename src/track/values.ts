/**
 * Non-finite numbers cannot be written as JSON numbers; MLflow's JSON API (protobuf JSON) and
 * metrics.jsonl both use the strings "NaN", "Infinity" and "-Infinity" for them.
 */
export function encodeNumber(n: number): number | string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  return n;
}

export function decodeNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN' || v === null) return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return Number(v);
}

/** How a param value is written to MLflow (and run.json). */
export function paramString(v: string | number | boolean): string {
  return typeof v === 'string' ? v : String(v);
}
