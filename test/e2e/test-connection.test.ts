/**
 * `sfauth test-connection` end to end: the built binary (run `npm run build` first) against the
 * loopback Snowflake emulator (test/support/emulator.ts), over real HTTP. Keys are made at run time.
 * Cases that inject faults or change the server's clock get an emulator of their own, so that every
 * case can run concurrently. Every run is checked for leaked secrets and stack traces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ROOT, STACK_TRACE, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../support/emulator.js';

const PASSPHRASE = 'tr0ub4dor&3-passphrase';
const PAT = 'pat_SECRET_9f8e7d6c5b4a39281706';
const OAUTH = 'oauth_SECRET_a1b2c3d4e5f60718293a';
const OAUTH_EXPIRED = 'oauth_SECRET_expired_55aa66bb77cc';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

interface Key {
  path: string;
  pem: string;
  publicKey: KeyObject;
  fingerprint: string;
}

let tmp: { dir: string; cleanup: () => void };
let home: string;
let emptySfHome: string;
const keys = {} as Record<'rsa' | 'wrong' | 'ec256' | 'ec384' | 'ec521' | 'enc', Key>;
const emulators: Emulator[] = [];
let sf: Emulator; // shared, never given faults

function fingerprint(publicKey: KeyObject): string {
  return 'SHA256:' + createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

function writeKey(name: string, pair: { privateKey: KeyObject; publicKey: KeyObject }, passphrase?: string): Key {
  const pem = pair.privateKey
    .export(passphrase ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase } : { type: 'pkcs8', format: 'pem' })
    .toString();
  const path = join(tmp.dir, name);
  writeFileSync(path, pem, { mode: 0o600 });
  return { path, pem, publicKey: pair.publicKey, fingerprint: fingerprint(pair.publicKey) };
}

/** An emulator with the standard users and tokens. */
async function emulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const e = await startEmulator(options);
  emulators.push(e);
  e.addUser('alice', { rsaPublicKey: keys.rsa.publicKey, rsaPublicKey2: keys.ec256.publicKey, roles: ['LOADER'] });
  e.addUser('ecuser', { rsaPublicKey: keys.ec384.publicKey, rsaPublicKey2: keys.ec521.publicKey });
  e.addUser('encuser', { rsaPublicKey: keys.enc.publicKey });
  e.addUser('john.doe@example.com', { rsaPublicKey: keys.rsa.publicKey });
  e.addPat(PAT, 'alice');
  e.addOAuthToken(OAUTH, 'alice');
  e.addOAuthToken(OAUTH_EXPIRED, 'alice', { expired: true });
  return e;
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
  tmp = tempDir('sfauth-e2e-tc-');
  home = join(tmp.dir, 'home');
  emptySfHome = join(tmp.dir, 'sf-empty');
  mkdirSync(home, { recursive: true });
  mkdirSync(emptySfHome, { recursive: true });
  keys.rsa = writeKey('rsa_key.p8', generateKeyPairSync('rsa', { modulusLength: 2048 }));
  keys.wrong = writeKey('wrong_key.p8', generateKeyPairSync('rsa', { modulusLength: 2048 }));
  keys.ec256 = writeKey('ec256.p8', generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  keys.ec384 = writeKey('ec384.p8', generateKeyPairSync('ec', { namedCurve: 'P-384' }));
  keys.ec521 = writeKey('ec521.p8', generateKeyPairSync('ec', { namedCurve: 'P-521' }));
  keys.enc = writeKey('enc_key.p8', generateKeyPairSync('rsa', { modulusLength: 2048 }), PASSPHRASE);
  writeFileSync(join(tmp.dir, 'pat.txt'), PAT + '\n', { mode: 0o600 });
  writeFileSync(join(tmp.dir, 'oauth.txt'), OAUTH + '\n', { mode: 0o600 });
  writeFileSync(join(tmp.dir, 'oauth-expired.txt'), OAUTH_EXPIRED, { mode: 0o600 });
  writeFileSync(join(tmp.dir, 'oauth-bad.txt'), 'oauth_SECRET_not_a_known_token_0000', { mode: 0o600 });
  writeFileSync(join(tmp.dir, 'pass.txt'), PASSPHRASE + '\n', { mode: 0o600 });
  sf = await emulator();
});

afterAll(async () => {
  await Promise.all(emulators.map((e) => e.close()));
  tmp?.cleanup();
});

// ---------------------------------------------------------------------------------------------

interface Run extends CliResult {
  elapsed: number;
}

