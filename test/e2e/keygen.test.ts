import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openssl, opensslFingerprint, runCli, STACK_TRACE, tempDir } from '../support/cli.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const PASS = 'keygen pass phrase';
const passFile = () => {
  const f = join(dir, 'pass.txt');
  writeFileSync(f, PASS + '\n');
  return f;
};

function expectCleanFailure(r: { code: number | null; stderr: string; stdout: string }, code: number, message: RegExp) {
  expect(r.code).toBe(code);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^sfauth: /);
  expect(lines[0]).toMatch(message);
  expect(r.stderr).toMatch(/\nhint: /);
  expect(r.stderr).not.toMatch(STACK_TRACE);
}

describe('sfauth keygen', () => {
  it('writes an encrypted RSA-2048 PKCS#8 key (0600) and SPKI public key, prints SQL on stdout', () => {
    const r = runCli(['keygen', '--passphrase-file', passFile(), '--user', 'SVC_LOADER'], { cwd: dir });
    expect(r.code).toBe(0);
    const priv = join(dir, 'rsa_key.p8');
    const pub = join(dir, 'rsa_key.pub');
    expect(statSync(priv).mode & 0o777).toBe(0o600);
    expect(readFileSync(priv, 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    expect(readFileSync(pub, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    // openssl opens it with the passphrase and it is RSA 2048
    const text = openssl(['pkey', '-in', priv, '-passin', `pass:${PASS}`, '-noout', '-text']).toString();
    expect(text).toMatch(/2048 bit/);
    const body = openssl(['pkey', '-pubin', '-in', pub, '-outform', 'DER']).toString('base64');
    expect(r.stdout).toBe(`ALTER USER SVC_LOADER SET RSA_PUBLIC_KEY='${body}';\n`);
    expect(r.stderr).toContain('rsa_key.p8');
    expect(r.stderr).toContain(opensslFingerprint(pub));
    expect(r.stderr).not.toContain(PASS);
    expect(readdirSync(dir).sort()).toEqual(['pass.txt', 'rsa_key.p8', 'rsa_key.pub']);
  });

  it('--json gives the documented document; slot 2 and <user> placeholder', () => {
    const r = runCli(['keygen', '--type', 'ec', '--curve', 'P-384', '--no-encrypt', '--slot', '2', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc).sort()).toEqual(['curve', 'encrypted', 'fingerprint', 'note', 'privateKeyPath', 'publicKey', 'publicKeyPath', 'sql', 'type'].sort());
    expect(doc.note).toMatch(/only the Python connector \(4\.5 or later\).*Node\.js, Go, JDBC and \.NET drivers need an RSA key/);
    expect(doc).toMatchObject({ type: 'ec', curve: 'P-384', encrypted: false, privateKeyPath: join(dir, 'ec_key.p8'), publicKeyPath: join(dir, 'ec_key.pub') });
    expect(doc.sql).toBe(`ALTER USER <user> SET RSA_PUBLIC_KEY_2='${doc.publicKey}';`);
    expect(doc.fingerprint).toBe(opensslFingerprint(join(dir, 'ec_key.pub')));
    expect(createPrivateKey(readFileSync(join(dir, 'ec_key.p8'))).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
  });

  it('an EC key comes with a note on stderr about which drivers can use it; an RSA key does not', () => {
    const ec = runCli(['keygen', '--type', 'ec', '--no-encrypt', '--out', 'note_ec.p8'], { cwd: dir });
    expect(ec.code, ec.stderr).toBe(0);
    expect(ec.stderr).toMatch(/^note: Snowflake accepts EC keys, but of the official drivers only the Python connector/m);
    expect(ec.stdout).not.toContain('note');
    const rsa = runCli(['keygen', '--no-encrypt', '--out', 'note_rsa.p8'], { cwd: dir });
    expect(rsa.stderr).not.toContain('note:');
  });

  it('takes the passphrase from PRIVATE_KEY_PASSPHRASE and SNOWFLAKE_PRIVATE_KEY_PASSPHRASE', () => {
    for (const name of ['PRIVATE_KEY_PASSPHRASE', 'SNOWFLAKE_PRIVATE_KEY_PASSPHRASE']) {
      const out = join(dir, `${name}.p8`);
      const r = runCli(['keygen', '--out', out], { cwd: dir, env: { [name]: PASS } });
      expect(r.code).toBe(0);
      expect(createPrivateKey({ key: readFileSync(out), passphrase: PASS }).asymmetricKeyType).toBe('rsa');
    }
  });

  it('--pub-out and the .pub rule for names with and without extension', () => {
    expect(runCli(['keygen', '--no-encrypt', '--out', 'a/key'], { cwd: (mkdirSync(join(dir, 'a')), dir) }).code).toBe(0);
    expect(existsSync(join(dir, 'a/key.pub'))).toBe(true);
    expect(runCli(['keygen', '--no-encrypt', '--out', 'b.pem', '--pub-out', 'pub/b.pem'], { cwd: (mkdirSync(join(dir, 'pub')), dir) }).code).toBe(0);
    expect(existsSync(join(dir, 'pub/b.pem'))).toBe(true);
  });

  it('refuses an existing path without --force and leaves it untouched; --force replaces', () => {
    writeFileSync(join(dir, 'rsa_key.p8'), 'precious');
    const r = runCli(['keygen', '--no-encrypt'], { cwd: dir });
    expectCleanFailure(r, 2, /refusing to overwrite rsa_key\.p8/);
    expect(r.stderr).toContain('--force');
    expect(readFileSync(join(dir, 'rsa_key.p8'), 'utf8')).toBe('precious');
    expect(existsSync(join(dir, 'rsa_key.pub'))).toBe(false);
    // the .pub existing also blocks, and nothing is written
    writeFileSync(join(dir, 'ec_key.pub'), 'old pub');
    expectCleanFailure(runCli(['keygen', '--type', 'ec', '--no-encrypt'], { cwd: dir }), 2, /refusing to overwrite ec_key\.pub/);
    expect(existsSync(join(dir, 'ec_key.p8'))).toBe(false);
    expect(runCli(['keygen', '--no-encrypt', '--force'], { cwd: dir }).code).toBe(0);
    expect(readFileSync(join(dir, 'rsa_key.p8'), 'utf8')).toMatch(/BEGIN PRIVATE KEY/);
    expect(statSync(join(dir, 'rsa_key.p8')).mode & 0o777).toBe(0o600);
  });

  it('without a passphrase and without a terminal: exit 2 naming the three ways, no file', () => {
    const r = runCli(['keygen'], { cwd: dir });
    expectCleanFailure(r, 2, /passphrase is needed/);
    expect(r.stderr).toContain('--passphrase-file');
    expect(r.stderr).toContain('PRIVATE_KEY_PASSPHRASE');
    expect(r.stderr).toContain('terminal');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses an empty passphrase for a new key', () => {
    writeFileSync(join(dir, 'empty.txt'), '\n');
    expectCleanFailure(runCli(['keygen', '--passphrase-file', 'empty.txt'], { cwd: dir }), 2, /empty/);
    expect(readdirSync(dir)).toEqual(['empty.txt']);
  });

  it.each([
    [['--bits', '1024'], /unsupported RSA size '1024'/],
    [['--type', 'dsa'], /unknown key type 'dsa'/],
    [['--type', 'ed25519'], /unknown key type/],
    [['--type', 'ec', '--curve', 'secp256k1'], /unsupported curve/],
    [['--slot', '3'], /invalid slot/],
    [['--frobnicate'], /unknown option '--frobnicate'/],
    [['--no-encrypt', '--passphrase-file', 'x'], /contradict/],
    [['--no-encrypt', '--out', 'missing/dir/k.p8'], /does not exist/],
  ])('bad usage %j: exit 2, one line and a hint, no file', (args, message) => {
    const r = runCli(['keygen', ...args], { cwd: dir });
    expectCleanFailure(r, 2, message);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a read-only folder: exit 2, no stray temp file', () => {
    if (process.getuid?.() === 0) {
      // root ignores permission bits; a path under a file is unwritable for everyone
      writeFileSync(join(dir, 'file'), '');
      expectCleanFailure(runCli(['keygen', '--no-encrypt', '--out', 'file/k.p8'], { cwd: dir }), 2, /cannot write/);
      expect(readdirSync(dir)).toEqual(['file']);
      return;
    }
    mkdirSync(join(dir, 'ro'));
    chmodSync(join(dir, 'ro'), 0o500);
    expectCleanFailure(runCli(['keygen', '--no-encrypt', '--out', 'ro/k.p8'], { cwd: dir }), 2, /permission denied/);
    expect(readdirSync(join(dir, 'ro'))).toEqual([]);
  });

  it('--json errors are JSON on stderr', () => {
    const r = runCli(['keygen', '--bits', '1024', '--json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const doc = JSON.parse(r.stderr);
    expect(doc.error).toMatchObject({ code: 'ERR_USAGE', message: "unsupported RSA size '1024'" });
    expect(doc.error.hint).toMatch(/2048/);
  });
});

describe('keygen --key-pair: the SQL adds a named key pair, and Snowflake (the emulator) takes it as printed', () => {
  it('ADD KEY PAIR with role restriction, expiry and comment; the new key then authenticates with that role', async () => {
    const { startEmulator } = await import('../support/emulator.js');
    const { mintJwt } = await import('../../src/core/jwt.js');
    const { generateKeyPairSync, randomUUID } = await import('node:crypto');
    const sf = await startEmulator();
    try {
      const admin = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      sf.addUser('SVC', { rsaPublicKey: admin.publicKey, roles: ['LOADER'] });
      const r = runCli(['keygen', '--no-encrypt', '--user', 'SVC', '--key-pair', 'ci_key', '--role-restriction', 'LOADER', '--expires-in', '30d', '--comment', 'made by keygen', '--json'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc).toMatchObject({ keyPair: 'CI_KEY' });
      expect(doc.sql).toMatch(/^ALTER USER SVC ADD KEY PAIR CI_KEY PUBLIC_KEY='[A-Za-z0-9+/=]+' ROLE_RESTRICTION='LOADER' DAYS_TO_EXPIRY=30 COMMENT='made by keygen';$/);
      const run = (statement: string, key: import('node:crypto').KeyObject, role?: string) =>
        fetch(`${sf.url}/api/v2/statements?requestId=${randomUUID()}`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${mintJwt({ account: 'myorg-myaccount', user: 'SVC', privateKey: key, issuedAt: Math.floor(Date.now() / 1000) }).token}`,
            'X-Snowflake-Authorization-Token-Type': 'KEYPAIR_JWT',
            'Content-Type': 'application/json',
            Accept: 'application/json',
            'User-Agent': 'sfauth/test',
          },
          body: JSON.stringify({ statement, ...(role ? { role } : {}) }),
        });
      expect((await run(doc.sql, admin.privateKey)).status).toBe(200);
      const [pair] = sf.keyPairs('SVC');
      expect(pair).toMatchObject({ name: 'CI_KEY', fingerprint: doc.fingerprint, roleScope: 'LOADER', comment: 'made by keygen', status: 'ACTIVE' });
      expect(Math.round((pair!.expiresAt!.getTime() - pair!.createdOn.getTime()) / 86_400_000)).toBe(30);
      const newKey = createPrivateKey(readFileSync(doc.privateKeyPath));
      expect((await run('SELECT CURRENT_USER()', newKey)).status).toBe(401); // restricted: needs the role
      expect((await run('SELECT CURRENT_USER()', newKey, 'LOADER')).status).toBe(200);
    } finally {
      await sf.close();
    }
  });

  it('--key-pair and --slot together, or --comment without --key-pair: exit 2, nothing written', () => {
    for (const args of [['--key-pair', 'k', '--slot', '2'], ['--comment', 'x'], ['--key-pair', 'PUBLIC_KEY_1']]) {
      const r = runCli(['keygen', '--no-encrypt', ...args], { cwd: dir });
      expect(r.code, args.join(' ')).toBe(2);
      expect(readdirSync(dir).filter((f) => f.endsWith('.p8'))).toEqual([]);
    }
  });
});
