/**
 * `sfauth doctor` end to end: one setup per cause of a failed key-pair authentication, each asserting
 * the check that fails (or warns) and its fix, and a healthy setup where everything passes. The
 * emulator answers 390144 generically, as Snowflake does, so the precise reason comes from the admin
 * connection's SYSTEM$GET_LOGIN_FAILURE_DETAILS. The DNS case looks up a `.invalid` name (RFC 6761:
 * never resolves); nothing else leaves loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_TRACE, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../support/emulator.js';
import { startProxy } from '../support/proxy.js';
import { makeTestPki, type TestPki } from '../support/tls.js';

const PASSPHRASE = 'doctor-passphrase-77';
const tmp = tempDir('sfauth-doctor-');
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
  tmp.cleanup();
});

interface Key {
  p8: string;
  publicKey: KeyObject;
  fp: string;
}
const k = {} as Record<'svc' | 'other' | 'admin' | 'ec' | 'enc' | 'pair', Key>;
let pki: TestPki;

function makeKey(name: string, kind: 'rsa' | 'ec', encrypted = false): Key {
  const pair = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const p8 = join(tmp.dir, `${name}.p8`);
  writeFileSync(p8, pair.privateKey.export(encrypted ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE } : { type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return { p8, publicKey: pair.publicKey, fp: 'SHA256:' + createHash('sha256').update(pair.publicKey.export({ type: 'spki', format: 'der' })).digest('base64') };
}

beforeAll(() => {
  k.svc = makeKey('svc', 'rsa');
  k.other = makeKey('other', 'rsa');
  k.admin = makeKey('admin', 'ec');
  k.ec = makeKey('ec', 'ec');
  k.enc = makeKey('enc', 'rsa', true);
  k.pair = makeKey('pair', 'ec');
  pki = makeTestPki(tmp.dir);
});

/** An emulator with SVC (slot 1), ECUSER, and PAIRUSER's pairs; ADMIN may look at everyone. */
async function world(options: EmulatorOptions = {}): Promise<{ sf: Emulator; home: string }> {
  const sf = await startEmulator({ jwtErrors: 'generic', ...options });
  closers.push(() => sf.close());
  sf.addUser('SVC', { rsaPublicKey: k.svc.publicKey, roles: ['LOADER'] });
  sf.addUser('ECUSER', { rsaPublicKey: k.ec.publicKey });
  sf.addUser('ENCUSER', { rsaPublicKey: k.enc.publicKey });
  sf.addUser('PAIRUSER', { roles: ['LOADER'] });
  sf.addUser('ADMIN', { rsaPublicKey: k.admin.publicKey });
  sf.grant('ADMIN', '*');
  const home = join(tmp.dir, `home-${closers.length}`);
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, 'connections.toml'), `[admin]\naccount = "myorg-myaccount"\nuser = "ADMIN"\nhost = "${sf.url}"\nprivate_key_file = "${k.admin.p8}"\n`, { mode: 0o600 });
  return { sf, home };
}

interface Doc {
  checks: { id: string; title: string; status: string; evidence: string; fix?: string }[];
  ok: boolean;
}

async function doctor(args: string[], env: Record<string, string | undefined>): Promise<{ r: CliResult; doc: Doc; check: (id: string) => Doc['checks'][number] }> {
  const r = await runCliAsync(['doctor', '--timeout', '10s', '--json', ...args], { cwd: tmp.dir, env: { HOME: tmp.dir, ...env } });
  expect(r.stderr + r.stdout).not.toMatch(STACK_TRACE);
  expect(r.stdout + r.stderr).not.toContain('PRIVATE KEY');
  expect(r.stdout + r.stderr).not.toContain(PASSPHRASE);
  const doc = JSON.parse(r.stdout) as Doc;
  return { r, doc, check: (id) => doc.checks.find((c) => c.id === id) ?? { id, title: id, status: 'absent', evidence: '' } };
}

const at = (sf: Emulator, user: string, key: Key, ...more: string[]) => ['--account', 'myorg-myaccount', '--host', sf.url, '--user', user, '--private-key', key.p8, ...more];

