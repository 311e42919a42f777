import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { DataConfig } from '../config/schema/experiment.js';
import { fail } from '../errors.js';

/** Written beside model.json so that the model folder alone says what goes in and what comes out. */
export const DESCRIPTOR_FILE = 'fitspec-model.json';

/**
 * What a client needs to feed the model: the decoded image (size, channels, resize and its kernel),
 * the factor applied to the 0..255 pixel values, and the class of every output unit.
 */
export interface ModelDescriptor {
  format: 'fitspec-model';
  version: 1;
  /** Class names in the order of the model's output units. */
  classes: string[];
  input: { name: string; dtype: 'float32'; layout: 'NHWC'; shape: [-1, number, number, number] };
  output: { name: string; dtype: 'float32'; shape: [-1, number]; activation: 'softmax' | 'other' };
  preprocessing: {
    height: number;
    width: number;
    channels: 1 | 3;
    /** RGB for 3 channels (as decoded from the file, no BGR swap), L for 1. */
    channelOrder: 'RGB' | 'L';
    /** `stretch` ignores the aspect ratio; `fit` pads with black; `cover` crops the centre. */
    resize: 'stretch' | 'fit' | 'cover';
    /** Resampling kernel; antialiased when shrinking, except `nearest`. */
    interpolation: 'nearest' | 'bilinear' | 'bicubic' | 'lanczos3';
    /** The pixel values 0..255 are multiplied by this before the model sees them. */
    rescale: number;
  };
  configHash?: string;
  experiment?: string;
  runId?: string;
}

export function describeModel(
  data: Pick<DataConfig, 'image'>,
  classes: string[],
  extra: { configHash?: string; experiment?: string; runId?: string; inputName?: string; outputName?: string; softmax?: boolean } = {},
): ModelDescriptor {
  const im = data.image;
  return {
    format: 'fitspec-model',
    version: 1,
    classes: [...classes],
    input: { name: extra.inputName ?? 'input', dtype: 'float32', layout: 'NHWC', shape: [-1, im.height, im.width, im.channels] },
    output: { name: extra.outputName ?? 'output', dtype: 'float32', shape: [-1, classes.length], activation: extra.softmax === false ? 'other' : 'softmax' },
    preprocessing: {
      height: im.height,
      width: im.width,
      channels: im.channels,
      channelOrder: im.channels === 3 ? 'RGB' : 'L',
      resize: im.resize,
      interpolation: im.interpolation,
      rescale: im.rescale,
    },
    ...(extra.configHash ? { configHash: extra.configHash } : {}),
    ...(extra.experiment ? { experiment: extra.experiment } : {}),
    ...(extra.runId ? { runId: extra.runId } : {}),
  };
}

export function writeDescriptor(modelDir: string, d: ModelDescriptor): void {
  fs.mkdirSync(modelDir, { recursive: true });
  fs.writeFileSync(path.join(modelDir, DESCRIPTOR_FILE), JSON.stringify(d, null, 2) + '\n');
}

/**
 * The descriptor of a model folder. A run trained before the file existed is described from its
 * summary.json (classes) and resolved.yaml (data.image) one folder up.
 */
export function readDescriptor(modelDir: string): ModelDescriptor {
  const file = path.join(modelDir, DESCRIPTOR_FILE);
  if (fs.existsSync(file)) {
    let d: ModelDescriptor;
    try {
      d = JSON.parse(fs.readFileSync(file, 'utf8')) as ModelDescriptor;
    } catch (e) {
      fail('model.bad-descriptor', `${file} is not valid JSON: ${(e as Error).message}`, { file });
    }
    if (d.format !== 'fitspec-model' || !Array.isArray(d.classes) || !d.preprocessing)
      fail('model.bad-descriptor', `${file} does not describe a fitspec model.`, {
        file,
        expected: 'format: fitspec-model with classes and preprocessing',
        received: JSON.stringify(d).slice(0, 80),
      });
    return d;
  }
  const runDir = path.dirname(modelDir);
  const summaryFile = path.join(runDir, 'summary.json');
  const resolved = path.join(runDir, 'resolved.yaml');
  const summary = fs.existsSync(summaryFile) ? (JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as { classes?: string[]; config_hash?: string }) : {};
  if (!summary.classes?.length) fail('run.no-classes', `${modelDir} has no ${DESCRIPTOR_FILE}, and ${summaryFile} does not list the classes of the run.`, { file: summaryFile });
  if (!fs.existsSync(resolved)) fail('run.no-preprocessing', `${modelDir} has no ${DESCRIPTOR_FILE}, and ${resolved} (the image size and scaling) is missing.`, { file: resolved });
  const image = (YAML.parse(fs.readFileSync(resolved, 'utf8')) as { data?: { image?: Partial<DataConfig['image']> } }).data?.image ?? {};
  // The defaults of data.image when the descriptor was introduced; a resolved.yaml lists every value anyway.
  const full = { height: 128, width: 128, channels: 3 as const, rescale: 1 / 255, resize: 'stretch' as const, interpolation: 'lanczos3' as const, ...image } as DataConfig['image'];
  return describeModel({ image: full }, summary.classes, { configHash: summary.config_hash });
}
