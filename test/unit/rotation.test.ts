/**
 * The pure decisions of status/rotate (src/core/rotation-plan.ts), the journal format
 * (src/core/rotation-journal.ts) and on disk (src/rotate/journal.ts), the new-key choices
 * (src/rotate/new-key.ts), the verification loop (src/rotate/verify.ts) and the step list
 * (src/rotate/report.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ageDays,
  chooseSlots,
  datedKeyPath,
  dateStamp,
  fileSafeName,
  isOlderThan,
  journalPathFor,
  normalizeUserName,
  slotHolding,
  unsafeSet,
  type SlotView,
} from '../../src/core/rotation-plan.js';
import { journalMatches, parseJournal, pendingJournal, type RotationJournal } from '../../src/core/rotation-journal.js';
import { keyInUse } from '../../src/keys/in-use.js';
import { observe } from '../../src/keys/rotation-target.js';
import { findJournals, journalFile, updateJournal } from '../../src/rotate/journal.js';
import { newKeyPaths, newKeySpec, planPassphrase } from '../../src/rotate/new-key.js';
import { buildSteps, PUBLIC_KEY_PLACEHOLDER } from '../../src/rotate/report.js';
import { verifyNewKey, verifyPause } from '../../src/rotate/verify.js';
import { writeNewFiles } from '../../src/io/files.js';
import { CheckFailedError, ServiceError } from '../../src/errors.js';
import type { LoadedKey } from '../../src/io/load-key.js';
import type { SnowflakeClient } from '../../src/snowflake/client.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const DAY = 86_400_000;
const A = 'SHA256:' + 'A'.repeat(43) + '=';
const B = 'SHA256:' + 'B'.repeat(43) + '=';
const C = 'SHA256:' + 'C'.repeat(43) + '=';

function slots(s1: [string | null, number | null] | null, s2: [string | null, number | null] | null): SlotView[] {
  const view = (slot: 1 | 2, v: [string | null, number | null] | null): SlotView => ({
    slot,
    fingerprint: v?.[0] ?? null,
    lastSetTime: v && v[1] !== null ? new Date(NOW - v[1] * DAY) : null,
  });
  return [view(1, s1), view(2, s2)];
}

describe('chooseSlots (DESIGN §3 Rotation, step 2)', () => {
  it('keeps the slot of the current key and picks the other one', () => {
    expect(chooseSlots(slots([A, 10], null), A)).toMatchObject({ newSlot: 2, oldSlot: 1, reason: 'local-key' });
    expect(chooseSlots(slots([B, 10], [A, 5]), A)).toMatchObject({ newSlot: 1, oldSlot: 2, reason: 'local-key' });
    expect(chooseSlots(slots([B, 10], [A, 5]), A.replace('SHA256:', 'sha256:'))).toMatchObject({ newSlot: 1, oldSlot: 2 });
  });

  it('the same key in both slots: the newer one stays until the end', () => {
    const c = chooseSlots(slots([A, 100], [A, 3]), A);
    expect(c).toMatchObject({ newSlot: 1, oldSlot: 2, reason: 'local-key' });
    expect(c.explanation).toContain('in both slots');
  });

  it('the current key in neither slot: an empty slot first, and says so', () => {
    const c = chooseSlots(slots([B, 10], null), A);
    expect(c).toMatchObject({ newSlot: 2, oldSlot: 1, reason: 'empty-slot' });
    expect(c.explanation).toBe('the current key is in neither slot; the new key goes into the empty slot 2 and replaces the key in slot 1');
    expect(chooseSlots(slots(null, [B, 10]), A)).toMatchObject({ newSlot: 1, oldSlot: 2, reason: 'empty-slot' });
  });

  it('neither slot and both set: the one set longest ago (an unknown time counts as oldest)', () => {
    expect(chooseSlots(slots([B, 200], [C, 5]), A)).toMatchObject({ newSlot: 1, oldSlot: 2, reason: 'oldest-slot' });
    expect(chooseSlots(slots([B, 5], [C, 200]), A)).toMatchObject({ newSlot: 2, oldSlot: 1, reason: 'oldest-slot' });
    const unknown = chooseSlots(slots([B, 5], [C, null]), undefined);
    expect(unknown).toMatchObject({ newSlot: 2, oldSlot: 1 });
    expect(unknown.explanation).toContain('no local key of this user was given');
    expect(unknown.explanation).toContain('set at an unknown time');
  });

  it('no keys at all: slot 1, nothing to remove', () => {
    expect(chooseSlots(slots(null, null), A)).toMatchObject({ newSlot: 1, oldSlot: null, reason: 'no-keys' });
  });
});

describe('keyInUse, ages, due', () => {
  // The registered keys as src/keys/read.ts makes them from DESC USER (set slots only).
  const keys = (s: SlotView[]) => s.flatMap((v) => (v.fingerprint ? [{ kind: 'slot' as const, slot: v.slot, fingerprint: v.fingerprint, publicKey: null, setAt: v.lastSetTime, setAtText: null }] : []));
  const inUse = (s: SlotView[], local?: string) => {
    const r = keyInUse(keys(s), local, NOW);
    return { slot: r.key?.kind === 'slot' ? r.key.slot : null, reason: r.reason };
  };

  it('is the slot of the local key, else the newest set slot, else none', () => {
    expect(inUse(slots([A, 100], [B, 3]), A)).toEqual({ slot: 1, reason: 'local-key' });
    expect(inUse(slots([A, 100], [B, 3]), C)).toEqual({ slot: 2, reason: 'newest' });
    expect(inUse(slots([A, 100], [B, 3]))).toEqual({ slot: 2, reason: 'newest' });
    expect(inUse(slots([A, null], [B, 3]))).toEqual({ slot: 2, reason: 'newest' });
    expect(inUse(slots([A, null], null))).toEqual({ slot: 1, reason: 'newest' });
    expect(inUse(slots(null, null), A)).toEqual({ slot: null, reason: 'none' });
  });

  it('among named pairs too: the active pair holding the local key, else the newest active key', () => {
    const pair = (name: string, fingerprint: string, daysAgo: number, status: 'ACTIVE' | 'DISABLED' = 'ACTIVE') => ({
      kind: 'pair' as const,
      name,
      fingerprint,
      status,
      statusText: status,
      roleScope: null,
      comment: null,
      createdOn: new Date(NOW - daysAgo * DAY),
      createdBy: null,
      lastUsedOn: null,
      expiresAt: null,
      rotatedTo: null,
    });
    const all = [...keys(slots([A, 100], null)), pair('CI_KEY', B, 5), pair('OFF', C, 1, 'DISABLED')];
    expect(keyInUse(all, B, NOW)).toMatchObject({ key: { name: 'CI_KEY' }, reason: 'local-key' });
    expect(keyInUse(all, C, NOW)).toMatchObject({ key: { name: 'CI_KEY' }, reason: 'newest' }); // a disabled key is not in use
  });

  it('ages in whole days; unknown stays unknown', () => {
    expect(ageDays(new Date(NOW - 41 * DAY - 3_600_000), NOW)).toBe(41);
    expect(ageDays(null, NOW)).toBeNull();
    expect(ageDays(new Date(NOW + DAY), NOW)).toBe(0); // a server clock ahead is not a negative age
  });

  it('a key is due at or past the threshold, or when its set time is unknown', () => {
    expect(isOlderThan(new Date(NOW - 10 * DAY), 90 * 86400, NOW)).toBe(false);
    expect(isOlderThan(new Date(NOW - 90 * DAY), 90 * 86400, NOW)).toBe(true);
    expect(isOlderThan(new Date(NOW - 100 * DAY), 90 * 86400, NOW)).toBe(true);
    expect(isOlderThan(null, 90 * 86400, NOW)).toBe(true);
  });

  it('slotHolding finds a fingerprint, preferring the newer slot', () => {
    expect(slotHolding(slots([A, 1], [B, 2]), B)).toBe(2);
    expect(slotHolding(slots([A, 10], [A, 2]), A)).toBe(2);
    expect(slotHolding(slots([A, 1], null), C)).toBeNull();
    expect(slotHolding(slots([A, 1], null), null)).toBeNull();
  });
});

describe('file names', () => {
  it('stamps the current name with the date, replacing an earlier stamp', () => {
    expect(dateStamp(NOW)).toBe('2026-11-23');
    expect(datedKeyPath('/k/rsa_key.p8', '2026-11-23')).toBe('/k/rsa_key.2026-11-23.p8');
    expect(datedKeyPath('/k/rsa_key.p8', '2026-11-23', 2)).toBe('/k/rsa_key.2026-11-23-2.p8');
    expect(datedKeyPath('/k/rsa_key.2026-08-01.p8', '2026-11-23')).toBe('/k/rsa_key.2026-11-23.p8');
    expect(datedKeyPath('/k/rsa_key.2026-08-01-3.p8', '2026-11-23', 2)).toBe('/k/rsa_key.2026-11-23-2.p8');
    expect(datedKeyPath('/k/loader.key.pem', '2026-11-23')).toBe('/k/loader.key.2026-11-23.pem');
    expect(datedKeyPath('/k/mykey', '2026-11-23')).toBe('/k/mykey.2026-11-23.p8');
    expect(datedKeyPath('/k/mykey.2026-08-01', '2026-11-23')).toBe('/k/mykey.2026-11-23.p8');
  });

  it("switches Snowflake's default name when the key type changes", () => {
    expect(datedKeyPath('/k/rsa_key.p8', '2026-11-23', 1, 'ec')).toBe('/k/ec_key.2026-11-23.p8');
    expect(datedKeyPath('/k/ec_key.p8', '2026-11-23', 1, 'rsa')).toBe('/k/rsa_key.2026-11-23.p8');
    expect(datedKeyPath('/k/loader.p8', '2026-11-23', 1, 'ec')).toBe('/k/loader.2026-11-23.p8');
  });

  it('journal beside the key; user names normalised like Snowflake and made file-safe', () => {
    expect(journalPathFor('/k/rsa_key.2026-11-23.p8')).toBe('/k/rsa_key.2026-11-23.p8.rotate.json');
    expect(normalizeUserName('svc_loader')).toBe('SVC_LOADER');
    expect(normalizeUserName('john.doe@x.com')).toBe('john.doe@x.com');
    expect(fileSafeName('SVC_LOADER')).toBe('svc_loader');
    expect(fileSafeName('john.doe@x.com')).toBe('john.doe_x.com');
    expect(fileSafeName('../..')).toBe('user');
  });
});

function journal(over: Partial<RotationJournal> = {}): RotationJournal {
  return {
    version: 2,
    kind: 'sfauth-rotate',
    account: 'MYORG-MYACCOUNT',
    targetUser: 'svc',
    targetKey: 'SVC',
    loginName: 'SVC',
    self: true,
    target: { kind: 'slot', newSlot: 2, oldSlot: 1, replacesFingerprint: null },
    oldFingerprint: A,
    newFingerprint: B,
    newPublicKey: 'MIIB',
    privateKeyPath: '/k/rsa_key.2026-11-23.p8',
    publicKeyPath: '/k/rsa_key.2026-11-23.pub',
    keyType: 'rsa',
    bits: 2048,
    encrypted: false,
    passphraseSource: 'none',
    authFingerprint: A,
    createdAt: '2026-11-23T12:00:00.000Z',
    updatedAt: '2026-11-23T12:00:00.000Z',
    step: 'written',
    ...over,
  };
}

describe('the journal', () => {
  it('parses its own JSON and refuses anything else', () => {
    const j = journal();
    expect(parseJournal(JSON.stringify(j))).toEqual(j);
    expect(parseJournal('not json')).toBeNull();
    expect(parseJournal('{}')).toBeNull();
    expect(parseJournal(JSON.stringify({ ...j, kind: 'other' }))).toBeNull();
    expect(parseJournal(JSON.stringify({ ...j, target: { ...j.target, newSlot: 3 } }))).toBeNull();
    expect(parseJournal(JSON.stringify({ ...j, target: { ...j.target, oldSlot: 2 } }))).toBeNull();
    expect(parseJournal(JSON.stringify({ ...j, target: { kind: 'pair', name: 'K', graceHours: -1, roleRestriction: null } }))).toBeNull();
    expect(parseJournal(JSON.stringify({ ...j, target: { kind: 'elsewhere' } }))).toBeNull();
    expect(parseJournal(JSON.stringify({ ...j, newFingerprint: 'abc' }))).toBeNull();
    expect(parseJournal(JSON.stringify({ ...j, step: 'halfway' }))).toBeNull();
    expect(parseJournal(JSON.stringify({ ...j, version: 3 }))).toBeNull();
    expect(parseJournal(JSON.stringify({ ...j, target: { ...j.target, oldSlot: null }, oldFingerprint: null }))).not.toBeNull();
    const named = journal({ target: { kind: 'pair', name: 'CI_KEY', graceHours: 0, roleRestriction: 'LOADER' }, step: 'handed-over' });
    expect(parseJournal(JSON.stringify(named))).toEqual(named);
    const migrate = journal({ target: { kind: 'migrate', name: 'CI_KEY', fromSlot: 1, via: 'add', roleRestriction: null, daysToExpiry: 90, comment: 'x' } });
    expect(parseJournal(JSON.stringify(migrate))).toEqual(migrate);
  });

  it("reads sfauth 0.1's journals (version 1, slots only) as version 2, each step as the state it is now", () => {
    const { target, version, step, ...rest } = journal();
    void target, version, step;
    const v1 = { ...rest, version: 1, newSlot: 2, oldSlot: 1 };
    const steps = { written: 'written', set: 'registered', verified: 'verified', unset: 'retired', complete: 'complete' } as const;
    for (const [old, now] of Object.entries(steps)) {
      expect(parseJournal(JSON.stringify({ ...v1, step: old }))).toEqual(journal({ step: now }));
    }
    expect(parseJournal(JSON.stringify({ ...v1, step: 'set', replacesFingerprint: C }))?.target).toEqual({ kind: 'slot', newSlot: 2, oldSlot: 1, replacesFingerprint: C });
    expect(parseJournal(JSON.stringify({ ...v1, step: 'registered' }))).toBeNull();
    expect(parseJournal(JSON.stringify({ ...v1, newSlot: 1 }))).toBeNull();
  });

  it('matches by account and user (as Snowflake resolves the name)', () => {
    expect(journalMatches(journal(), 'myorg-myaccount', 'SVC')).toBe(true);
    expect(journalMatches(journal(), 'MYORG-MYACCOUNT', 'svc')).toBe(true);
    expect(journalMatches(journal(), 'MYORG-OTHER', 'svc')).toBe(false);
    expect(journalMatches(journal(), 'MYORG-MYACCOUNT', '"svc"')).toBe(false);
  });

  it('the pending one is the newest unfinished journal', () => {
    const a = journal({ createdAt: '2026-11-20T00:00:00Z' });
    const b = journal({ createdAt: '2026-11-22T00:00:00Z' });
    const done = journal({ createdAt: '2026-11-23T00:00:00Z', step: 'complete' });
    expect(pendingJournal([a, done, b])).toBe(b);
    expect(pendingJournal([done])).toBeUndefined();
  });

  it('observe reads which steps of a legacy rotation took effect from the slots', () => {
    const t = journal().target;
    const keys: { newFingerprint: string; oldFingerprint: string | null; heldFingerprint: string | null } = { newFingerprint: B, oldFingerprint: A, heldFingerprint: A };
    const seen = (s: SlotView[], tt: RotationJournal['target'] = t, k = keys) => observe(tt, { slots: s, pairs: [], namedPairsAvailable: true }, k, NOW);
    expect(seen(slots([A, 10], null))).toEqual({ registered: false, newInOtherSlot: null, oldActive: true, placeTakenBy: null });
    expect(seen(slots([A, 10], [B, 0]))).toEqual({ registered: true, newInOtherSlot: null, oldActive: true, placeTakenBy: null });
    expect(seen(slots(null, [B, 0]))).toEqual({ registered: true, newInOtherSlot: null, oldActive: false, placeTakenBy: null });
    expect(seen(slots([B, 0], [A, 1]))).toMatchObject({ registered: false, newInOtherSlot: 1 });
    expect(seen(slots([B, 0], null), { kind: 'slot', newSlot: 1, oldSlot: null, replacesFingerprint: null }, { ...keys, oldFingerprint: null })).toMatchObject({ registered: true, oldActive: false });
  });

  describe('on disk', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'sfauth-journal-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('is found for its account and user, skipping foreign, damaged and incoherent files', async () => {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const body = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
      const real = { newPublicKey: body, newFingerprint: 'SHA256:' + createHash('sha256').update(Buffer.from(body, 'base64')).digest('base64') };
      const mine = journal({ ...real, privateKeyPath: join(dir, 'a.p8'), publicKeyPath: join(dir, 'a.pub') });
      writeNewFiles([journalFile(join(dir, 'a.p8.rotate.json'), mine)], { overwrite: false });
      writeFileSync(join(dir, 'b.p8.rotate.json'), JSON.stringify(journal({ account: 'OTHER-ACCOUNT' })), { mode: 0o600 });
      writeFileSync(join(dir, 'c.p8.rotate.json'), '{"kind": "sfauth-rotate", "version": 1', { mode: 0o600 });
      writeFileSync(join(dir, 'd.json'), JSON.stringify(journal()), { mode: 0o600 });
      // Its public key is not the one its fingerprint names; its paths point elsewhere.
      writeFileSync(join(dir, 'e.p8.rotate.json'), JSON.stringify(journal({ privateKeyPath: join(dir, 'e.p8'), publicKeyPath: join(dir, 'e.pub') })), { mode: 0o600 });
      writeFileSync(join(dir, 'f.p8.rotate.json'), JSON.stringify(journal({ ...real, privateKeyPath: '/etc/passwd', publicKeyPath: '/etc/passwd.pub' })), { mode: 0o600 });
      const scan = await findJournals(dir, { account: 'myorg-myaccount', targetUser: 'svc' });
      expect(scan.found).toEqual([{ path: join(dir, 'a.p8.rotate.json'), journal: mine }]);
      expect(scan.ignored.join('\n')).toMatch(/e\.p8\.rotate\.json: its public key does not match its fingerprint/);
      expect(scan.ignored.join('\n')).toMatch(/f\.p8\.rotate\.json: it names a key outside its own place/);
      expect((await findJournals(join(dir, 'missing'), { account: 'myorg-myaccount', targetUser: 'svc' })).found).toEqual([]);
    });

    it('is written 0600 and updated atomically with the step reached; no secrets in it', () => {
      const path = join(dir, 'k.p8.rotate.json');
      writeNewFiles([journalFile(path, journal())], { overwrite: false });
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const next = updateJournal(path, journal(), 'registered', NOW);
      expect(next.step).toBe('registered');
      expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ version: 2, step: 'registered', updatedAt: '2026-11-23T12:00:00.000Z' });
      const done = updateJournal(path, next, 'complete', NOW + 1000);
      expect(done.completedAt).toBe('2026-11-23T12:00:01.000Z');
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const text = readFileSync(path, 'utf8');
      expect(text).not.toMatch(/PRIVATE KEY|passphrase"\s*:\s*"[^n]/);
    });
  });
});

describe('unsafeSet: never remove the only working key', () => {
  it('allows an empty slot, or overwriting when the other slot still holds a key', () => {
    expect(unsafeSet(slots([A, 1], null), 2, A)).toBeNull();
    expect(unsafeSet(slots([A, 1], [B, 100]), 2, A)).toBeNull();
    expect(unsafeSet(slots(null, null), 1, undefined)).toBeNull();
  });
  it('refuses to overwrite the only key, or the key this command authenticates with', () => {
    expect(unsafeSet(slots([A, 1], null), 1, C)).toBe('slot 1 holds the only registered key');
    expect(unsafeSet(slots([A, 1], [B, 1]), 1, A)).toBe('slot 1 holds the key this command authenticates with');
    expect(unsafeSet(slots([A, 1], [A, 1]), 1, A)).toBeNull();
  });
});

describe('the new key', () => {
  const rsa3072 = { type: 'rsa', bits: 3072, encrypted: true, passphrase: 'pw' } as unknown as LoadedKey;
  const ec384 = { type: 'ec', curve: 'P-384', encrypted: false } as unknown as LoadedKey;

  it('follows the current key unless told otherwise', () => {
    expect(newKeySpec({}, undefined)).toEqual({ type: 'rsa', bits: 2048 });
    expect(newKeySpec({}, rsa3072)).toEqual({ type: 'rsa', bits: 3072 });
    expect(newKeySpec({ bits: '4096' }, rsa3072)).toEqual({ type: 'rsa', bits: 4096 });
    expect(newKeySpec({}, ec384)).toEqual({ type: 'ec', curve: 'P-384' });
    expect(newKeySpec({ type: 'rsa' }, ec384)).toEqual({ type: 'rsa', bits: 2048 });
    expect(newKeySpec({ type: 'ec' }, rsa3072)).toEqual({ type: 'ec', curve: 'P-256' });
    expect(newKeySpec({}, { type: 'rsa', bits: 2560 } as unknown as LoadedKey)).toEqual({ type: 'rsa', bits: 2048 });
    expect(() => newKeySpec({ bits: '1024' }, undefined)).toThrow(/unsupported RSA size/);
  });

  it("reuses the current key's passphrase, or a file, or none like the current key, or a prompt", async () => {
    const noPrompt = { cwd: '/', prompter: { canPrompt: false } } as never;
    const canPrompt = { cwd: '/', prompter: { canPrompt: true } } as never;
    expect(await planPassphrase({}, noPrompt, rsa3072, 'SVC')).toMatchObject({ encrypted: true, source: 'current-key', value: 'pw' });
    expect(await planPassphrase({}, noPrompt, ec384, 'SVC')).toMatchObject({ encrypted: false, source: 'none' });
    expect(await planPassphrase({ encrypt: false }, noPrompt, rsa3072, 'SVC')).toMatchObject({ encrypted: false, source: 'none' });
    expect(await planPassphrase({}, canPrompt, undefined, 'SVC')).toMatchObject({ encrypted: true, source: 'prompt' });
    await expect(planPassphrase({}, noPrompt, undefined, 'SVC')).rejects.toThrow(/a passphrase is needed to encrypt the new key of SVC/);
    const dir = mkdtempSync(join(tmpdir(), 'sfauth-pass-'));
    try {
      writeFileSync(join(dir, 'p'), 'new one\n');
      writeFileSync(join(dir, 'empty'), '\n');
      expect(await planPassphrase({ newPassphraseFile: 'p' }, { cwd: dir, prompter: { canPrompt: false } } as never, rsa3072, 'SVC')).toMatchObject({
        encrypted: true,
        source: '--new-passphrase-file',
        value: Buffer.from('new one'),
      });
      await expect(planPassphrase({ newPassphraseFile: 'empty' }, { cwd: dir, prompter: { canPrompt: false } } as never, undefined, 'SVC')).rejects.toThrow(/is empty/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is named beside the current key, with -2, -3… past existing files; --out never overwrites', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfauth-paths-'));
    try {
      const current = { path: join(dir, 'rsa_key.p8') } as LoadedKey;
      const spec = { type: 'rsa', bits: 2048 } as const;
      const p1 = newKeyPaths({}, { cwd: '/' }, current, spec, 'SVC', NOW);
      expect(p1).toEqual({
        privateKeyPath: join(dir, 'rsa_key.2026-11-23.p8'),
        publicKeyPath: join(dir, 'rsa_key.2026-11-23.pub'),
        journalPath: join(dir, 'rsa_key.2026-11-23.p8.rotate.json'),
      });
      writeFileSync(join(dir, 'rsa_key.2026-11-23.pub'), 'x');
      expect(newKeyPaths({}, { cwd: '/' }, current, spec, 'SVC', NOW).privateKeyPath).toBe(join(dir, 'rsa_key.2026-11-23-2.p8'));
      writeFileSync(join(dir, 'rsa_key.2026-11-23-2.p8.rotate.json'), 'x');
      expect(newKeyPaths({}, { cwd: '/' }, current, spec, 'SVC', NOW).privateKeyPath).toBe(join(dir, 'rsa_key.2026-11-23-3.p8'));
      // no local key of the user (an admin): the current folder, named after the user
      expect(newKeyPaths({}, { cwd: dir }, undefined, spec, 'SVC_LOADER', NOW).privateKeyPath).toBe(join(dir, 'svc_loader_rsa_key.2026-11-23.p8'));
      expect(newKeyPaths({ out: 'new.p8' }, { cwd: dir }, current, spec, 'SVC', NOW).publicKeyPath).toBe(join(dir, 'new.pub'));
      expect(() => newKeyPaths({ out: 'rsa_key.2026-11-23.pub' }, { cwd: dir }, current, spec, 'SVC', NOW)).toThrow(/refusing to overwrite/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the steps', () => {
  const base = {
    user: 'SVC',
    loginName: 'SVC',
    target: { kind: 'slot', newSlot: 2, oldSlot: 1, replacesFingerprint: null } as const,
    hasOld: true,
    keepOld: false,
    newPublicKey: null,
    privateKeyPath: '/k/n.p8',
    publicKeyPath: '/k/n.pub',
    journalPath: '/k/n.p8.rotate.json',
    choice: 'the current key is in slot 1; the new key goes into slot 2',
    display: (p: string) => p,
  };

  it('are the seven of DESIGN §3 with their exact SQL', () => {
    const steps = buildSteps({ ...base, newPublicKey: 'MIIBxyz' });
    expect(steps.map((s) => s.name)).toEqual(['describe', 'choose-slot', 'write-key', 'set', 'verify', 'hand-over', 'unset']);
    const reads = ['DESC USER SVC', 'SHOW USER KEY PAIRS FOR USER SVC'];
    expect(steps.map((s) => s.sql)).toEqual([reads, [], [], ["ALTER USER SVC SET RSA_PUBLIC_KEY_2='MIIBxyz'"], ['SELECT CURRENT_USER()'], [], ['ALTER USER SVC UNSET RSA_PUBLIC_KEY', ...reads]]);
  });

  it('say when a run stops at awaiting delivery: the retire step is --finish\'s', () => {
    const steps = buildSteps({ ...base, newPublicKey: 'MIIBxyz', awaiting: true });
    expect(steps[6]!.description).toMatch(/^stop here, both keys registered \(awaiting delivery\): the old key is retired by --finish/);
    // Nothing to retire now (a grace period, --keep-old): the run does not wait.
    const pair = buildSteps({ ...base, awaiting: true, target: { kind: 'pair', name: 'CI_KEY', graceHours: 24, roleRestriction: null } });
    expect(pair[6]!.description).not.toContain('awaiting');
    expect(buildSteps({ ...base, awaiting: true, keepOld: true })[6]!.description).not.toContain('awaiting');
  });

  it('name a named rotation and a migration by what they send', () => {
    const pair = buildSteps({ ...base, newPublicKey: 'MIIBxyz', target: { kind: 'pair', name: 'CI_KEY', graceHours: 24, roleRestriction: 'LOADER' } });
    expect(pair.map((s) => s.name)).toEqual(['describe', 'choose-key-pair', 'write-key', 'rotate', 'verify', 'hand-over', 'retire']);
    expect(pair[3]!.sql).toEqual(["ALTER USER SVC ROTATE KEY PAIR CI_KEY PUBLIC_KEY='MIIBxyz'"]);
    expect(pair[4]!.description).toContain('role LOADER');
    expect(pair[6]!.sql.filter((q) => q.startsWith('ALTER'))).toEqual([]);
    const now = buildSteps({ ...base, newPublicKey: 'MIIBxyz', target: { kind: 'pair', name: 'CI_KEY', graceHours: 0, roleRestriction: null } });
    expect(now[3]!.sql).toEqual(["ALTER USER SVC ROTATE KEY PAIR CI_KEY PUBLIC_KEY='MIIBxyz' EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS=1"]);
    expect(now[6]!.sql[0]).toBe('ALTER USER SVC MODIFY KEY PAIR CI_KEY_ROTATED_<ms> SET DISABLED = TRUE');
    const two = buildSteps({ ...base, newPublicKey: 'MIIBxyz', target: { kind: 'pair', name: 'CI_KEY', graceHours: 48, roleRestriction: null } });
    expect(two[3]!.sql[0]).toMatch(/EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS=48$/);
    const migrate = buildSteps({
      ...base,
      newPublicKey: 'MIIBxyz',
      target: { kind: 'migrate', name: 'CI_KEY', fromSlot: 1, via: 'add', roleRestriction: 'LOADER', daysToExpiry: 90, comment: null },
    });
    expect(migrate.map((s) => s.name)).toEqual(['describe', 'choose-key-pair', 'write-key', 'add', 'verify', 'hand-over', 'unset']);
    expect(migrate[3]!.sql).toEqual(["ALTER USER SVC ADD KEY PAIR CI_KEY PUBLIC_KEY='MIIBxyz' ROLE_RESTRICTION='LOADER' DAYS_TO_EXPIRY=90"]);
    expect(migrate[6]!.sql[0]).toBe('ALTER USER SVC UNSET RSA_PUBLIC_KEY');
  });

  it('show a placeholder before the key exists, and no UNSET with --keep-old or without an old slot', () => {
    expect(buildSteps(base)[3]!.sql).toEqual([`ALTER USER SVC SET RSA_PUBLIC_KEY_2='${PUBLIC_KEY_PLACEHOLDER}'`]);
    expect(buildSteps({ ...base, keepOld: true })[6]!.sql).toEqual(['DESC USER SVC', 'SHOW USER KEY PAIRS FOR USER SVC']);
    expect(buildSteps({ ...base, target: { ...base.target, oldSlot: null }, hasOld: false })[6]!.description).toContain('no old key to remove');
    expect(buildSteps({ ...base, user: 'odd user' })[0]!.sql).toEqual(['DESC USER "odd user"', 'SHOW USER KEY PAIRS FOR USER "odd user"']);
  });
});

describe('verifyNewKey: retries refusals (propagation) until the deadline', () => {
  const refused = () => new CheckFailedError('ERR_AUTH_REFUSED', 'authentication refused: fingerprint (394304)');
  function fakeClient(answers: Array<'ok' | Error>): SnowflakeClient & { calls: number } {
    const c = {
      calls: 0,
      async execute() {
        const a = answers[Math.min(c.calls++, answers.length - 1)]!;
        if (a instanceof Error) throw a;
        return { requestId: 'r', columns: ['CURRENT_USER()'], rows: [['SVC']] };
      },
    };
    return c as unknown as SnowflakeClient & { calls: number };
  }

  it('succeeds once the key has propagated', async () => {
    let now = 0;
    const pauses: number[] = [];
    const client = fakeClient([refused(), refused(), 'ok']);
    const out = await verifyNewKey(client, { now: () => now, deadline: 30_000, sleep: async (ms) => void (pauses.push(ms), (now += ms)) });
    expect(out).toEqual({ ok: true, user: 'SVC', attempts: 3 });
    expect(pauses).toEqual([verifyPause(1), verifyPause(2)]);
  });

  it('gives up before the deadline with the last refusal', async () => {
    let now = 0;
    const client = fakeClient([refused()]);
    const out = await verifyNewKey(client, { now: () => now, deadline: 3000, sleep: async (ms) => void (now += ms) });
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.lastError.code).toBe('ERR_AUTH_REFUSED');
    expect(now).toBeLessThanOrEqual(3000);
  });

  it('does not retry other failures', async () => {
    const client = fakeClient([new ServiceError('ERR_TIMEOUT', 'no answer')]);
    await expect(verifyNewKey(client, { now: () => 0, deadline: 30_000, sleep: async () => {} })).rejects.toThrow('no answer');
    expect(client.calls).toBe(1);
  });

  it('pauses grow to at most 4 s', () => {
    expect([1, 2, 3, 10].map(verifyPause)).toEqual([400, 600, 900, 4000]);
  });
});

describe('a generated key round-trips through the journal fields', () => {
  it('keeps the public body, never the private key', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const body = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const j = journal({ newPublicKey: body, keyType: 'ec', curve: 'P-256', bits: undefined });
    const text = JSON.stringify(j);
    expect(parseJournal(text)?.newPublicKey).toBe(body);
    expect(text).not.toContain('PRIVATE');
  });
});
