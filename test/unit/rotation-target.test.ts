/**
 * The rotation model over registered keys (src/keys/rotation-target.ts): which rotation a read of the
 * keys and the flags call for, the refusals made before anything is sent, the statement of each step,
 * and what a fresh read says about whether a step took effect.
 */
import { describe, expect, it } from 'vitest';
import {
  chooseTarget,
  confirmProblem,
  observe,
  registerStatement,
  retireSteps,
  serverGraceHours,
  undoStatement,
  type KeysView,
  type TargetRequest,
} from '../../src/keys/rotation-target.js';
import type { PairKey } from '../../src/keys/types.js';
import type { RotationTarget } from '../../src/core/rotation-journal.js';
import { isSfauthError } from '../../src/errors.js';

const NOW = Date.parse('2026-12-04T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const fp = (c: string) => 'SHA256:' + c.repeat(43) + '=';
const [A, B, C, D] = ['A', 'B', 'C', 'D'].map(fp) as [string, string, string, string];

function pair(name: string, fingerprint: string, over: Partial<PairKey> = {}): PairKey {
  return {
    kind: 'pair',
    name,
    fingerprint,
    status: 'ACTIVE',
    statusText: 'ACTIVE',
    roleScope: null,
    comment: null,
    createdOn: new Date(NOW - 30 * DAY),
    createdBy: 'SVC',
    lastUsedOn: null,
    expiresAt: null,
    rotatedTo: null,
    ...over,
  };
}

function view(slots: [string | null, string | null], pairs: PairKey[] = [], available = true): KeysView {
  return {
    slots: slots.map((f, i) => ({ slot: (i + 1) as 1 | 2, fingerprint: f, lastSetTime: f ? new Date(NOW - (i + 1) * DAY) : null })),
    pairs,
    namedPairsAvailable: available,
  };
}

const ask = (v: KeysView, over: Partial<TargetRequest> = {}) => chooseTarget({ view: v, localFingerprint: A, keepOld: false, now: NOW, ...over });

function refusal(fn: () => unknown): { code: string; exitCode: number; message: string } {
  try {
    fn();
  } catch (err) {
    if (isSfauthError(err)) return { code: err.code, exitCode: err.exitCode, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('chooseTarget: what the new key replaces', () => {
  it('the key in use in a slot: a legacy rotation into the other slot', () => {
    expect(ask(view([A, null])).target).toEqual({ kind: 'slot', newSlot: 2, oldSlot: 1, replacesFingerprint: null });
    expect(ask(view([B, A])).target).toEqual({ kind: 'slot', newSlot: 1, oldSlot: 2, replacesFingerprint: B });
  });

  it("the key in use is a pair: that pair's rotation, with its role restriction and a 24 h grace unless --grace says", () => {
    const v = view([null, null], [pair('CI_KEY', A, { roleScope: 'LOADER' }), pair('OTHER', B)]);
    const c = ask(v);
    expect(c.target).toEqual({ kind: 'pair', name: 'CI_KEY', graceHours: 24, roleRestriction: 'LOADER' });
    expect(c).toMatchObject({ oldFingerprint: A, heldFingerprint: A });
    expect(ask(v, { graceHours: 0 }).target).toMatchObject({ graceHours: 0 });
    expect(ask(v, { keepOld: true }).notes[0]).toMatch(/--keep-old has no effect/);
    // a pair found whatever the server's fingerprint form, and beside a legacy slot holding another key
    expect(ask(view([C, null], [pair('CI_KEY', A)])).target.kind).toBe('pair');
  });

  it('no journal, and the held key is the ACTIVE rotated-out pair: the pair it was rotated to is rotated again', () => {
    const v = view([null, null], [pair('CI_KEY_ROTATED_1764849600000', A, { rotatedTo: 'CI_KEY', expiresAt: new Date(NOW + 20 * HOUR) }), pair('CI_KEY', B)]);
    const c = ask(v);
    expect(c.target).toMatchObject({ kind: 'pair', name: 'CI_KEY' });
    expect(c).toMatchObject({ oldFingerprint: B, heldFingerprint: A });
    expect(c.notes.join(' ')).toMatch(/is rotated again to a key you will hold/);
    // the successor is gone: nothing to rotate, say so
    expect(refusal(() => ask(view([null, null], [pair('CI_KEY_ROTATED_1764849600000', A, { rotatedTo: 'CI_KEY' })])))).toMatchObject({ code: 'ERR_KEY_ROTATED', exitCode: 1 });
  });

  it('--key-pair NAME from a slot where no such pair exists: a migration (ADD, then UNSET the slot)', () => {
    const c = ask(view([A, null]), { keyPair: 'CI_KEY', newPair: { roleRestriction: 'LOADER', daysToExpiry: 90 } });
    expect(c.target).toEqual({ kind: 'migrate', name: 'CI_KEY', fromSlot: 1, via: 'add', roleRestriction: 'LOADER', daysToExpiry: 90, comment: null });
    expect(c.oldFingerprint).toBe(A);
    // an admin (no local key): the most recently set slot is migrated
    expect(ask(view([B, C]), { localFingerprint: null, keyPair: 'CI_KEY' }).target).toMatchObject({ kind: 'migrate', fromSlot: 1 });
    // nothing registered: a plain ADD
    expect(ask(view([null, null]), { localFingerprint: null, keyPair: 'CI_KEY' })).toMatchObject({ target: { fromSlot: null }, oldFingerprint: null });
  });

  it('--key-pair NAME from a slot while NAME holds a key nobody here has: ROTATE it (its key gets the grace), then UNSET', () => {
    const c = ask(view([A, null], [pair('CI_KEY', B)]), { keyPair: 'CI_KEY' });
    expect(c.target).toMatchObject({ kind: 'migrate', via: 'rotate', pairFingerprint: B, fromSlot: 1 });
    expect(registerStatement('SVC', c.target, 'MIIB')).toBe("ALTER USER SVC ROTATE KEY PAIR CI_KEY PUBLIC_KEY='MIIB'");
  });

  it('refuses before anything is sent, naming the pair', () => {
    expect(refusal(() => ask(view([A, null], [], false), { keyPair: 'CI_KEY' }))).toMatchObject({ code: 'ERR_KEY_PAIRS_UNAVAILABLE', exitCode: 1 });
    expect(refusal(() => ask(view([null, null], [pair('CI_KEY', A, { status: 'DISABLED' })]), { keyPair: 'CI_KEY' }))).toMatchObject({ code: 'ERR_KEY_PAIR_NOT_ACTIVE', exitCode: 1 });
    expect(refusal(() => ask(view([null, null], [pair('CI_KEY', A), pair('NEW', B)]), { keyPair: 'OTHER' }))).toMatchObject({ code: 'ERR_NAMED_PAIR_IN_USE' });
    expect(refusal(() => ask(view([null, null], [pair('K1', B), pair('K2', C)]), { localFingerprint: null }))).toMatchObject({ code: 'ERR_KEY_PAIR_AMBIGUOUS', exitCode: 2 });
    expect(refusal(() => ask(view([A, null]), { graceHours: 2 }))).toMatchObject({ code: 'ERR_USAGE', exitCode: 2, message: expect.stringMatching(/^--grace applies to a named key pair rotation/) });
    expect(refusal(() => ask(view([null, null], [pair('CI_KEY', A)]), { newPair: { comment: 'x' } }))).toMatchObject({ code: 'ERR_USAGE', exitCode: 2 });
    const expiring = view([null, null], [pair('CI_KEY', A, { expiresAt: new Date(NOW + 5 * HOUR + 60_000) })]);
    expect(refusal(() => ask(expiring, { graceHours: 24 }))).toMatchObject({ code: 'ERR_GRACE_TOO_LONG', message: expect.stringContaining('expires in 5 h') });
    expect(ask(expiring, { graceHours: 5 }).target).toMatchObject({ graceHours: 5 });
  });

  it('the 10-key limit counts every listed pair (rotated-out until they expire, disabled, expired)', () => {
    const nine = Array.from({ length: 8 }, (_, i) => pair(`K${i}`, fp(String.fromCharCode(101 + i))));
    const rotated = pair('CI_KEY_ROTATED_1764849600000', D, { rotatedTo: 'CI_KEY', expiresAt: new Date(NOW + 3 * HOUR) });
    expect(ask(view([null, null], [pair('CI_KEY', A), ...nine])).target.kind).toBe('pair'); // 9 + 1 = 10: room for one
    const full = view([null, null], [pair('CI_KEY', A), ...nine, rotated]);
    const r = refusal(() => ask(full));
    expect(r).toMatchObject({ code: 'ERR_KEY_PAIR_LIMIT', exitCode: 1, message: expect.stringContaining('has 10 key pairs') });
    expect(refusal(() => ask(view([B, null], [...nine, rotated, pair('X', C, { status: 'DISABLED' })]), { localFingerprint: B, keyPair: 'NEW' }))).toMatchObject({ code: 'ERR_KEY_PAIR_LIMIT' });
  });
});

describe('the statements of each step', () => {
  const named = (graceHours: number): RotationTarget => ({ kind: 'pair', name: 'CI_KEY', graceHours, roleRestriction: null });

  it('ROTATE never sends a grace of 0; the 24 h default sends none', () => {
    expect([0, 1, 24, 48].map(serverGraceHours)).toEqual([1, 1, undefined, 48]);
    expect(registerStatement('SVC', named(24), 'MIIB')).toBe("ALTER USER SVC ROTATE KEY PAIR CI_KEY PUBLIC_KEY='MIIB'");
    expect(registerStatement('SVC', named(0), 'MIIB')).toMatch(/EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS=1$/);
  });

  it('retiring: UNSET the old slot while it holds the old key; --grace 0 disables the rotated-out pair holding it (REMOVE as fallback)', () => {
    const keys = { newFingerprint: B, oldFingerprint: A, heldFingerprint: A };
    const slot: RotationTarget = { kind: 'slot', newSlot: 2, oldSlot: 1, replacesFingerprint: null };
    expect(retireSteps('SVC', slot, view([A, B]), keys, false, NOW).map((s) => s.sql)).toEqual(['ALTER USER SVC UNSET RSA_PUBLIC_KEY']);
    expect(retireSteps('SVC', slot, view([A, B]), keys, true, NOW)).toEqual([]);
    expect(retireSteps('SVC', slot, view([null, B]), keys, false, NOW)).toEqual([]);
    const after = view([null, null], [pair('CI_KEY_ROTATED_1764849600000', A, { rotatedTo: 'CI_KEY' }), pair('CI_KEY', B), pair('OTHER_ROTATED_1', A, { rotatedTo: 'OTHER' })]);
    expect(retireSteps('SVC', named(24), after, keys, false, NOW)).toEqual([]);
    expect(retireSteps('SVC', named(0), after, keys, false, NOW)).toEqual([
      {
        what: 'disable the rotated-out pair CI_KEY_ROTATED_1764849600000 (--grace 0)',
        action: 'disable',
        place: 'key pair CI_KEY_ROTATED_1764849600000',
        sql: 'ALTER USER SVC MODIFY KEY PAIR CI_KEY_ROTATED_1764849600000 SET DISABLED = TRUE',
        fallback: 'ALTER USER SVC REMOVE KEY PAIR CI_KEY_ROTATED_1764849600000',
      },
    ]);
    const disabled = view([null, null], [pair('CI_KEY_ROTATED_1764849600000', A, { rotatedTo: 'CI_KEY', status: 'DISABLED' }), pair('CI_KEY', B)]);
    expect(retireSteps('SVC', named(0), disabled, keys, false, NOW)).toEqual([]);
  });
});

describe('observe: whether a step took effect, from a fresh read', () => {
  const keys = { newFingerprint: B, oldFingerprint: A, heldFingerprint: A };
  const t: RotationTarget = { kind: 'pair', name: 'CI_KEY', graceHours: 0, roleRestriction: null };

  it('named: the pair holding the new fingerprint means the ROTATE happened', () => {
    expect(observe(t, view([null, null], [pair('CI_KEY', A)]), keys, NOW)).toEqual({ registered: false, newInOtherSlot: null, oldActive: true, placeTakenBy: null });
    const rotated = view([null, null], [pair('CI_KEY_ROTATED_1', A, { rotatedTo: 'CI_KEY' }), pair('CI_KEY', B)]);
    expect(observe(t, rotated, keys, NOW)).toMatchObject({ registered: true, oldActive: true });
    expect(confirmProblem(t, rotated, keys, false, NOW)).toMatch(/still holds the old key/);
    const retired = view([null, null], [pair('CI_KEY_ROTATED_1', A, { rotatedTo: 'CI_KEY', status: 'DISABLED' }), pair('CI_KEY', B)]);
    expect(confirmProblem(t, retired, keys, false, NOW)).toBeNull();
    // someone else rotated it meanwhile: neither the old nor the new key
    expect(observe(t, view([null, null], [pair('CI_KEY', C)]), keys, NOW).placeTakenBy).toBe(C);
  });

  it('migration: the pair with the new key, and undo is REMOVE only while the old slot still works', () => {
    const m: RotationTarget = { kind: 'migrate', name: 'CI_KEY', fromSlot: 1, via: 'add', roleRestriction: null, daysToExpiry: null, comment: null };
    const added = view([A, null], [pair('CI_KEY', B)]);
    const o = observe(m, added, keys, NOW);
    expect(o).toMatchObject({ registered: true, oldActive: true, placeTakenBy: null });
    expect(undoStatement('SVC', m, o)).toBe('ALTER USER SVC REMOVE KEY PAIR CI_KEY');
    expect(undoStatement('SVC', m, observe(m, view([null, null], [pair('CI_KEY', B)]), keys, NOW))).toBeNull();
    expect(undoStatement('SVC', t, observe(t, view([null, null], [pair('CI_KEY_ROTATED_1', A, { rotatedTo: 'CI_KEY' }), pair('CI_KEY', B)]), keys, NOW))).toBeNull();
    expect(confirmProblem(m, added, keys, false, NOW)).toMatch(/RSA_PUBLIC_KEY still holds the old key/);
    expect(confirmProblem(m, added, keys, true, NOW)).toBeNull();
  });
});
