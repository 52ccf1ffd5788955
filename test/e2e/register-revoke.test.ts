/**
 * `sfauth register` and `sfauth revoke` end to end against the emulator: plan first (nothing sent),
 * `--apply` with confirmation, legacy slots and named key pairs, and every refusal before any
 * statement is sent (already registered, occupied slot, taken name, the 10-pair limit, no named pairs
 * on the server; revoking the key in use or the last working key).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_TRACE, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../support/emulator.js';

const tmp = tempDir('sfauth-register-');
const emulators: Emulator[] = [];
afterAll(async () => {
  for (const e of emulators) await e.close();
  tmp.cleanup();
});

interface Key {
  p8: string;
  pub: string;
  publicKey: KeyObject;
  fp: string;
}
const keys: Record<'admin' | 'svc' | 'a' | 'b' | 'c', Key> = {} as never;

beforeAll(() => {
  mkdirSync(join(tmp.dir, 'home'));
  for (const name of ['admin', 'svc', 'a', 'b', 'c'] as const) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const p8 = join(tmp.dir, `${name}.p8`);
    const pub = join(tmp.dir, `${name}.pub`);
    writeFileSync(p8, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
    keys[name] = { p8, pub, publicKey: pair.publicKey, fp: 'SHA256:' + createHash('sha256').update(pair.publicKey.export({ type: 'spki', format: 'der' })).digest('base64') };
  }
});

async function world(options: EmulatorOptions = {}): Promise<Emulator> {
  const sf = await startEmulator(options);
  emulators.push(sf);
  sf.addUser('ADMIN', { rsaPublicKey: keys.admin.publicKey });
  sf.grant('ADMIN', '*');
  sf.addUser('SVC', { rsaPublicKey: keys.svc.publicKey, roles: ['LOADER'] });
  return sf;
}

function asAdmin(sf: Emulator, cmd: 'register' | 'revoke', args: string[]): Promise<CliResult> {
  return runCliAsync([cmd, '--account', 'myorg-myaccount', '--host', sf.url, '--user', 'ADMIN', '--private-key', keys.admin.p8, '--target-user', 'SVC', ...args], {
    cwd: tmp.dir,
    env: { HOME: join(tmp.dir, 'home') },
  });
}

/** ALTER statements the server ran. */
const alters = (sf: Emulator) => sf.executed.filter((e) => /^ALTER/.test(e.statement));

function refused(r: CliResult, exit: number, code: string, message: RegExp): void {
  expect(r.code, r.stderr).toBe(exit);
  expect(r.stdout).toBe('');
  const doc = JSON.parse(r.stderr.trim().split('\n').at(-1)!);
  expect(doc.error.code).toBe(code);
  expect(doc.error.message).toMatch(message);
  expect(r.stderr).not.toMatch(STACK_TRACE);
}

