#!/usr/bin/env node
// Makes @tensorflow/tfjs-node usable: its own install script downloads libtensorflow from
// Google's storage, which is unreachable or refused on many machines. This script
//   1. does nothing when the binding already loads and trains (idempotent, a few seconds);
//   2. reuses the TensorFlow library and binding cached under ~/.cache/fitspec/native;
//   3. tries tfjs-node's upstream install when Google's host answers;
//   4. otherwise fetches the same C library from the pinned `tensorflow-cpu` wheel on PyPI
//      (sha256-checked), builds the binding against it with node-gyp and caches both.
// It exits non-zero when no native backend could be made, unless FITSPEC_SKIP_NATIVE=1.
//
// Environment:
//   FITSPEC_SKIP_NATIVE=1        skip all of this (the pure-JS backend is then the only one)
//   FITSPEC_NATIVE_SOURCE=wheel  skip the upstream attempt (or `upstream`: never use the wheel)
//   FITSPEC_PYTHON=/path/python  Python with pip used to download the wheel (default python3)
//   FITSPEC_CACHE_DIR=/path      cache folder (default ${XDG_CACHE_HOME:-~/.cache}/fitspec)
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GRAPH_ADDON_DIR,
  HEADER_DIRS,
  TF_VERSION,
  graphAddonPath,
  recordInstallCacheRoot,
  WHEELS,
  bindingCacheDir,
  bindingPath,
  cacheRoot,
  findTfjsNode,
  libCacheDir,
  napiBuildVersion,
  platformKey,
  projectRoot,
} from './layout.mjs';

const started = Date.now();
const log = (msg) => console.log(`fitspec native: ${msg}`);
const secs = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

class InstallError extends Error {}

function main() {
  if (process.env.FITSPEC_SKIP_NATIVE === '1') {
    log('skipped (FITSPEC_SKIP_NATIVE=1); only the slow pure-JS `cpu` backend will be available.');
    return 0;
  }
  const tfjs = findTfjsNode();
  if (!tfjs) throw new InstallError('@tensorflow/tfjs-node is not installed; run `npm install` in the project first.');
  const target = bindingPath(tfjs);

  const before = probe(tfjs.dir);
  if (before.ok) {
    log(`native backend already works (TensorFlow ${before.tfVersion}, ${target}); nothing to do (${secs()}).`);
    return 0;
  }

  const source = process.env.FITSPEC_NATIVE_SOURCE ?? 'auto';
  const wheel = WHEELS[platformKey()];
  const errors = [];

  if (source !== 'upstream' && wheel && existsSync(join(libCacheDir(), '.complete'))) {
    try {
      return fromWheel(tfjs, wheel, target);
    } catch (e) {
      errors.push(`cached TensorFlow ${TF_VERSION}: ${e.message}`);
    }
  }
  if (source !== 'wheel') {
    try {
      const res = upstream(tfjs);
      if (res.ok) {
        log(`built by tfjs-node's own installer (TensorFlow ${res.tfVersion}) in ${secs()}.`);
        return 0;
      }
      errors.push(`upstream: ${res.why}`);
    } catch (e) {
      errors.push(`upstream: ${e.message}`);
    }
  }
  if (source !== 'upstream') {
    if (!wheel) {
      errors.push(`wheel: no pinned TensorFlow wheel for ${platformKey()} (only ${Object.keys(WHEELS).join(', ')}).`);
    } else {
      try {
        return fromWheel(tfjs, wheel, target);
      } catch (e) {
        errors.push(`wheel: ${e.message}`);
      }
    }
  }
  throw new InstallError(
    'could not make the native TensorFlow backend:\n' +
      errors.map((e) => `  - ${e}`).join('\n') +
      '\nTraining would fall back to the pure-JS backend, which is orders of magnitude slower.' +
      '\nFix the problem above and rerun `node scripts/native/install.mjs`, or set FITSPEC_SKIP_NATIVE=1 to install without it.',
  );
}

