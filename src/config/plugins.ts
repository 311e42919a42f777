/**
 * Layer plugins: a user's own layer kind in a TypeScript or JavaScript module that an experiment names
 * (`plugins: [./layers/scaled-residual.ts]`, relative to the file that says it). Only named modules are
 * ever loaded. The module's top level must not import TensorFlow: `validate` loads `kind`, `schema` and
 * `outputShape` alone; `build` and `graph` receive TensorFlow.js (and the graph builder) as arguments.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire as createRequireFrom } from 'node:module';
import path from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { FitspecError, isFitspecError, type Problem } from '../errors.js';
import type { GraphLayerContext, Ref } from '../graph-builder.js';
import { experimentJsonSchemaText } from './json-schema.js';
import { layerCommon } from './schema/common.js';
import { layerSchemas } from './schema/layers.js';

/** What a plugin module exports (named exports, or one default export holding them). */
export interface LayerPlugin {
  /** The layer kind as written in `model.layers`: `- scaledResidual: {scale: 0.5}`. */
  kind: string;
  /** Class name shown by `fitspec summary` (Keras style); defaults to the built layer's class name. */
  kerasClass?: string;
  /** JSON Schema (a TypeBox schema is one) of the layer's arguments; `name` and `trainable` are added. */
  schema: object;
  /** Shape of one example after the layer (no batch axis), from its arguments and its input shape. */
  outputShape(args: Record<string, unknown>, input: number[]): number[];
  /** The tfjs layer. */
  build(tf: typeof tfjs, args: Record<string, unknown>, ctx: { name: string; seed: number; trainable: boolean }): tfjs.layers.Layer;
  /** The forward pass as TensorFlow graph ops (graph engine); without it the run trains on the eager engine. */
  graph?(ctx: GraphLayerContext & { tf: typeof tfjs }): Ref;
}

export interface LoadedPlugin {
  /** The entry as written in `plugins`. */
  entry: string;
  /** Absolute path of the module. */
  file: string;
  /** The module's source text (hashed into the config hash, logged with the run). */
  source: string;
  sha256: string;
  plugin: LayerPlugin;
}

const KIND = /^[a-z][A-Za-z0-9]*$/;

/** Where a problem about a plugin is reported: the `plugins` entry that named it. */
export type PluginPlace = Partial<Problem>;

/** Loads one plugin module; every mistake is a FitspecError at the `plugins` entry. */
export function loadPlugin(entry: string, fromDir: string, where: PluginPlace): LoadedPlugin {
  const file = path.resolve(fromDir, entry);
  const problem = (code: string, message: string, extra: Partial<Problem> = {}) => new FitspecError({ code, message, path: where.path ?? 'plugins', ...where, ...extra });
  if (!fs.existsSync(file) || !fs.statSync(file).isFile())
    throw problem('plugin.missing', `plugin ${entry} was not found (looked for ${file}); plugin paths are relative to the file that names them.`, { received: entry });
  const source = fs.readFileSync(file, 'utf8');
  let mod: Record<string, unknown>;
  try {
    mod = pluginRequire()(file, import.meta.url) as Record<string, unknown>;
  } catch (e) {
    throw problem('plugin.load', `plugin ${entry} failed to load: ${(e as Error)?.message ?? e}`);
  }
  const exported = (mod.kind === undefined && typeof mod.default === 'object' && mod.default !== null ? mod.default : mod) as Partial<LayerPlugin>;
  const missing = [
    typeof exported.kind === 'string' && KIND.test(exported.kind) ? '' : '`kind` (a camelCase layer kind name)',
    typeof exported.schema === 'object' && exported.schema !== null ? '' : '`schema` (JSON Schema or TypeBox of the arguments)',
    typeof exported.outputShape === 'function' ? '' : '`outputShape(args, inputShape)`',
    typeof exported.build === 'function' ? '' : '`build(tf, args, ctx)`',
    exported.graph === undefined || typeof exported.graph === 'function' ? '' : '`graph` as a function (or no `graph`)',
  ].filter(Boolean);
  if (missing.length)
    throw problem('plugin.exports', `plugin ${entry} must export ${missing.join(', ')}.`, {
      expected: 'kind, schema, outputShape, build (and optionally graph, kerasClass)',
      received: Object.keys(exported).join(', ') || 'nothing',
    });
  if (Object.hasOwn(layerSchemas, exported.kind!))
    throw problem('plugin.kind-taken', `plugin ${entry} declares the kind \`${exported.kind}\`, which is a built-in layer kind; give it another name.`, {
      received: exported.kind,
    });
  return { entry, file, source, sha256: createHash('sha256').update(source).digest('hex'), plugin: exported as LayerPlugin };
}

