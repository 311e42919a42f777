/**
 * Every shell command in README.md and docs/*.md runs here, so the documentation cannot drift from
 * the code. A page's commands run in order, in a scratch copy of the repository, after the YAML
 * blocks that name a file (`# experiments/x.yaml` as their first line) are written there. A block
 * that cannot run here says why in `<!-- not run: REASON -->` right above its fence. Each command
 * must exit 0, or with the status its comment gives (`# exits 1: ...`, as `fitspec diff` does when
 * the configs differ).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blocks, fileOf, isShell } from './blocks.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PAGES = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

/** What a page assumes has happened before its first command, as commands of its own. */
const SETUP: Record<string, string> = {
  // The README's second experiment comes after `npm run demo`, which generates these images first.
  'README.md': 'fitspec data synth --out data/demo --per-class 400 --layout directory --seed 7',
  // The notebook's data layout, as docs/notebook.md generates it.
  'docs/experiments.md': 'fitspec data synth --out data/faces --per-class 2400 --layout csv',
};

function scratchCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-docs-'));
  const files = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
  for (const f of files) {
    const from = path.join(ROOT, f);
    if (!fs.existsSync(from) || fs.statSync(from).isDirectory()) continue;
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(from, path.join(dir, f));
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  // Pages write `fitspec ...` as a user who ran `npm link` does.
  const bin = path.join(dir, '.bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'fitspec'), `#!/bin/sh\nexec node ${JSON.stringify(path.join(dir, 'bin/fitspec.js'))} "$@"\n`, { mode: 0o755 });
  return dir;
}

/** The commands of a shell block: one a line, `\\` continuing a line, blank lines and comments dropped. */
function commands(text: string): { cmd: string; status: number }[] {
  const out: { cmd: string; status: number }[] = [];
  let cur = '';
  for (const line of text.split('\n')) {
    cur += line;
    if (line.endsWith('\\')) {
      cur = cur.slice(0, -1) + ' ';
      continue;
    }
    const cmd = cur.trim();
    cur = '';
    if (!cmd || cmd.startsWith('#')) continue;
    const m = /#\s*exits (\d+)/.exec(cmd);
    out.push({ cmd, status: m ? Number(m[1]) : 0 });
  }
  return out;
}

function sh(dir: string, script: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.join(dir, '.bin')}:${process.env.PATH}`, NO_COLOR: '1' };
  delete env.MLFLOW_TRACKING_URI;
  return spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env, encoding: 'utf8', timeout: 300_000 });
}

const all = PAGES.flatMap((p) => blocks(path.join(ROOT, p)).map((b) => ({ ...b, page: p })));

describe('the documentation', () => {
  it('runs most of its commands, and says why of each one it does not', () => {
    const shells = all.filter(isShell);
    for (const b of shells.filter((x) => x.notRun !== undefined)) {
      expect(b.notRun!.length, `${b.page}:${b.line}: a not-run marker needs its reason`).toBeGreaterThan(10);
    }
    expect(shells.filter((b) => b.notRun === undefined).length).toBeGreaterThanOrEqual(5);
  });
});

for (const page of PAGES) {
  const pageBlocks = all.filter((b) => b.page === page);
  const runnable = pageBlocks.filter((b) => isShell(b) && b.notRun === undefined);
  if (!runnable.length) continue;
  describe(page, () => {
    let dir = '';
    beforeAll(() => {
      dir = scratchCopy();
      for (const b of pageBlocks) {
        const f = fileOf(b);
        if (f) fs.writeFileSync(path.join(dir, f), b.text + '\n');
      }
      if (SETUP[page]) {
        const r = sh(dir, SETUP[page]!);
        if (r.status !== 0) throw new Error(`setup of ${page} failed:\n${r.stdout}\n${r.stderr}`);
      }
    }, 600_000);
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    for (const b of runnable) {
      it(`${page}:${b.line}: ${b.text.split('\n')[0]}`, () => {
        for (const { cmd, status } of commands(b.text)) {
          const r = sh(dir, cmd);
          expect(r.status, `${page}:${b.line}: \`${cmd}\` exited ${r.status ?? r.signal}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`).toBe(status);
        }
      }, 600_000);
    }
  });
}
