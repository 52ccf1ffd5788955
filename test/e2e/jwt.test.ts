/**
 * `sfauth jwt` end to end: spawns the built binary (run `npm run build` first). Keys are made at run
 * time in a temp folder; the minted tokens are verified with jose, an independent implementation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importSPKI, jwtVerify } from 'jose';
import { ROOT, runCli } from '../support/cli.js';


let dir: string;
let home: string;
const PASSPHRASE = 'correct horse battery staple';

interface Key {
  p8: string;
  pub: string;
  pem: string;
  fingerprint: string;
}
const k = {} as Record<'rsa' | 'ec' | 'enc', Key>;
let passFile: string;

function fingerprintOfPem(pem: string): string {
  return 'SHA256:' + createHash('sha256').update(createPublicKey(pem).export({ type: 'spki', format: 'der' })).digest('base64');
}

/** The built binary in the test folder, with HOME and SNOWFLAKE_HOME of its own (no stray config). */
function sfauth(args: string[], opts: { env?: Record<string, string>; input?: string } = {}) {
  return runCli(args, { cwd: dir, input: opts.input, env: { HOME: home, SNOWFLAKE_HOME: join(home, 'sf'), ...opts.env } });
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

async function verify(token: string, key: Key, alg: string) {
  return jwtVerify(token, await importSPKI(readFileSync(key.pub, 'utf8'), alg), { algorithms: [alg], typ: 'JWT' });
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
  dir = mkdtempSync(join(tmpdir(), 'sfauth-e2e-jwt-'));
  home = join(dir, 'home');
  mkdirSync(join(home, 'sf'), { recursive: true });

  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaPem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(join(dir, 'rsa_key.p8'), rsaPem, { mode: 0o600 });
  writeFileSync(join(dir, 'rsa_key.pub'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  k.rsa = { p8: join(dir, 'rsa_key.p8'), pub: join(dir, 'rsa_key.pub'), pem: rsaPem, fingerprint: fingerprintOfPem(rsaPem) };

  // EC P-384 made by the machine's openssl, as a user would.
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-out', join(dir, 'ec_key.p8')]);
  execFileSync('openssl', ['pkey', '-in', join(dir, 'ec_key.p8'), '-pubout', '-out', join(dir, 'ec_key.pub')]);
  const ecPem = readFileSync(join(dir, 'ec_key.p8'), 'utf8');
  k.ec = { p8: join(dir, 'ec_key.p8'), pub: join(dir, 'ec_key.pub'), pem: ecPem, fingerprint: fingerprintOfPem(ecPem) };

  const enc = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const encPem = enc.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE }).toString();
  writeFileSync(join(dir, 'enc_key.p8'), encPem, { mode: 0o600 });
  writeFileSync(join(dir, 'enc_key.pub'), enc.publicKey.export({ type: 'spki', format: 'pem' }));
  k.enc = {
    p8: join(dir, 'enc_key.p8'),
    pub: join(dir, 'enc_key.pub'),
    pem: encPem,
    fingerprint: 'SHA256:' + createHash('sha256').update(enc.publicKey.export({ type: 'spki', format: 'der' })).digest('base64'),
  };
  passFile = join(dir, 'pass.txt');
  writeFileSync(passFile, PASSPHRASE + '\n', { mode: 0o600 });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const TOKEN_LINE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/;

describe('sfauth jwt', () => {
  it('prints only the token and a newline; the token verifies and carries the §3 claims', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = sfauth(['jwt', '--account', 'myorg-my_account', '--user', 'svc_loader', '--private-key', 'rsa_key.p8']);
    const after = Math.floor(Date.now() / 1000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(TOKEN_LINE);
    const token = r.stdout.trim();
    const { payload, protectedHeader } = await verify(token, k.rsa, 'RS256');
    expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(payload.iss).toBe(`MYORG-MY_ACCOUNT.SVC_LOADER.${k.rsa.fingerprint}`);
    expect(payload.sub).toBe('MYORG-MY_ACCOUNT.SVC_LOADER');
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.iat).toBeLessThanOrEqual(after);
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(Object.keys(claimsOf(token))).toEqual(['iss', 'sub', 'iat', 'exp']);
  });

  it('--json gives {token, alg, iss, sub, iat, exp, fingerprint, account, user}', async () => {
    const r = sfauth(['jwt', '--account', 'xy12345.us-east-2.aws', '--user', 'Svc', '--private-key', k.ec.p8, '--lifetime', '10m', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc).sort()).toEqual(['account', 'alg', 'connection', 'exp', 'fingerprint', 'iat', 'iss', 'sub', 'token', 'user']);
    expect(doc.connection).toEqual({ name: null, files: [], sources: { account: '--account', user: '--user', privateKey: '--private-key' } });
    expect(doc).toMatchObject({
      alg: 'ES384',
      account: 'XY12345',
      user: 'SVC',
      sub: 'XY12345.SVC',
      iss: `XY12345.SVC.${k.ec.fingerprint}`,
      fingerprint: k.ec.fingerprint,
    });
    expect(doc.exp - doc.iat).toBe(600);
    const { payload } = await verify(doc.token, k.ec, 'ES384');
    expect(payload).toEqual({ iss: doc.iss, sub: doc.sub, iat: doc.iat, exp: doc.exp });
  });

  it.each(['RS256', 'RS384', 'rs512'])('--alg %s signs with that RSA algorithm; jose, openssl and inspect agree', async (given) => {
    const alg = given.toUpperCase();
    const r = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.rsa.p8, '--alg', given, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.alg).toBe(alg);
    const { protectedHeader } = await verify(doc.token, k.rsa, alg);
    expect(protectedHeader).toEqual({ alg, typ: 'JWT' });
    // openssl verifies the signature over "header.payload" with the matching SHA-2
    const [h, p, sig] = doc.token.split('.');
    writeFileSync(join(dir, 'signed.txt'), `${h}.${p}`);
    writeFileSync(join(dir, 'sig.bin'), Buffer.from(sig, 'base64url'));
    const ok = execFileSync('openssl', ['dgst', `-sha${alg.slice(2)}`, '-verify', k.rsa.pub, '-signature', join(dir, 'sig.bin'), join(dir, 'signed.txt')]);
    expect(ok.toString()).toMatch(/Verified OK/);
    const inspected = sfauth(['inspect', doc.token, '--public-key', k.rsa.pub, '--json']);
    expect(inspected.code, inspected.stdout + inspected.stderr).toBe(0);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ header: { alg }, problems: [], signature: 'valid' });
  });

  it('--alg that does not fit the key, or is not Snowflake\'s: exit 2, nothing on stdout', () => {
    const ec = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.ec.p8, '--alg', 'RS256']);
    expect(ec.code).toBe(2);
    expect(ec.stdout).toBe('');
    expect(ec.stderr).toMatch(/^sfauth: alg RS256 does not fit an EC P-384 key, which signs ES384\nhint: .*leave --alg out/);
    const same = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.ec.p8, '--alg', 'ES384']);
    expect(same.code, same.stderr).toBe(0);
    const hs = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.rsa.p8, '--alg', 'HS256', '--json']);
    expect(hs.code).toBe(2);
    expect(JSON.parse(hs.stderr).error.code).toBe('ERR_USAGE');
    const mismatch = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.rsa.p8, '--alg', 'ES256', '--json']);
    expect(JSON.parse(mismatch.stderr).error.code).toBe('ERR_ALG_KEY_MISMATCH');
  });

  it('PRIVATE_KEY_PASSPHRASE set but empty is an error for an encrypted key (as in snow), not "no passphrase"', () => {
    const r = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.enc.p8, '--json'], { env: { PRIVATE_KEY_PASSPHRASE: '' } });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr).error).toMatchObject({ code: 'ERR_PASSPHRASE_EMPTY', hint: 'PRIVATE_KEY_PASSPHRASE is set but empty: give it the passphrase, or unset it' });
    const plain = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.rsa.p8], { env: { PRIVATE_KEY_PASSPHRASE: '' } });
    expect(plain.code, plain.stderr).toBe(0); // an unencrypted key needs none
  });

  it('a connection from the config folder: relative key paths are relative to the current folder, and --json says where each setting came from', () => {
    const sfDir = join(home, 'sf');
    writeFileSync(join(sfDir, 'connections.toml'), `[dev]\naccount = "myorg-dev"\nuser = "svc_dev"\nprivate_key_file = "${'rsa_key.p8'}"\n`, { mode: 0o600 });
    try {
      const r = sfauth(['jwt', '-c', 'dev', '--json'], { env: { SNOWFLAKE_USER: 'ignored_because_the_connection_has_one' } });
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc).toMatchObject({ account: 'MYORG-DEV', user: 'SVC_DEV', fingerprint: k.rsa.fingerprint });
      expect(doc.connection).toEqual({
        name: 'dev',
        files: [join(sfDir, 'connections.toml')],
        sources: { account: 'connections.toml [dev]', user: 'connections.toml [dev]', privateKey: 'connections.toml [dev]' },
      });
    } finally {
      rmSync(join(sfDir, 'connections.toml'));
    }
  });

  it.each([
    ['90s', 90],
    ['10m', 600],
    ['1h', 3600],
    ['120', 120],
  ])('--lifetime %s', (lifetime, seconds) => {
    const r = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.rsa.p8, '--lifetime', lifetime]);
    expect(r.code).toBe(0);
    const c = claimsOf(r.stdout.trim()) as { iat: number; exp: number };
    expect(c.exp - c.iat).toBe(seconds);
  });

  it.each([
    ['2h', /longer than Snowflake allows \(1h\)/],
    ['3601', /longer than Snowflake allows/],
    ['ten minutes', /invalid --lifetime/],
    ['0', /invalid --lifetime/],
  ])('--lifetime %s → exit 2', (lifetime, message) => {
    const r = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.rsa.p8, '--lifetime', lifetime]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/hint:/);
  });

  it('takes SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_PRIVATE_KEY_FILE', async () => {
    const r = sfauth(['jwt'], { env: { SNOWFLAKE_ACCOUNT: 'https://MyOrg-Acct.snowflakecomputing.com/', SNOWFLAKE_USER: 'env_user', SNOWFLAKE_PRIVATE_KEY_FILE: k.rsa.p8 } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { payload } = await verify(r.stdout.trim(), k.rsa, 'RS256');
    expect(payload.sub).toBe('MYORG-ACCT.ENV_USER');
  });

  it('flags win over the environment', () => {
    const r = sfauth(['jwt', '--user', 'flag_user'], { env: { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'env_user', SNOWFLAKE_PRIVATE_KEY_FILE: k.rsa.p8 } });
    expect(r.code).toBe(0);
    expect(claimsOf(r.stdout.trim()).sub).toBe('A.FLAG_USER');
  });

  it('takes the PEM itself from SNOWFLAKE_PRIVATE_KEY_RAW', async () => {
    const r = sfauth(['jwt', '--account', 'a', '--user', 'u'], { env: { SNOWFLAKE_PRIVATE_KEY_RAW: k.ec.pem } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await verify(r.stdout.trim(), k.ec, 'ES384');
  });

  it("reads the key from stdin with '--private-key -'", async () => {
    const r = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', '-'], { input: k.rsa.pem });
    expect(r.code).toBe(0);
    await verify(r.stdout.trim(), k.rsa, 'RS256');
  });

  it('opens an encrypted key with --passphrase-file, and with SNOWFLAKE_PRIVATE_KEY_PASSPHRASE / PRIVATE_KEY_PASSPHRASE', async () => {
    const ways: Array<{ args: string[]; env: Record<string, string> }> = [
      { args: ['--passphrase-file', passFile], env: {} },
      { args: [], env: { SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: PASSPHRASE } },
      { args: [], env: { PRIVATE_KEY_PASSPHRASE: PASSPHRASE } },
    ];
    for (const extra of ways) {
      const r = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.enc.p8, ...extra.args], { env: extra.env });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const { payload } = await verify(r.stdout.trim(), k.enc, 'RS256');
      expect(payload.iss).toBe(`A.U.${k.enc.fingerprint}`);
    }
  });

  it('an encrypted key without a passphrase and no terminal: exit 2 naming the ways to give one', () => {
    const r = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.enc.p8]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/encrypted and no passphrase was given/);
    expect(r.stderr).toMatch(/--passphrase-file/);
    expect(r.stderr).toMatch(/PRIVATE_KEY_PASSPHRASE/);
  });

  it('a wrong passphrase: exit 2, and the passphrase is never echoed', () => {
    const r = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.enc.p8], { env: { PRIVATE_KEY_PASSPHRASE: 'not-the-passphrase' } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/wrong passphrase/);
    expect(r.stderr).not.toContain('not-the-passphrase');
  });

  it.each([['my account'], ['http://myorg.snowflakecomputing.com'], ['https://example.com'], ['org!acct']])('bad account %j → exit 2', (account) => {
    const r = sfauth(['jwt', '--account', account, '--user', 'u', '--private-key', k.rsa.p8]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/invalid account identifier/);
  });

  it('missing account, user or key: exit 2 naming the flag and the variable', () => {
    let r = sfauth(['jwt', '--user', 'u', '--private-key', k.rsa.p8]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--account.*SNOWFLAKE_ACCOUNT/);
    r = sfauth(['jwt', '--account', 'a', '--private-key', k.rsa.p8]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--user.*SNOWFLAKE_USER/);
    r = sfauth(['jwt', '--account', 'a', '--user', 'u']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing private key/);
    expect(r.stderr).toMatch(/--private-key PATH or set SNOWFLAKE_PRIVATE_KEY_FILE/);
    expect(r.stdout).toBe('');
  });

  it('a public key cannot sign: exit 2', () => {
    const r = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.rsa.pub]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/public key/);
  });

  it('a missing key file: exit 2', () => {
    const r = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', 'nope.p8']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not found/);
  });

  it('with --json, an error is JSON on stderr and stdout stays empty', () => {
    const r = sfauth(['jwt', '--account', 'a', '--user', 'u', '--private-key', k.rsa.p8, '--lifetime', '2h', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr).error.code).toBe('ERR_LIFETIME_TOO_LONG');
  });

  it('-c reads a connection from connections.toml (key and passphrase from the file)', async () => {
    const toml = join(home, 'sf', 'connections.toml');
    writeFileSync(
      toml,
      `[loader]\naccount = "myorg-loader_acct"\nuser = "svc_loader"\nprivate_key_file = "${k.enc.p8}"\nprivate_key_file_pwd = "${PASSPHRASE}"\n`,
    );
    chmodSync(toml, 0o600);
    try {
      const r = sfauth(['jwt', '-c', 'loader', '--lifetime', '5m']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const { payload } = await verify(r.stdout.trim(), k.enc, 'RS256');
      expect(payload.sub).toBe('MYORG-LOADER_ACCT.SVC_LOADER');
      expect(payload.exp! - payload.iat!).toBe(300);

      const flagWins = sfauth(['jwt', '-c', 'loader', '--user', 'other']);
      expect(claimsOf(flagWins.stdout.trim()).sub).toBe('MYORG-LOADER_ACCT.OTHER');

      const missing = sfauth(['jwt', '-c', 'nope']);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/connection 'nope' not found/);
    } finally {
      rmSync(toml);
    }
  });

  it('--help shows a real example', () => {
    const r = sfauth(['jwt', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/sfauth jwt --account myorg-myaccount --user SVC_LOADER --private-key rsa_key.p8/);
    expect(r.stdout).toMatch(/--lifetime/);
  });
});