/** Secrets that must never show: the passphrase, tokens, every line of every private key's body. */
function secrets(): string[] {
  const pemLines = Object.values(keys).flatMap((k) => k.pem.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----')));
  return [PASSPHRASE, PAT, OAUTH, OAUTH_EXPIRED, 'oauth_SECRET_not_a_known_token_0000', ...pemLines];
}

function checkClean(r: CliResult): void {
  const all = r.stdout + r.stderr;
  for (const s of secrets()) expect(all, 'a secret leaked').not.toContain(s);
  expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./); // no JWT
  expect(all).not.toMatch(STACK_TRACE);
  expect(all).not.toContain('internal error');
  if (r.code !== 0 && !r.stderr.trimStart().startsWith('{')) {
    expect(r.stderr).toMatch(/^sfauth: .+$/m);
    expect(r.stderr).toMatch(/^hint: .+$/m);
    expect(r.stdout).toBe('');
  }
}

async function tc(args: string[], opts: { env?: Record<string, string | undefined>; input?: string; cwd?: string } = {}): Promise<Run> {
  const started = Date.now();
  const r = await runCliAsync(['test-connection', ...args], {
    cwd: opts.cwd ?? tmp.dir,
    env: { HOME: home, SNOWFLAKE_HOME: emptySfHome, ...opts.env },
    input: opts.input,
    timeoutMs: 25_000,
  });
  const run = { ...r, elapsed: Date.now() - started };
  checkClean(run);
  return run;
}

/** `--host <emulator> --account myorg-myaccount --user alice` plus more. */
function at(e: Emulator, ...more: string[]): string[] {
  // A token names its user itself: --user would only draw the "ignored" warning.
  const token = more.some((a) => a.startsWith('--token'));
  return ['--host', e.url, '--account', 'myorg-myaccount', ...(token ? [] : ['--user', 'alice']), ...more];
}

function jsonError(r: CliResult): { code: string; message: string; hint?: string; details?: string[]; data?: Record<string, unknown> } {
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  const doc = JSON.parse(lines.at(-1)!);
  expect(Object.keys(doc)).toEqual(['error']);
  return doc.error;
}

function fields(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, 11).trim(), l.slice(12)]),
  );
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

// ---------------------------------------------------------------------------------------------

