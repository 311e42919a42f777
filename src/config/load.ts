import path from 'node:path';
import { FitspecError, isFitspecError, type Problem } from '../errors.js';
import { expandBase } from './architectures.js';
import { checks, type DiscoveredClasses, type Finding } from './checks/index.js';
import { outputShape, type PluginShapes } from './checks/shapes.js';
import { configHash } from './hash.js';
import { describeReadFailure, readConfigFile } from './read.js';
import { cloneTracked, mergeMaps, stamp } from './merge.js';
import { applyOverrides } from './overrides.js';
import { collectOrigins, dotted, isMapping, metaOf, placeOf, setKey, type Origin, type PathOrigin, type Sources } from './origins.js';
import { decodeConfig, parseConfigText } from './parse.js';
import { orderBySchema, toResolvedYaml } from './output.js';
import type { Experiment } from './schema/experiment.js';
import { upgradeConfig } from './upgrade/index.js';
import { nonFiniteProblems, validateConfig } from './validate.js';
import { checkDistinctKinds, loadPlugin, pluginKinds, pluginOutputShape, type LoadedPlugin } from './plugins.js';
import { defaultLayerNames } from './names.js';

export interface LoadOptions {
  set?: string[];
  /**
   * Reads the classes from the data source (src/data's `discoverClasses`, passed in by the caller so
   * that config never reads data) to check the model against them once the config itself is valid.
   */
  discoverClasses?: (data: Experiment['data']) => DiscoveredClasses;
  /**
   * Takes the place of the first file the top file's `extends` names (a path relative to it): how a
   * sweep tries experiment files, each trial building on one of them.
   */
  extendsBase?: string;
}

export interface LoadedExperiment {
  experiment: Experiment;
  file: string;
  chain: string[];
  /** The architecture file whose layers fill `model.base.layers`, if any. */
  architecture?: string;
  overrides: string[];
  /** The config hash: what is trained, not how the run is named or tracked (see `configHash`). */
  hash: string;
  sourceText: string;
  resolvedYaml: string;
  warnings: Problem[];
  /** The layer plugins the experiment names, loaded (schema and shape parts; no TensorFlow). */
  plugins: LoadedPlugin[];
}

/** How config files are read: from disk, or from a git revision (`fitspec diff --git`). */
export interface ConfigReader {
  /** The bytes of a file; throws an error with a code (ENOENT, EISDIR, ... see readConfigFile) when it cannot. */
  read(file: string): Uint8Array;
}

export const fsReader: ConfigReader = { read: readConfigFile };

export interface Detailed {
  loaded: LoadedExperiment;
  origins: Map<string, PathOrigin>;
}

interface Ctx {
  problems: Problem[];
  sources: Sources;
  reader: ConfigReader;
  chain: string[];
  cache: Map<string, Record<string, unknown> | undefined>;
  texts: Map<string, string>;
  architecture?: string;
  extendsBase?: string;
}

const parsedFiles = new Map<string, Record<string, unknown>>();

function sortProblems(list: Problem[]): Problem[] {
  return list
    .map((p, i) => [p, i] as const)
    .sort(([a, i], [b, j]) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0) || i - j)
    .map(([p]) => p);
}

/** How many files an `extends` chain may stack; real ones are a handful deep (experiment, mixin, base). */
export const MAX_EXTENDS_DEPTH = 64;

