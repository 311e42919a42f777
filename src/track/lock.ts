import { randomBytes } from 'node:crypto';
import { linkSync, openSync, closeSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FitspecError } from '../errors.js';

/** In the run folder while a process writes to it (train, train --resume, sync). */
export const LOCK_FILE = 'run.lock';

export interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  started: string;
  /** What holds it, e.g. `fitspec train --resume`. */
  command: string;
  /** Tells this holder's lock from a later one by the same pid. */
  token: string;
}

export interface RunLock {
  readonly file: string;
  /** Removes the lock file if it is still this holder's; safe to call twice. */
  release(): void;
}

/** A takeover that takes longer than this was interrupted: its guard file is stale. */
const GUARD_STALE_MS = 10_000;

/**
 * Makes this process the only writer of `runDir`. The lock file is created atomically (a complete
 * temporary file hard-linked into place, which fails if one exists), so a reader never sees half an
 * owner. A lock whose owner is a dead process on this host is taken over; a live owner, or one on
 * another host (whose processes cannot be checked), is a user error naming it.
 */
export function lockRun(runDir: string, command: string): RunLock {
  const file = join(runDir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command, token: randomBytes(8).toString('hex') };
  const text = JSON.stringify(me) + '\n';
  for (let attempt = 0; attempt < 20; attempt++) {
    if (tryCreate(file, text, me.token)) return held(file, text);
    const raw = readRaw(file);
    if (raw === undefined) continue; // released meanwhile
    const owner = parseOwner(raw);
    if (owner && isLive(owner)) {
      throw new FitspecError({
        code: 'run.locked',
        message: `${runDir} is in use by \`${owner.command}\` (pid ${owner.pid} on ${owner.host}, since ${owner.started}); one process at a time writes a run folder`,
        file: runDir,
        hint: owner.host === me.host ? 'wait for it to finish, or stop it (Ctrl-C) first' : `wait for it to finish; if that process is gone, delete ${file}`,
      });
    }
    takeOver(file, raw);
  }
  throw new FitspecError({ code: 'run.locked', message: `${runDir}: could not take ${LOCK_FILE}; other processes keep taking it`, file: runDir });
}

/** The live process holding `runDir`'s lock, if any (one on another host counts as live). */
export function lockHolder(runDir: string): LockOwner | undefined {
  let raw: string | undefined;
  try {
    raw = readRaw(join(runDir, LOCK_FILE));
  } catch {
    return undefined;
  }
  const owner = raw === undefined ? undefined : parseOwner(raw);
  return owner && isLive(owner) ? owner : undefined;
}

function tryCreate(file: string, text: string, token: string): boolean {
  const tmp = `${file}.${token}.tmp`;
  writeFileSync(tmp, text);
  try {
    linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

function held(file: string, text: string): RunLock {
  const release = () => {
    process.off('exit', release);
    if (readRaw(file) === text) unlinkSync(file);
  };
  // process.exit() (a second Ctrl-C) skips `finally` blocks but not this.
  process.on('exit', release);
  return { file, release };
}

/**
 * Replaces a stale lock. Only one process at a time takes over (a guard file, created exclusively),
 * and only if the lock is still the stale one it read; the new lock is then created like any other,
 * so a process that created one meanwhile keeps it.
 */
function takeOver(file: string, staleRaw: string): void {
  const guard = `${file}.takeover`;
  let fd: number;
  try {
    fd = openSync(guard, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    try {
      if (Date.now() - statSync(guard).mtimeMs > GUARD_STALE_MS) unlinkSync(guard);
    } catch {
      /* removed meanwhile */
    }
    return;
  }
  try {
    if (readRaw(file) === staleRaw) unlinkSync(file);
  } finally {
    closeSync(fd);
    unlinkSync(guard);
  }
}

function readRaw(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EISDIR' || code === 'EACCES' || code === 'EPERM') {
      throw new FitspecError({
        code: 'run.lock-invalid',
        message: `${file} is ${code === 'EISDIR' ? 'a folder' : 'unreadable'}, not a lock file written by fitspec: remove it once you know no fitspec process uses this run folder`,
        file,
        hint: `rm -r ${file}`,
      });
    }
    throw e;
  }
}

/**
 * When process `pid` started (ms since epoch), from /proc on Linux; undefined elsewhere. A pid is
 * reused once its process ended: a process that started after the lock was taken is not its holder.
 */
function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    // USER_HZ is 100 on every Linux architecture Node runs on.
    return Number.isFinite(ticks) && Number.isFinite(btime) ? btime * 1000 + (ticks / 100) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const o = JSON.parse(raw) as LockOwner;
    return typeof o?.pid === 'number' && typeof o.host === 'string' ? o : undefined;
  } catch {
    return undefined; // never written by fitspec (its locks appear complete): not an owner
  }
}

function isLive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
    const started = processStart(owner.pid);
    const locked = Date.parse(owner.started);
    // Two seconds of slack for clock rounding (btime is in whole seconds).
    if (started !== undefined && Number.isFinite(locked) && started > locked + 2000) return false;
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