describe('credentials that work', () => {
  it.concurrent('RSA key pair: account, user, role, host, auth, fingerprint and round trip on stdout', async () => {
    const r = await tc(at(sf, '--private-key', keys.rsa.path));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('✓ authenticated as ALICE on MYORG-MYACCOUNT\n');
    const f = fields(r.stdout);
    expect(Object.keys(f)).toEqual(['account', 'user', 'role', 'host', 'auth', 'fingerprint', 'round trip', 'connection', 'sources']);
    expect(f.connection).toBe('(none: flags and environment)');
    expect(f).toMatchObject({
      account: 'MYORG-MYACCOUNT',
      user: 'ALICE',
      role: 'PUBLIC',
      host: new URL(sf.url).host,
      auth: 'key pair (RS256)',
      fingerprint: keys.rsa.fingerprint,
    });
    expect(f['round trip']).toMatch(/^\d+ ms$/);
  });

  it.concurrent.each([
    ['ec256', 'alice', 'ES256'],
    ['ec384', 'ecuser', 'ES384'],
    ['ec521', 'ecuser', 'ES512'],
  ] as const)('EC key %s (--json): %s signs %s', async (key, user, alg) => {
    const r = await tc(['--host', sf.url, '--account', 'myorg-myaccount', '--user', user, '--private-key', keys[key].path, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc)).toEqual(['account', 'user', 'role', 'host', 'authMethod', 'fingerprint', 'roundTripMs', 'connection']);
    expect(doc).toMatchObject({
      account: 'MYORG-MYACCOUNT',
      user: user.toUpperCase(),
      role: 'PUBLIC',
      host: new URL(sf.url).host,
      authMethod: `key pair (${alg})`,
      fingerprint: keys[key].fingerprint,
    });
    expect(typeof doc.roundTripMs).toBe('number');
  });

  it.concurrent('an encrypted key opens with PRIVATE_KEY_PASSPHRASE, SNOWFLAKE_PRIVATE_KEY_PASSPHRASE or --passphrase-file', async () => {
    const args = ['--host', sf.url, '--account', 'myorg-myaccount', '--user', 'encuser', '--private-key', keys.enc.path, '--json'];
    const [a, b, c] = await Promise.all([
      tc(args, { env: { PRIVATE_KEY_PASSPHRASE: PASSPHRASE } }),
      tc(args, { env: { SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: PASSPHRASE } }),
      tc([...args, '--passphrase-file', 'pass.txt']),
    ]);
    for (const r of [a, b, c]) {
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ user: 'ENCUSER', fingerprint: keys.enc.fingerprint });
    }
  });

  it.concurrent('an encrypted key without a passphrase (no terminal) or with a wrong one: exit 2', async () => {
    const args = ['--host', sf.url, '--account', 'myorg-myaccount', '--user', 'encuser', '--private-key', keys.enc.path];
    const [missing, wrong] = await Promise.all([tc(args), tc(args, { env: { PRIVATE_KEY_PASSPHRASE: 'not the passphrase' } })]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--passphrase-file|PRIVATE_KEY_PASSPHRASE/);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).not.toContain('not the passphrase');
  });

  it.concurrent('the key from SNOWFLAKE_PRIVATE_KEY_RAW and from stdin', async () => {
    const [raw, stdin] = await Promise.all([
      tc(at(sf, '--json'), { env: { SNOWFLAKE_PRIVATE_KEY_RAW: keys.rsa.pem } }),
      tc(at(sf, '--private-key', '-', '--json'), { input: keys.ec256.pem }),
    ]);
    expect(raw.code).toBe(0);
    expect(JSON.parse(raw.stdout).fingerprint).toBe(keys.rsa.fingerprint);
    expect(stdin.code).toBe(0);
    expect(JSON.parse(stdin.stdout).fingerprint).toBe(keys.ec256.fingerprint);
  });

  it.concurrent('PAT from --token-file and from SNOWFLAKE_TOKEN, sent as PROGRAMMATIC_ACCESS_TOKEN', async () => {
    const e = await emulator();
    const [file, env] = await Promise.all([
      tc(at(e, '--token-file', 'pat.txt', '--token-type', 'pat')),
      tc(at(e, '--token-type', 'PAT', '--json'), { env: { SNOWFLAKE_TOKEN: PAT } }),
    ]);
    expect(file.code).toBe(0);
    expect(fields(file.stdout)).toMatchObject({ user: 'ALICE', auth: 'programmatic access token' });
    expect(fields(file.stdout)).not.toHaveProperty('fingerprint');
    expect(env.code).toBe(0);
    expect(JSON.parse(env.stdout)).toMatchObject({ user: 'ALICE', authMethod: 'programmatic access token' });
    expect(JSON.parse(env.stdout)).not.toHaveProperty('fingerprint');
    expect(e.requests.map((r) => r.tokenType)).toEqual(['PROGRAMMATIC_ACCESS_TOKEN', 'PROGRAMMATIC_ACCESS_TOKEN']);
  });

  it.concurrent('OAuth: valid works; invalid (390303) and expired (390318) are refused with exit 1', async () => {
    const [ok, bad, expired] = await Promise.all([
      tc(at(sf, '--token-file', 'oauth.txt', '--token-type', 'oauth')),
      tc(at(sf, '--token-file', 'oauth-bad.txt', '--token-type', 'oauth')),
      tc(at(sf, '--token-file', 'oauth-expired.txt', '--token-type', 'oauth', '--json')),
    ]);
    expect(ok.code).toBe(0);
    expect(fields(ok.stdout)).toMatchObject({ user: 'ALICE', auth: 'OAuth token' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('sfauth: authentication refused: Invalid OAuth access token. (390303)');
    expect(bad.stderr).toMatch(/^hint: the OAuth access token is invalid/m);
    expect(bad.stderr).not.toContain('  user        '); // a token names its user; no --user given
    expect(expired.code).toBe(1);
    const err = jsonError(expired);
    expect(Object.keys(err)).toEqual(['code', 'message', 'hint', 'details', 'data']);
    expect(err).toMatchObject({ code: 'ERR_AUTH_REFUSED', message: 'authentication refused: OAuth access token expired. (390318)' });
    expect(err.hint).toMatch(/expired/);
    expect(err.data).toMatchObject({ code: '390318', authMethod: 'OAuth token' });
  });

  it.concurrent('a lower-case user and a user with dots and @ (quoted name, upper-cased login)', async () => {
    const [lower, odd] = await Promise.all([
      tc(at(sf, '--private-key', keys.rsa.path, '--json')),
      tc(['--host', sf.url, '--account', 'MyOrg-MyAccount', '--user', 'john.doe@example.com', '--private-key', keys.rsa.path, '--json']),
    ]);
    expect(lower.code).toBe(0);
    expect(JSON.parse(lower.stdout).user).toBe('ALICE');
    expect(odd.code).toBe(0);
    expect(JSON.parse(odd.stdout)).toMatchObject({ user: 'john.doe@example.com', account: 'MYORG-MYACCOUNT' });
  });

  it.concurrent('--role and SNOWFLAKE_ROLE go into the request; a role not granted is exit 1', async () => {
    const [flag, env, denied] = await Promise.all([
      tc(at(sf, '--private-key', keys.rsa.path, '--role', 'loader', '--json')),
      tc(at(sf, '--private-key', keys.rsa.path, '--json'), { env: { SNOWFLAKE_ROLE: 'LOADER' } }),
      tc(at(sf, '--private-key', keys.rsa.path, '--role', 'ACCOUNTADMIN')),
    ]);
    expect(JSON.parse(flag.stdout).role).toBe('LOADER');
    expect(JSON.parse(env.stdout).role).toBe('LOADER');
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain("Role 'ACCOUNTADMIN' specified in the connect string is not granted to this user");
    expect(denied.stderr).toMatch(/^hint: .*--role/m);
  });
});

