import { describe, expect, it } from 'vitest';
import { FitspecError } from '../../src/errors.js';
import type { Item } from '../../src/data/sources.js';
import { partCounts, splitDigest, stratifiedSplit } from '../../src/data/split.js';

const classes = ['young', 'middle', 'old'];
const items = (perClass: number[]): Item[] =>
  perClass.flatMap((n, label) => Array.from({ length: n }, (_, i) => ({ id: `${classes[label]}/${i}.jpg`, file: `/x/${classes[label]}/${i}.jpg`, label })));
const split = (train: number, validation: number, test = 0) => ({ train, validation, test });

describe('partCounts', () => {
  it('takes counts as images per class', () => {
    expect(partCounts(split(1600, 800), 2400)).toEqual({ train: 1600, validation: 800, test: 0 });
  });
  it('turns fractions that add up to 1 into counts that use every image', () => {
    expect(partCounts(split(0.7, 0.3), 11)).toEqual({ train: 8, validation: 3, test: 0 });
    const c = partCounts(split(0.6, 0.2, 0.2), 7);
    expect(c.train + c.validation + c.test).toBe(7);
  });
  it('leaves images out when fractions add up to less than 1', () => {
    expect(partCounts(split(0.5, 0.25), 10)).toEqual({ train: 5, validation: 2, test: 0 });
  });
  it('rejects fractions above 1 in total and non-integer counts', () => {
    expect(() => partCounts(split(0.8, 0.3), 10)).toThrow(FitspecError);
    expect(() => partCounts(split(10.5, 2), 10)).toThrow(/whole number/);
  });
});

describe('stratifiedSplit', () => {
  const all = items([30, 30, 30]);

  it('gives every class the asked counts and puts no id in two parts', () => {
    const { parts } = stratifiedSplit(all, classes, split(20, 6, 4), 1, 'fail');
    for (let k = 0; k < 3; k++) {
      expect(parts.train.filter((i) => i.label === k)).toHaveLength(20);
      expect(parts.validation.filter((i) => i.label === k)).toHaveLength(6);
      expect(parts.test.filter((i) => i.label === k)).toHaveLength(4);
    }
    const ids = [...parts.train, ...parts.validation, ...parts.test].map((i) => i.id);
    expect(new Set(ids).size).toBe(90);
  });

  it('is stratified with fractions too', () => {
    const { parts } = stratifiedSplit(items([10, 20, 40]), classes, split(0.7, 0.3), 3, 'fail');
    expect([0, 1, 2].map((k) => parts.train.filter((i) => i.label === k).length)).toEqual([7, 14, 28]);
    expect([0, 1, 2].map((k) => parts.validation.filter((i) => i.label === k).length)).toEqual([3, 6, 12]);
  });

  it('gives the same split for the same seed whatever the listing order, and another for another seed', () => {
    const a = stratifiedSplit(all, classes, split(0.5, 0.5), 7, 'fail');
    const b = stratifiedSplit([...all].reverse(), classes, split(0.5, 0.5), 7, 'fail');
    const c = stratifiedSplit(all, classes, split(0.5, 0.5), 8, 'fail');
    expect(b.parts.train.map((i) => i.id)).toEqual(a.parts.train.map((i) => i.id));
    expect(c.parts.train.map((i) => i.id)).not.toEqual(a.parts.train.map((i) => i.id));
    expect(splitDigest(classes, a.parts)).toBe(splitDigest(classes, b.parts));
    expect(splitDigest(classes, a.parts)).not.toBe(splitDigest(classes, c.parts));
    expect(splitDigest(classes, a.parts)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('stops when a class has fewer images than asked, naming the class', () => {
    try {
      stratifiedSplit(items([30, 30, 25]), classes, split(20, 6), 1, 'fail');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FitspecError);
      expect((e as FitspecError).code).toBe('data.too-few-images');
      expect((e as FitspecError).message).toMatch(/Class old has 25 usable images but the split asks for 26/);
    }
  });

  it("with onError skip gives the last part what is left, like the notebook's 796 validation images", () => {
    const { parts, shortfalls } = stratifiedSplit(items([30, 30, 25]), classes, split(20, 6), 1, 'skip');
    expect(parts.train.filter((i) => i.label === 2)).toHaveLength(20);
    expect(parts.validation.filter((i) => i.label === 2)).toHaveLength(5);
    expect(shortfalls).toHaveLength(1);
    expect(shortfalls[0]!.cls).toBe('old');
  });
});
