// The Python environment of model conversion and serving: TensorFlow, Keras, the tensorflowjs
// converter with all its declared dependencies (no stand-in modules), tf2onnx and MLflow, pinned in
// requirements.txt (resolved from requirements.in), installed into .venv/models (or
// $FITSPEC_MODELS_VENV) by the same locked, atomic installer as the MLflow server's venv.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureMlflow, venvPython } from '../mlflow/venv.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const REQUIREMENTS = join(ROOT, 'scripts/models/requirements.txt');
export const EXPORT_SCRIPT = join(ROOT, 'scripts/models/export.py');
export const VENV = process.env.FITSPEC_MODELS_VENV ? resolve(process.env.FITSPEC_MODELS_VENV) : join(ROOT, '.venv/models');

/** Installs the pinned packages unless they are there already; resolves to the venv's python. */
export function ensureModelsVenv({ log, signal, venv = VENV } = {}) {
  return ensureMlflow({ log, signal, venv, requirements: REQUIREMENTS, what: 'TensorFlow, the model converters and MLflow' });
}

/** True when the venv holds exactly the pinned packages (nothing to install). */
export function modelsVenvInstalled(venv = VENV) {
  const stamp = join(venv, '.fitspec-requirements');
  return existsSync(stamp) && existsSync(venvPython(venv)) && readFileSync(stamp, 'utf8') === readFileSync(REQUIREMENTS, 'utf8');
}

export { venvPython };
