#!/usr/bin/env node
// Runs the bundled CLI from dist/ when it is up to date with src/, else the TypeScript sources through
// tsx (resolved from this package), so `npx fitspec` works from any directory right after `npm install`
// and edits to src/ take effect without a build step.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function newestMtime(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

function bundleIsFresh() {
  if (process.env.FITSPEC_FROM_SOURCE) return false;
  try {
    return fs.statSync(path.join(root, 'dist', 'BUILT')).mtimeMs >= newestMtime(path.join(root, 'src'));
  } catch {
    return false;
  }
}

let cli;
if (bundleIsFresh()) {
  ({ cli } = await import('../dist/main.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ cli } = await import('../src/cli/main.ts'));
}
process.exitCode = await cli(process.argv.slice(2));
