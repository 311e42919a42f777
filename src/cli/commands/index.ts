import type { CliCommand } from '../command.js';
import train from './train.js';
import summary from './summary.js';
import demo from './demo.js';
import evaluate from './evaluate.js';
import predict from './predict.js';
import compare from './compare.js';
import validate from './validate.js';
import resolve from './resolve.js';
import diff from './diff.js';
import review from './review.js';
import schema from './schema.js';
import doctor from './doctor.js';
import data from './data.js';
import augmentPreview from './augment-preview.js';
import sync from './sync.js';
import sweep from './sweep.js';
import worker from './worker.js';
import notebook from './notebook.js';
import exportCommand from './export.js';
import register from './register.js';
import rerun from './rerun.js';
import verify from './verify.js';

/** Every CLI command, in the order `fitspec --help` lists them. */
export const commands: CliCommand[] = [
  train,
  summary,
  demo,
  evaluate,
  predict,
  compare,
  validate,
  resolve,
  diff,
  review,
  schema,
  doctor,
  data,
  augmentPreview,
  sync,
  sweep,
  worker,
  notebook,
  exportCommand,
  register,
  rerun,
  verify,
];
