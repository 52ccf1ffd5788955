/**
 * `sfauth status` end to end against the local Snowflake emulator (run `npm run build` first): the
 * legacy slots and the named key pairs with fingerprint, status, set time, age and expiry, which one
 * the local key matches, `--json`, `--max-age` and `--expiring-within` as monitoring checks, and a
 * server without named key pairs, under each unconfirmed behaviour of SHOW USER KEY PAIRS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPair, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, STACK_TRACE, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../support/emulator.js';

const DAY = 86_400_000;
const PASSPHRASE = 'status secret 9';
const gen = promisify(generateKeyPair);

function fingerprintOf(key: KeyObject): string {
  return 'SHA256:' + createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('base64');
}

let sf: Emulator;
let dir: string;
let cleanup: () => void;
let svc: { publicKey: KeyObject; privateKey: KeyObject };
let other: { publicKey: KeyObject; privateKey: KeyObject };
let admin: { publicKey: KeyObject; privateKey: KeyObject };
let pairOff: { publicKey: KeyObject; privateKey: KeyObject };
const emulators: Emulator[] = [];

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
  ({ dir, cleanup } = tempDir('sfauth-status-'));
  mkdirSync(join(dir, 'home'));
  [svc, other, admin, pairOff] = await Promise.all([gen('rsa', { modulusLength: 2048 }), gen('ec', { namedCurve: 'P-256' }), gen('rsa', { modulusLength: 2048 }), gen('ec', { namedCurve: 'P-384' })]);
  writeFileSync(join(dir, 'svc.p8'), svc.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE }), { mode: 0o600 });
  writeFileSync(join(dir, 'pass.txt'), PASSPHRASE);
  writeFileSync(join(dir, 'admin.p8'), admin.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  sf = await startEmulator();
  // SVC: its key in slot 1, set 41 days ago; slot 2 empty.
  sf.addUser('SVC', { rsaPublicKey: svc.publicKey, lastSet1: new Date(Date.now() - 41 * DAY - 3_600_000) });
  // TWO: an old key (set 120 days ago) and a newer one (set 3 days ago) for the admin checks.
  sf.addUser('TWO', { rsaPublicKey: svc.publicKey, rsaPublicKey2: other.publicKey, lastSet1: new Date(Date.now() - 120 * DAY), lastSet2: new Date(Date.now() - 3 * DAY) });
  // UNKNOWN: a key whose set time Snowflake does not know.
  sf.addUser('UNKNOWN', { rsaPublicKey: other.publicKey, lastSet1: null });
  sf.addUser('NOKEY');
  sf.addUser('ADMIN', { rsaPublicKey: admin.publicKey });
  sf.grant('ADMIN', '*');
});

afterAll(async () => {
  await sf?.close();
  for (const e of emulators) await e.close();
  cleanup?.();
});

const env = () => ({ HOME: join(dir, 'home') });
const asSvc = (extra: string[]) =>
  runCliAsync(['status', '--account', 'myorg-myaccount', '--host', sf.url, '--user', 'svc', '--private-key', 'svc.p8', '--passphrase-file', 'pass.txt', ...extra], { cwd: dir, env: env() });
const asAdmin = (extra: string[]) =>
  runCliAsync(['status', '--account', 'myorg-myaccount', '--host', sf.url, '--user', 'ADMIN', '--private-key', 'admin.p8', ...extra], { cwd: dir, env: env() });

function clean(r: CliResult): void {
  const all = r.stdout + r.stderr;
  expect(all).not.toMatch(/PRIVATE KEY/);
  expect(all).not.toContain(PASSPHRASE);
  expect(all).not.toMatch(STACK_TRACE);
}

describe.concurrent('sfauth status: legacy slots', () => {
  it('shows every key in an aligned table on stdout, with age and the key the local key matches', async () => {
    const r = await asSvc([]);
    expect(r.code, r.stderr).toBe(0);
    clean(r);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('user SVC');
    expect(lines[1]).toMatch(/^KEY +FINGERPRINT +STATUS +SET +AGE +EXPIRES +LOCAL KEY$/);
    expect(lines[2]).toMatch(new RegExp(`^slot 1 +${fingerprintOf(svc.publicKey).replace(/[+/]/g, '\\$&')} +active +\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC +41 days +- +matches \\(in use\\)$`));
    expect(lines[3]).toMatch(/^slot 2 +\(empty\) +- +- +- +- +-$/);
    // aligned: every column starts at the same offset in each row
    for (const header of ['FINGERPRINT', 'STATUS', 'SET', 'AGE', 'EXPIRES', 'LOCAL KEY']) {
      const at = lines[1]!.indexOf(header);
      expect(lines[2]!.slice(at - 2, at)).toBe('  ');
      expect(lines[3]![at - 1]).toBe(' ');
    }
  });

  it('--json gives one array of keys with kind, the empty slots, and the key in use', async () => {
    const r = await asSvc(['--json']);
    expect(r.code, r.stderr).toBe(0);
    clean(r);
    const doc = JSON.parse(r.stdout);
    expect(doc.user).toBe('SVC');
    expect(doc.keys).toHaveLength(1);
    expect(doc.keys[0]).toMatchObject({ kind: 'slot', slot: 1, property: 'RSA_PUBLIC_KEY', status: 'ACTIVE', fingerprint: fingerprintOf(svc.publicKey), ageDays: 41, matchesLocalKey: true, inUse: true });
    expect(Date.now() - Date.parse(doc.keys[0].setAt)).toBeGreaterThan(41 * DAY);
    expect(doc.emptySlots).toEqual([2]);
    expect(doc.namedKeyPairs).toEqual({ available: true });
    expect(doc.keyInUse).toEqual({ kind: 'slot', slot: 1, fingerprint: fingerprintOf(svc.publicKey), reason: 'local-key', ageDays: 41 });
  });

  it('--max-age: exit 0 within the limit, exit 1 (with the JSON document still on stdout) beyond it', async () => {
    const ok = await asSvc(['--max-age', '90d']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('✓ the key in use (slot 1 (RSA_PUBLIC_KEY)) is 41 days old, within 90 days');

    const old = await asSvc(['--max-age', '30d']);
    expect(old.code).toBe(1);
    clean(old);
    expect(old.stderr).toMatch(/^sfauth: the key in use \(slot 1 \(RSA_PUBLIC_KEY\)\) is 41 days old, more than 30 days\n/);
    expect(old.stderr).toMatch(/^hint: rotate it: sfauth rotate --apply$/m);

    const json = await asSvc(['--max-age', '30d', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).maxAge).toEqual({ limit: '30d', ok: false });
    expect(JSON.parse(json.stderr).error).toMatchObject({ code: 'ERR_KEY_TOO_OLD', data: { kind: 'slot', slot: 1, ageDays: 41 } });

    const bad = await asSvc(['--max-age', 'old']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^sfauth: invalid --max-age 'old'\nhint: /);
  });

  it('--target-user: an admin sees another user; without a local match the newest key is the key in use', async () => {
    const r = await asAdmin(['--target-user', 'two', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.user).toBe('TWO');
    expect(doc.keys.map((s: { matchesLocalKey: boolean }) => s.matchesLocalKey)).toEqual([false, false]);
    expect(doc.keys.map((s: { ageDays: number }) => s.ageDays)).toEqual([120, 3]);
    expect(doc.keyInUse).toMatchObject({ kind: 'slot', slot: 2, reason: 'newest', ageDays: 3 });
    expect((await asAdmin(['--target-user', 'TWO', '--max-age', '90d'])).code).toBe(0);

    const text = await asAdmin(['--target-user', 'TWO']);
    // Another user's program is not seen from here: no key is labelled "in use" by guess.
    expect(text.stdout).toMatch(/^slot 2 +SHA256:\S+ +active +.+ +3 days +- +no$/m);
    expect(text.stdout).not.toContain('in use');
    expect(text.stderr).toContain("which key TWO's program uses is not known from here; --max-age and --expiring-within judge the most recently set, slot 2 (RSA_PUBLIC_KEY_2)");
  });

  it('an unknown LAST_SET_TIME shows as unknown and fails --max-age; a user without keys fails it too', async () => {
    const u = await asAdmin(['--target-user', 'UNKNOWN', '--max-age', '90d']);
    expect(u.code).toBe(1);
    expect(u.stdout).toMatch(/^slot 1 +SHA256:\S+ +active +unknown +unknown +- +no$/m);
    expect(u.stderr).toMatch(/^sfauth: the most recently set key \(slot 1 \(RSA_PUBLIC_KEY\)\) was set at an unknown time$/m);

    const n = await asAdmin(['--target-user', 'NOKEY', '--max-age', '90d', '--json']);
    expect(n.code).toBe(1);
    expect(JSON.parse(n.stdout)).toMatchObject({ keys: [], emptySlots: [1, 2] });
    expect(JSON.parse(n.stderr).error.message).toBe('NOKEY has no active registered key');
  });

  it('a user one may not see exits 1 with the server message; a missing user name exits 2', async () => {
    const r = await asSvc(['--target-user', 'TWO']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sfauth: Snowflake refused the statement: SQL compilation error: User 'TWO' does not exist or not authorized\./m);
    expect(r.stderr).toMatch(/^hint: /m);
    clean(r);

    const m = await runCliAsync(['status', '--account', 'myorg-myaccount', '--host', sf.url], { cwd: dir, env: env() });
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/^sfauth: .+\nhint: /);
    clean(m);
  });
});

describe.concurrent('sfauth status: named key pairs', () => {
  /** An emulator (with options) where PAIRUSER authenticates with a named pair and has others. */
  async function pairWorld(options: EmulatorOptions = {}): Promise<Emulator> {
    const e = await startEmulator(options);
    emulators.push(e);
    e.addUser('PAIRUSER', { rsaPublicKey: other.publicKey, lastSet1: new Date(Date.now() - 200 * DAY), role: 'LOADER' });
    e.addKeyPair('PAIRUSER', 'CI_KEY', svc.publicKey, { createdOn: new Date(Date.now() - 10 * DAY), daysToExpiry: 20, comment: 'for CI', lastUsedOn: new Date(Date.now() - DAY) });
    e.addKeyPair('PAIRUSER', 'CI_KEY_ROTATED_1764000000000', admin.publicKey, { rotatedTo: 'CI_KEY', createdOn: new Date(Date.now() - 40 * DAY), expiresAt: new Date(Date.now() + 5 * 3_600_000) });
    e.addKeyPair('PAIRUSER', 'OFF', pairOff.publicKey, { disabled: true, roleRestriction: 'LOADER' });
    return e;
  }
  const asPair = (e: Emulator, extra: string[]) =>
    runCliAsync(['status', '--account', 'myorg-myaccount', '--host', e.url, '--user', 'PAIRUSER', '--private-key', 'svc.p8', '--passphrase-file', 'pass.txt', ...extra], { cwd: dir, env: env() });

  it('lists the slots and every pair, rotated-out and disabled ones marked, with notes; the pair in use is found by the local key', async () => {
    const e = await pairWorld();
    const r = await asPair(e, []);
    expect(r.code, r.stderr).toBe(0);
    clean(r);
    expect(r.stdout).toMatch(/^slot 1 +SHA256:\S+ +active +.+ +200 days +- +no$/m);
    expect(r.stdout).toMatch(new RegExp(`^pair CI_KEY +${fingerprintOf(svc.publicKey).replace(/[+/]/g, '\\$&')} +active +\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC +10 days +in (9|10) days +matches \\(in use\\)$`, 'm'));
    expect(r.stdout).toMatch(/^pair CI_KEY_ROTATED_1764000000000 +SHA256:\S+ +active +.+ +40 days +in (4|5)h( \d+m)? +no$/m);
    expect(r.stdout).toMatch(/^pair OFF +SHA256:\S+ +disabled +/m);
    expect(r.stdout).toMatch(/^ {2}CI_KEY: comment "for CI"; last used \d{4}-/m);
    expect(r.stdout).toMatch(/^ {2}CI_KEY_ROTATED_1764000000000: rotated out, replaced by CI_KEY$/m);
    expect(r.stdout).toMatch(/^ {2}OFF: role restriction LOADER$/m);
  });

  it('--json: pairs with kind "pair" and every field; --max-age judges the pair in use', async () => {
    const e = await pairWorld();
    const r = await asPair(e, ['--json', '--max-age', '30d']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.keys.map((k: { name: string }) => k.name)).toEqual(['RSA_PUBLIC_KEY', 'CI_KEY', 'CI_KEY_ROTATED_1764000000000', 'OFF']);
    expect(doc.account).toBe('MYORG-MYACCOUNT');
    // every key carries every field of the contract, null where it does not apply
    for (const k of doc.keys) {
      for (const field of ['kind', 'name', 'fingerprint', 'status', 'ageDays', 'expiresAt', 'rotatedTo', 'roleRestriction', 'comment', 'lastUsedOn', 'matchesLocalKey']) expect(k).toHaveProperty(field);
      expect(k).toHaveProperty(k.kind === 'slot' ? 'setAt' : 'createdOn');
    }
    expect(doc.keys[1]).toMatchObject({ kind: 'pair', name: 'CI_KEY', status: 'ACTIVE', comment: 'for CI', roleRestriction: null, rotatedTo: null, ageDays: 10, matchesLocalKey: true, inUse: true });
    expect(Date.parse(doc.keys[1].expiresAt) - Date.now()).toBeGreaterThan(9 * DAY);
    expect(doc.keys[2]).toMatchObject({ kind: 'pair', rotatedTo: 'CI_KEY', inUse: false });
    expect(doc.keys[3]).toMatchObject({ kind: 'pair', name: 'OFF', status: 'DISABLED', roleRestriction: 'LOADER' });
    expect(doc.keyInUse).toMatchObject({ kind: 'pair', name: 'CI_KEY', reason: 'local-key', ageDays: 10 });
    const old = await asPair(e, ['--max-age', '7d']);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/^sfauth: the key in use \(key pair CI_KEY\) is 10 days old, more than 7 days$/m);
    expect(old.stderr).toMatch(/^hint: rotate it: sfauth rotate --key-pair CI_KEY --apply$/m);
  });

  it('--expiring-within: exit 1 naming the keys that expire in time, the key in use first', async () => {
    const e = await pairWorld();
    const soon = await asPair(e, ['--expiring-within', '14d']);
    expect(soon.code).toBe(1);
    expect(soon.stderr).toMatch(/^sfauth: the key in use \(key pair CI_KEY\) expires in (9|10) days, within 14 days \(and 1 more\)$/m);
    expect(soon.stderr).toMatch(/^ {2}key pair CI_KEY_ROTATED_1764000000000: in (4|5)h/m);
    const one = await asPair(e, ['--expiring-within', '1d', '--json']);
    expect(one.code).toBe(1);
    expect(JSON.parse(one.stdout).expiringWithin).toEqual({ limit: '1d', ok: false, keys: ['key pair CI_KEY_ROTATED_1764000000000'] });
    expect(JSON.parse(one.stderr).error).toMatchObject({ code: 'ERR_KEY_EXPIRING', data: { keys: [{ kind: 'pair', name: 'CI_KEY_ROTATED_1764000000000', inUse: false }] } });
    const fine = await asPair(e, ['--expiring-within', '1h']);
    expect(fine.code, fine.stderr).toBe(0);
    expect(fine.stderr).toContain('✓ no active key expires within 1h');
  });

  it('a server without named key pairs: the legacy view and a note, exit 0', async () => {
    const e = await pairWorld({ namedKeyPairs: false });
    const r = await runCliAsync(['status', '--account', 'myorg-myaccount', '--host', e.url, '--user', 'ADMIN2', '--private-key', 'admin.p8', '--target-user', 'PAIRUSER', '--json'], {
      cwd: dir,
      env: env(),
    });
    // ADMIN2 does not exist yet: authentication is refused (exit 1), a real failure, not "no named pairs"
    expect(r.code).toBe(1);
    e.addUser('ADMIN2', { rsaPublicKey: admin.publicKey });
    e.grant('ADMIN2', '*');
    const ok = await runCliAsync(['status', '--account', 'myorg-myaccount', '--host', e.url, '--user', 'ADMIN2', '--private-key', 'admin.p8', '--target-user', 'PAIRUSER'], { cwd: dir, env: env() });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).not.toMatch(/^pair /m);
    expect(ok.stderr).toMatch(/^named key pairs: not available on this server \(SQL compilation error: syntax error/m);
  });

  it('each unconfirmed server behaviour gives the same answer: bare fingerprints, legacy rows in SHOW, times as text', async () => {
    for (const options of [{ showFingerprint: 'bare' as const }, { showLegacySlots: true }, { showTimeFormat: 'text' as const }]) {
      const e = await pairWorld(options);
      const r = await asPair(e, ['--json']);
      expect(r.code, `${JSON.stringify(options)}: ${r.stderr}`).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.keys.map((k: { kind: string }) => k.kind)).toEqual(['slot', 'pair', 'pair', 'pair']);
      expect(doc.keys[1]).toMatchObject({ name: 'CI_KEY', fingerprint: fingerprintOf(svc.publicKey), matchesLocalKey: true, ageDays: 10 });
      expect(doc.keyInUse).toMatchObject({ kind: 'pair', name: 'CI_KEY' });
    }
  });
});
