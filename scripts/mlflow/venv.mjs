// Project-local MLflow: a Python virtual environment in .venv/mlflow with the pinned package from
// requirements.txt, and a server on 127.0.0.1 with a SQLite store and artifact serving.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const REQUIREMENTS = join(ROOT, 'scripts/mlflow/requirements.txt');
export const VENV = process.env.FITSPEC_MLFLOW_VENV ? resolve(process.env.FITSPEC_MLFLOW_VENV) : join(ROOT, '.venv/mlflow');
const STAMP = '.fitspec-requirements';

const bin = (venv, name) => (process.platform === 'win32' ? join(venv, 'Scripts', `${name}.exe`) : join(venv, 'bin', name));

export const venvPython = (venv = VENV) => bin(venv, 'python');

export function findPython(what = 'MLflow') {
  const candidates = [process.env.FITSPEC_PYTHON, 'python3', 'python'].filter(Boolean);
  for (const c of candidates) {
    const r = spawnSync(c, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const [maj, min] = r.stdout.trim().split('.').map(Number);
    if (maj === 3 && min >= 10) return c;
    throw new Error(`${what} needs Python >= 3.10; ${c} is ${r.stdout.trim()} (set FITSPEC_PYTHON to another interpreter)`);
  }
  throw new Error(`${what} needs Python >= 3.10 and none was found (install python3, or set FITSPEC_PYTHON)`);
}

function run(cmd, args, signal) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], signal });
    child.on('error', rej);
    child.on('exit', (code, sig) => (code === 0 ? res() : rej(new Error(`${cmd} ${args.join(' ')} failed (${sig ?? `exit ${code}`})`))));
  });
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return e.code === 'EPERM';
  }
}

const sleep = (ms, signal) =>
  new Promise((res, rej) => {
    if (signal?.aborted) return rej(signal.reason ?? new Error('aborted'));
    const t = setTimeout(res, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), rej(signal.reason ?? new Error('aborted'))), { once: true });
  });

// An install takes minutes; a lock older than this belongs to a process that is gone even if its pid
// was reused, or to another host sharing the folder.
const LOCK_MAX_AGE_MS = 60 * 60_000;
// Between creating the lock file and writing the owner into it, or while one process takes over a stale
// lock; longer than that means its writer died in between.
const LOCK_WRITE_GRACE_MS = 10_000;