describe.concurrent('sfauth doctor', () => {
  it('a healthy setup: every check passes, exit 0', async () => {
    const { sf, home } = await world();
    const { r, doc } = await doctor(at(sf, 'svc', k.svc), { SNOWFLAKE_HOME: home });
    expect(r.code, r.stderr).toBe(0);
    expect(doc.ok).toBe(true);
    expect(doc.checks.map((c) => [c.id, c.status])).toEqual([
      ['config', 'pass'], ['key', 'pass'], ['fingerprint', 'pass'], ['account', 'pass'], ['dns', 'pass'], ['tcp', 'pass'], ['tls', 'pass'], ['clock', 'pass'], ['auth', 'pass'], ['registration', 'pass'],
    ]);
    expect(doc.checks.find((c) => c.id === 'registration')!.evidence).toMatch(/^slot 1 \(RSA_PUBLIC_KEY\), set /);
    const human = await runCliAsync(['doctor', ...at(sf, 'svc', k.svc)], { cwd: tmp.dir, env: { HOME: tmp.dir, SNOWFLAKE_HOME: home } });
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^pass  authentication +authenticated as SVC with role PUBLIC \(key pair \(RS256\)\)$/m);
    expect(human.stdout.trimEnd().split('\n').at(-1)).toBe('no problems found');
    expect(doc).toMatchObject({ verdict: 'no problems found' });
  });

  it('wrong account form: a locator with region in the token against an org-account URL (no request is sent)', async () => {
    const one = await doctor(['--account', 'xy12345.us-east-2.aws', '--host', 'https://myorg-myaccount.snowflakecomputing.com', '--user', 'svc', '--private-key', k.svc.p8], {});
    expect(one.r.code).toBe(1);
    expect(one.check('account')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/the token says XY12345, the host myorg-myaccount\.snowflakecomputing\.com is account myorg-myaccount/), fix: expect.stringMatching(/--account myorg-myaccount/) });
    expect(one.check('auth').status).toBe('skipped');
  });

  it('wrong account form, the reverse: an org-account in the token against a locator URL', async () => {
    const two = await doctor(['--account', 'myorg-myaccount', '--host', 'https://xy12345.us-east-2.aws.snowflakecomputing.com', '--user', 'svc', '--private-key', k.svc.p8], {});
    expect(two.check('account')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/the token says MYORG-MYACCOUNT, .* is account xy12345/) });
  });

  it('the user is not a LOGIN_NAME: the login-failure details say so (394300), with its hint', async () => {
    const { sf, home } = await world();
    const { r, check } = await doctor([...at(sf, 'svc_typo', k.svc), '--admin-connection', 'admin'], { SNOWFLAKE_HOME: home });
    expect(r.code).toBe(1);
    expect(check('auth')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/390144/) });
    // The documented shape: errorCode names the error, and the name is shown whole with its code
    // (username is null: no user has that login name).
    expect(check('login-failure')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/^JWT_TOKEN_INVALID_USER_IN_ISSUER \(394300\)$/), fix: expect.stringMatching(/LOGIN_NAME/) });
    expect(check('registration')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/SVC_TYPO' does not exist/) });
  });

  it('a key that is not registered, without an admin connection: a pointer to --admin-connection', async () => {
    const { sf, home } = await world();
    const alone = await doctor(at(sf, 'svc', k.other), { SNOWFLAKE_HOME: home });
    expect(alone.r.code).toBe(1);
    expect(alone.check('auth').status).toBe('fail');
    expect(alone.check('registration')).toMatchObject({ status: 'skipped', fix: expect.stringMatching(/--admin-connection NAME/) });
  });

  it('a key that is not registered, with an admin connection: the user\'s keys beside the local fingerprint', async () => {
    const { sf, home } = await world();
    const admin = await doctor([...at(sf, 'svc', k.other), '--admin-connection', 'admin'], { SNOWFLAKE_HOME: home });
    expect(admin.check('registration')).toMatchObject({
      status: 'fail',
      evidence: expect.stringContaining(`${k.other.fp} is not registered for SVC; its keys: slot 1 (RSA_PUBLIC_KEY) ${k.svc.fp}`),
      fix: expect.stringMatching(/sfauth register --target-user SVC/),
    });
    expect(admin.check('login-failure')).toMatchObject({
      status: 'fail',
      evidence: expect.stringMatching(/^JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH \(394304\); user SVC$/),
      fix: expect.stringMatching(/fingerprint matches neither RSA_PUBLIC_KEY_FP/),
    });
  });

  it('a disabled named pair', async () => {
    const { sf, home } = await world();
    sf.addKeyPair('PAIRUSER', 'CI', k.pair.publicKey, { disabled: true });
    const disabled = await doctor([...at(sf, 'pairuser', k.pair), '--admin-connection', 'admin'], { SNOWFLAKE_HOME: home });
    expect(disabled.check('registration')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/^key pair CI \(DISABLED/), fix: expect.stringMatching(/--key-pair CI --enable/) });
  });

  it('an expired named pair', async () => {
    const b = await world();
    b.sf.addKeyPair('PAIRUSER', 'CI', k.pair.publicKey, { expiresAt: new Date(Date.now() - 60_000) });
    const expired = await doctor([...at(b.sf, 'pairuser', k.pair), '--admin-connection', 'admin'], { SNOWFLAKE_HOME: b.home });
    expect(expired.check('registration')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/^key pair CI \(EXPIRED, expired/), fix: expect.stringMatching(/expired/) });
  });

  it('a role restriction the request does not meet (and with --role it passes)', async () => {
    const c = await world();
    c.sf.addKeyPair('PAIRUSER', 'CI', k.pair.publicKey, { roleRestriction: 'LOADER' });
    const role = await doctor([...at(c.sf, 'pairuser', k.pair), '--admin-connection', 'admin'], { SNOWFLAKE_HOME: c.home });
    expect(role.check('registration')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/role restriction LOADER\); the request asked for role \(none/), fix: expect.stringMatching(/--role LOADER/) });
    const withRole = await doctor(at(c.sf, 'pairuser', k.pair, '--role', 'LOADER'), { SNOWFLAKE_HOME: c.home });
    expect(withRole.r.code, JSON.stringify(withRole.doc)).toBe(0);
    // the closing hint is the registration check's fix (the refused login is only the symptom), and one verdict line ends the report
    const human = await runCliAsync(['doctor', ...at(c.sf, 'pairuser', k.pair), '--admin-connection', 'admin'], { cwd: tmp.dir, env: { HOME: tmp.dir, SNOWFLAKE_HOME: c.home } });
    expect(human.code).toBe(1);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/^\d+ problems?(, \d+ warnings?)?: registration: key pair CI .*role restriction LOADER/);
    expect(human.stderr).toMatch(/^hint: use that role: --role LOADER/m);
    expect(role.doc).toMatchObject({ cause: 'registration', verdict: expect.stringMatching(/^\d+ problems?.*: registration: /) });
    // test-connection, with no admin to ask, names the role restriction in its hint
    const tc = await runCliAsync(['test-connection', ...at(c.sf, 'pairuser', k.pair)], { cwd: tmp.dir, env: { HOME: tmp.dir, SNOWFLAKE_HOME: c.home } });
    expect(tc.code).toBe(1);
    expect(tc.stderr).toMatch(/^hint: .*a named key pair with a role restriction authenticates only with that role \(--role ROLE; this request asked for the default role\)$/m);
  });

  it('a clock 2 hours behind: the verdict and the closing hint are the clock, not "mint a fresh one"', async () => {
    const { sf, home } = await world({ clockSkewSeconds: 7200, jwtErrors: 'specific' });
    const human = await runCliAsync(['doctor', ...at(sf, 'svc', k.svc)], { cwd: tmp.dir, env: { HOME: tmp.dir, SNOWFLAKE_HOME: home } });
    expect(human.code).toBe(1);
    expect(human.stdout.trimEnd().split('\n').at(-1)).toMatch(/^2 problems: clock: this machine's clock is (1h 59m|2h|2h 1m) behind Snowflake's/);
    expect(human.stderr).toMatch(/^hint: sync the clock \(NTP\)/m);
    expect(human.stderr).not.toMatch(/mint a fresh one/);
    const tc = await runCliAsync(['test-connection', ...at(sf, 'svc', k.svc)], { cwd: tmp.dir, env: { HOME: tmp.dir } });
    expect(tc.code).toBe(1);
    expect(tc.stderr).toMatch(/^hint: this machine's clock is .* behind Snowflake's, and tokens are judged by Snowflake's clock: sync it \(NTP\)$/m);
  });

  it('clock skew: the local clock 3 minutes ahead fails the clock check (394302)', async () => {
    const { sf, home } = await world({ clockSkewSeconds: -180 });
    const { r, check } = await doctor([...at(sf, 'svc', k.svc), '--admin-connection', 'admin'], { SNOWFLAKE_HOME: home });
    expect(r.code).toBe(1);
    expect(check('clock')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/clock is (3m|2m 59s|3m 1s) ahead of Snowflake's/), fix: expect.stringMatching(/NTP/) });
    // the admin's tokens come from the same clock: it cannot authenticate either, and doctor says so once
    expect(check('admin')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/authentication refused/) });
    expect(check('login-failure').status).toBe('absent');
  });

  it('a DNS failure', async () => {
    const dns = await doctor(['--account', 'myorg-myaccount', '--host', 'https://doctor-dns-check.invalid', '--user', 'svc', '--private-key', k.svc.p8, '--timeout', '8s'], {});
    expect(dns.r.code).toBe(1);
    expect(['fail']).toContain(dns.check('dns').status);
    expect(dns.check('tcp').status).toBe('skipped');
  });

  it('an unreachable host', async () => {
    const { sf } = await world();
    const port = new URL(sf.url).port;
    await sf.close();
    const refused = await doctor(['--account', 'myorg-myaccount', '--host', `http://127.0.0.1:${port}`, '--user', 'svc', '--private-key', k.svc.p8], {});
    expect(refused.check('tcp')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/refused/) });
  });

  it('a proxy that refuses the tunnel', async () => {
    const proxy = await startProxy({ refuse: { status: 403, reason: 'Forbidden' } });
    closers.push(() => proxy.close());
    const viaProxy = await doctor(['--account', 'myorg-myaccount', '--host', 'https://myorg-myaccount.snowflakecomputing.test', '--user', 'svc', '--private-key', k.svc.p8], { HTTPS_PROXY: proxy.url });
    expect(viaProxy.check('proxy')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/HTTPS_PROXY.*HTTP 403/), fix: expect.stringMatching(/NO_PROXY/) });
  });

  it('a TLS certificate nobody trusts', async () => {
    const tls = await startEmulator({ tls: pki.server });
    closers.push(() => tls.close());
    const untrusted = await doctor(['--account', 'myorg-myaccount', '--host', tls.url, '--user', 'svc', '--private-key', k.svc.p8], {});
    expect(untrusted.check('tls')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/NODE_EXTRA_CA_CERTS/) });
  });

  it('an encrypted key without a passphrase fails the key check (and with it, all passes)', async () => {
    const { sf, home } = await world();
    const enc = await doctor(at(sf, 'encuser', k.enc), { SNOWFLAKE_HOME: home });
    expect(enc.r.code).toBe(1);
    expect(enc.check('key')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/PRIVATE_KEY_PASSPHRASE|--passphrase-file/) });
    // the account is known, so the way to it is still checked; nothing talks about token authentication
    expect(enc.doc.checks.map((c) => [c.id, c.status])).toEqual([
      ['config', 'pass'], ['key', 'fail'], ['fingerprint', 'skipped'], ['account', 'pass'], ['dns', 'pass'], ['tcp', 'pass'], ['tls', 'pass'], ['clock', 'pass'], ['auth', 'skipped'], ['registration', 'skipped'],
    ]);
    expect(enc.check('auth').evidence).toBe('the key could not be opened');
    expect(JSON.stringify(enc.doc)).not.toMatch(/token authentication/);
    expect(JSON.parse(enc.r.stderr).error.hint).toMatch(/PRIVATE_KEY_PASSPHRASE/);
    const opened = await doctor(at(sf, 'encuser', k.enc), { SNOWFLAKE_HOME: home, PRIVATE_KEY_PASSPHRASE: PASSPHRASE });
    expect(opened.r.code, JSON.stringify(opened.doc)).toBe(0);
    expect(opened.check('key').evidence).toMatch(/encrypted, opened with PRIVATE_KEY_PASSPHRASE/);
  });

  it('SNOWFLAKE_PRIVATE_KEY_RAW in a form other tools reject (escaped, bare body, PKCS#1): a warning with the export that fixes it', async () => {
    const { sf, home } = await world();
    const pem = readFileSync(k.svc.p8, 'utf8');
    const pkcs1 = createPrivateKey(pem).export({ type: 'pkcs1', format: 'pem' }) as string;
    const forms: Array<[string, RegExp | null]> = [
      [pem, null],
      [pem.trimEnd().split('\n').join('\\n'), /a one-line PEM with \\n escapes/],
      [pem.split('\n').filter((l) => l && !l.startsWith('-----')).join(''), /the bare base64 body/],
      [pkcs1, /a key in the traditional PKCS#1 \(RSA\) format, not PKCS#8/],
    ];
    for (const [raw, form] of forms) {
      const { r, check } = await doctor(['--account', 'myorg-myaccount', '--host', sf.url, '--user', 'svc'], { SNOWFLAKE_HOME: home, SNOWFLAKE_PRIVATE_KEY_RAW: raw });
      expect(r.code, r.stderr).toBe(0);
      if (!form) expect(check('key').status).toBe('pass');
      else expect(check('key')).toMatchObject({ status: 'warn', evidence: expect.stringMatching(form), fix: expect.stringMatching(/sfauth export <the key file> --format pem/) });
    }
  });

  it('an EC key passes with the driver note (a warning)', async () => {
    const { sf, home } = await world();
    const ec = await doctor(at(sf, 'ecuser', k.ec), { SNOWFLAKE_HOME: home });
    expect(ec.r.code).toBe(0);
    expect(ec.check('key')).toMatchObject({ status: 'warn', evidence: expect.stringMatching(/only the Python connector/) });
  });

  it('an admin without MONITOR on the user: the registration and the login-failure checks say what is missing', async () => {
    const { sf, home } = await world();
    sf.addUser('HELPDESK', { rsaPublicKey: k.other.publicKey });
    writeFileSync(join(home, 'connections.toml'), `[helpdesk]\naccount = "myorg-myaccount"\nuser = "HELPDESK"\nhost = "${sf.url}"\nprivate_key_file = "${k.other.p8}"\n`, { mode: 0o600 });
    const { r, check } = await doctor([...at(sf, 'svc', k.pair), '--admin-connection', 'helpdesk'], { SNOWFLAKE_HOME: home });
    expect(r.code).toBe(1);
    expect(check('registration')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/User 'SVC' does not exist or not authorized/) });
    expect(check('login-failure')).toMatchObject({ status: 'warn', fix: expect.stringMatching(/needs MONITOR on the user/) });
  });

  it('login-failure details from the server are printed plain: no escape sequences, no token', async () => {
    const { sf, home } = await world();
    const detail = JSON.stringify({ errorCode: '394304', error: 'X\u001b[2J', detail: 'see \u001b]0;pwned\u0007 eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln' });
    sf.injectFault({ kind: 'answer', status: 200, match: /GET_LOGIN_FAILURE_DETAILS/, body: JSON.stringify({ resultSetMetaData: { rowType: [{ name: 'D' }] }, data: [[detail]] }) });
    const human = await runCliAsync(['doctor', ...at(sf, 'svc', k.other), '--admin-connection', 'admin'], { cwd: tmp.dir, env: { HOME: tmp.dir, SNOWFLAKE_HOME: home } });
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^FAIL  login failure +394304 X: see <redacted>$/m);
    // eslint-disable-next-line no-control-regex
    expect(human.stdout + human.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(human.stdout).not.toMatch(/eyJhbGci/);
  });
});