describe('refused authentication (exit 1)', () => {
  it.concurrent('a wrong key: 394304 with the account, user and fingerprint that went into the token', async () => {
    const r = await tc(at(sf, '--private-key', keys.wrong.path));
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(`^sfauth: authentication refused: JWT token is invalid: the public key fingerprint in the issuer does not match any public key of the user\\. \\[${UUID}\\] \\(394304\\)$`),
    );
    expect(lines.slice(1, 4)).toEqual(['  account     MYORG-MYACCOUNT', '  user        ALICE', `  fingerprint ${keys.wrong.fingerprint}`]);
    expect(lines.at(-1)).toMatch(/^hint: .*RSA_PUBLIC_KEY_FP/);
  });

  it.concurrent('a bad signature: 394306 with its hint', async () => {
    const e = await emulator();
    e.injectFault({ kind: 'fail-auth', code: '394306' });
    const r = await tc(at(e, '--private-key', keys.rsa.path, '--json'));
    expect(r.code).toBe(1);
    const err = jsonError(r);
    expect(err.code).toBe('ERR_AUTH_REFUSED');
    expect(err.message).toMatch(/\(394306\)$/);
    expect(err.hint).toMatch(/not the pair of the registered public key/);
    expect(err.data).toMatchObject({ code: '394306', account: 'MYORG-MYACCOUNT', user: 'ALICE', fingerprint: keys.rsa.fingerprint });
    expect(err.details).toContain(`fingerprint ${keys.rsa.fingerprint}`);
  });

  it.concurrent('a wrong account: 394307 showing the account that went into the token', async () => {
    const r = await tc(['--host', sf.url, '--account', 'otherorg-other_acct.us-east-1', '--user', 'alice', '--private-key', keys.rsa.path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\(394307\)\n/);
    expect(r.stderr).toContain('  account     OTHERORG-OTHER_ACCT\n');
    expect(r.stderr).toMatch(/^hint: .*--account/m);
  });

  it.concurrent('generic 390144 (as real Snowflake): the SYSTEM$GET_LOGIN_FAILURE_DETAILS line with the uuid', async () => {
    const e = await emulator({ jwtErrors: 'generic' });
    const r = await tc(at(e, '--private-key', keys.wrong.path));
    expect(r.code).toBe(1);
    const uuid = new RegExp(`^sfauth: authentication refused: JWT token is invalid\\. \\[(${UUID})\\] \\(390144\\)$`, 'm').exec(r.stderr)?.[1];
    expect(uuid).toBeDefined();
    expect(r.stderr).toContain(`  an admin can see the precise reason with: SELECT SYSTEM$GET_LOGIN_FAILURE_DETAILS('${uuid}');\n`);
    expect(r.stderr).toContain(`  fingerprint ${keys.wrong.fingerprint}\n`);
    expect(e.loginFailure(uuid!)?.code).toBe('394304');
  });

  it.concurrent('a PAT that is not valid: 394400', async () => {
    const r = await tc(at(sf, '--token-type', 'pat', '--json'), { env: { SNOWFLAKE_TOKEN: OAUTH } });
    expect(r.code).toBe(1);
    expect(jsonError(r).data).toMatchObject({ code: '394400', authMethod: 'programmatic access token' });
  });
});

describe('retries', () => {
  it.concurrent('503 twice then success: the same requestId, retry=true on the retries', async () => {
    const e = await emulator();
    e.injectFault({ kind: 'status', status: 503, times: 2 });
    const r = await tc(at(e, '--private-key', keys.rsa.path, '--json'));
    expect(r.code).toBe(0);
    expect(e.requests.map((q) => [q.status, q.retry])).toEqual([
      [503, false],
      [503, true],
      [200, true],
    ]);
    expect(new Set(e.requests.map((q) => q.requestId)).size).toBe(1);
    expect(e.requests[0]!.requestId).toMatch(new RegExp(`^${UUID}$`));
    expect(e.executed).toHaveLength(1);
  });

  it.concurrent('a reset connection, then success', async () => {
    const e = await emulator();
    e.injectFault({ kind: 'reset' });
    const r = await tc(at(e, '--token-file', 'pat.txt', '--token-type', 'pat'));
    expect(r.code).toBe(0);
    expect(e.requests.map((q) => [q.fault ?? null, q.retry])).toEqual([
      ['reset', false],
      [null, true],
    ]);
  });

  it.concurrent('drop after execute: the statement runs once, the retry gets the remembered answer', async () => {
    const e = await emulator();
    e.injectFault({ kind: 'drop-after-execute' });
    const r = await tc(at(e, '--private-key', keys.rsa.path, '--json'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).user).toBe('ALICE');
    expect(e.executed).toHaveLength(1);
    expect(e.requests.map((q) => [q.retry, q.executed, q.replayed])).toEqual([
      [false, true, false],
      [true, false, true],
    ]);
  });

  it.concurrent('endless 429: exit 3 within --timeout 3s, naming HTTP 429', async () => {
    const e = await emulator();
    e.injectFault({ kind: 'status', status: 429, times: 10_000 });
    const r = await tc(at(e, '--private-key', keys.rsa.path, '--timeout', '3s'));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^sfauth: no successful answer from 127\.0\.0\.1:\d+ within 3s \(last: HTTP 429 Too Many Requests/m);
    expect(r.elapsed).toBeLessThan(6000);
    expect(e.requests.length).toBeGreaterThan(2);
    expect(new Set(e.requests.map((q) => q.requestId)).size).toBe(1);
  });

  it.concurrent('an endless HTML 502 page: exit 3 with the status and an excerpt', async () => {
    const e = await emulator();
    e.injectFault({ kind: 'html', status: 502, times: 10_000 });
    const r = await tc(at(e, '--private-key', keys.rsa.path, '--timeout', '2s', '--json'));
    expect(r.code).toBe(3);
    const err = jsonError(r);
    expect(err.code).toBe('ERR_TIMEOUT');
    expect(err.message).toContain('(last: HTTP 502 Bad Gateway: "502 Bad Gateway nginx")');
    expect(err.hint).toMatch(/--timeout/);
  });
});

