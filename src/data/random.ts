import { createHash } from 'node:crypto';

/** Draws used by the split, shuffling and augmentation; tests inject fixed ones. */
export interface Sampler {
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** true with probability p. */
  bernoulli(p: number): boolean;
}

/**
 * A small seeded generator (sfc32) so that a split or an augmented batch depends only on the
 * experiment seed and its position (epoch, batch), never on Math.random or on the order in which
 * asynchronous work finishes.
 */
export class Rng implements Sampler {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Every part of `key` matters: Rng.from(seed, 'augment', epoch, batch). */
  static from(...key: (string | number)[]): Rng {
    const h = createHash('sha256').update(key.map(String).join('\u0000')).digest();
    return new Rng(h.readUInt32LE(0), h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12));
  }

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = d >>> 0;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1) with 53 bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates, in place. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = xs[i]!;
      xs[i] = xs[j]!;
      xs[j] = t;
    }
    return xs;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** Approximately normal (sum of uniforms), enough for generating data. */
  normal(mean = 0, sd = 1): number {
    let s = 0;
    for (let i = 0; i < 6; i++) s += this.next();
    return mean + sd * (s - 3) * Math.SQRT2;
  }
}
