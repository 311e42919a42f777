import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareData, synthesize } from '../../src/data/index.js';
import { ageFor } from '../../src/data/synth/index.js';
import { drawFace, drawPersona } from '../../src/data/synth/face.js';
import { Rng } from '../../src/data/random.js';
import { FitspecError } from '../../src/errors.js';
import { dataConfig, tempDir } from './fixtures.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir('fitspec-synth-')));
afterAll(() => cleanup());

const files = (root: string): Map<string, Buffer> => {
  const out = new Map<string, Buffer>();
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
      else out.set(rel + e.name, readFileSync(join(d, e.name)));
    }
  };
  walk(root, '');
  return out;
};

describe('synthesize', () => {
  it('csv layout: Train/<id>.jpg and train.csv with ID,Class and YOUNG/MIDDLE/OLD, like the notebook', async () => {
    const r = await synthesize({ out: join(dir, 'csv'), perClass: 4, layout: 'csv', seed: 7 });
    expect(r.count).toBe(12);
    const csv = readFileSync(join(dir, 'csv', 'train.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe('ID,Class');
    const rows = csv.slice(1).map((l) => l.split(','));
    expect(rows).toHaveLength(12);
    expect(rows.filter((r) => r[1] === 'YOUNG')).toHaveLength(4);
    expect(rows.filter((r) => r[1] === 'MIDDLE')).toHaveLength(4);
    expect(rows.filter((r) => r[1] === 'OLD')).toHaveLength(4);
    expect(new Set(rows.map((r) => r[0])).size).toBe(12);
    expect(readdirSync(join(dir, 'csv', 'Train')).sort()).toEqual(rows.map((r) => r[0]).sort());
    const sizes = await Promise.all(rows.map(async (r) => sharp(join(dir, 'csv', 'Train', r[0]!)).metadata()));
    for (const m of sizes) {
      expect(m.format).toBe('jpeg');
      expect(m.width).toBeGreaterThanOrEqual(40);
      expect(m.width).toBeLessThanOrEqual(160);
      expect(m.height).toBeGreaterThanOrEqual(40);
      expect(m.height).toBeLessThanOrEqual(170);
    }
    expect(new Set(sizes.map((m) => `${m.width}x${m.height}`)).size).toBeGreaterThan(6);

    const d = await prepareData(
      dataConfig({
        source: { type: 'csv', images: join(dir, 'csv', 'Train'), labels: join(dir, 'csv', 'train.csv'), idColumn: 'ID', labelColumn: 'Class' },
        classes: ['YOUNG', 'MIDDLE', 'OLD'],
        split: { train: 3, validation: 1 },
      }),
      1,
    );
    expect(d.profile.train).toEqual({ YOUNG: 3, MIDDLE: 3, OLD: 3 });
  });

  it('directory layout: young/middle/old folders that the directory source reads', async () => {
    await synthesize({ out: join(dir, 'dir'), perClass: 3, layout: 'directory', seed: 7 });
    expect(readdirSync(join(dir, 'dir')).sort()).toEqual(['middle', 'old', 'young']);
    const d = await prepareData(dataConfig({ source: { type: 'directory', path: join(dir, 'dir') }, split: { train: 2, validation: 1 } }), 1);
    expect(d.classes).toEqual(['middle', 'old', 'young']);
    expect(d.skipped).toEqual([]);
  });

  it('is deterministic: the same seed writes byte-identical files, another seed other files', async () => {
    await synthesize({ out: join(dir, 'a'), perClass: 3, layout: 'csv', seed: 11 });
    await synthesize({ out: join(dir, 'b'), perClass: 3, layout: 'csv', seed: 11 });
    await synthesize({ out: join(dir, 'c'), perClass: 3, layout: 'csv', seed: 12 });
    const [a, b, c] = [files(join(dir, 'a')), files(join(dir, 'b')), files(join(dir, 'c'))];
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) expect(v.equals(b.get(k)!), k).toBe(true);
    expect(a.get('train.csv')!.equals(c.get('train.csv')!)).toBe(false);
  });

  it('custom classes: CSV keeps the spelling, folders are lowercase', async () => {
    await synthesize({ out: join(dir, 'four'), perClass: 1, layout: 'directory', seed: 1, classes: ['Kid', 'Teen', 'Adult', 'Senior'] });
    expect(readdirSync(join(dir, 'four')).sort()).toEqual(['adult', 'kid', 'senior', 'teen']);
  });

  it('refuses to write into a non-empty folder and rejects bad counts', async () => {
    writeFileSync(join(dir, 'taken.txt'), 'x');
    await expect(synthesize({ out: dir, perClass: 1, layout: 'csv', seed: 1 })).rejects.toThrow(FitspecError);
    await expect(synthesize({ out: join(dir, 'zero'), perClass: 0, layout: 'csv', seed: 1 })).rejects.toThrow(/per-class/);
  });

  it('hidden ages overlap between neighbouring classes but are ordered on average', () => {
    const r = Rng.from(5);
    const ages = [0, 1, 2].map((k) => Array.from({ length: 2000 }, () => ageFor(r, k, 3, 0.04)));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(ages[0]!)).toBeLessThan(mean(ages[1]!));
    expect(mean(ages[1]!)).toBeLessThan(mean(ages[2]!));
    expect(Math.max(...ages[0]!)).toBeGreaterThan(Math.min(...ages[1]!));
    expect(Math.max(...ages[1]!)).toBeGreaterThan(Math.min(...ages[2]!));
  });

  it('the default profile draws exactly the faces it drew before the profiles existed (pinned digest of 60 SVGs)', () => {
    const h = createHash('sha256');
    for (let i = 0; i < 60; i++) {
      const r = Rng.from(2024, 'face', i);
      h.update(drawFace(r, ageFor(r, i % 3, 3, 0.03)).svg);
    }
    expect(h.digest('hex')).toBe('3822b3f061fba970e54eb2d150c9f02e763cdad36f4ce6dec831daa5adbd1748');
  });

  it('--profile default writes the same bytes as no profile', async () => {
    await synthesize({ out: join(dir, 'p0'), perClass: 2, layout: 'csv', seed: 5 });
    await synthesize({ out: join(dir, 'p1'), perClass: 2, layout: 'csv', seed: 5, profile: 'default' });
    const [a, b] = [files(join(dir, 'p0')), files(join(dir, 'p1'))];
    for (const [k, v] of a) expect(v.equals(b.get(k)!), k).toBe(true);
  });

  it('film-stills: deterministic per seed, and different images from the default profile', async () => {
    await synthesize({ out: join(dir, 'fs1'), perClass: 3, layout: 'csv', seed: 9, profile: 'film-stills' });
    await synthesize({ out: join(dir, 'fs2'), perClass: 3, layout: 'csv', seed: 9, profile: 'film-stills' });
    await synthesize({ out: join(dir, 'fs0'), perClass: 3, layout: 'csv', seed: 9 });
    const [a, b, c] = [files(join(dir, 'fs1')), files(join(dir, 'fs2')), files(join(dir, 'fs0'))];
    for (const [k, v] of a) expect(v.equals(b.get(k)!), k).toBe(true);
    expect(a.get('train.csv')!.equals(c.get('train.csv')!)).toBe(true);
    const jpgs = [...a.keys()].filter((k) => k.endsWith('.jpg'));
    expect(jpgs.filter((k) => a.get(k)!.equals(c.get(k)!))).toEqual([]);
  });

  it('identities: one class per person, every person at every age; a person looks alike across images', async () => {
    await synthesize({ out: join(dir, 'ids'), perClass: 2, layout: 'directory', seed: 4, profile: 'identities', identities: 5 });
    expect(readdirSync(join(dir, 'ids')).sort()).toEqual(['p000', 'p001', 'p002', 'p003', 'p004']);
    // The face outline is filled with the person's skin colour, whatever the age and the nuisances.
    const hexOf = (c: number[]) => '#' + c.map((v) => Math.round(v).toString(16).padStart(2, '0')).join('');
    const [p, q] = [drawPersona(Rng.from(1, 'persona', 0)), drawPersona(Rng.from(1, 'persona', 1))];
    const outline = (svg: string) => /Z" fill="(#[0-9a-f]{6})"/.exec(svg)![1];
    expect(outline(drawFace(Rng.from(1, 'face', 0), 0.1, p).svg)).toBe(hexOf(p.skin));
    expect(outline(drawFace(Rng.from(1, 'face', 1), 0.9, p).svg)).toBe(hexOf(p.skin));
    expect(outline(drawFace(Rng.from(1, 'face', 2), 0.5, q).svg)).toBe(hexOf(q.skin));
    expect(hexOf(p.skin)).not.toBe(hexOf(q.skin));
  });

  it('rejects unknown profiles and named classes for the identity task', async () => {
    await expect(synthesize({ out: join(dir, 'x1'), perClass: 1, layout: 'csv', seed: 1, profile: 'nope' })).rejects.toThrow(/Unknown data profile/);
    await expect(synthesize({ out: join(dir, 'x2'), perClass: 1, layout: 'csv', seed: 1, profile: 'identities', classes: ['A', 'B'] })).rejects.toThrow(/labels images by person/);
  });
});