/** Reads one file and everything it extends, merged; `via` is the `extends` entry that named it. */
function loadTree(file: string, ctx: Ctx, stack: string[], via?: Origin): Record<string, unknown> | undefined {
  if (stack.length >= MAX_EXTENDS_DEPTH) {
    const chain = [...stack.slice(0, 2), '...', ...stack.slice(-2), file].join(' -> ');
    ctx.problems.push({
      code: 'extends.too-deep',
      message: `\`extends\` chain is more than ${MAX_EXTENDS_DEPTH} files deep (${chain}); a chain is a few files (experiment, mixins, a base): merge some of them.`,
      expected: `at most ${MAX_EXTENDS_DEPTH} files`,
      received: `more than ${MAX_EXTENDS_DEPTH}`,
      ...placeOf(via, ctx.sources),
    });
    return undefined;
  }
  const key = path.resolve(file);
  const cycleAt = stack.findIndex((s) => path.resolve(s) === key);
  if (cycleAt >= 0) {
    const loop = [...stack.slice(cycleAt), file].join(' -> ');
    ctx.problems.push({ code: 'extends.cycle', message: `\`extends\` cycle: ${loop}; a file cannot build on itself.`, received: loop, ...placeOf(via, ctx.sources) });
    return undefined;
  }
  if (!ctx.cache.has(key)) {
    let bytes: Uint8Array | undefined;
    try {
      bytes = ctx.reader.read(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EFBIG') {
        const size = (e as { size: number }).size;
        decodeConfig({ byteLength: size } as Uint8Array, file, ctx.problems);
        ctx.cache.set(key, undefined);
        return undefined;
      }
      const what = describeReadFailure(e);
      if (!what) throw e;
      const missing = code === 'ENOENT' || code === 'ENOTDIR';
      const chain = [...stack, file].join(' -> ');
      ctx.problems.push(
        via
          ? {
              code: missing ? 'extends.missing' : 'extends.unreadable',
              message: `\`extends\` names ${file}, which ${what} (chain: ${chain}); ${missing ? 'paths are relative to the file that says `extends`' : 'name a YAML file'}.`,
              received: file,
              ...placeOf(via, ctx.sources),
            }
          : { code: missing ? 'config.not-found' : 'config.unreadable', message: `config file ${file} ${what}${missing ? '' : '; give the path of a YAML file'}.`, file },
      );
      ctx.cache.set(key, undefined);
      return undefined;
    }
    const text = decodeConfig(bytes, file, ctx.problems);
    let value: Record<string, unknown> | undefined;
    if (text !== undefined) {
      ctx.texts.set(key, text);
      ctx.sources.set(file, text);
      const memo = `${file}\0${text}`;
      value = parsedFiles.get(memo);
      if (!value) {
        const before = ctx.problems.length;
        value = parseConfigText(text, file, ctx.sources, ctx.problems).value;
        if (value) value = upgradeConfig(value, file, ctx.sources, ctx.problems);
        // Parsed trees are never modified, so files shared by many experiments are parsed once per process.
        if (value && ctx.problems.length === before) parsedFiles.set(memo, value);
      }
    }
    ctx.cache.set(key, value);
  }
  const value = ctx.cache.get(key);
  if (!value) return undefined;

  const ext = value.extends;
  const meta = metaOf(value);
  let base: Record<string, unknown> = {};
  const replaced = stack.length ? undefined : ctx.extendsBase;
  if (ext !== undefined || replaced !== undefined) {
    const list = ext === undefined ? [] : Array.isArray(ext) ? [...ext] : [ext];
    if (replaced !== undefined) list[0] = replaced;
    const extMeta = Array.isArray(ext) ? metaOf(ext) : undefined;
    list.forEach((parent, i) => {
      const where = extMeta?.vals.get(String(i)) ?? meta?.vals.get('extends');
      if (typeof parent !== 'string' || !parent) {
        ctx.problems.push({
          code: 'extends.type',
          message: '`extends` is a file path or a list of file paths, relative to this file.',
          path: 'extends',
          expected: 'a path',
          received: JSON.stringify(parent),
          ...placeOf(where, ctx.sources),
        });
        return;
      }
      const target = path.isAbsolute(parent) ? parent : path.join(path.dirname(file), parent);
      const tree = loadTree(target, ctx, [...stack, file], where);
      if (tree) base = mergeMaps(base, tree, [], ctx);
    });
  }
  if (!ctx.chain.some((c) => path.resolve(c) === key)) ctx.chain.push(file);
  const own: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (k !== 'extends') setKey(own, k, v);
  return mergeMaps(base, copyWithMeta(value, own), [], ctx);
}

function copyWithMeta(from: Record<string, unknown>, to: Record<string, unknown>): Record<string, unknown> {
  const m = metaOf(from);
  if (m) {
    // Same positions, without the `extends` entry.
    const out = cloneTracked(to);
    const mm = metaOf(out);
    if (mm) {
      mm.self = m.self;
      for (const k of Object.keys(to)) {
        if (m.keys.has(k)) mm.keys.set(k, m.keys.get(k)!);
        if (m.vals.has(k)) mm.vals.set(k, m.vals.get(k)!);
      }
    }
    return out;
  }
  return to;
}

