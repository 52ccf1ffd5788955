import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/duration.js';

describe('parseDuration', () => {
  it.each([
    ['90s', 90],
    ['10m', 600],
    ['1h', 3600],
    ['3600', 3600],
    ['90d', 90 * 86400],
    ['2w', 14 * 86400],
    ['1h30m', 5400],
    [' 1H ', 3600],
  ])('%s = %i s', (input, seconds) => expect(parseDuration(input)).toBe(seconds));

  it.each(['', '0', '0s', '-5m', '1.5h', 'h', '10 minutes', '1y', 'abc'])('refuses %j', (input) => {
    expect(() => parseDuration(input, '--lifetime')).toThrow(/invalid --lifetime/);
  });
});

describe('formatDuration', () => {
  it.each([
    [42, '42s'],
    [3120, '52m'],
    [3725, '1h 2m'],
    [41 * 86400 + 5, '41 days'],
    [86400, '1 day'],
  ])('%i → %s', (s, text) => expect(formatDuration(s)).toBe(text));
});
