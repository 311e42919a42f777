import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fsReader, type ConfigReader } from './load.js';
import { FitspecError } from '../errors.js';

const git = (args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });

/** The top folder of the git repository around the working directory, and `rev` checked to be a commit. */
function checkRevision(rev: string): string {
  try {
    const top = git(['rev-parse', '--show-toplevel']).trim();
    git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
    return top;
  } catch {
    throw new FitspecError({
      code: 'git.revision',
      message: `\`${rev}\` is not a commit of a git repository here; run inside the repository and give a branch, tag or commit.`,
      received: rev,
    });
  }
}

/**
 * Reads config files as they were at a git revision, so that `extends` and architecture files resolve
 * within that revision too. Files outside the repository (the built-in architectures of an installed
 * fitspec) are not versioned by it and are read from disk.
 */
export function gitReader(rev: string): ConfigReader {
  const top = checkRevision(rev);
  const cache = new Map<string, Uint8Array | Error>();
  return {
    read(file) {
      const rel = path.relative(top, path.resolve(file));
      if (rel.startsWith('..') || path.isAbsolute(rel)) return fsReader.read(file);
      const spec = `${rev}:${rel.split(path.sep).join('/')}`;
      if (!cache.has(spec)) {
        try {
          cache.set(spec, execFileSync('git', ['show', spec], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 8 * 1024 * 1024 }));
        } catch {
          cache.set(spec, Object.assign(new Error(`${file} is not in ${rev}`), { code: 'ENOENT' }));
        }
      }
      const hit = cache.get(spec)!;
      if (hit instanceof Error) throw hit;
      return hit;
    },
  };
}

/** The files under `paths` (relative to the working directory) at a revision, relative to the working directory. */
export function gitFiles(rev: string, paths: string[]): string[] {
  const top = checkRevision(rev);
  for (const p of paths) {
    const rel = path.relative(top, path.resolve(p));
    if (rel.startsWith('..') || path.isAbsolute(rel))
      throw new FitspecError({
        code: 'git.outside',
        message: `${p} is outside the git repository ${top}: it has no version at \`${rev}\`; give a path inside the repository.`,
        file: p,
        received: rev,
      });
  }
  const out = git(['ls-tree', '-r', '--name-only', rev, '--', ...paths]);
  return out.split('\n').filter(Boolean);
}

/**
 * Checks that `file` has a version at `rev`: one outside the repository or added after `rev` has
 * none, and comparing it with itself would say "no differences".
 */
export function checkFileAtRevision(rev: string, file: string): void {
  const top = checkRevision(rev);
  const rel = path.relative(top, path.resolve(file));
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new FitspecError({ code: 'git.outside', message: `${file} is outside the git repository ${top}: it has no version at \`${rev}\` to compare with.`, file, received: rev });
  }
  try {
    git(['cat-file', '-e', `${rev}:${rel.split(path.sep).join('/')}`]);
  } catch {
    throw new FitspecError({
      code: 'git.not-in-revision',
      message: `${file} is not in \`${rev}\`: it exists only in the working tree (added or renamed since), so there is no earlier version to compare with.`,
      file,
      received: rev,
    });
  }
}
