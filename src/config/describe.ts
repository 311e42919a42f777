type Json = Record<string, unknown>;

/** A value for a message: JSON, shortened. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** "a number >= 0 and < 1", "an integer >= 1", "one of relu, ...", "a pair [integer >= 1, integer >= 1]". */
export function describeSchema(s: Json): string {
  if ('const' in s) return show(s.const);
  if (Array.isArray(s.enum)) return `one of ${s.enum.join(', ')}`;
  if (Array.isArray(s.anyOf)) return (s.anyOf as Json[]).map(describeSchema).join(', or ');
  const bounds: string[] = [];
  if (typeof s.minimum === 'number') bounds.push(`>= ${s.minimum}`);
  if (typeof s.exclusiveMinimum === 'number') bounds.push(`> ${s.exclusiveMinimum}`);
  if (typeof s.maximum === 'number') bounds.push(`<= ${s.maximum}`);
  if (typeof s.exclusiveMaximum === 'number') bounds.push(`< ${s.exclusiveMaximum}`);
  const b = bounds.length ? ' ' + bounds.join(' and ') : '';
  switch (s.type) {
    case 'integer':
      return `an integer${b}`;
    case 'number':
      return `a number${b}`;
    case 'string':
      return s.minLength ? 'a non-empty string' : 'a string';
    case 'boolean':
      return 'true or false';
    case 'object':
      return 'a mapping';
    case 'array':
      if (Array.isArray(s.prefixItems)) return `a list [${(s.prefixItems as Json[]).map(describeSchema).join(', ')}]`;
      return 'a list';
    default:
      return 'a value';
  }
}