describe('register', () => {
  it('plans first (SQL on stdout, nothing sent), then --apply sets the empty slot and confirms it', async () => {
    const sf = await world();
    const plan = await asAdmin(sf, 'register', ['--public-key', keys.a.pub]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(new RegExp(`^Register ${keys.a.fp.replace(/[+/]/g, '\\$&')} for SVC as slot 2 \\(RSA_PUBLIC_KEY_2\\):\\n  ALTER USER SVC SET RSA_PUBLIC_KEY_2='[^']+';\\n$`));
    expect(plan.stderr).toContain('plan only: nothing was changed');
    expect(alters(sf)).toEqual([]);
    const done = await asAdmin(sf, 'register', ['--public-key', keys.a.pub, '--apply', '--json']);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ user: 'SVC', action: 'set', slot: 2, fingerprint: keys.a.fp, applied: true, confirmed: true });
    expect(sf.user('SVC').slots[2]?.fingerprint).toBe(keys.a.fp);
  });

  it('--key-pair adds a named pair with its properties, confirmed by SHOW', async () => {
    const sf = await world();
    const r = await asAdmin(sf, 'register', ['--public-key', keys.b.p8, '--key-pair', 'ci_key', '--role-restriction', 'LOADER', '--expires-in', '30d', '--comment', 'CI', '--apply']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`registered SVC: key pair CI_KEY = ${keys.b.fp}\n`);
    expect(sf.keyPairs('SVC')).toEqual([expect.objectContaining({ name: 'CI_KEY', fingerprint: keys.b.fp, roleScope: 'LOADER', comment: 'CI', status: 'ACTIVE' })]);
  });

  it('refuses, before sending anything: a key already registered, an occupied slot, a taken name, the limit, no named pairs', async () => {
    const sf = await world();
    sf.addKeyPair('SVC', 'TAKEN', keys.c.publicKey);
    refused(await asAdmin(sf, 'register', ['--public-key', keys.svc.pub, '--json']), 1, 'ERR_KEY_ALREADY_REGISTERED', /already registered for SVC: slot 1 \(RSA_PUBLIC_KEY\)/);
    refused(await asAdmin(sf, 'register', ['--public-key', keys.c.pub, '--slot', '2', '--json']), 1, 'ERR_KEY_ALREADY_REGISTERED', /key pair TAKEN/);
    refused(await asAdmin(sf, 'register', ['--public-key', keys.a.pub, '--slot', '1', '--json']), 1, 'ERR_SLOT_OCCUPIED', /slot 1 \(RSA_PUBLIC_KEY\) of SVC holds another key/);
    refused(await asAdmin(sf, 'register', ['--public-key', keys.a.pub, '--key-pair', 'taken', '--json']), 1, 'ERR_KEY_PAIR_EXISTS', /already has a key pair named TAKEN/);
    for (let i = 0; i < 9; i++) sf.addKeyPair('SVC', `P${i}`, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, i === 0 ? { rotatedTo: 'P1', expiresAt: new Date(Date.now() + 3_600_000) } : {});
    const limit = await asAdmin(sf, 'register', ['--public-key', keys.a.pub, '--key-pair', 'one_more', '--json']);
    refused(limit, 1, 'ERR_KEY_PAIR_LIMIT', /SVC has 10 key pairs, Snowflake's limit/);
    expect(JSON.parse(limit.stderr).error.details).toContainEqual(expect.stringMatching(/^P0 \(active, rotated out, gone \d{4}-/));
    expect(alters(sf)).toEqual([]);
    const old = await world({ namedKeyPairs: false });
    refused(await asAdmin(old, 'register', ['--public-key', keys.a.pub, '--key-pair', 'k', '--json']), 1, 'ERR_KEY_PAIRS_UNAVAILABLE', /no named key pairs/);
  });

  it('--overwrite replaces the key a slot holds; --overwrite with --key-pair is a usage error', async () => {
    const sf = await world();
    sf.setKey('SVC', 2, keys.b.publicKey);
    const r = await asAdmin(sf, 'register', ['--public-key', keys.a.pub, '--slot', '2', '--overwrite', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ slot: 2, replaces: keys.b.fp, confirmed: true });
    expect((await asAdmin(sf, 'register', ['--public-key', keys.c.pub, '--key-pair', 'k', '--overwrite'])).code).toBe(2);
  });
});

describe('revoke', () => {
  it('plans first; --apply unsets a slot, disables or removes a pair, and confirms', async () => {
    const sf = await world();
    sf.setKey('SVC', 2, keys.a.publicKey);
    sf.addKeyPair('SVC', 'CI', keys.b.publicKey);
    sf.addKeyPair('SVC', 'OLD', keys.c.publicKey);
    const plan = await asAdmin(sf, 'revoke', ['--slot', '2']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toBe(`Remove slot 2 (RSA_PUBLIC_KEY_2) of SVC (${keys.a.fp}):\n  ALTER USER SVC UNSET RSA_PUBLIC_KEY_2;\n`);
    expect(alters(sf)).toEqual([]);
    expect((await asAdmin(sf, 'revoke', ['--slot', '2', '--apply'])).code).toBe(0);
    expect(sf.user('SVC').slots[2]).toBeNull();
    const disabled = await asAdmin(sf, 'revoke', ['--key-pair', 'ci', '--disable', '--apply', '--json']);
    expect(disabled.code, disabled.stderr).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ action: 'disable', keyPair: 'CI', confirmed: true, sql: 'ALTER USER SVC MODIFY KEY PAIR CI SET DISABLED = TRUE;' });
    const removed = await asAdmin(sf, 'revoke', ['--fingerprint', keys.c.fp, '--apply']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe(`revoked SVC: key pair OLD removed (${keys.c.fp})\n`);
    expect(sf.keyPairs('SVC').map((p) => [p.name, p.status])).toEqual([['CI', 'DISABLED']]);
  });

  it('refuses the key in use and the last working key (unless --force), an unknown key, and --disable on a slot', async () => {
    const sf = await world();
    const self = await runCliAsync(['revoke', '--account', 'myorg-myaccount', '--host', sf.url, '--user', 'SVC', '--private-key', keys.svc.p8, '--slot', '1', '--json'], { cwd: tmp.dir, env: { HOME: join(tmp.dir, 'home') } });
    refused(self, 1, 'ERR_REVOKE_SELF', /slot 1 \(RSA_PUBLIC_KEY\) is the key this command authenticates with/);
    refused(await asAdmin(sf, 'revoke', ['--slot', '1', '--json']), 1, 'ERR_LAST_KEY', /the last working key of SVC/);
    refused(await asAdmin(sf, 'revoke', ['--slot', '2', '--json']), 1, 'ERR_KEY_NOT_FOUND', /slot 2 \(RSA_PUBLIC_KEY_2\) of SVC is empty/);
    refused(await asAdmin(sf, 'revoke', ['--key-pair', 'nope', '--json']), 1, 'ERR_KEY_NOT_FOUND', /no key pair named NOPE/);
    expect(alters(sf)).toEqual([]);
    expect((await asAdmin(sf, 'revoke', ['--slot', '1', '--disable'])).code).toBe(2);
    expect((await asAdmin(sf, 'revoke', ['--slot', '1', '--key-pair', 'x'])).code).toBe(2);
    const forced = await asAdmin(sf, 'revoke', ['--slot', '1', '--force', '--apply']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(sf.user('SVC').slots[1]).toBeNull();
  });
});