let cachedRequire: ((id: string, from: string) => unknown) | undefined;

/** tsx's synchronous require: TypeScript and ES-module plugins load without making config loading async. */
function pluginRequire(): (id: string, from: string) => unknown {
  if (!cachedRequire) {
    // Loaded on first use: experiments without plugins never pay for the transpiler.
    const req = createRequireFrom(import.meta.url);
    cachedRequire = (req('tsx/cjs/api') as { require: (id: string, from: string) => unknown }).require;
  }
  return cachedRequire;
}

/** Two plugins may not declare one kind. */
export function checkDistinctKinds(plugins: LoadedPlugin[], where: (i: number) => PluginPlace): void {
  const seen = new Map<string, number>();
  plugins.forEach((p, i) => {
    const first = seen.get(p.plugin.kind);
    if (first !== undefined)
      throw new FitspecError({
        code: 'plugin.kind-twice',
        message: `plugins ${plugins[first]!.entry} and ${p.entry} both declare the layer kind \`${p.plugin.kind}\`.`,
        received: p.plugin.kind,
        ...where(i),
      });
    seen.set(p.plugin.kind, i);
  });
}

/** A plugin's argument schema as a layer kind's: plain JSON, with the arguments every layer accepts. */
export function pluginKindSchema(p: LayerPlugin, common: Record<string, unknown>): Record<string, unknown> {
  const s = JSON.parse(JSON.stringify(p.schema)) as Record<string, unknown>;
  delete s.$schema;
  delete s.$id;
  if (s.type === 'object' || s.properties) {
    s.type = 'object';
    s.properties = { ...(s.properties as object), ...common };
    if (s.additionalProperties === undefined) s.additionalProperties = false;
  }
  if (s.description === undefined) s.description = `Layer plugin \`${p.kind}\`.`;
  return s;
}

/** The plugins' kinds with their argument schemas, as the experiment schemas take them. */
export function pluginKinds(plugins: readonly LoadedPlugin[]): Record<string, Record<string, unknown>> {
  return Object.fromEntries(plugins.map((p) => [p.plugin.kind, pluginKindSchema(p.plugin, JSON.parse(JSON.stringify(layerCommon)))]));
}

/**
 * A plugin's output shape, checked: one clear error naming the plugin and the layer when it throws or
 * returns something that is not a shape.
 */
export function pluginOutputShape(lp: LoadedPlugin, layerName: string, args: Record<string, unknown>, input: number[], where: Partial<Problem>): number[] {
  let out: unknown;
  try {
    out = lp.plugin.outputShape(args, [...input]);
  } catch (e) {
    if (isFitspecError(e)) throw e;
    throw new FitspecError({
      code: 'plugin.output-shape',
      message: `plugin ${lp.entry} (\`${lp.plugin.kind}\`) threw in outputShape for layer \`${layerName}\` with input (batch, ${input.join(', ')}): ${(e as Error)?.message ?? e}`,
      ...where,
    });
  }
  if (!Array.isArray(out) || !out.length || !out.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new FitspecError({
      code: 'plugin.output-shape',
      message: `plugin ${lp.entry} (\`${lp.plugin.kind}\`) returned an invalid output shape for layer \`${layerName}\`.`,
      expected: 'a list of positive integers (one example, no batch axis)',
      received: JSON.stringify(out) ?? String(out),
      ...where,
    });
  }
  return out as number[];
}

/**
 * The editor schema of experiment files with these plugins' kinds (`fitspec schema --plugin ... --out`):
 * modules relative to `cwd`. Written to `out`, its `$id` points there so editors resolve it as a file.
 */
export function pluginSchemaText(modules: string[], cwd: string, out?: string): string {
  const plugins = modules.map((m, i) => loadPlugin(m, cwd, { path: `--plugin ${m}`, file: m, received: String(i) }));
  checkDistinctKinds(plugins, (i) => ({ file: modules[i] }));
  const text = experimentJsonSchemaText(pluginKinds(plugins));
  if (!out) return text;
  const json = JSON.parse(text) as Record<string, unknown>;
  json.$id = `https://fitspec.dev/schema/project/${path.basename(out)}`;
  json.description = `${String(json.description)} Generated by \`fitspec schema --plugin ${modules.map((m) => path.relative(path.dirname(path.resolve(out)), path.resolve(cwd, m))).join(' ')}\`: includes the layer kinds of those plugins.`;
  return JSON.stringify(json, null, 2) + '\n';
}
