import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package folder (holding package.json, experiments/architectures, node_modules), found by walking
 * up from this module, so that paths hold both when the sources run through tsx and from the bundle in dist/.
 */
function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'fitspec') return dir;
    if (dir === path.dirname(dir)) return path.resolve(start, '..');
  }
}

export const PACKAGE_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
