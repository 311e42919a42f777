import { readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareData, writeSplit } from '../../src/data/index.js';
import { dataConfig, failure, makeCsvDataset, makeDirectoryDataset, tempDir, writeImage } from './fixtures.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const dirSource = () => ({ type: 'directory' as const, path: join(dir, 'faces') });
const csvSource = () => ({ type: 'csv' as const, images: join(dir, 'Train'), labels: join(dir, 'train.csv'), idColumn: 'ID', labelColumn: 'Class' });

/** A real JPEG cut in half: decoders see a premature end of data. */
async function truncatedJpeg(file: string): Promise<void> {
  const noise = Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 251));
  const full = await sharp(noise, { raw: { width: 64, height: 64, channels: 3 } })
    .jpeg({ quality: 95 })
    .toBuffer();
  writeFileSync(file, full.subarray(0, Math.floor(full.length / 2)));
}

describe('directory source', () => {
  it('discovers sorted classes, splits per class and decodes to the configured shape', async () => {
    await makeDirectoryDataset(join(dir, 'faces'), ['young', 'old', 'middle'], 4);
    const d = await prepareData(dataConfig({ source: dirSource() }), 1);
    expect(d.classes).toEqual(['middle', 'old', 'young']);
    expect(d.profile).toEqual({ train: { middle: 2, old: 2, young: 2 }, validation: { middle: 2, old: 2, young: 2 } });
    expect(d.parts.test).toBeUndefined();
    expect(d.parts.train.ids.every((id, i) => id.startsWith(d.classes[d.parts.train.labels[i]!]! + '/'))).toBe(true);
    expect(d.source).toEqual({ type: 'directory', location: join(dir, 'faces') });
    expect(d.image).toEqual({ height: 6, width: 8, channels: 3 });
    expect(d.skipped).toEqual([]);

    writeSplit(d, join(dir, 'split'));
    const train = readFileSync(join(dir, 'split', 'train.txt'), 'utf8')
      .trim()
      .split('\n');
    const val = readFileSync(join(dir, 'split', 'validation.txt'), 'utf8')
      .trim()
      .split('\n');
    expect(train).toEqual(d.parts.train.ids);
    expect(val.filter((id) => train.includes(id))).toEqual([]);
    expect(existsSync(join(dir, 'split', 'test.txt'))).toBe(false);
  });

  it('keeps an explicit class order (it fixes the one-hot index)', async () => {
    await makeDirectoryDataset(join(dir, 'faces'), ['young', 'middle', 'old'], 2);
    const d = await prepareData(dataConfig({ source: dirSource(), classes: ['young', 'middle', 'old'] }), 1);
    expect(d.classes).toEqual(['young', 'middle', 'old']);
    expect(d.parts.train.labels.map((l, i) => d.parts.train.ids[i]!.startsWith(d.classes[l]!))).not.toContain(false);
  });

  it('same seed same split, other seed other split', async () => {
    await makeDirectoryDataset(join(dir, 'faces'), ['a', 'b'], 12);
    const cfg = dataConfig({ source: dirSource() });
    const [x, y, z] = [await prepareData(cfg, 5), await prepareData(cfg, 5), await prepareData(cfg, 6)];
    expect(y.parts.train.ids).toEqual(x.parts.train.ids);
    expect(y.splitDigest).toBe(x.splitDigest);
    expect(z.splitDigest).not.toBe(x.splitDigest);
  });
});