function ageMs(path) {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function lockIsStale(path, raw) {
  let owner;
  try {
    owner = JSON.parse(raw);
  } catch {
    return ageMs(path) > LOCK_WRITE_GRACE_MS;
  }
  if (ageMs(path) > LOCK_MAX_AGE_MS) return true;
  return owner.host === hostname() && !pidAlive(owner.pid);
}

/**
 * Runs `fn` holding an exclusive lock file (owner pid, host and a token inside). A lock whose owner is
 * dead is taken over; the takeover itself is guarded by a second lock file so that two waiters cannot
 * both remove the stale lock and the first one's fresh lock with it.
 */
export async function withLock(path, fn, { signal, onWait }) {
  const me = JSON.stringify({ pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex'), since: new Date().toISOString() });
  const takeover = `${path}.takeover`;
  let waited = false;
  for (;;) {
    try {
      writeFileSync(path, me, { flag: 'wx' });
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let raw;
    try {
      raw = readFileSync(path, 'utf8');
    } catch {
      continue; // released meanwhile
    }
    if (lockIsStale(path, raw)) {
      try {
        writeFileSync(takeover, me, { flag: 'wx' });
        try {
          if (readFileSync(path, 'utf8') === raw) rmSync(path, { force: true });
        } finally {
          rmSync(takeover, { force: true });
        }
      } catch (e) {
        if (e.code !== 'EEXIST' && e.code !== 'ENOENT') throw e;
        if (e.code === 'EEXIST' && ageMs(takeover) > LOCK_WRITE_GRACE_MS) rmSync(takeover, { force: true });
      }
      continue;
    }
    if (!waited) onWait?.(raw);
    waited = true;
    await sleep(500, signal);
  }
  try {
    return await fn();
  } finally {
    try {
      if (readFileSync(path, 'utf8') === me) rmSync(path, { force: true });
    } catch {
      /* already gone */
    }
  }
}

/**
 * Entry-point scripts name the python of the folder they were installed into; after the rename that
 * is the temporary one. Some tools start them by name (`mlflow models serve` runs `uvicorn`), so they
 * are pointed at the venv's own python.
 */
function fixShebangs(venv, tmp) {
  const dir = dirname(venvPython(venv));
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    try {
      if (!lstatSync(file).isFile()) continue;
      const text = readFileSync(file);
      const head = text.subarray(0, 2 + tmp.length).toString('utf8');
      if (head === `#!${tmp}`) writeFileSync(file, Buffer.concat([Buffer.from(`#!${venv}`), text.subarray(2 + Buffer.byteLength(tmp))]));
    } catch {
      /* a script that cannot be rewritten still runs as `python -m` */
    }
  }
}

const installed = (venv, wanted) => {
  const stamp = join(venv, STAMP);
  return existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted && existsSync(venvPython(venv));
};

/**
 * Installs the pinned MLflow into the venv unless it is already there; resolves to the venv's python.
 * One install at a time per venv path (a lock file next to it, `<venv>.lock`): a second caller waits
 * and then finds the venv ready. A working venv is never removed: an install is built next to it and
 * renamed into place, and an outdated one is moved aside first (deleted by the next install).
 * Installing never blocks the event loop (test runners keep working meanwhile); `signal` aborts it.
 * `venv` and `requirements` default to VENV and REQUIREMENTS; other project venvs (Optuna) pass their own,
 * and `what` names them in messages.
 */
export async function ensureMlflow({ log = (m) => process.stderr.write(m + '\n'), signal, venv = VENV, requirements = REQUIREMENTS, what = 'MLflow' } = {}) {
  venv = resolve(venv);
  const wanted = readFileSync(requirements, 'utf8');
  if (installed(venv, wanted)) return venvPython(venv);
  mkdirSync(dirname(venv), { recursive: true });
  const onWait = (raw) => {
    let who = 'another process';
    try {
      const o = JSON.parse(raw);
      who = `process ${o.pid} on ${o.host}`;
    } catch {
      /* half-written lock */
    }
    log(`waiting for ${who} to finish installing ${what} into ${venv}`);
  };
  return withLock(
    `${venv}.lock`,
    async () => {
      // Whoever held the lock before may have installed it.
      if (installed(venv, wanted)) return venvPython(venv);
      const python = findPython(what);
      // Leftovers of interrupted installs and of venvs replaced earlier; only the lock holder makes them.
      const prefix = basename(venv);
      for (const e of readdirSync(dirname(venv))) {
        if (e.startsWith(`${prefix}.tmp-`) || e.startsWith(`${prefix}.old-`)) rmSync(join(dirname(venv), e), { recursive: true, force: true });
      }
      const tmp = `${venv}.tmp-${process.pid}`;
      log(`installing ${what} (${wanted.split('\n').find((l) => l.trim() && !l.startsWith('#'))}${what === 'MLflow' ? '' : ', ...'}) into ${venv}; this takes a few minutes, once`);
      const t0 = Date.now();
      try {
        await run(python, ['-m', 'venv', tmp], signal);
        await run(bin(tmp, 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', '--only-binary=:all:', '-r', requirements], signal);
        writeFileSync(join(tmp, STAMP), wanted);
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        throw e;
      }
      if (existsSync(venv)) renameSync(venv, `${venv}.old-${process.pid}`);
      renameSync(tmp, venv);
      fixShebangs(venv, tmp);
      log(`${what} installed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      return venvPython(venv);
    },
    { signal, onWait },
  );
}

/** A TCP port nothing listens on right now. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function waitHealthy(uri, child, logFile, timeoutMs, signal) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (signal?.aborted) throw new Error('MLflow server start aborted');
    if (child.exitCode !== null || child.signalCode !== null) break;
    try {
      const r = await fetch(`${uri}/health`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : '';
  throw new Error(`MLflow server at ${uri} did not become healthy (${child.exitCode !== null || child.signalCode !== null ? 'it exited' : 'timeout'}); log ${logFile}:\n${tail}`);
}

/**
 * Starts `mlflow server` on 127.0.0.1 with its SQLite store and artifacts under `dir`.
 * basicAuth {username, password}: runs the basic-auth app with that admin user.
 * Returns { uri, pid, logFile, stop() }; the server runs in its own process group so stop() ends its workers too.
 */
export async function startMlflowServer({ dir, port, serveArtifacts = true, basicAuth, stdio = 'file', timeoutMs = 180_000, signal, log } = {}) {
  const python = await ensureMlflow({ signal, log });
  dir = resolve(dir);
  mkdirSync(dir, { recursive: true });
  port ??= await freePort();
  const args = ['-m', 'mlflow', 'server', '--host', '127.0.0.1', '--port', String(port), '--backend-store-uri', `sqlite:///${join(dir, 'mlflow.db')}`, '--workers', '1'];
  if (serveArtifacts) args.push('--serve-artifacts', '--artifacts-destination', join(dir, 'artifacts'));
  else args.push('--no-serve-artifacts', '--default-artifact-root', pathToFileURL(join(dir, 'artifacts')).href);
  // MLflow 3 starts a pool of background job consumers (GenAI evaluation jobs) by default; tracking
  // needs none of them, and on a small machine they cost several processes and ~2 GB of memory.
  const env = { ...process.env, PYTHONUNBUFFERED: '1', MLFLOW_TRACKING_URI: '', MLFLOW_SERVER_ENABLE_JOB_EXECUTION: process.env.MLFLOW_SERVER_ENABLE_JOB_EXECUTION ?? 'false' };
  delete env.MLFLOW_TRACKING_URI;
  if (basicAuth) {
    args.push('--app-name', 'basic-auth');
    const ini = join(dir, 'basic_auth.ini');
    writeFileSync(
      ini,
      [
        '[mlflow]',
        'default_permission = READ',
        `database_uri = sqlite:///${join(dir, 'basic_auth.db')}`,
        `admin_username = ${basicAuth.username}`,
        `admin_password = ${basicAuth.password}`,
        'authorization_function = mlflow.server.auth:authenticate_request_basic_auth',
        '',
      ].join('\n'),
    );
    env.MLFLOW_AUTH_CONFIG_PATH = ini;
    env.MLFLOW_FLASK_SERVER_SECRET_KEY ??= randomBytes(16).toString('hex');
  }
  const logFile = join(dir, 'server.log');
  let out;
  if (stdio === 'file') out = openSync(logFile, 'a');
  // On POSIX the server runs under a shell that ends the whole process group (server and workers) when
  // our stdin pipe closes or the server exits, so a crashed or killed parent never leaves a server behind.
  const posix = process.platform !== 'win32';
  const child = posix
    ? spawn('sh', ['-c', 'exec 3<&0; "$0" "$@" & p=$!; { cat <&3 >/dev/null; kill -TERM 0; } & wait $p; kill -TERM 0', python, ...args], {
        cwd: dir,
        env,
        detached: true,
        stdio: ['pipe', stdio === 'file' ? out : 'inherit', stdio === 'file' ? out : 'inherit'],
      })
    : spawn(python, args, { cwd: dir, env, stdio: stdio === 'file' ? ['ignore', out, out] : 'inherit' });
  if (out !== undefined) closeSync(out);
  const uri = `http://127.0.0.1:${port}`;
  const groupAlive = () => {
    try {
      process.kill(-child.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const stop = async () => {
    const kill = (sig) => {
      try {
        if (posix) process.kill(-child.pid, sig);
        else child.kill(sig);
      } catch {
        /* already gone */
      }
    };
    kill('SIGTERM');
    // The server shuts its workers down gracefully; wait for the whole group, not just the shell.
    const t0 = Date.now();
    while (posix ? groupAlive() : child.exitCode === null && child.signalCode === null) {
      if (Date.now() - t0 > 10_000) kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  try {
    await waitHealthy(uri, child, logFile, timeoutMs, signal);
  } catch (e) {
    await stop();
    throw e;
  }
  return { uri, port, pid: child.pid, logFile, dir, stop };
}
