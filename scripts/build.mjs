// Bundles the CLI into dist/ (ES modules, one chunk per lazily imported stage) so that a command starts
// without compiling TypeScript on the fly: `fitspec validate` never pays for TensorFlow or a transpiler.
// bin/fitspec.js falls back to the sources (through tsx) whenever dist/ is missing or older than src/.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist');
fs.rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'src/cli/main.ts')],
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
fs.writeFileSync(path.join(out, 'BUILT'), new Date().toISOString() + '\n');
console.log(`fitspec: CLI bundled into ${path.relative(process.cwd(), out) || 'dist'}/`);
