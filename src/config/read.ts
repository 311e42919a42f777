import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { MAX_CONFIG_BYTES } from './parse.js';

/** Why a config file could not be read: a Node error code, plus what the path is when it is not a regular file. */
export interface ReadFailure {
  code: string;
  /** "a directory", "a named pipe (FIFO)", ... for code ENOTREG and EISDIR. */
  kind?: string;
  /** Bytes, for EFBIG. */
  size?: number;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const failure = (f: ReadFailure) => Object.assign(new Error(`cannot read config: ${f.code}`), f);

/**
 * The bytes of a config file. Only regular files of at most MAX_CONFIG_BYTES are read: a FIFO would
 * block forever and a device such as /dev/zero never ends, so the file is opened without blocking and
 * checked before a byte is read, and reading stops one byte past the limit (a file still growing).
 * Throws an Error carrying a ReadFailure (code ENOENT, ENOTDIR, ELOOP, EACCES, ENOTREG, EISDIR, EFBIG...).
 */
export function readConfigFile(file: string): Uint8Array {
  const fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw failure({ code: st.isDirectory() ? 'EISDIR' : 'ENOTREG', kind: kindOf(st) });
    if (st.size > MAX_CONFIG_BYTES) throw failure({ code: 'EFBIG', size: st.size });
    const buf = Buffer.alloc(Math.min(st.size, MAX_CONFIG_BYTES) + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    if (n > MAX_CONFIG_BYTES) throw failure({ code: 'EFBIG', size: Math.max(n, st.size) });
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** What a path that could not be read as a config file is, for "config file X ..." / "`extends` names X, which ...". */
export function describeReadFailure(e: unknown): string | undefined {
  const f = e as Partial<ReadFailure>;
  switch (f?.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'does not exist';
    case 'EISDIR':
    case 'ENOTREG':
      return `is ${f.kind ?? 'not a regular file'}, not a YAML file`;
    case 'ELOOP':
      return 'is a loop of symbolic links';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read (permission denied)';
    case 'EFBIG':
      return `is ${f.size ?? 'more than'} bytes, over the ${MAX_CONFIG_BYTES}-byte (1 MiB) limit of a config file`;
    case 'ENAMETOOLONG':
      return 'has a name too long for the file system';
    default:
      return undefined;
  }
}