describe('network and service failures (exit 3)', () => {
  it.concurrent('a hanging server with --timeout 2s: exit 3 quickly', async () => {
    const e = await emulator();
    e.injectFault({ kind: 'hang' });
    const r = await tc(at(e, '--private-key', keys.rsa.path, '--timeout', '2s'));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^sfauth: no answer from 127\.0\.0\.1:\d+ within 2s$/m);
    expect(r.elapsed).toBeLessThan(5000);
    expect(r.elapsed).toBeGreaterThanOrEqual(1900);
  });

  it.concurrent('invalid JSON in a 200: exit 3 with the status and an excerpt', async () => {
    const e = await emulator();
    e.injectFault({ kind: 'invalid-json' });
    const r = await tc(at(e, '--private-key', keys.rsa.path));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^sfauth: unexpected answer from 127\.0\.0\.1:\d+: HTTP 200 \(application\/json\), the body is not JSON: "\{"resultSetMetaData/m);
    expect(r.stderr).not.toMatch(/SyntaxError|Unexpected token/);
  });

  it.concurrent('202 and polls: success', async () => {
    const e = await emulator();
    e.injectFault({ kind: 'async', polls: 2 });
    const r = await tc(at(e, '--private-key', keys.rsa.path, '--json'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).user).toBe('ALICE');
    expect(e.requests.map((q) => `${q.method} ${q.status}`)).toEqual(['POST 202', 'GET 202', 'GET 202', 'GET 200']);
  });

  it.concurrent('a statement that never completes with --timeout 2s: exit 3', async () => {
    const e = await emulator();
    e.injectFault({ kind: 'never-complete' });
    const r = await tc(at(e, '--private-key', keys.rsa.path, '--timeout', '2s'));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/within 2s \(last: statement still running\)/);
    expect(r.elapsed).toBeLessThan(5000);
  });

  it.concurrent('a refused port: exit 3 at once, no retry loop', async () => {
    const port = await closedPort();
    const r = await tc(['--host', `http://127.0.0.1:${port}`, '--account', 'myorg-myaccount', '--user', 'alice', '--private-key', keys.rsa.path]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`sfauth: connection to 127.0.0.1:${port} refused\n`);
    expect(r.elapsed).toBeLessThan(3000);
  });
});

