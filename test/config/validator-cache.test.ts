import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(path.join(os.tmpdir(), 'fitspec-cache-'));
process.env.FITSPEC_CACHE_DIR = dir;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('compiled validator cache', () => {
  it('writes standalone code that validates exactly like the compiled validator', async () => {
    const { cachedValidator } = await import('../../src/config/validate.js');
    const { experimentJsonSchema } = await import('../../src/config/json-schema.js');
    const fresh = cachedValidator('experiment', experimentJsonSchema());
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^experiment-validator-[0-9a-f]{16}\.cjs$/);
    const cached = createRequire(import.meta.url)(path.join(dir, files[0]));
    const bad = { name: 'x', seed: 'a', model: { layers: [{ conv2: {} }, { dropout: { rate: 2 } }] } };
    const good = { name: 'x', model: { layers: [{ flatten: {} }] } };
    const [b1, b2, g1, g2] = [structuredClone(bad), structuredClone(bad), structuredClone(good), structuredClone(good)];
    expect(fresh(b1)).toBe(false);
    expect(cached(b2)).toBe(false);
    expect(cached.errors).toEqual(fresh.errors);
    expect(fresh(g1)).toBe(true);
    expect(cached(g2)).toBe(true);
    expect(g2).toEqual(g1);
    expect((g1 as { train?: { batchSize?: number } }).train?.batchSize).toBe(32);
  });
});
