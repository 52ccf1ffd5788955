/**
 * `sfauth status` end to end against the local Snowflake emulator (run `npm run build` first):
 * both slots with fingerprint, set time and age, which one the local key matches, `--json`, and
 * `--max-age` as a monitoring check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPair, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, STACK_TRACE, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';

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

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
  ({ dir, cleanup } = tempDir('sfauth-status-'));
  mkdirSync(join(dir, 'home'));
  [svc, other, admin] = await Promise.all([gen('rsa', { modulusLength: 2048 }), gen('ec', { namedCurve: 'P-256' }), gen('rsa', { modulusLength: 2048 })]);
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

describe.concurrent('sfauth status', () => {
  it('shows both slots in an aligned table on stdout, with age and the slot the local key matches', async () => {
    const r = await asSvc([]);
    expect(r.code, r.stderr).toBe(0);
    clean(r);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('user SVC');
    expect(lines[1]).toMatch(/^SLOT +PROPERTY +FINGERPRINT +LAST SET +AGE +LOCAL KEY$/);
    expect(lines[2]).toMatch(new RegExp(`^1 +RSA_PUBLIC_KEY +${fingerprintOf(svc.publicKey).replace(/[+/]/g, '\\$&')} +\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}\\.\\d{3} -0800 +41 days +matches \\(in use\\)$`));
    expect(lines[3]).toMatch(/^2 +RSA_PUBLIC_KEY_2 +\(empty\) +- +- +-$/);
    // aligned: every column starts at the same offset in each row
    for (const header of ['PROPERTY', 'FINGERPRINT', 'LAST SET', 'AGE', 'LOCAL KEY']) {
      const at = lines[1]!.indexOf(header);
      expect(lines[2]!.slice(at - 2, at)).toBe('  ');
      expect(lines[3]![at - 1]).toBe(' ');
    }
  });

  it('--json gives {user, slots: [{slot, fingerprint, lastSetTime, ageDays, matchesLocalKey}]}', async () => {
    const r = await asSvc(['--json']);
    expect(r.code, r.stderr).toBe(0);
    clean(r);
    const doc = JSON.parse(r.stdout);
    expect(doc.user).toBe('SVC');
    expect(doc.slots).toHaveLength(2);
    expect(doc.slots[0]).toMatchObject({ slot: 1, fingerprint: fingerprintOf(svc.publicKey), ageDays: 41, matchesLocalKey: true });
    expect(Date.now() - Date.parse(doc.slots[0].lastSetTime)).toBeGreaterThan(41 * DAY);
    expect(doc.slots[1]).toEqual({ slot: 2, property: 'RSA_PUBLIC_KEY_2', fingerprint: null, lastSetTime: null, ageDays: null, matchesLocalKey: false });
    expect(doc.keyInUse).toEqual({ slot: 1, reason: 'local-key', ageDays: 41 });
  });

  it('--max-age: exit 0 within the limit, exit 1 (with the JSON document still on stdout) beyond it', async () => {
    const ok = await asSvc(['--max-age', '90d']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('✓ the key in use (slot 1) is 41 days old, within 90 days');

    const old = await asSvc(['--max-age', '30d']);
    expect(old.code).toBe(1);
    clean(old);
    expect(old.stderr).toMatch(/^sfauth: the key in use \(slot 1\) is 41 days old, more than 30 days\n/);
    expect(old.stderr).toMatch(/^hint: rotate it: sfauth rotate --apply$/m);

    const json = await asSvc(['--max-age', '30d', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).maxAge).toEqual({ limit: '30d', ok: false });
    expect(JSON.parse(json.stderr).error).toMatchObject({ code: 'ERR_KEY_TOO_OLD', data: { slot: 1, ageDays: 41 } });

    const bad = await asSvc(['--max-age', 'old']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^sfauth: invalid --max-age 'old'\nhint: /);
  });

  it('--target-user: an admin sees another user; without a local match the newest slot is the key in use', async () => {
    const r = await asAdmin(['--target-user', 'two', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.user).toBe('TWO');
    expect(doc.slots.map((s: { matchesLocalKey: boolean }) => s.matchesLocalKey)).toEqual([false, false]);
    expect(doc.slots.map((s: { ageDays: number }) => s.ageDays)).toEqual([120, 3]);
    expect(doc.keyInUse).toEqual({ slot: 2, reason: 'newest', ageDays: 3 });
    expect((await asAdmin(['--target-user', 'TWO', '--max-age', '90d'])).code).toBe(0);

    const text = await asAdmin(['--target-user', 'TWO']);
    expect(text.stdout).toMatch(/^2 +RSA_PUBLIC_KEY_2 +SHA256:\S+ +.+ +3 days +no \(in use\)$/m);
    expect(text.stderr).toContain('key in use: taken to be slot 2, the most recently set');
  });

  it('an unknown LAST_SET_TIME shows as unknown and fails --max-age; a user without keys fails it too', async () => {
    const u = await asAdmin(['--target-user', 'UNKNOWN', '--max-age', '90d']);
    expect(u.code).toBe(1);
    expect(u.stdout).toMatch(/^1 +RSA_PUBLIC_KEY +SHA256:\S+ +unknown +unknown +no \(in use\)$/m);
    expect(u.stderr).toMatch(/^sfauth: the key in use \(slot 1\) was set at an unknown time$/m);

    const n = await asAdmin(['--target-user', 'NOKEY', '--max-age', '90d', '--json']);
    expect(n.code).toBe(1);
    expect(JSON.parse(n.stdout).slots.map((s: { fingerprint: null }) => s.fingerprint)).toEqual([null, null]);
    expect(JSON.parse(n.stderr).error.message).toBe('NOKEY has no registered key');
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