describe('usage errors (exit 2)', () => {
  it.concurrent('plain http:// to a host that is not loopback', async () => {
    const r = await tc(['--host', 'http://example.com', '--account', 'myorg-myaccount', '--user', 'alice', '--token-file', 'pat.txt', '--token-type', 'pat']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('sfauth: refusing plain http:// to example.com (--host)');
  });

  it.concurrent('missing account, user or credential name the flag and the variable', async () => {
    const [account, user, credential, json] = await Promise.all([
      tc(['--user', 'alice', '--private-key', keys.rsa.path]),
      tc(['--host', sf.url, '--account', 'myorg-myaccount', '--private-key', keys.rsa.path]),
      tc(['--host', sf.url, '--account', 'myorg-myaccount', '--user', 'alice']),
      tc(['--private-key', keys.rsa.path, '--json']),
    ]);
    expect(account.code).toBe(2);
    expect(account.stderr).toMatch(/^sfauth: missing account: pass --account or set SNOWFLAKE_ACCOUNT/m);
    expect(user.code).toBe(2);
    expect(user.stderr).toMatch(/^sfauth: missing user: pass --user or set SNOWFLAKE_USER/m);
    expect(credential.code).toBe(2);
    expect(credential.stderr).toMatch(/^sfauth: no credential: pass --private-key PATH \(or set SNOWFLAKE_PRIVATE_KEY_FILE.*--token-file.*SNOWFLAKE_TOKEN/m);
    expect(json.code).toBe(2);
    expect(jsonError(json)).toMatchObject({ code: 'ERR_MISSING_ACCOUNT' });
  });

  it.concurrent('a token without a type; a type without a token; a key and a token both as flags', async () => {
    const [noType, noToken, both] = await Promise.all([
      tc(at(sf), { env: { SNOWFLAKE_TOKEN: PAT } }),
      tc(at(sf, '--token-type', 'oauth')),
      tc(at(sf, '--private-key', keys.rsa.path, '--token-file', 'pat.txt', '--token-type', 'pat')),
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('sfauth: both a key pair (--private-key) and a token (--token-file) were given');
    expect(noType.code).toBe(2);
    expect(noType.stderr).toMatch(/^sfauth: the token from SNOWFLAKE_TOKEN needs a type: pass --token-type oauth or --token-type pat$/m);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/--token-file PATH or set SNOWFLAKE_TOKEN/);
  });

  it.concurrent('a token file with two lines is refused without quoting it', async () => {
    writeFileSync(join(tmp.dir, 'pat-two-lines.txt'), `${PAT}\n${OAUTH}\n`, { mode: 0o600 });
    const r = await tc(at(sf, '--token-file', 'pat-two-lines.txt', '--token-type', 'pat'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('sfauth: the token from --token-file contains spaces, line breaks or non-ASCII characters');
  });

  it.concurrent('a bad --timeout', async () => {
    const r = await tc(at(sf, '--private-key', keys.rsa.path, '--timeout', 'soon'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("sfauth: invalid --timeout 'soon'");
  });
});

describe('connections and environment', () => {
  function sfHome(name: string, files: Record<string, string>, mode = 0o600): string {
    const dir = join(tmp.dir, name);
    mkdirSync(dir, { recursive: true });
    for (const [file, text] of Object.entries(files)) {
      writeFileSync(join(dir, file), text);
      chmodSync(join(dir, file), mode);
    }
    return dir;
  }

  it.concurrent('connections.toml: -c NAME, default_connection_name, and [default]', async () => {
    const connections = [
      `[dev]`,
      `account = "myorg-myaccount"`,
      `user = "alice"`,
      `host = "${sf.url}"`,
      `private_key_file = "${keys.rsa.path}"`,
      ``,
      `[ec]`,
      `account = "myorg-myaccount"`,
      `user = "ecuser"`,
      `host = "${sf.url}"`,
      `private_key_path = "${keys.ec384.path}"`,
      ``,
      `[default]`,
      `account = "myorg-myaccount"`,
      `user = "alice"`,
      `host = "${sf.url}"`,
      `authenticator = "PROGRAMMATIC_ACCESS_TOKEN"`,
      `token_file_path = "${join(tmp.dir, 'pat.txt')}"`,
    ].join('\n');
    const plain = sfHome('sf-connections', { 'connections.toml': connections });
    const withDefault = sfHome('sf-connections-default', { 'connections.toml': connections, 'config.toml': 'default_connection_name = "ec"\n' });
    const [byName, byLong, byDefaultName, byDefaultSection, envKeyBeatsFileToken, missing] = await Promise.all([
      tc(['-c', 'dev', '--json'], { env: { SNOWFLAKE_HOME: plain } }),
      tc(['--connection', 'ec', '--json'], { env: { SNOWFLAKE_HOME: plain } }),
      tc(['--json'], { env: { SNOWFLAKE_HOME: withDefault } }),
      tc(['--json'], { env: { SNOWFLAKE_HOME: plain } }),
      tc(['--json'], { env: { SNOWFLAKE_HOME: plain, SNOWFLAKE_PRIVATE_KEY_FILE: keys.rsa.path } }), // the connection's token wins
      tc(['-c', 'nope'], { env: { SNOWFLAKE_HOME: plain } }),
    ]);
    expect(JSON.parse(envKeyBeatsFileToken.stdout)).toMatchObject({ user: 'ALICE', authMethod: 'programmatic access token' });
    expect(JSON.parse(byName.stdout)).toMatchObject({ user: 'ALICE', authMethod: 'key pair (RS256)', fingerprint: keys.rsa.fingerprint });
    expect(JSON.parse(byLong.stdout)).toMatchObject({ user: 'ECUSER', authMethod: 'key pair (ES384)' });
    expect(JSON.parse(byDefaultName.stdout)).toMatchObject({ user: 'ECUSER' });
    expect(JSON.parse(byDefaultSection.stdout)).toMatchObject({ user: 'ALICE', authMethod: 'programmatic access token' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^sfauth: connection 'nope' not found .*connections: dev, ec, default/m);
  });

  it.concurrent('config.toml [connections.NAME] when there is no connections.toml; SNOWFLAKE_DEFAULT_CONNECTION_NAME', async () => {
    const home = sfHome('sf-config', {
      'config.toml': [
        'default_connection_name = "a"',
        '[connections.a]',
        'account = "myorg-myaccount"',
        'user = "nobody"',
        `host = "${sf.url}"`,
        `private_key_file = "${keys.rsa.path}"`,
        '[connections.b]',
        'account = "myorg-myaccount"',
        'user = "alice"',
        `host = "${sf.url}"`,
        `private_key_file = "${keys.rsa.path}"`,
      ].join('\n'),
    });
    const [a, b] = await Promise.all([
      tc([], { env: { SNOWFLAKE_HOME: home } }),
      tc(['--json'], { env: { SNOWFLAKE_HOME: home, SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'b' } }),
    ]);
    expect(a.code).toBe(1); // user nobody: 394300
    expect(a.stderr).toContain('(394300)');
    expect(a.stderr).toContain('  user        NOBODY');
    expect(JSON.parse(b.stdout).user).toBe('ALICE');
  });

  it.concurrent('~/.snowflake is found through HOME when SNOWFLAKE_HOME is unset', async () => {
    const altHome = join(tmp.dir, 'home-with-dot-snowflake');
    mkdirSync(join(altHome, '.snowflake'), { recursive: true });
    writeFileSync(
      join(altHome, '.snowflake', 'connections.toml'),
      `[dev]\naccount = "myorg-myaccount"\nuser = "alice"\nhost = "${sf.url}"\nprivate_key_file = "${keys.rsa.path}"\n`,
      { mode: 0o600 },
    );
    const r = await tc(['-c', 'dev', '--json'], { env: { HOME: altHome, SNOWFLAKE_HOME: undefined } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).user).toBe('ALICE');
  });

  it.concurrent('SNOWFLAKE_CONNECTIONS_<NAME>_<KEY> overrides the file; flag beats the connection beats the generic variables', async () => {
    const home = sfHome('sf-overrides', {
      'connections.toml': [
        '[dev]',
        'account = "wrongorg-wrongaccount"',
        'user = "nobody"',
        `host = "${sf.url}"`,
        `private_key_file = "${keys.wrong.path}"`,
      ].join('\n'),
    });
    const base = { SNOWFLAKE_HOME: home };
    const [fileOnly, connEnv, genericEnv, flagWins] = await Promise.all([
      tc(['-c', 'dev', '--json'], { env: base }),
      tc(['-c', 'dev', '--json'], {
        env: {
          ...base,
          SNOWFLAKE_CONNECTIONS_DEV_ACCOUNT: 'myorg-myaccount',
          SNOWFLAKE_CONNECTIONS_DEV_USER: 'alice',
          SNOWFLAKE_CONNECTIONS_DEV_PRIVATE_KEY_FILE: keys.rsa.path,
        },
      }),
      tc(['-c', 'dev', '--json'], {
        env: { ...base, SNOWFLAKE_ACCOUNT: 'myorg-myaccount', SNOWFLAKE_USER: 'alice', SNOWFLAKE_PRIVATE_KEY_FILE: keys.rsa.path },
      }),
      tc(['-c', 'dev', '--account', 'myorg-myaccount', '--user', 'ALICE', '--private-key', keys.rsa.path, '--json'], {
        env: { ...base, SNOWFLAKE_ACCOUNT: 'otherorg-x', SNOWFLAKE_USER: 'nobody', SNOWFLAKE_PRIVATE_KEY_FILE: keys.wrong.path },
      }),
    ]);
    for (const r of [fileOnly, genericEnv]) {
      // the generic SNOWFLAKE_* variables only fill what the connection leaves out, as in snow
      expect(r.code).toBe(1);
      expect(jsonError(r).data).toMatchObject({ account: 'WRONGORG-WRONGACCOUNT', user: 'NOBODY' });
    }
    for (const r of [connEnv, flagWins]) {
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ user: 'ALICE', fingerprint: keys.rsa.fingerprint });
    }
    expect(JSON.parse(connEnv.stdout).connection).toEqual({
      name: 'dev',
      files: [join(home, 'connections.toml')],
      sources: {
        account: 'SNOWFLAKE_CONNECTIONS_DEV_ACCOUNT',
        user: 'SNOWFLAKE_CONNECTIONS_DEV_USER',
        host: 'connections.toml [dev]',
        privateKey: 'SNOWFLAKE_CONNECTIONS_DEV_PRIVATE_KEY_FILE',
      },
    });
  });

  it.concurrent('SNOWFLAKE_CONNECTIONS_* variables alone define no connection (as in snow); SNOWFLAKE_CONNECTIONS as TOML does', async () => {
    const vars = {
      SNOWFLAKE_CONNECTIONS_CI_ACCOUNT: 'myorg-myaccount',
      SNOWFLAKE_CONNECTIONS_CI_HOST: sf.url,
      SNOWFLAKE_CONNECTIONS_CI_AUTHENTICATOR: 'oauth',
      SNOWFLAKE_CONNECTIONS_CI_TOKEN: OAUTH,
    };
    const [onlyVars, asToml] = await Promise.all([
      tc(['-c', 'ci', '--json'], { env: vars }),
      tc(['-c', 'ci', '--json'], {
        env: { SNOWFLAKE_CONNECTIONS: `[ci]\naccount = "myorg-myaccount"\nhost = "${sf.url}"\nauthenticator = "oauth"\ntoken = "${OAUTH}"\n` },
      }),
    ]);
    expect(onlyVars.code).toBe(2);
    expect(jsonError(onlyVars)).toMatchObject({ code: 'ERR_CONNECTION_NOT_FOUND' });
    expect(jsonError(onlyVars).hint).toMatch(/only override a connection a file defines/);
    expect(asToml.code, asToml.stderr).toBe(0);
    expect(JSON.parse(asToml.stdout)).toMatchObject({ user: 'ALICE', authMethod: 'OAuth token', connection: { name: 'ci', files: [], sources: { account: 'SNOWFLAKE_CONNECTIONS [ci]' } } });
    expect(asToml.stdout + asToml.stderr).not.toContain(OAUTH);
  });

  it.concurrent('a connections.toml that others can read is refused (exit 2, as snow), without the token', async () => {
    const home = sfHome(
      'sf-loose',
      { 'connections.toml': `[pat]\naccount = "myorg-myaccount"\nhost = "${sf.url}"\nauthenticator = "PROGRAMMATIC_ACCESS_TOKEN"\ntoken = "${PAT}"\n` },
      0o644,
    );
    const [refused, skipped] = await Promise.all([
      tc(['-c', 'pat'], { env: { SNOWFLAKE_HOME: home } }),
      tc(['-c', 'pat'], { env: { SNOWFLAKE_HOME: home, SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION: 'true' } }),
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^sfauth: .*connections\.toml is readable by others \(mode 0644\); the Snowflake CLI refuses such a config file, and so does sfauth$/m);
    expect(refused.stderr).toMatch(/^hint: run chmod 0600 .*connections\.toml$/m);
    expect(refused.stderr).not.toContain(PAT);
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stderr).toMatch(/^warning: .*connections\.toml is readable by others \(mode 0644\); allowed by SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION$/m);
  });

  it.concurrent('test-connection shows the connection and where each setting came from; --user with a token draws a warning', async () => {
    const home = sfHome('sf-sources', { 'connections.toml': `[dev]\naccount = "myorg-myaccount"\nhost = "${sf.url}"\nprivate_key_file = "${keys.rsa.path}"\n` });
    const [human, token] = await Promise.all([
      tc(['-c', 'dev'], { env: { SNOWFLAKE_HOME: home, SNOWFLAKE_USER: 'alice' } }),
      tc(['--host', sf.url, '--account', 'myorg-myaccount', '--user', 'bob', '--token-file', 'pat.txt', '--token-type', 'pat', '--json']),
    ]);
    expect(human.code, human.stderr).toBe(0);
    expect(fields(human.stdout)).toMatchObject({
      connection: 'dev (--connection)',
      sources: 'account connections.toml [dev]; user SNOWFLAKE_USER; host connections.toml [dev]; private key connections.toml [dev]',
    });
    expect(token.code, token.stderr).toBe(0);
    expect(token.stderr).toBe('warning: --user bob is ignored: with a programmatic access token Snowflake takes the user from the token\n');
    expect(JSON.parse(token.stdout)).toMatchObject({ user: 'ALICE', connection: { name: null, files: [], sources: { user: '--user', token: '--token-file' } } });
  });

  it.concurrent('SNOWFLAKE_HOST is refused like --host when it is plain http to another host', async () => {
    const r = await tc(['--account', 'myorg-myaccount', '--user', 'alice', '--private-key', keys.rsa.path], { env: { SNOWFLAKE_HOST: 'http://10.1.2.3:8080' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('sfauth: refusing plain http:// to 10.1.2.3 (SNOWFLAKE_HOST)');
  });
});

describe('clock skew', () => {
  it.concurrent('a server clock 5 minutes ahead: a warning on stderr, the test still passes', async () => {
    const e = await emulator({ clockSkewSeconds: 300 });
    const r = await tc(at(e, '--private-key', keys.rsa.path));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: this machine's clock is (5m|4m 59s|5m 1s) behind Snowflake's .*Sync the clock \(NTP\)\.$/m);
  });

  it.concurrent('a local clock 3 minutes ahead: the warning, then 394302 refused with the skew shown', async () => {
    const e = await emulator({ clockSkewSeconds: -180 });
    const r = await tc(at(e, '--private-key', keys.rsa.path));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^warning: this machine's clock is (3m|2m 59s|3m 1s) ahead of Snowflake's/m);
    expect(r.stderr).toContain('(394302)');
    expect(r.stderr).toMatch(/^ {2}clock {7}(3m|2m 59s|3m 1s) ahead of Snowflake's$/m);
  });
});
