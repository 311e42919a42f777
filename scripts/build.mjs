// Bundles the CLI and the library into dist/ (ES modules, one chunk per lazily imported stage) so that a
// command starts without compiling TypeScript on the fly (`fitspec validate` never pays for TensorFlow or
// a transpiler), and writes the library's declaration files into dist/types/.
// bin/fitspec.js falls back to the sources (through tsx) whenever dist/ is missing or older than src/.
//
// Nothing is rebuilt when dist/ is complete and was built from the src/ there is now (pass --force to
// rebuild anyway): a package installed from its tarball ships a built dist/ and has no TypeScript compiler
// (a dev dependency) to write the declarations again. dist/BUILT holds a digest of src/, because npm
// extracts a tarball with fresh modification times, src/ files after dist/ ones.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist');
const where = path.relative(process.cwd(), out) || 'dist';

/** Every file under src/, names and contents. */
function srcDigest() {
  const hash = createHash('sha256');
  const files = fs
    .readdirSync(path.join(root, 'src'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
  for (const f of files) hash.update(path.relative(root, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  return hash.digest('hex');
}

const digest = srcDigest();
const built = path.join(out, 'BUILT');
const complete = ['main.js', 'index.js', 'types/index.d.ts'].every((f) => fs.existsSync(path.join(out, f)));
if (!process.argv.includes('--force') && complete && fs.existsSync(built) && fs.readFileSync(built, 'utf8').includes(`src ${digest}`)) {
  // bin/fitspec.js runs the bundle only when BUILT is newer than every file of src/.
  const now = new Date();
  fs.utimesSync(built, now, now);
  console.log(`fitspec: ${where}/ is up to date with src/`);
  process.exit(0);
}

fs.rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: { main: path.join(root, 'src/cli/main.ts'), index: path.join(root, 'src/index.ts') },
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

let tsc;
try {
  tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  console.error('fitspec: TypeScript is not installed (a dev dependency), so the library has no declaration files; run `npm install` in the project');
  process.exit(1);
}
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`fitspec: writing the declaration files failed (tsc exited with ${r.status ?? r.signal})`);
  process.exit(1);
}
fs.writeFileSync(built, `${new Date().toISOString()}\nsrc ${digest}\n`);
console.log(`fitspec: CLI and library bundled into ${where}/, declarations in ${where}/types/`);
