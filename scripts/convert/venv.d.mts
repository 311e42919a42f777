export function defaultConvertVenv(): string;
export function python(venv: string): string;
/** Makes the conversion venv unless it exists with exactly the pinned requirements; returns its python. */
export function ensureConvertVenv(venv?: string): string;
