import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore, cacheRoot, decodeImage } from '../../src/data/decode.js';
import { tempDir, writeImage } from './fixtures.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir('fitspec-cache-')));
afterAll(() => cleanup());

describe('decoding and the image cache', () => {
  it('decodes to the requested size and channels with each resize mode', async () => {
    const f = join(dir, 'wide.png');
    await writeImage(f, 0, 'png', [20, 10]);
    for (const resize of ['stretch', 'fit', 'cover'] as const) {
      const px = await decodeImage(f, { height: 8, width: 8, channels: 3, resize });
      expect(px.length).toBe(8 * 8 * 3);
    }
    // `fit` pads a wide image top and bottom with black; `stretch` does not.
    const fit = await decodeImage(f, { height: 8, width: 8, channels: 3, resize: 'fit' });
    const stretch = await decodeImage(f, { height: 8, width: 8, channels: 3, resize: 'stretch' });
    expect([...fit.subarray(0, 3)]).toEqual([0, 0, 0]);
    expect(stretch[1]).toBe(120);
    const grey = await decodeImage(f, { height: 4, width: 4, channels: 1, resize: 'stretch' });
    expect(grey.length).toBe(16);
  });

  it('disk mode writes entries under $XDG_CACHE_HOME/fitspec/images and a later store reads them back', async () => {
    const old = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = join(dir, 'xdg');
    try {
      expect(cacheRoot()).toBe(join(dir, 'xdg', 'fitspec', 'images'));
      const f = join(dir, 'a.png');
      await writeImage(f, 3);
      const spec = { height: 5, width: 5, channels: 3 as const, resize: 'stretch' as const };
      const first = new ImageStore(spec, 'disk');
      const px = await first.get(f);
      expect(first.decoded).toBe(1);
      expect(existsSync(cacheRoot())).toBe(true);
      expect(readdirSync(cacheRoot()).length).toBe(1);

      const second = new ImageStore(spec, 'disk');
      expect([...(await second.get(f))]).toEqual([...px]);
      expect(second.decoded).toBe(0);
      expect(second.diskHits).toBe(1);

      // Another size is another entry.
      const third = new ImageStore({ ...spec, width: 6 }, 'disk');
      await third.get(f);
      expect(third.decoded).toBe(1);
    } finally {
      if (old === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = old;
    }
  });

  it('memory mode decodes each file once; none decodes every time', async () => {
    const f = join(dir, 'b.png');
    await writeImage(f, 4);
    const spec = { height: 4, width: 4, channels: 3 as const, resize: 'stretch' as const };
    const mem = new ImageStore(spec, 'memory');
    await Promise.all([mem.get(f), mem.get(f)]);
    await mem.get(f);
    expect(mem.decoded).toBe(1);
    const none = new ImageStore(spec, 'none');
    await none.get(f);
    await none.get(f);
    expect(none.decoded).toBe(2);
  });
});
