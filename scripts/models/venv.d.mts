export const ROOT: string;
export const REQUIREMENTS: string;
export const EXPORT_SCRIPT: string;
export const VENV: string;
export function ensureModelsVenv(opts?: { log?: (msg: string) => void; signal?: AbortSignal; venv?: string }): Promise<string>;
export function venvPython(venv?: string): string;
export function modelsVenvInstalled(venv?: string): boolean;
