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

  it('user mistakes exit 2 with a message, not a stack', async () => {
    const c = capture();
    const code = await main(['data', 'synth', '--out', join(dir, 'x'), '--layout', 'folders']);
    c.restore();
    expect(code).toBe(2);
    expect(c.err.join('')).toContain('--layout must be csv or directory');
    expect(c.err.join('')).not.toContain('    at ');
  });
});
