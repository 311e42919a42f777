import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDetailed } from '../../src/config/index.js';
import { MAX_EXTENDS_DEPTH } from '../../src/config/load.js';
import { MAX_CONFIG_BYTES } from '../../src/config/parse.js';
import { main } from '../../src/cli/main.js';
import { MINIMAL, ROOT, problemsOf } from './helpers.js';

// Config files a user can get wrong in ways that used to be internal errors or hangs: each case is a
// `fitspec validate` that must exit 2 with one sentence naming the file and what to do.
const root = mkdtempSync(join(tmpdir(), 'fitspec-bad-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh folder for one case. */
function caseDir(): string {
  const d = join(root, `c${n++}`);
  mkdirSync(d);
  return d;
}

/** `fitspec validate` in this process: exit code and what it printed. */
async function validate(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const write = (s: string | Uint8Array) => ((out += String(s)), true);
  const [o, e] = [process.stdout.write, process.stderr.write];
  process.stdout.write = write as typeof process.stdout.write;
  process.stderr.write = write as typeof process.stderr.write;
  try {
    return { code: await main(['validate', ...args]), out };
  } finally {
    [process.stdout.write, process.stderr.write] = [o, e];
  }
}

/** `fitspec validate` in a child process, for inputs that would block or exhaust the process it runs in if mishandled. */
function validateInChild(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((res) =>
    execFile(process.execPath, [join(ROOT, 'bin/fitspec.js'), 'validate', ...args], { timeout: 60_000, maxBuffer: 1 << 20 }, (e, stdout, stderr) =>
      res({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out: stdout + stderr }),
    ),
  );
}

interface Case {
  name: string;
  /** Writes the files; returns the arguments of `fitspec validate`. */
  setup: (dir: string) => string[];
  child?: boolean;
  code: string;
  /** The sentence printed (a regular expression over the output). */
  says: RegExp;
}

const cases: Case[] = [
  {
    name: '`extends` through a loop of symbolic links',
    setup: (d) => {
      symlinkSync(join(d, 'b.yaml'), join(d, 'a.yaml'));
      symlinkSync(join(d, 'a.yaml'), join(d, 'b.yaml'));
      writeFileSync(join(d, 'exp.yaml'), `extends: a.yaml\n${MINIMAL}`);
      return [join(d, 'exp.yaml')];
    },
    code: 'extends.unreadable',
    says: /exp\.yaml:1:10: error \[extends\.unreadable\] `extends` names .*a\.yaml, which is a loop of symbolic links \(chain: .*\); name a YAML file\./,
  },
  {
    name: 'an `extends` chain 3,000 files deep',
    setup: (d) => {
      writeFileSync(join(d, 'f0.yaml'), MINIMAL);
      for (let i = 1; i <= 3000; i++) writeFileSync(join(d, `f${i}.yaml`), `extends: f${i - 1}.yaml\n`);
      return [join(d, 'f3000.yaml')];
    },
    code: 'extends.too-deep',
    says: new RegExp(
      `f\\d+\\.yaml:1:10: error \\[extends\\.too-deep\\] \`extends\` chain is more than ${MAX_EXTENDS_DEPTH} files deep \\(.*f3000\\.yaml -> .*\\); a chain is a few files .*: merge some of them\\.`,
    ),
  },
  {
    name: '`extends` to a named pipe (FIFO)',
    child: true,
    setup: (d) => {
      execFileSync('mkfifo', [join(d, 'pipe.yaml')]);
      writeFileSync(join(d, 'exp.yaml'), `extends: pipe.yaml\n${MINIMAL}`);
      return [join(d, 'exp.yaml')];
    },
    code: 'extends.unreadable',
    says: /exp\.yaml:1:10: error \[extends\.unreadable\] `extends` names .*pipe\.yaml, which is a named pipe \(FIFO\), not a YAML file/,
  },
  {
    name: '`extends` to a folder',
    setup: (d) => {
      mkdirSync(join(d, 'base'));
      writeFileSync(join(d, 'exp.yaml'), `extends: base\n${MINIMAL}`);
      return [join(d, 'exp.yaml')];
    },
    code: 'extends.unreadable',
    says: /`extends` names .*base, which is a directory, not a YAML file \(chain: .*\); name a YAML file\./,
  },
  {
    name: 'a character device (/dev/zero never ends)',
    child: true,
    setup: () => ['/dev/zero'],
    code: 'config.unreadable',
    says: /\/dev\/zero: error \[config\.unreadable\] config file \/dev\/zero is a character device, not a YAML file; give the path of a YAML file\./,
  },
  {
    name: 'a folder',
    setup: (d) => [d],
    code: 'config.unreadable',
    says: /config file .* is a directory, not a YAML file; give the path of a YAML file\./,
  },
  {
    name: 'a file over the size limit',
    setup: (d) => {
      writeFileSync(join(d, 'big.yaml'), `${MINIMAL}# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
      return [join(d, 'big.yaml')];
    },
    code: 'yaml.too-large',
    says: new RegExp(`big\\.yaml: error \\[yaml\\.too-large\\] config file is ${MAX_CONFIG_BYTES + MINIMAL.length + 3} bytes; the limit is ${MAX_CONFIG_BYTES} bytes \\(1 MiB\\)`),
  },
  ...(['.inf', '-.inf', '.nan'] as const).map(
    (v): Case => ({
      name: `a learning rate of ${v}`,
      setup: (d) => {
        writeFileSync(join(d, 'exp.yaml'), `${MINIMAL}train:\n  optimizer: {name: adam, learningRate: ${v}}\n`);
        return [join(d, 'exp.yaml')];
      },
      code: 'schema.not-finite',
      says: new RegExp(
        `exp\\.yaml:9:41: error \\[schema\\.not-finite\\] \`train\\.optimizer\\.learningRate\` must be a finite number, got ${v.replace('.', '\\.')} \\((infinity|minus infinity|not a number)\\)\\.`,
      ),
    }),
  ),
  {
    name: 'a top-level `__proto__` key',
    setup: (d) => {
      writeFileSync(join(d, 'exp.yaml'), `__proto__: {polluted: true}\n${MINIMAL}`);
      return [join(d, 'exp.yaml')];
    },
    code: 'schema.unknown-key',
    says: /exp\.yaml:1:1: error \[schema\.unknown-key\] unknown key `__proto__` in `\(root\)`/,
  },
  {
    name: 'a `__proto__` key inside a section',
    setup: (d) => {
      writeFileSync(join(d, 'exp.yaml'), `${MINIMAL}train:\n  __proto__: {epochs: 1}\n`);
      return [join(d, 'exp.yaml')];
    },
    code: 'schema.unknown-key',
    says: /exp\.yaml:9:3: error \[schema\.unknown-key\] unknown key `__proto__` in `train`/,
  },
];

describe('config files that are not what fitspec expects: exit 2 and one sentence', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const args = c.setup(caseDir());
      const r = c.child ? await validateInChild(args) : await validate(args);
      expect(r.code).toBe(2);
      expect(r.out).toMatch(c.says);
      expect(r.out).toContain(`[${c.code}]`);
      expect(r.out).not.toMatch(/internal error|Maximum call stack|\bat .+:\d+:\d+\)?$/m);
    });
  }

  it('validation stays linear in the number of unknown keys (40,000 of them)', () => {
    const dir = caseDir();
    const file = (k: number) => {
      const f = join(dir, `keys-${k}.yaml`);
      writeFileSync(f, MINIMAL + Array.from({ length: k }, (_, i) => `unknown_key_${i}: ${i}\n`).join(''));
      return f;
    };
    const timed = (f: string) => {
      const t0 = performance.now();
      const problems = problemsOf(() => loadDetailed(f));
      return { ms: performance.now() - t0, problems };
    };
    timed(file(10)); // compiles the validator
    const small = timed(file(4000));
    const large = timed(file(40_000));
    expect(small.problems).toHaveLength(4000);
    expect(large.problems).toHaveLength(40_000);
    expect(large.problems[39_999]).toMatchObject({ code: 'schema.unknown-key', line: 40_007, col: 1 });
    // Ten times the keys: about ten times the time when linear, a hundred times when quadratic.
    expect(large.ms / small.ms).toBeLessThan(35);
  });
});

describe('`--set` cannot smuggle a non-finite number or a prototype key either', () => {
  it('reports what was received', () => {
    const dir = caseDir();
    writeFileSync(join(dir, 'exp.yaml'), MINIMAL);
    const [p] = problemsOf(() => loadDetailed(join(dir, 'exp.yaml'), { set: ['train.optimizer.learningRate=.nan'] }));
    expect(p).toMatchObject({
      code: 'schema.not-finite',
      message: '`train.optimizer.learningRate` must be a finite number, got .nan (not a number).',
      file: '--set train.optimizer.learningRate=.nan',
    });
    const proto = problemsOf(() => loadDetailed(join(dir, 'exp.yaml'), { set: ['__proto__.epochs=1'] }));
    expect(proto.map((x) => x.message).join('\n')).toMatch(/__proto__/);
  });
});
