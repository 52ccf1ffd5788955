/**
 * The pure parts of a fleet rotation: the targets file (src/core/targets.ts) and the shared
 * rate-limit gate (src/snowflake/throttle.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseTargets } from '../../src/core/targets.js';
import { Throttle } from '../../src/snowflake/throttle.js';
import { isSfauthError } from '../../src/errors.js';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isSfauthError(err)) return `${err.code} ${err.exitCode}: ${err.message}`;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('parseTargets', () => {
  it('one user per line; # comments (whole line or after a space); blank lines; CRLF; quoted names kept exact', () => {
    expect(parseTargets('# weekly\r\nSVC_A\r\n\r\n  svc_b   # the loader\n"odd user"\nsvc#1\n', 'users.txt')).toEqual(['SVC_A', 'svc_b', 'odd user', 'svc#1']);
  });

  it('refuses repeats (as Snowflake resolves names), spaces, control characters and an empty list, naming the line', () => {
    expect(refusal(() => parseTargets('SVC_A\nsvc_a\n', 'f'))).toBe('ERR_TARGETS_INVALID 2: f line 2 repeats svc_a (first on line 1)');
    expect(refusal(() => parseTargets('"SVC_A"\nsvc_a\n', 'f'))).toMatch(/line 2 repeats svc_a/); // a quoted upper-case name is the plain one
    expect(parseTargets('"svc_a"\nSVC_A\n', 'f')).toEqual(['"svc_a"', 'SVC_A']); // a quoted lower-case name is another user
    expect(refusal(() => parseTargets('svc a\n', 'f'))).toBe('ERR_TARGETS_INVALID 2: f line 1 is not a user name');
    expect(refusal(() => parseTargets('svc\u001b[2J\n', 'f'))).toMatch(/line 1 is not a user name/);
    expect(refusal(() => parseTargets('# none\n\n', 'stdin'))).toBe('ERR_TARGETS_INVALID 2: stdin lists no users');
  });
});

describe('Throttle', () => {
  it('one pause for everyone; overlapping pauses count once; waitTurn waits it out', async () => {
    let now = 1000;
    const slept: number[] = [];
    const t = new Throttle(
      () => now,
      async (ms) => {
        slept.push(ms);
        now += ms;
      },
    );
    await t.waitTurn();
    expect(slept).toEqual([]);
    t.slowDown(500); // until 1500
    t.slowDown(300); // inside it: nothing more
    expect(t.pausedMs()).toBe(500);
    now = 1200;
    t.slowDown(600); // until 1800: 300 more
    expect(t.pausedMs()).toBe(800);
    await t.waitTurn();
    expect(slept).toEqual([600]);
    expect(now).toBe(1800);
  });
});