/** Loads tfjs-node in a child process and runs a conv2d gradient: the binding works end to end. */
function probe(tfjsDir) {
  const code = `
    const tf = require(${JSON.stringify(tfjsDir)});
    const x = tf.randomNormal([2, 8, 8, 3]);
    const f = tf.randomNormal([3, 3, 3, 4]);
    const g = tf.grad((w) => tf.conv2d(x, w, 1, 'same').square().sum())(f);
    const s = g.abs().sum().dataSync()[0];
    if (!Number.isFinite(s) || s <= 0) throw new Error('conv2d gradient is ' + s);
    console.log(JSON.stringify({ backend: tf.getBackend(), tfVersion: tf.backend().binding.TF_Version }));`;
  const r = spawnSync(process.execPath, ['-e', code], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    const res = JSON.parse(last);
    if (res.backend === 'tensorflow') return { ok: true, tfVersion: res.tfVersion };
    return { ok: false, why: `backend is ${res.backend}` };
  } catch {
    const err = `${r.stderr ?? ''}`
      .trim()
      .split('\n')
      .filter((l) => /error/i.test(l))
      .slice(0, 2)
      .join(' / ');
    return { ok: false, why: err || r.error?.message || `exit code ${r.status}` };
  }
}

function upstream(tfjs) {
  const constants = readFileSync(join(tfjs.dir, 'scripts', 'deps-constants.js'), 'utf8');
  const libVersion = /LIBTENSORFLOW_VERSION = '([^']+)'/.exec(constants)?.[1] ?? '2.9.1';
  const arch = { x64: 'x86_64', arm64: 'arm64' }[process.arch] ?? process.arch;
  const url = `https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-cpu-${process.platform}-${arch}-${libVersion}.tar.gz`;
  const head = spawnSync(
    process.execPath,
    [
      '-e',
      `
    fetch(${JSON.stringify(url)}, { method: 'HEAD', signal: AbortSignal.timeout(8000) })
      .then((r) => console.log(r.status), (e) => console.log(e.cause?.code ?? e.name));`,
    ],
    { encoding: 'utf8', timeout: 15_000 },
  );
  const status = (head.stdout ?? '').trim() || 'timeout';
  if (status !== '200') return { ok: false, why: `${new URL(url).host} answered ${status}` };
  log(`running tfjs-node's installer (downloads libtensorflow ${libVersion} from Google)...`);
  const r = spawnSync(process.execPath, ['scripts/install.js'], {
    cwd: tfjs.dir,
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 20 * 60_000,
    env: { ...process.env, PATH: `${join(projectRoot, 'node_modules', '.bin')}:${process.env.PATH}` },
  });
  if (r.status !== 0) {
    rmSync(join(tfjs.dir, 'deps'), { recursive: true, force: true });
    return { ok: false, why: `scripts/install.js exited with ${r.status ?? r.signal}` };
  }
  const res = probe(tfjs.dir);
  if (!res.ok) rmSync(join(tfjs.dir, 'deps'), { recursive: true, force: true });
  return res;
}

function fromWheel(tfjs, wheel, target) {
  const libDir = libCacheDir();
  let fetched = false;
  if (!existsSync(join(libDir, '.complete'))) {
    fetchWheelLibs(wheel, libDir);
    fetched = true;
  }
  placeLibs(tfjs.dir, wheel, libDir);

  const napi = napiBuildVersion(tfjs.pkg);
  const cachedBinding = join(bindingCacheDir(tfjs.pkg.version, napi), 'tfjs_binding.node');
  let built = false;
  if (existsSync(cachedBinding)) {
    place(cachedBinding, target);
  } else {
    buildBinding(tfjs, napi, target, cachedBinding);
    built = true;
  }
  let res = probe(tfjs.dir);
  if (!res.ok && !built) {
    // A stale cached binding (for example built against other headers): rebuild once.
    rmSync(cachedBinding, { force: true });
    buildBinding(tfjs, napi, target, cachedBinding);
    built = true;
    res = probe(tfjs.dir);
  }
  if (!res.ok) throw new InstallError(`the binding built against TensorFlow ${TF_VERSION} does not load: ${res.why}`);
  log(`TensorFlow ${res.tfVersion} C library from PyPI's ${wheel.project} wheel (${fetched ? 'downloaded, sha256 checked' : 'cached'}) in ${libDir}`);
  log(`tfjs_binding.node ${built ? 'built with node-gyp' : 'reused from cache'}: ${target}`);
  log(`native backend ready: a conv2d gradient runs on TensorFlow ${res.tfVersion} (${secs()}).`);
  return 0;
}

