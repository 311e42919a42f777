// Writing files that a crash or a full disk must never leave half-written: every run-folder write
// goes through here, so a full filesystem is one user error naming the file and the space it needs.
import fs from 'node:fs';
import path from 'node:path';
import { FitspecError, isFitspecError } from './errors.js';

/** ENOSPC (no space left) or EDQUOT (quota exceeded): the filesystem, not the program, is at fault. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export function isDiskFullError(e: unknown): e is FitspecError {
  return isFitspecError(e) && e.code === 'disk.full';
}

/** Bytes a non-root user may still write on the filesystem holding `target` (its nearest existing folder). */
export function freeBytes(target: string): number | undefined {
  let dir = path.resolve(target);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** The one message for a full filesystem: the full path, the space needed, the space free, what was kept. */
export function diskFullError(file: string, needed: number | undefined, what = '', kept = ''): FitspecError {
  const free = freeBytes(file);
  const need = needed !== undefined ? `needs about ${formatBytes(needed)}` : 'needs more space';
  return new FitspecError({
    code: 'disk.full',
    message: `No space left on the filesystem of ${path.resolve(file)}: writing ${what || 'it'} ${need}${free !== undefined ? `, ${formatBytes(free)} free` : ''}${kept ? `; ${kept}` : ''}`,
    file: path.resolve(file),
    hint: 'free some space there (or point tracking.runsDir / FITSPEC_CACHE_DIR at another disk) and run again',
  });
}

/** Converts a full-disk error of the write of `file` into the user error; anything else passes through. */
export function rethrowDiskFull(e: unknown, file: string, needed?: number, what?: string, kept?: string): never {
  if (isDiskFull(e)) throw diskFullError(file, needed, what, kept);
  throw e;
}

/**
 * Writes `data` to `file` through a temporary file and a rename: on failure (a full disk)
 * no part of it is left and an existing `file` keeps its previous content.
 */
export function writeFileSafe(file: string, data: string | Uint8Array, what?: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    // Not fsynced: that would cost every epoch of a small model more than its training; the rename
    // keeps a crash from tearing the file, and checkpoints carry checksums for what a power cut may damage.
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    rethrowDiskFull(e, file, typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength, what);
  }
}

/**
 * Appends `data`; on a full disk the file is cut back to its length before, so it never ends in a
 * torn record.
 */
export function appendFileSafe(file: string, data: string): void {
  let before = 0;
  try {
    before = fs.statSync(file).size;
  } catch {
    // new file
  }
  try {
    fs.appendFileSync(file, data);
  } catch (e) {
    if (isDiskFull(e)) {
      try {
        fs.truncateSync(file, before);
      } catch {
        // nothing was created
      }
    }
    rethrowDiskFull(e, file, Buffer.byteLength(data));
  }
}

/**
 * Like writeFileSafe, and when the disk is too full even for the temporary copy, overwrites `file` in
 * place (its own blocks are reused); if that fails too, the previous content is put back. For small
 * records that must still say how a run ended on a full disk (run.json).
 */
export function writeFileSafeOrInPlace(file: string, data: string): void {
  try {
    writeFileSafe(file, data);
  } catch (e) {
    if (!isDiskFullError(e) || !fs.existsSync(file)) throw e;
    const before = fs.readFileSync(file);
    const fd = fs.openSync(file, 'r+');
    try {
      const bytes = Buffer.from(data);
      try {
        fs.writeSync(fd, bytes, 0, bytes.length, 0);
        fs.ftruncateSync(fd, bytes.length);
      } catch (inner) {
        fs.writeSync(fd, before, 0, before.length, 0);
        fs.ftruncateSync(fd, before.length);
        rethrowDiskFull(inner, file, bytes.length);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}
