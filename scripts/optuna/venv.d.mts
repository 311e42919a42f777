export const OPTUNA_REQUIREMENTS: string;
export const OPTUNA_VENV: string;
export const SAMPLER_SCRIPT: string;
export function ensureOptuna(opts?: { log?: (msg: string) => void; signal?: AbortSignal; venv?: string }): Promise<string>;