function run(cmd, args, opts, what) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n    ');
    throw new InstallError(`${what} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}):\n    ${out}`);
  }
  return r;
}

function findPython() {
  const candidates = process.env.FITSPEC_PYTHON ? [process.env.FITSPEC_PYTHON] : ['python3', 'python'];
  for (const py of candidates) {
    const r = spawnSync(py, ['-m', 'pip', '--version'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  throw new InstallError(`no Python with pip found (tried ${candidates.join(', ')}); install python3 and pip, or set FITSPEC_PYTHON.`);
}

function sha256(file) {
  const hash = createHash('sha256');
  const buf = Buffer.alloc(8 << 20);
  const fd = openSync(file, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function fetchWheelLibs(wheel, libDir) {
  const py = findPython();
  const root = join(cacheRoot(), 'native');
  mkdirSync(root, { recursive: true });
  const tmp = join(root, `tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp, { recursive: true });
  try {
    log(`downloading ${wheel.filename} from PyPI with ${py} -m pip...`);
    const req = join(tmp, 'requirements.txt');
    writeFileSync(req, `${wheel.project}==${TF_VERSION} --hash=sha256:${wheel.sha256}\n`);
    run(
      py,
      [
        '-m',
        'pip',
        'download',
        '--no-deps',
        '--only-binary=:all:',
        '--require-hashes',
        '--disable-pip-version-check',
        '--python-version',
        wheel.pythonVersion,
        '--implementation',
        'cp',
        '--abi',
        wheel.abi,
        '--platform',
        wheel.platform,
        '-r',
        req,
        '-d',
        tmp,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30 * 60_000 },
      'pip download',
    );
    const file = join(tmp, wheel.filename);
    if (!existsSync(file)) throw new InstallError(`pip did not produce ${wheel.filename}`);
    const got = sha256(file);
    if (got !== wheel.sha256) throw new InstallError(`sha256 of ${wheel.filename} is ${got}, expected ${wheel.sha256}`);

    const out = join(tmp, 'lib');
    run(
      py,
      [fileURLToPath(new URL('./extract_wheel.py', import.meta.url)), file, out, ...wheel.libs.map((l) => `tensorflow/${l}`), ...HEADER_DIRS.map((d) => `tensorflow/include/${d}`)],
      { timeout: 10 * 60_000 },
      'extracting the wheel',
    );
    // The extracted libraries are the cache; the 274 MB wheel is not kept.
    rmSync(file, { force: true });
    writeFileSync(join(out, '.complete'), JSON.stringify({ tensorflow: TF_VERSION, wheel: wheel.filename, sha256: wheel.sha256 }) + '\n');
    rmSync(libDir, { recursive: true, force: true });
    renameSync(out, libDir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Hard link (no 800 MB copy, and survives clearing the cache); copy across file systems. */
function place(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  rmSync(to, { force: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

function placeLibs(tfjsDir, wheel, libDir) {
  const deps = join(tfjsDir, 'deps');
  rmSync(deps, { recursive: true, force: true });
  mkdirSync(join(deps, 'lib'), { recursive: true });
  for (const lib of wheel.libs) place(join(libDir, 'tensorflow', lib), join(deps, 'lib', lib));
  // binding.gyp links -ltensorflow -ltensorflow_framework; at run time the loader looks for
  // the SONAMEs (libtensorflow_cc.so.2, libtensorflow_framework.so.2) through the rpath.
  symlinkSync('libtensorflow_cc.so.2', join(deps, 'lib', 'libtensorflow.so'));
  symlinkSync('libtensorflow_framework.so.2', join(deps, 'lib', 'libtensorflow_framework.so'));
  symlinkSync(join(libDir, 'tensorflow', 'include'), join(deps, 'include'));
}

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && resolve(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    resolve(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(projectRoot, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const npmPrefix = spawnSync('npm', ['prefix', '-g'], { encoding: 'utf8' });
  if (npmPrefix.status === 0) candidates.push(join(npmPrefix.stdout.trim(), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const found = candidates.find((c) => c && existsSync(c));
  if (!found) throw new InstallError('node-gyp not found (it ships with npm); install it with `npm install -g node-gyp`.');
  return found;
}

function buildBinding(tfjs, napi, target, cachedBinding) {
  const gyp = findNodeGyp();
  const args = [gyp, 'rebuild', '--jobs=max', `--module_name=${tfjs.pkg.binary.module_name}`, `--module_path=${dirname(target)}`, `--napi_build_version=${napi}`];
  // Node's own headers, when installed next to the binary (distribution packages), avoid a download from nodejs.org.
  const prefix = resolve(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  log(`building tfjs_binding.node (N-API ${napi}) against TensorFlow ${TF_VERSION} with node-gyp...`);
  run(process.execPath, args, { cwd: tfjs.dir, timeout: 20 * 60_000 }, 'node-gyp rebuild');
  if (!existsSync(target)) throw new InstallError(`node-gyp finished but ${target} is missing`);
  rmSync(join(tfjs.dir, 'build'), { recursive: true, force: true });
  const tmp = `${cachedBinding}.${process.pid}.tmp`;
  mkdirSync(dirname(cachedBinding), { recursive: true });
  copyFileSync(target, tmp);
  renameSync(tmp, cachedBinding);
}

/**
 * The graph engine's bridge (native/graph): a small N-API addon over TensorFlow's graph and session
 * C API, linked against the same cached library tfjs-node uses, so both share one TensorFlow runtime
 * in the process. Optional: without it training runs on the eager engine (with a warning).
 */
function graphAddon() {
  const target = graphAddonPath();
  recordInstallCacheRoot();
  if (existsSync(target)) {
    if (probeGraphAddon(target)) return log(`graph engine addon reused from cache: ${target}`);
    rmSync(target, { force: true });
  }
  const tfDir = join(libCacheDir(), 'tensorflow');
  if (!existsSync(join(tfDir, 'include', 'tensorflow', 'c', 'c_api.h'))) {
    return log(`graph engine addon not built: the TensorFlow ${TF_VERSION} headers are not in ${libCacheDir()} (training uses the eager engine).`);
  }
  try {
    const gyp = findNodeGyp();
    const napi = Number(process.versions.napi);
    const args = [gyp, 'rebuild', '--jobs=max', `--napi_build_version=${napi}`, `--tf_dir=${tfDir}`];
    const prefix = resolve(dirname(process.execPath), '..');
    if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
    log('building the graph engine addon with node-gyp...');
    run(process.execPath, args, { cwd: GRAPH_ADDON_DIR, timeout: 20 * 60_000 }, 'node-gyp rebuild (graph addon)');
    const built = join(GRAPH_ADDON_DIR, 'build', 'Release', 'fitspec_graph.node');
    mkdirSync(dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.tmp`;
    copyFileSync(built, tmp);
    renameSync(tmp, target);
    rmSync(join(GRAPH_ADDON_DIR, 'build'), { recursive: true, force: true });
    if (!probeGraphAddon(target)) throw new InstallError(`${target} was built but does not run a graph`);
    log(`graph engine addon built: ${target}`);
  } catch (e) {
    if (!(e instanceof InstallError)) throw e;
    log(`WARNING: graph engine addon not built (training uses the slower eager engine): ${e.message}`);
  }
}

/** Loads the addon next to tfjs-node in a child process and runs a one-op graph. */
function probeGraphAddon(file) {
  const code = `
    require('@tensorflow/tfjs-node');
    const n = require(${JSON.stringify(file)});
    const g = new n.Graph();
    g.op('Const', 'c', [], [['dtype', 'type', 'float32'], ['value', 'tensor', { data: new Float32Array([2]), shape: [] }]]);
    g.op('Square', 'y', [['c', 0]], [['T', 'type', 'float32']]);
    const s = new n.Session(g);
    const [r] = s.runSync([], [['y', 0]], []);
    s.close();
    if (r.data[0] !== 4) throw new Error('2 squared is ' + r.data[0]);`;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: projectRoot, encoding: 'utf8', timeout: 120_000, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
  return r.status === 0;
}

try {
  process.exitCode = main();
  if (process.exitCode === 0 && process.env.FITSPEC_SKIP_NATIVE !== '1') graphAddon();
} catch (e) {
  if (!(e instanceof InstallError)) throw e;
  console.error(`fitspec native: ERROR: ${e.message}`);
  process.exitCode = 1;
}
