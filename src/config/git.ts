import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { ConfigReader } from './load.js';
import { FitspecError } from '../errors.js';

/** Reads config files as they were at a git revision, so that `extends` resolves within that revision too. */
export function gitReader(rev: string): ConfigReader {
  let top: string;
  try {
    top = execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    execFileSync('git', ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    throw new FitspecError({ code: 'git.revision', message: `\`${rev}\` is not a commit of a git repository here; run inside the repository and give a branch, tag or commit.`, received: rev });
  }
  return {
    read(file) {
      const rel = path.relative(top, path.resolve(file)).split(path.sep).join('/');
      try {
        return execFileSync('git', ['show', `${rev}:${rel}`], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 8 * 1024 * 1024 });
      } catch {
        throw Object.assign(new Error(`${file} is not in ${rev}`), { code: 'ENOENT' });
      }
    },
  };
}