describe('csv source', () => {
  it('reads Train/<ID> + train.csv like the notebook, ids with or without extension, labels in any case', async () => {
    await makeCsvDataset(dir, ['YOUNG', 'MIDDLE', 'OLD'], 4, false);
    const d = await prepareData(dataConfig({ source: csvSource(), classes: ['young', 'middle', 'old'], split: { train: 3, validation: 1 } }), 1);
    expect(d.classes).toEqual(['young', 'middle', 'old']);
    expect(d.profile.train).toEqual({ young: 3, middle: 3, old: 3 });
    expect(d.parts.train.files.every((f) => f.endsWith('.jpg'))).toBe(true);
    expect(d.source.type).toBe('csv');

    const withExt = tempDir();
    await makeCsvDataset(withExt.dir, ['YOUNG', 'OLD'], 2, true);
    const e = await prepareData(dataConfig({ source: { ...csvSource(), images: join(withExt.dir, 'Train'), labels: join(withExt.dir, 'train.csv') } }), 1);
    expect(e.classes).toEqual(['OLD', 'YOUNG']);
    expect(e.parts.train.ids[0]).toMatch(/^\d+\.jpg$/);
    withExt.cleanup();
  });

  it('honours custom id and label columns', async () => {
    await makeCsvDataset(dir, ['a', 'b'], 2);
    writeFileSync(join(dir, 'train.csv'), readFileSync(join(dir, 'train.csv'), 'utf8').replace('ID,Class', 'file,age'));
    const d = await prepareData(dataConfig({ source: { ...csvSource(), idColumn: 'file', labelColumn: 'age' } }), 1);
    expect(d.classes).toEqual(['a', 'b']);
    const e = await failure(prepareData(dataConfig({ source: csvSource() }), 1));
    expect(e.code).toBe('data.csv-column');
  });
});

