// Project-local Optuna: a Python virtual environment in .venv/optuna with the pinned packages of
// requirements.txt, made (once, under a lock) by the same code as the MLflow one.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureMlflow } from '../mlflow/venv.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const OPTUNA_REQUIREMENTS = join(HERE, 'requirements.txt');
export const OPTUNA_VENV = process.env.FITSPEC_OPTUNA_VENV ? resolve(process.env.FITSPEC_OPTUNA_VENV) : join(HERE, '../../.venv/optuna');
export const SAMPLER_SCRIPT = join(HERE, 'sampler.py');

/** Installs the pinned Optuna unless it is there; resolves to the venv's python. */
export function ensureOptuna({ log, signal, venv = OPTUNA_VENV } = {}) {
  return ensureMlflow({ log, signal, venv, requirements: OPTUNA_REQUIREMENTS, what: 'Optuna' });
}
