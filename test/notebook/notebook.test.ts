import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/model/io.js';
import { BIN, cliUntil, isPng, tmpDir } from '../train/helpers.js';

/** `npm run notebook` at the smallest scale: the quick files cut to 1 epoch on a few images, in a fresh folder. */
const notebook = (cwd: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, 'notebook', '--scale', 'tiny', '--no-progress', ...args], { cwd, encoding: 'utf8', timeout: 900_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
};

let cwd: string;
let first: { code: number; out: string };
beforeAll(async () => {
  await tf.setBackend('cpu');
  cwd = tmpDir('notebook');
  first = notebook(cwd);
}, 900_000);
afterAll(() => fs.rmSync(cwd, { recursive: true, force: true }));

const weightOf = async (location: string, layer: string) => {
  const m = await loadModel(location);
  const find = (ls: tf.layers.Layer[]): tf.layers.Layer | undefined => {
    for (const l of ls) {
      if (l.name === layer) return l;
      if (l instanceof tf.LayersModel) {
        const inner = find(l.layers);
        if (inner) return inner;
      }
    }
    return undefined;
  };
  const values = Array.from(find(m.layers)!.getWeights()[0]!.dataSync());
  m.dispose();
  return values;
};

const runOf = (name: string) => {
  const dir = path.join(cwd, 'runs', name);
  const runs = fs.readdirSync(dir);
  expect(runs).toHaveLength(1);
  return path.join(dir, runs[0]!);
};

describe('fitspec notebook --scale tiny', () => {
  it('generates both data sets, trains every step and writes the table and the curves', () => {
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain('generating the stand-in data: fitspec data synth --out data/faces-tiny --per-class 6 --layout csv --seed 2024');
    expect(first.out).toContain('--profile identities');
    const md = fs.readFileSync(path.join(cwd, 'runs/notebook/tiny/notebook.md'), 'utf8');
    const rows = md.split('\n').filter((l) => /^\| 0\d/.test(l));
    expect(rows.map((r) => r.split('|')[1]!.trim().split(' ')[0])).toEqual(['01', '02', '03', '04', '05', '04s', '04b', '05b', '06']);
    for (const r of rows) expect(r, r).toMatch(/\| \d+\.\d% \(\d+\) \| \d+ \| \d+\.\d% \/ \d+\.\d% \| [+-]\d+\.\d pt \|/);
    expect(md).not.toContain('not run yet');
    expect(md).toMatch(/Pretraining \(`experiments\/quick\/pretrain-mobilenet-mini-identities.yaml`.*best val_accuracy \d+\.\d%/);
    expect(md).toContain('| 68%; training accuracy towards 90%');
    expect(md).toMatch(/Machine: \d+ x .*Load average/);
    expect(isPng(path.join(cwd, 'runs/notebook/tiny/validation_curves.png'))).toBe(true);
    const json = JSON.parse(fs.readFileSync(path.join(cwd, 'runs/notebook/tiny/notebook.json'), 'utf8')) as { step: string; how: string }[];
    expect(json.map((s) => s.how)).toEqual(Array(10).fill('trained'));
    // Every step, the residual 06 and the pretraining included, on the graph engine.
    expect(first.out.match(/^engine: graph$/gm)).toHaveLength(10);
    expect(first.out).not.toMatch(/^engine: eager$/m);
  }, 600_000);

  it('the pretrained base is exported and loaded by 04b (frozen: its weights are the pretrained ones), not by 04s', async () => {
    const exported = path.join(cwd, 'models/pretrained/tiny-quick-mobilenet-mini-identities');
    const source = JSON.parse(fs.readFileSync(path.join(exported, 'source.json'), 'utf8')) as { runDir: string };
    expect(path.resolve(source.runDir)).toBe(path.resolve(runOf('quick-pretrain-mobilenet-mini-identities')));
    const pretrained = await weightOf(exported, 'conv_pw_7');
    expect(await weightOf(path.join(runOf('quick-pretrain-mobilenet-mini-identities'), 'model'), 'conv_pw_7')).toEqual(pretrained);
    expect(await weightOf(path.join(runOf('quick-04b-mobilenet-pretrained-frozen'), 'model'), 'conv_pw_7')).toEqual(pretrained);
    expect(await weightOf(path.join(runOf('quick-04s-mobilenet-scratch'), 'model'), 'conv_pw_7')).not.toEqual(pretrained);
  }, 600_000);

  it('a second call finds every finished run by its config hash and trains nothing', () => {
    const again = notebook(cwd);
    expect(again.code, again.out).toBe(0);
    expect(again.out).not.toContain('== step');
    expect(again.out.match(/^step \S+: reusing runs\//gm)).toHaveLength(10);
    const json = JSON.parse(fs.readFileSync(path.join(cwd, 'runs/notebook/tiny/notebook.json'), 'utf8')) as { how: string }[];
    expect(json.map((s) => s.how)).toEqual(Array(10).fill('reused'));
  }, 600_000);

  it('a changed config is trained again; steps depending on new pretrained weights are retrained too', () => {
    // New pretraining weights (a run of the same config, newer): 04b and 05b must not reuse runs that loaded the old ones.
    const src = path.join(cwd, 'models/pretrained/tiny-quick-mobilenet-mini-identities/source.json');
    const s = JSON.parse(fs.readFileSync(src, 'utf8'));
    fs.writeFileSync(src, JSON.stringify({ ...s, runDir: '/elsewhere', exportedAt: Date.now() }));
    const r = notebook(cwd, '--only', '04b');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('exported the pretrained model');
    expect(r.out).toMatch(/== step 04b/);
    expect(r.out).not.toMatch(/== step (01|02|03|04|05|04s|pretrain)\b/);
    // 05b was not asked for: listed as not run yet rather than reusing a run on the old weights.
    expect(fs.readFileSync(path.join(cwd, 'runs/notebook/tiny/notebook.md'), 'utf8')).toMatch(/\| 05b .* not run yet/);
  }, 600_000);

  it('Ctrl-C stops the command after the current step; the next call resumes that run from its checkpoint', async () => {
    const args = ['notebook', '--scale', 'tiny', '--no-progress', '--runs-dir', 'runs-resume', '--only', '05'];
    // Step 05 has two phases of one epoch: interrupted after the first.
    const { child, matched, exited, output } = cliUntil(args, cwd, /epoch 1\/2 \(head\)/);
    await matched;
    child.kill('SIGINT');
    expect(await exited, output()).toBe(130);
    expect(output()).toMatch(/step 05 stopped \(KILLED\); run the same command again to continue it/);
    const runDir = path.join(cwd, 'runs-resume', 'quick-05-vgg16-finetune');
    const [id] = fs.readdirSync(runDir);
    expect(JSON.parse(fs.readFileSync(path.join(runDir, id!, 'run.json'), 'utf8')).status).toBe('KILLED');

    const again = notebook(cwd, '--runs-dir', 'runs-resume', '--only', '05');
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain(`resuming ${path.join('runs-resume', 'quick-05-vgg16-finetune', id!)}`);
    expect(fs.readdirSync(runDir)).toEqual([id]);
    const summary = JSON.parse(fs.readFileSync(path.join(runDir, id!, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('FINISHED');
    expect(summary.epochs).toBe(2);
  }, 600_000);
});
