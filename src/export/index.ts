import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fail } from '../errors.js';
import { DESCRIPTOR_FILE } from '../model/descriptor.js';
import { PACKAGE_ROOT } from '../paths.js';

export const EXPORT_FORMATS = ['keras', 'savedmodel', 'tflite', 'onnx', 'tfjs'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportResult {
  /** Format -> file or folder written. */
  files: Partial<Record<ExportFormat | 'mlflow', string>>;
  /** Versions of the converters that wrote them. */
  versions: Record<string, string | number>;
}

interface ModelsVenv {
  ensureModelsVenv(opts?: { log?: (m: string) => void; signal?: AbortSignal }): Promise<string>;
  modelsVenvInstalled(): boolean;
  EXPORT_SCRIPT: string;
  VENV: string;
}

// Loaded by path at run time: the bundle in dist/ must not inline it (it finds its files from its own location).
const modelsVenv = (): Promise<ModelsVenv> => import(pathToFileURL(path.join(PACKAGE_ROOT, 'scripts/models/venv.mjs')).href) as Promise<ModelsVenv>;

/** The python of the conversion venv, installed on first use. */
export async function modelsPython(log: (m: string) => void = (m) => process.stderr.write(m + '\n')): Promise<string> {
  return (await modelsVenv()).ensureModelsVenv({ log });
}

function runPython(python: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', PYTHONUNBUFFERED: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code, sig) => {
      if (code === 0) resolve(out);
      else reject(new Error(`model conversion failed (${sig ?? `exit ${code}`}): ${python} ${args.join(' ')}\n${err.split('\n').slice(-40).join('\n')}`));
    });
  });
}

function copyTfjs(modelDir: string, out: string): string {
  const json = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8')) as { weightsManifest?: { paths: string[] }[] };
  fs.mkdirSync(out, { recursive: true });
  for (const f of ['model.json', DESCRIPTOR_FILE, ...(json.weightsManifest ?? []).flatMap((g) => g.paths)]) fs.copyFileSync(path.join(modelDir, f), path.join(out, f));
  return out;
}

/**
 * Writes the model of `modelDir` (tfjs + fitspec-model.json) in each format into `outDir`, with the
 * converters of each ecosystem (scripts/models/export.py), and fitspec-model.json beside them.
 * `mlflow` writes an MLflow Model (MLmodel, keras flavor) into `outDir`.
 */
export async function exportModel(modelDir: string, outDir: string, formats: (ExportFormat | 'mlflow')[], opts: { log?: (m: string) => void } = {}): Promise<ExportResult> {
  if (!fs.existsSync(path.join(modelDir, DESCRIPTOR_FILE)))
    fail('export.no-descriptor', `${modelDir} has no ${DESCRIPTOR_FILE}: the model was trained before models described themselves; train it again or use \`fitspec rerun\`.`, {
      file: modelDir,
    });
  fs.mkdirSync(outDir, { recursive: true });
  const result: ExportResult = { files: {}, versions: {} };
  if (formats.includes('tfjs')) result.files.tfjs = copyTfjs(modelDir, path.join(outDir, 'tfjs'));
  const python = formats.filter((f) => f !== 'tfjs');
  if (python.length) {
    const venv = await modelsVenv();
    const py = await venv.ensureModelsVenv({ log: opts.log });
    const out = await runPython(py, [venv.EXPORT_SCRIPT, path.resolve(modelDir), path.resolve(outDir), ...python]);
    const last = out.trim().split('\n').at(-1) ?? '{}';
    const parsed = JSON.parse(last) as ExportResult;
    Object.assign(result.files, parsed.files);
    Object.assign(result.versions, parsed.versions);
  }
  if (path.resolve(outDir) !== path.resolve(modelDir)) fs.copyFileSync(path.join(modelDir, DESCRIPTOR_FILE), path.join(outDir, DESCRIPTOR_FILE));
  return result;
}

/** Writes the MLflow Model files (MLmodel, keras flavor, data/model.keras, environment files) into a model folder. */
export async function writeMlflowModel(modelDir: string, log?: (m: string) => void): Promise<void> {
  await exportModel(modelDir, modelDir, ['mlflow'], { log });
}

/**
 * The MLflow Model of a finished run (model/MLmodel), written before the model folder is uploaded. The
 * conversion environment is installed on first need, with one line saying so. Nothing here fails the
 * run: an install or a conversion that fails leaves the tfjs model as it is, and the warning names the
 * commands that add the MLflow Model later.
 */
export async function logMlflowModel(modelDir: string, log: (m: string) => void): Promise<boolean> {
  const t0 = Date.now();
  const runDir = path.dirname(modelDir);
  try {
    const venv = await modelsVenv();
    if (!venv.modelsVenvInstalled())
      log(
        `model: installing the model conversion environment (TensorFlow, Keras, the tensorflowjs converter, tf2onnx, MLflow; about 3.5 GB, a few minutes, once) into ${venv.VENV} to write the MLflow Model; \`tracking.logModel: never\` skips it`,
      );
    // The notice above replaces the installer's own first line.
    await writeMlflowModel(modelDir, (m) => {
      if (!m.startsWith('installing ')) log(m);
    });
    log(`model: MLflow Model (keras flavor) written to model/MLmodel in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return true;
  } catch (e) {
    log(
      `warning: no MLflow Model (model/MLmodel) for this run, the run itself is kept: ${(e as Error).message.split('\n').slice(0, 3).join(' ')}; add it later with \`fitspec register ${runDir} --name NAME\` (uploads it to MLflow) or \`fitspec export ${runDir} --format mlflow\` (writes it in the run folder)`,
    );
    return false;
  }
}
