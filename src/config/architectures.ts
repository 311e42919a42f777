import { Type, type Static } from '@sinclair/typebox';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { FitspecError, type Problem } from '../errors.js';
import { strict } from './schema/common.js';
import { BlocksSchema, LayerSpec } from './schema/layers.js';
import { toJsonSchema } from './json-schema.js';
import { cachedValidator } from './validate.js';
import { describeReadFailure, readConfigFile } from './read.js';
import { PACKAGE_ROOT } from '../paths.js';

/** An architecture file: a named layer stack usable as `model.base`. */
export const ArchitectureSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'Ignored: lets editors find the schema.' })),
    name: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_-]*$', description: 'Architecture name; the base appears under this name in summaries.', examples: ['vgg16'] }),
    description: Type.String({ description: 'What the architecture is.', default: '' }),
    blocks: Type.Optional(BlocksSchema),
    layers: Type.Array(LayerSpec, { minItems: 1, description: 'The layer stack, in order.' }),
  },
  {
    ...strict,
    $id: 'https://fitspec.dev/schema/architecture.schema.json',
    title: 'fitspec architecture',
    description: 'A reusable layer stack (for example a convolutional base) referenced by `model.base.architecture`.',
  },
);
export type Architecture = Static<typeof ArchitectureSchema>;

/** Built-in architectures ship with the package. */
export const BUILTIN_ARCHITECTURES_DIR = path.join(PACKAGE_ROOT, 'experiments/architectures');

export function builtinArchitectures(): string[] {
  return fs.existsSync(BUILTIN_ARCHITECTURES_DIR)
    ? fs
        .readdirSync(BUILTIN_ARCHITECTURES_DIR)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => f.slice(0, -5))
        .sort()
    : [];
}

let validator: ReturnType<typeof cachedValidator> | undefined;

/** Reads a file's bytes; throws an error with a code (ENOENT, EISDIR, ... see readConfigFile) when it cannot (the shape of `ConfigReader`). */
type Reader = { read(file: string): Uint8Array };
const diskReader: Reader = { read: readConfigFile };

/**
 * A name (`vgg16`) is a built-in; anything with a slash or a .yaml suffix is a path relative to the experiment file.
 * Read through `reader`, so that `diff --git` and `review` see the architecture as it was at a revision.
 */
export function loadArchitecture(ref: string, fromFile: string, reader: Reader = diskReader): { file: string; architecture: Architecture } {
  const isPath = ref.includes('/') || /\.ya?ml$/.test(ref);
  const file = isPath ? path.resolve(path.dirname(fromFile), ref) : path.join(BUILTIN_ARCHITECTURES_DIR, `${ref}.yaml`);
  let text: string;
  try {
    text = new TextDecoder().decode(reader.read(file));
  } catch (e) {
    const what = describeReadFailure(e);
    if (!what) throw e;
    if (isPath || (e as { code?: string }).code !== 'ENOENT') {
      throw new FitspecError({
        code: 'config.unknown-architecture',
        message: `Architecture file ${file} ${what}.`,
        file: fromFile,
        path: 'model.base.architecture',
        received: ref,
      });
    }
    throw new FitspecError({
      code: 'config.unknown-architecture',
      message: `Unknown architecture \`${ref}\`; built-in ones are ${builtinArchitectures().join(', ')}, or give a path to an architecture YAML file.`,
      file: fromFile,
      path: 'model.base.architecture',
      received: ref,
    });
  }
  let data: unknown;
  try {
    data = parse(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new FitspecError({ code: 'config.architecture-yaml', message: `Cannot parse architecture ${file}: ${(e as Error).message}`, file });
  }
  validator ??= cachedValidator('architecture', toJsonSchema(ArchitectureSchema));
  if (!validator(data)) {
    const problems: Problem[] = (validator.errors ?? []).map((e) => ({
      code: 'config.architecture-schema',
      message: `architecture \`${ref}\`${e.instancePath ? ' at ' + e.instancePath.slice(1).replace(/\//g, '.') : ''}: ${e.message}`,
      file,
      path: e.instancePath.slice(1).replace(/\//g, '.'),
    }));
    throw new FitspecError(problems);
  }
  return { file, architecture: data as Architecture };
}

/**
 * Fills `model.base.layers` from `model.base.architecture` in a merged (not yet validated) config,
 * so that the resolved config describes the whole network and its hash changes when the architecture does.
 * Returns the architecture file it read, if any.
 */
export function expandBase(config: unknown, fromFile: string, reader?: Reader): string | undefined {
  const base = (config as { model?: { base?: { architecture?: unknown; layers?: unknown } } })?.model?.base;
  if (!base || typeof base.architecture !== 'string' || base.layers !== undefined) return undefined;
  const { file, architecture } = loadArchitecture(base.architecture, fromFile, reader);
  base.layers = structuredClone(architecture.layers);
  if (architecture.blocks && (base as { blocks?: unknown }).blocks === undefined) (base as { blocks?: unknown }).blocks = structuredClone(architecture.blocks);
  return file;
}
