import { fail } from '../errors.js';
import type { ModelLocation } from './model-ref.js';

export async function downloadMlflowModel(ref: string): Promise<ModelLocation> {
  return fail('model.uri', `not yet: ${ref}`);
}
