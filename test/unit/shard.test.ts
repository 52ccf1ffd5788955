import { describe, expect, it } from 'vitest';
import { inShard, parseShard, shardOf } from '../../src/core/shard.js';
import { outputLines } from '../../src/core/github-output.js';

describe('--shard K/N', () => {
  const names = Array.from({ length: 1000 }, (_, i) => (i % 7 === 0 ? `"svc_${i}"` : `SVC_${i}`));

  it('the N slices of 1,000 names are disjoint and cover every name once, for several N', () => {
    for (const n of [1, 2, 3, 4, 7, 16]) {
      const slices = Array.from({ length: n }, (_, k) => inShard(names, { index: k + 1, count: n }));
      expect(slices.flat().sort()).toEqual([...names].sort());
      expect(new Set(slices.flat()).size).toBe(names.length);
      // and roughly even: no slice is empty or more than twice its share
      for (const s of slices) {
        expect(s.length).toBeGreaterThan(0);
        expect(s.length).toBeLessThan((2 * names.length) / n + 5);
      }
    }
  });

  it('depends on the name as Snowflake resolves it, not on the list or its case', () => {
    expect(shardOf('svc_a', 4)).toBe(shardOf('SVC_A', 4));
    expect(shardOf('"SVC_A"', 4)).toBe(shardOf('SVC_A', 4));
    expect(inShard(['B', 'A', 'C'], { index: 1, count: 2 }).sort()).toEqual(inShard(['C', 'A', 'B'], { index: 1, count: 2 }).sort());
  });

  it('refuses what is not K/N with 1 ≤ K ≤ N', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(parseShard(' 1 / 1 ')).toEqual({ index: 1, count: 1 });
    for (const bad of ['0/3', '3/2', 'a/b', '1', '1/0', '-1/2', '1/2/3', '']) expect(() => parseShard(bad), bad).toThrow(/invalid --shard/);
  });
});

describe('$GITHUB_OUTPUT lines', () => {
  it('name=value, and a heredoc with a fresh delimiter for a value with a newline (never one the value holds)', () => {
    const delimiters = ['EOF_1', 'EOF_2'];
    const text = outputLines({ fingerprint: 'SHA256:abc=', users: 'A\nEOF_1\nB', none: null, skip: undefined }, () => delimiters.shift()!);
    expect(text).toBe('fingerprint=SHA256:abc=\nusers<<EOF_2\nA\nEOF_1\nB\nEOF_2\n');
    expect(() => outputLines({ 'bad name\n': 'x' }, () => 'D')).toThrow();
  });
});
