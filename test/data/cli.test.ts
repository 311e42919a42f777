import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { tempDir } from './fixtures.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir('fitspec-data-cli-')));
afterAll(() => cleanup());

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  return { out, err, restore: () => (o.mockRestore(), e.mockRestore()) };
}

describe('fitspec data', () => {
  it('synth writes the notebook layout and reports images/s; check reads it back', async () => {
    const c = capture();
    const code = await main(['data', 'synth', '--out', join(dir, 'faces'), '--per-class', '3', '--seed', '5']);
    c.restore();
    expect(code).toBe(0);
    expect(c.out.join('')).toMatch(/wrote 9 images to .* \(\d+ images\/s\)/);
    expect(readFileSync(join(dir, 'faces', 'train.csv'), 'utf8').split('\n')[0]).toBe('ID,Class');

    const yaml = join(dir, 'exp.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      yaml,
      [
        'name: check',
        'data:',
        '  source: {type: csv, images: ' + join(dir, 'faces', 'Train') + ', labels: ' + join(dir, 'faces', 'train.csv') + '}',
        '  classes: [young, middle, old]',
        '  image: {height: 16, width: 16}',
        '  split: {train: 2, validation: 1}',
        'model:',
        '  layers:',
        '    - flatten: {}',
        '    - dense: {units: 3, activation: softmax}',
        '',
      ].join('\n'),
    );
    const d = capture();
    const code2 = await main(['data', 'check', yaml, '--split-dir', join(dir, 'split')]);
    d.restore();
    expect(d.err.join('')).not.toMatch(/error/);
    expect(code2).toBe(0);
    expect(d.out.join('')).toMatch(/train\s+young 2, middle 2, old 2/);
    expect(existsSync(join(dir, 'split', 'validation.txt'))).toBe(true);
  });

  it('a pinned memory cache larger than data.memoryBudget exits 2 before decoding; auto switches to disk with one warning', async () => {
    const { writeFileSync } = await import('node:fs');
    const faces = join(dir, 'faces-budget');
    expect(await main(['data', 'synth', '--out', faces, '--per-class', '4', '--seed', '5', '--layout', 'directory'])).toBe(0);
    const yaml = (cache: string) => {
      const f = join(dir, `budget-${cache}.yaml`);
      writeFileSync(
        f,
        [
          'name: budget',
          'data:',
          `  source: {type: directory, path: ${faces}}`,
          '  image: {height: 32, width: 32}',
          '  split: {train: 2, validation: 2}',
          `  cache: ${cache}`,
          '  memoryBudget: 0.01',
          'model:',
          '  layers:',
          '    - flatten: {}',
          '    - dense: {units: 3, activation: softmax}',
          '',
        ].join('\n'),
      );
      return f;
    };
    const old = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = join(dir, 'xdg');
    try {
      const pinned = capture();
      const code = await main(['data', 'check', yaml('memory')]);
      pinned.restore();
      expect(code).toBe(2);
      const err = pinned.err.join('');
      expect(err).toContain('[data.cache-memory]');
      expect(err).toMatch(/12 decoded images at 32x32x3 need 36 KB, more than data.memoryBudget \(10 KB\)/);
      expect(err).not.toContain('    at ');

      const auto = capture();
      const code2 = await main(['data', 'check', yaml('auto')]);
      auto.restore();
      expect(code2).toBe(0);
      const all = auto.out.join('') + auto.err.join('');
      expect(all.match(/warning: data: .*caching them on disk instead/g)).toHaveLength(1);
      expect(all).toMatch(/\(cache: disk\)/);
    } finally {
      if (old === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = old;
    }
  });

  it('user mistakes exit 2 with a message, not a stack', async () => {
    const c = capture();
    const code = await main(['data', 'synth', '--out', join(dir, 'x'), '--layout', 'folders']);
    c.restore();
    expect(code).toBe(2);
    expect(c.err.join('')).toContain('--layout must be csv or directory');
    expect(c.err.join('')).not.toContain('    at ');
  });

  it('synth --profile identities --identities N: one folder per person; an unknown profile exits 2 naming the profiles', async () => {
    const c = capture();
    const code = await main(['data', 'synth', '--out', join(dir, 'persons'), '--per-class', '2', '--layout', 'directory', '--profile', 'identities', '--identities', '3']);
    const bad = await main(['data', 'synth', '--out', join(dir, 'y'), '--profile', 'hard']);
    c.restore();
    expect(code).toBe(0);
    expect(c.out.join('')).toMatch(/wrote 6 images/);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(join(dir, 'persons')).sort()).toEqual(['p000', 'p001', 'p002']);
    expect(bad).toBe(2);
    expect(c.err.join('')).toMatch(/Unknown data profile `hard`; the profiles are default, film-stills, identities/);
  });
});
