export const ROOT: string;
export const VENV: string;
export function venvPython(venv?: string): string;
export function ensureConvertVenv(opts?: { log?: (msg: string) => void; signal?: AbortSignal; venv?: string }): Promise<string>;