describe('bad input', () => {
  const cases: { name: string; code: string; setup: () => Promise<string>; source: () => object; classes?: string[] }[] = [
    {
      name: 'unreadable image',
      code: 'data.unreadable-image',
      source: dirSource,
      setup: async () => {
        const f = join(dir, 'faces', 'b', 'broken.jpg');
        writeFileSync(f, 'this is not a jpeg');
        return f;
      },
    },
    {
      name: 'truncated image',
      code: 'data.unreadable-image',
      source: dirSource,
      setup: async () => {
        const f = join(dir, 'faces', 'a', 'cut.jpg');
        await truncatedJpeg(f);
        return f;
      },
    },
    {
      name: 'zero-byte file',
      code: 'data.empty-file',
      source: dirSource,
      setup: async () => {
        const f = join(dir, 'faces', 'a', 'empty.png');
        writeFileSync(f, '');
        return f;
      },
    },
    {
      name: 'non-image file in a class folder',
      code: 'data.not-an-image',
      source: dirSource,
      setup: async () => {
        const f = join(dir, 'faces', 'b', 'notes.txt');
        writeFileSync(f, 'hello');
        return f;
      },
    },
    {
      name: 'CSV row whose image is missing',
      code: 'data.missing-image',
      source: csvSource,
      setup: async () => {
        writeFileSync(join(dir, 'train.csv'), readFileSync(join(dir, 'train.csv'), 'utf8') + '999.jpg,a\n');
        return '999.jpg';
      },
    },
    {
      name: 'unknown class label',
      code: 'data.unknown-label',
      source: csvSource,
      classes: ['a', 'b'],
      setup: async () => {
        await writeImage(join(dir, 'Train', '998.jpg'), 3, 'jpeg');
        writeFileSync(join(dir, 'train.csv'), readFileSync(join(dir, 'train.csv'), 'utf8') + '998.jpg,c\n');
        return 'train.csv';
      },
    },
    {
      name: 'duplicate ID',
      code: 'data.duplicate-id',
      source: csvSource,
      setup: async () => {
        writeFileSync(join(dir, 'train.csv'), readFileSync(join(dir, 'train.csv'), 'utf8') + '100.jpg,b\n');
        return 'train.csv';
      },
    },
  ];

  for (const c of cases) {
    it(`${c.name}: fail stops naming the file, skip lists it`, async () => {
      if (c.source === csvSource) await makeCsvDataset(dir, ['a', 'b'], 4);
      else await makeDirectoryDataset(join(dir, 'faces'), ['a', 'b'], 4);
      const needle = await c.setup();
      const cfg = (onError: 'fail' | 'skip') => dataConfig({ source: c.source() as never, classes: c.classes, onError });

      const e = await failure(prepareData(cfg('fail'), 1));
      expect(e.problems.map((p) => p.code)).toContain(c.code);
      const p = e.problems.find((q) => q.code === c.code)!;
      expect(`${p.file} ${p.message}`).toContain(needle);
      expect(p.message.length).toBeGreaterThan(20);

      const d = await prepareData(cfg('skip'), 1);
      expect(d.skipped).toHaveLength(1);
      expect(`${d.skipped[0]!.file} ${d.skipped[0]!.reason}`).toContain(needle);
      const all = [...d.parts.train.files, ...(d.parts.validation?.files ?? [])];
      expect(all).toHaveLength(8);
    });
  }

  it('a class folder with no images always stops', async () => {
    await makeDirectoryDataset(join(dir, 'faces'), ['a', 'b'], 2);
    mkdirSync(join(dir, 'faces', 'c'));
    writeFileSync(join(dir, 'faces', 'c', 'readme.md'), '#');
    for (const onError of ['fail', 'skip'] as const) {
      const e = await failure(prepareData(dataConfig({ source: dirSource(), onError }), 1));
      expect(e.code).toBe('data.empty-class');
      expect(e.problems[0]!.file).toBe(join(dir, 'faces', 'c'));
    }
  });

  it('a class whose every image is unusable stops even with skip', async () => {
    await makeDirectoryDataset(join(dir, 'faces'), ['a'], 2);
    mkdirSync(join(dir, 'faces', 'b'));
    writeFileSync(join(dir, 'faces', 'b', 'x.jpg'), 'nope');
    const e = await failure(prepareData(dataConfig({ source: dirSource(), onError: 'skip' }), 1));
    expect(e.code).toBe('data.empty-class');
  });

  it('a missing data folder, images folder or labels file always stops', async () => {
    for (const onError of ['fail', 'skip'] as const) {
      const e = await failure(prepareData(dataConfig({ source: dirSource(), onError }), 1));
      expect(e.code).toBe('data.missing-folder');
      expect(e.problems[0]!.file).toBe(join(dir, 'faces'));
    }
    expect((await failure(prepareData(dataConfig({ source: csvSource() }), 1))).code).toBe('data.missing-folder');
    mkdirSync(join(dir, 'Train'));
    expect((await failure(prepareData(dataConfig({ source: csvSource() }), 1))).code).toBe('data.missing-file');
    expect((await failure(prepareData(dataConfig({ source: { type: 'directory' } }), 1))).code).toBe('data.missing-path');
  });

  it('a missing class folder named in `classes` stops', async () => {
    await makeDirectoryDataset(join(dir, 'faces'), ['a', 'b'], 2);
    const e = await failure(prepareData(dataConfig({ source: dirSource(), classes: ['a', 'b', 'c'] }), 1));
    expect(e.code).toBe('data.missing-class-folder');
    expect(e.message).toContain('"c"');
  });

  it('fewer images than the split asks: fail names the class, skip gives what is left', async () => {
    await makeDirectoryDataset(join(dir, 'faces'), ['a', 'b'], 5);
    rmSync(join(dir, 'faces', 'b', 'b_000.png'));
    const cfg = (onError: 'fail' | 'skip') => dataConfig({ source: dirSource(), onError, split: { train: 3, validation: 2 } });
    const e = await failure(prepareData(cfg('fail'), 1));
    expect(e.code).toBe('data.too-few-images');
    expect(e.message).toContain('Class b has 4');
    const d = await prepareData(cfg('skip'), 1);
    expect(d.profile.validation).toEqual({ a: 2, b: 1 });
    expect(d.skipped[0]!.reason).toContain('class b has 4');
  });

  it('lists every problem at once (several bad files, one error)', async () => {
    await makeDirectoryDataset(join(dir, 'faces'), ['a', 'b'], 3);
    writeFileSync(join(dir, 'faces', 'a', 'x.jpg'), 'bad');
    writeFileSync(join(dir, 'faces', 'b', 'y.png'), '');
    const e = await failure(prepareData(dataConfig({ source: dirSource() }), 1));
    expect(e.problems.map((p) => p.code).sort()).toEqual(['data.empty-file', 'data.unreadable-image']);
    expect(e.problems.at(-1)!.hint).toContain('onError: skip');
  });
});
