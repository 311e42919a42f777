// Where the native TensorFlow backend lives: pinned versions, cache folders and the
// binding path tfjs-node loads. Shared by the install script (plain Node, runs before
// tsx is usable) and by src/backend.ts (doctor), so both agree on every path.
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** TensorFlow release whose C library tfjs-node is built against when the wheel route is used. */
export const TF_VERSION = '2.21.0';

/**
 * The one wheel per platform whose sha256 is pinned (from PyPI's simple index).
 * The C library inside does not depend on the Python version, so the cp311 wheel is
 * fetched whatever Python runs pip (`--python-version` / `--platform`).
 */
export const WHEELS = {
  'linux-x64': {
    project: 'tensorflow-cpu',
    filename: `tensorflow_cpu-${TF_VERSION}-cp311-cp311-manylinux_2_27_x86_64.whl`,
    sha256: '2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c',
    pythonVersion: '3.11',
    abi: 'cp311',
    platform: 'manylinux_2_27_x86_64',
    libs: ['libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'],
  },
};

/** Header folders (under the wheel's tensorflow/include) that tfjs-node's binding sources include. */
export const HEADER_DIRS = ['tensorflow/c/', 'tensorflow/core/platform/', 'tsl/platform/', 'xla/tsl/c/'];

/** The fitspec package folder: found by walking up, because this module also runs bundled into dist/. */
function findProjectRoot(start) {
  for (let dir = start; ; dir = dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === 'fitspec') return dir;
    } catch {
      /* no package.json here */
    }
    if (dir === dirname(dir)) return resolve(start, '..', '..');
  }
}

export const projectRoot = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

export function platformKey() {
  return `${process.platform}-${process.arch}`;
}

/** `$FITSPEC_CACHE_DIR`, else `${XDG_CACHE_HOME:-~/.cache}/fitspec`. */
export function cacheRoot() {
  if (process.env.FITSPEC_CACHE_DIR) return resolve(process.env.FITSPEC_CACHE_DIR);
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg?.startsWith('/') ? xdg : join(homedir(), '.cache'), 'fitspec');
}

/** Extracted TensorFlow C library for this platform and pinned version. */
export function libCacheDir() {
  return join(cacheRoot(), 'native', `libtensorflow-${TF_VERSION}-${platformKey()}`);
}

/** Built tfjs_binding.node: depends on the TF headers, the tfjs-node sources and the N-API version. */
export function bindingCacheDir(tfjsNodeVersion, napiVersion) {
  return join(cacheRoot(), 'native', `tfjs-binding-tf${TF_VERSION}-tfjs-node${tfjsNodeVersion}-napi${napiVersion}-${platformKey()}`);
}

/** Sources of the graph addon (native/graph): their hash keys its cache folder, so an edit rebuilds it. */
export const GRAPH_ADDON_DIR = join(projectRoot, 'native', 'graph');
const GRAPH_ADDON_SOURCES = ['binding.gyp', 'graph.cc'];

export function graphAddonSourceHash() {
  const hash = createHash('sha256');
  for (const f of GRAPH_ADDON_SOURCES) hash.update(f).update(readFileSync(join(GRAPH_ADDON_DIR, f)));
  return hash.digest('hex').slice(0, 12);
}

/** The graph/session bridge: depends on the TF library it links, its own sources and the N-API version. */
export function graphAddonPath(napiVersion = Number(process.versions.napi), root = cacheRoot()) {
  const dir = join(root, 'native', `graph-addon-tf${TF_VERSION}-src${graphAddonSourceHash()}-napi${napiVersion}-${platformKey()}`);
  return join(dir, 'fitspec_graph.node');
}

/**
 * Where the install script put the cache, recorded beside the installed packages: the cache folder
 * depends on FITSPEC_CACHE_DIR / XDG_CACHE_HOME, which a later shell may set differently.
 */
export const INSTALL_RECORD = join(projectRoot, 'node_modules', '.cache', 'fitspec', 'native-cache-root');

export function recordInstallCacheRoot() {
  mkdirSync(dirname(INSTALL_RECORD), { recursive: true });
  writeFileSync(INSTALL_RECORD, cacheRoot() + '\n');
}

/**
 * The graph addon this process should load: under today's cache folder, else where the install put
 * it (its record), else under the default ~/.cache/fitspec; the first that exists, else the first.
 */
export function findGraphAddon() {
  // An explicit file wins: a build of one's own, or (with a path that does not exist) the eager engine on purpose.
  if (process.env.FITSPEC_GRAPH_ADDON) return resolve(process.env.FITSPEC_GRAPH_ADDON);
  const roots = [cacheRoot()];
  try {
    roots.push(readFileSync(INSTALL_RECORD, 'utf8').trim());
  } catch {
    /* installed before the record existed */
  }
  roots.push(join(homedir(), '.cache', 'fitspec'));
  const candidates = [...new Set(roots.filter(Boolean))].map((r) => graphAddonPath(undefined, r));
  return candidates.find((f) => existsSync(f)) ?? candidates[0];
}

/** The installed @tensorflow/tfjs-node (or -gpu): folder and package.json, or undefined. */
export function findTfjsNode(pkgName = '@tensorflow/tfjs-node') {
  const req = createRequire(join(projectRoot, 'package.json'));
  try {
    const pkgFile = req.resolve(`${pkgName}/package.json`);
    return { dir: dirname(pkgFile), pkg: JSON.parse(readFileSync(pkgFile, 'utf8')) };
  } catch {
    return undefined;
  }
}

/** Highest N-API version the package was built for that this Node supports (node-pre-gyp's rule). */
export function napiBuildVersion(pkg) {
  const own = Number(process.versions.napi);
  const supported = (pkg.binary?.napi_versions ?? []).filter((v) => v <= own);
  return supported.length ? Math.max(...supported) : own;
}

/** Absolute path of the tfjs_binding.node that tfjs-node's dist/index.js will load. */
export function bindingPath(tfjs) {
  const napi = napiBuildVersion(tfjs.pkg);
  const modulePath = tfjs.pkg.binary.module_path.replace('{napi_build_version}', String(napi));
  return join(resolve(tfjs.dir, modulePath), `${tfjs.pkg.binary.module_name}.node`);
}
