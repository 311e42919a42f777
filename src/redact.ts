/**
 * `scheme://user:password@` in any text, up to the last `@` of the host part (a password may hold an
 * unescaped `@`). Quotes end the match so that a URL inside JSON or YAML is cut at its own end.
 */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@'"`]*(?:@[^\s/?#@'"`]*)*@/gi;

/**
 * Removes the user:password part of every URL in `text`, so it can be stored or printed; the URL
 * still names the same server (its credentials then come from the environment, e.g.
 * MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD).
 */
export function redactCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1');
}

/** The same for every string value of a flat record (params, tags). */
export function redactValues<T extends string | number | boolean>(values: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'string' ? redactCredentials(v) : v])) as Record<string, T>;
}
