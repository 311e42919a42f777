import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTensorFlowNoise, noiseFilter } from '../../src/cli/quiet.js';
import { cli, cliUntil, synth, tinyExperiment, tmpDir } from '../train/helpers.js';

/** What TensorFlow 2.21 prints while it loads, as seen on an AVX-512 machine. */
const NOISE = [
  'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR',
  'I0000 00:00:1796120006.056381    9591 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.',
  'I0000 00:00:1796120006.147196    9591 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.',
  'To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.',
  'I1201 10:41:16.392332    4770 some_file.cc:12] any other info line',
];
const KEPT = [
  'backend: tensorflow (native TensorFlow 2.21.0)',
  'WARNING: the pure-JS backend is slow',
  'W0000 00:00:1796120006.1 x.cc:1] a real TensorFlow warning',
  'Important: 1 thing',
  'I love this',
  'error [data.missing-folder] ...',
];

describe('the stderr filter', () => {
  it.each(NOISE)('drops %s', (line) => expect(isTensorFlowNoise(line)).toBe(true));
  it.each(KEPT)('keeps %s', (line) => expect(isTensorFlowNoise(line)).toBe(false));

  it('filters line by line across chunk boundaries, passing other partial lines on at once', () => {
    let out = '';
    const f = noiseFilter((s) => (out += s));
    const text = `${NOISE[0]}\nfirst\n${NOISE[1]}\n${NOISE[2]}\n${NOISE[3]}\nsecond\n`;
    for (let i = 0; i < text.length; i += 7) f.push(text.slice(i, i + 7));
    expect(out).toBe('first\nsecond\n');
    f.push('a prompt without newline: ');
    expect(out).toBe('first\nsecond\na prompt without newline: ');
    f.push('I0000 00:00:1.2 77 x.cc:1] half');
    f.end();
    expect(out).toBe('first\nsecond\na prompt without newline: ');
  });
});

describe('commands that load TensorFlow', () => {
  const dir = tmpDir('quiet');
  const data = path.join(dir, 'data');
  beforeAll(() => synth(data, 12));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env = { TF_CPP_MIN_LOG_LEVEL: undefined as unknown as string };

  it('print none of its start-up lines by default, all of them with --verbose or a level of the user', () => {
    const quiet = cli(['doctor'], dir, env);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toMatch(/TensorFlow 2\.\d+/);
    expect(quiet.stderr).not.toMatch(/absl::InitializeLog|oneDNN|cpu_feature_guard|port\.cc/);
    // The lines exist: at log level 0 TensorFlow prints at least the CPU-feature line on x86.
    const verbose = cli(['--verbose', 'doctor'], dir, env);
    expect(verbose.code).toBe(0);
    expect(verbose.stderr).toMatch(/absl::InitializeLog/);
    expect(cli(['doctor'], dir, { TF_CPP_MIN_LOG_LEVEL: '0' }).stderr).toMatch(/absl::InitializeLog/);
  });

  it('train: quiet stderr, user errors still shown, and a SIGKILL of the command stops the training process too', async () => {
    const file = tinyExperiment(dir, data);
    const r = cli(['train', file, '--no-progress'], dir, env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const bad = cli(['train', file, '--no-progress', '--set', 'data.source.path=nowhere'], dir, env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('[data.missing-folder]');

    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('epochs: 2', 'epochs: 500'));
    const p = cliUntil(['train', file, '--no-progress'], dir, /epoch 1\/500:/, env);
    await p.matched;
    const children = fs
      .readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(p.child.pid);
        } catch {
          return false;
        }
      })
      .map(Number);
    expect(children).toHaveLength(1);
    p.child.kill('SIGKILL');
    await p.exited;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(children[0]!); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(children[0]!)).toBe(false);
  });
});