/** Fills `model.base.layers` from `model.base.architecture`, relative to the file that named it. */
function expandArchitecture(tree: Record<string, unknown>, file: string, ctx: Ctx): void {
  const base = (tree.model as { base?: Record<string, unknown> } | undefined)?.base;
  if (!isMapping(base) || typeof base.architecture !== 'string' || base.layers !== undefined) return;
  const origin = metaOf(base)?.vals.get('architecture');
  const from = origin?.kind === 'file' ? origin.file : file;
  let archFile: string | undefined;
  try {
    archFile = expandBase(tree, from, ctx.reader);
  } catch (e) {
    if (!isFitspecError(e)) throw e;
    throw new FitspecError(e.problems.map((p) => (p.path === 'model.base.architecture' ? { ...p, ...placeOf(origin, ctx.sources) } : p)));
  }
  if (!archFile) return;
  ctx.architecture = archFile;
  const m = metaOf(base);
  const archOrigin: Origin = { kind: 'file', file: path.relative(process.cwd(), archFile) || archFile, line: 1, col: 1 };
  m?.keys.set('layers', archOrigin);
  m?.vals.set('layers', archOrigin);
  stamp(base.layers, archOrigin);
  if (base.blocks !== undefined) {
    m?.keys.set('blocks', archOrigin);
    m?.vals.set('blocks', archOrigin);
    stamp(base.blocks, archOrigin);
  }
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** Parse, extend, override, validate, check and hash one experiment; throws a FitspecError with every problem. */
export function loadDetailed(file: string, opts: LoadOptions = {}, reader: ConfigReader = fsReader): Detailed {
  const ctx: Ctx = { problems: [], sources: new Map(), reader, chain: [], cache: new Map(), texts: new Map(), extendsBase: opts.extendsBase };
  const overrides = [...(opts.set ?? [])];
  const merged = loadTree(file, ctx, []);
  if (ctx.problems.length || !merged) throw new FitspecError(sortProblems(ctx.problems));
  const tree = cloneTracked(merged);
  applyOverrides(tree, overrides, ctx.problems, overrides.length && Array.isArray(tree.plugins) ? pluginKinds(loadPlugins(tree, collectOrigins(tree), file, ctx)) : undefined);
  if (ctx.problems.length) throw new FitspecError(ctx.problems);
  expandArchitecture(tree, file, ctx);

  const origins = collectOrigins(tree);
  delete tree.$schema;
  const plugins = loadPlugins(tree, origins, file, ctx);
  const kinds = pluginKinds(plugins);
  const nonFinite = nonFiniteProblems(tree, origins, ctx.sources, file);
  const data = JSON.parse(JSON.stringify(tree)) as Record<string, unknown>;
  // JSON turned those numbers into null; the schema's "got null" for them would say less.
  const atNonFinite = new Set(nonFinite.map((p) => p.path));
  let validated: Problem[];
  try {
    validated = validateConfig(data, origins, ctx.sources, file, kinds);
  } catch (e) {
    // ajv refuses a malformed plugin schema when it compiles.
    if (!plugins.length || isFitspecError(e)) throw e;
    throw new FitspecError({
      code: 'plugin.schema',
      message: `the argument schema of plugin(s) ${plugins.map((p) => p.entry).join(', ')} is not a valid JSON Schema: ${(e as Error).message}`,
      ...placeOf(origins.get('plugins')?.value, ctx.sources),
    });
  }
  const schemaProblems = [...nonFinite, ...validated.filter((p) => !atNonFinite.has(p.path))];
  if (schemaProblems.length) throw new FitspecError(sortProblems(schemaProblems));

  const experiment = orderBySchema(data) as Experiment;
  const pluginShapes = pluginShapeFunctions(experiment, plugins, origins, ctx);
  let findings = checks.flatMap((c) => c.run(experiment, undefined, pluginShapes));
  if (opts.discoverClasses && !findings.some((f) => f.severity === 'error')) {
    const discovered = opts.discoverClasses(experiment.data);
    findings = checks.flatMap((c) => c.run(experiment, discovered, pluginShapes));
  }
  const placed: Problem[] = findings.map((f: Finding) => {
    let where: Partial<Problem> = {};
    for (let i = f.path.length; i >= 0; i--) {
      const o = origins.get(f.path.slice(0, i).join('.'));
      const origin = f.atKey && i === f.path.length ? (o?.key ?? o?.value) : (o?.value ?? o?.key);
      if (origin && origin.kind !== 'default') {
        where = placeOf(origin, ctx.sources);
        break;
      }
    }
    if (!where.file) where = placeOf({ kind: 'file', file, line: 1, col: 1 }, ctx.sources);
    const { path: p, atKey: _atKey, ...rest } = f;
    return { ...rest, path: dotted(p), ...where };
  });
  const errors = placed.filter((p) => p.severity === 'error');
  const warnings = placed.filter((p) => p.severity !== 'error');
  if (errors.length) throw new FitspecError(sortProblems([...errors, ...warnings]));

  let yaml: string | undefined;
  const loaded: LoadedExperiment = {
    experiment: deepFreeze(experiment),
    file,
    chain: ctx.chain,
    ...(ctx.architecture ? { architecture: ctx.architecture } : {}),
    overrides,
    hash: configHash(experiment, plugins),
    sourceText: ctx.texts.get(path.resolve(file)) ?? '',
    // Rendered on first use: `validate` never needs it.
    get resolvedYaml() {
      yaml ??= toResolvedYaml(experiment);
      return yaml;
    },
    warnings: sortProblems(warnings),
    plugins,
  };
  return { loaded, origins };
}

/** Loads the modules `plugins` names, each relative to the file that wrote its entry. */
function loadPlugins(tree: Record<string, unknown>, origins: Map<string, PathOrigin>, file: string, ctx: Ctx): LoadedPlugin[] {
  const list = tree.plugins;
  if (!Array.isArray(list)) return [];
  const where = (i: number) => ({ path: `plugins.${i}`, ...placeOf(origins.get(`plugins.${i}`)?.value ?? origins.get('plugins')?.value, ctx.sources) });
  const loaded = list.flatMap((entry, i) => {
    if (typeof entry !== 'string' || !entry) return []; // the schema reports it
    const origin = origins.get(`plugins.${i}`)?.value;
    const from = origin?.kind === 'file' ? path.dirname(path.resolve(origin.file)) : path.dirname(path.resolve(file));
    return [loadPlugin(entry, from, where(i))];
  });
  checkDistinctKinds(loaded, where);
  return loaded;
}

/**
 * Every plugin layer's output shape, computed once along the stack (base first), so that a plugin that
 * throws or returns a wrong shape fails here, at its layer's line; the checks then use these shapes.
 */
function pluginShapeFunctions(exp: Experiment, plugins: LoadedPlugin[], origins: Map<string, PathOrigin>, ctx: Ctx): PluginShapes | undefined {
  if (!plugins.length) return undefined;
  const byKind = new Map(plugins.map((p) => [p.plugin.kind, p]));
  const fns: PluginShapes = new Map();
  for (const p of plugins) fns.set(p.plugin.kind, (args, input) => p.plugin.outputShape(args, input));
  // Walk once with the checked call, so mistakes surface as one clear error.
  const walk = (layers: unknown[] | undefined, at: string, start: number[]): number[] | undefined => {
    if (!layers) return start;
    const names = defaultLayerNames(layers);
    let shape = start;
    for (let i = 0; i < layers.length; i++) {
      const layer = layers[i] as Record<string, Record<string, unknown>>;
      const kind = Object.keys(layer)[0]!;
      const lp = byKind.get(kind);
      if (lp) {
        const path = `${at}.${i}.${kind}`;
        shape = pluginOutputShape(lp, names[i]!, layer[kind] ?? {}, shape, { path, ...placeOf(origins.get(path)?.key ?? origins.get(`${at}.${i}`)?.value, ctx.sources) });
      } else {
        shape = outputShape(layer as never, shape, fns);
      }
      if (shape.some((d) => !(d >= 1))) return undefined;
    }
    return shape;
  };
  const base = (exp.model.base as { layers?: unknown[] } | undefined)?.layers;
  const afterBase = walk(base, 'model.base.layers', [exp.data.image.height, exp.data.image.width, exp.data.image.channels]);
  if (afterBase) walk(exp.model.layers as unknown[], 'model.layers', afterBase);
  return fns;
}

/** Reads from memory: `text` is the content of `file`; files it extends are read from disk. */
export function textReader(text: string, file: string, fallback: ConfigReader = fsReader): ConfigReader {
  const key = path.resolve(file);
  return { read: (f) => (path.resolve(f) === key ? new TextEncoder().encode(text) : fallback.read(f)) };
}
