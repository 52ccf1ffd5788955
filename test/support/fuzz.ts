/**
 * Seeded randomness and byte/text mutators for the fuzz tests (test/unit/fuzz.test.ts). Everything
 * is driven by one PRNG, so a failure reproduces from its seed and iteration (FUZZ_SEED=<n>).
 */

/** A small, fast, seedable PRNG (sfc32, seeded through splitmix32). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** Characters from `alphabet`. */
  chars(n: number, alphabet: string): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
}

export const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
export const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** A named mutation: what it did is kept so a failure can say it. */
export interface Mutant<T> {
  value: T;
  how: string;
}

/** Generic byte-level mutations. */
export function mutateBytes(rng: Rng, input: Buffer): Mutant<Buffer> {
  const buf = Buffer.from(input);
  const at = () => rng.int(Math.max(buf.length, 1));
  switch (rng.int(9)) {
    case 0: {
      const flips = rng.range(1, 8);
      for (let i = 0; i < flips && buf.length > 0; i++) {
        const p = at();
        buf[p] = buf[p]! ^ (1 << rng.int(8));
      }
      return { value: buf, how: `flip ${flips} bit(s)` };
    }
    case 1: {
      const n = rng.int(buf.length + 1);
      return { value: buf.subarray(0, n), how: `truncate to ${n} bytes` };
    }
    case 2: {
      const n = rng.range(1, Math.max(1, Math.floor(buf.length / 2)));
      return { value: buf.subarray(n), how: `drop the first ${n} bytes` };
    }
    case 3: {
      const p = at();
      const extra = rng.bytes(rng.range(1, 16));
      return { value: Buffer.concat([buf.subarray(0, p), extra, buf.subarray(p)]), how: `insert ${extra.length} random bytes at ${p}` };
    }
    case 4: {
      const p = at();
      const n = rng.range(1, 32);
      return { value: Buffer.concat([buf.subarray(0, p), buf.subarray(p + n)]), how: `delete ${n} bytes at ${p}` };
    }
    case 5: {
      const p = at();
      const n = rng.range(1, 64);
      return { value: Buffer.concat([buf.subarray(0, p + n), buf.subarray(p)]), how: `duplicate ${n} bytes at ${p}` };
    }
    case 6: {
      const p = at();
      const b = rng.pick([0x00, 0xff, 0x30, 0x80, 0x81, 0x82, 0x84, 0x7f]);
      buf[p] = b;
      return { value: buf, how: `set byte ${p} to 0x${b.toString(16)}` };
    }
    case 7: {
      const p = at();
      const n = rng.range(1, 16);
      buf.fill(rng.int(256), p, Math.min(p + n, buf.length));
      return { value: buf, how: `fill ${n} bytes at ${p}` };
    }
    default: {
      const extra = rng.bytes(rng.range(1, 64));
      return { value: Buffer.concat([buf, extra]), how: `append ${extra.length} random bytes` };
    }
  }
}

/** Mutations of a text: characters, lines, line endings. */
export function mutateText(rng: Rng, input: string, alphabet = BASE64_ALPHABET + '=-.\n\r \t'): Mutant<string> {
  const at = () => rng.int(Math.max(input.length, 1));
  switch (rng.int(8)) {
    case 0: {
      const p = at();
      const c = rng.chars(1, alphabet);
      return { value: input.slice(0, p) + c + input.slice(p + 1), how: `replace char ${p} by ${JSON.stringify(c)}` };
    }
    case 1: {
      const p = at();
      const c = rng.chars(rng.range(1, 8), alphabet);
      return { value: input.slice(0, p) + c + input.slice(p), how: `insert ${JSON.stringify(c)} at ${p}` };
    }
    case 2: {
      const p = at();
      const n = rng.range(1, 16);
      return { value: input.slice(0, p) + input.slice(p + n), how: `delete ${n} chars at ${p}` };
    }
    case 3: {
      const n = rng.int(input.length + 1);
      return { value: input.slice(0, n), how: `truncate to ${n} chars` };
    }
    case 4:
      return { value: input.replace(/\r?\n/g, '\r\n'), how: 'CRLF line endings' };
    case 5:
      return { value: input.replace(/\r?\n/g, rng.pick(['\r', '', ' ', '\n\n', '\t\n'])), how: 'other line endings' };
    case 6: {
      const lines = input.split('\n');
      const i = rng.int(lines.length);
      const j = rng.int(lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return { value: lines.join('\n'), how: `swap lines ${i} and ${j}` };
    }
    default: {
      const pad = rng.pick([' ', '\t', '\n', '\u00a0', '\ufeff', '\u0000']);
      return rng.chance(0.5)
        ? { value: pad + input, how: `prefix ${JSON.stringify(pad)}` }
        : { value: input + pad, how: `suffix ${JSON.stringify(pad)}` };
    }
  }
}
