import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { fail } from '../errors.js';

/** Where a model given on the command line is on this machine, and how its run was set up. */
export interface ModelLocation {
  /** Folder with model.json, its weights and fitspec-model.json. */
  modelDir: string;
  /** The run folder (or the downloaded run artifacts) when there is one: resolved.yaml, split/. */
  runDir?: string;
  backend?: 'auto' | 'tensorflow' | 'tensorflow-gpu' | 'cpu';
  threads?: { intraOp: number; interOp: number };
  /** MLflow run id when the model came from MLflow. */
  mlflowRunId?: string;
}

/** `runs:/ID[/path]`, `models:/NAME/VERSION`, `models:/NAME@ALIAS`. */
export const isMlflowModelUri = (ref: string): boolean => /^(runs|models):\//.test(ref);

function trainSettings(runDir: string): Pick<ModelLocation, 'backend' | 'threads'> {
  const resolved = path.join(runDir, 'resolved.yaml');
  if (!fs.existsSync(resolved)) return {};
  const train = (YAML.parse(fs.readFileSync(resolved, 'utf8')) as { train?: { backend?: ModelLocation['backend']; threads?: ModelLocation['threads'] } })?.train;
  return { backend: train?.backend, threads: train?.threads };
}

/** A run folder or a model folder on disk. */
export function localModel(dir: string): ModelLocation {
  if (fs.existsSync(path.join(dir, 'model', 'model.json'))) return { modelDir: path.join(dir, 'model'), runDir: dir, ...trainSettings(dir) };
  if (fs.existsSync(path.join(dir, 'model.json'))) {
    const parent = path.dirname(path.resolve(dir));
    const isRun = fs.existsSync(path.join(parent, 'resolved.yaml'));
    return { modelDir: dir, ...(isRun ? { runDir: parent, ...trainSettings(parent) } : {}) };
  }
  return fail(
    'run.no-model',
    `${dir} has no trained model (model/model.json): expected a finished run folder, a model folder or an MLflow model URI (runs:/<run id>, models:/<name>/<version>, models:/<name>@<alias>).`,
    {
      file: dir,
    },
  );
}

/** A run folder, a model folder, or an MLflow model URI (downloaded into the cache first). */
export async function locateModel(ref: string): Promise<ModelLocation> {
  if (!isMlflowModelUri(ref)) return localModel(ref);
  const { downloadMlflowModel } = await import('./model-download.js');
  return downloadMlflowModel(ref);
}
