import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openssl, opensslFingerprint, runCli, STACK_TRACE, tempDir } from '../support/cli.js';
import { makeKeyFixtures, PASSPHRASE, type KeyFixtures } from '../support/keys.js';

let fx: KeyFixtures;
let cleanup: () => void;
beforeAll(() => {
  const t = tempDir();
  cleanup = t.cleanup;
  fx = makeKeyFixtures(t.dir);
});
afterAll(() => cleanup());

function expectCleanFailure(r: { code: number | null; stderr: string }, code: number, message: RegExp) {
  expect(r.code).toBe(code);
  expect(r.stderr.split('\n')[0]).toMatch(message);
  expect(r.stderr).toMatch(/\nhint: /);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  expect(r.stderr).not.toContain(PASSPHRASE);
}

describe('sfauth fingerprint', () => {
  it('prints exactly what the OpenSSL pipeline prints, for every format (passphrase from file)', () => {
    const names = Object.keys(fx.files);
    const r = runCli(['fingerprint', '--passphrase-file', fx.passFile, ...names.map((n) => fx.files[n]!)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(names.length);
    names.forEach((n, i) => expect(lines[i]).toBe(`${opensslFingerprint(fx.publicOf[n]!)} ${fx.files[n]}`));
  });

  it('one key: just the fingerprint; stdin with -', () => {
    const expected = opensslFingerprint(fx.publicOf['spki']!);
    expect(runCli(['fingerprint', fx.files['spki']!]).stdout).toBe(expected + '\n');
    expect(runCli(['fingerprint', '-'], { input: readFileSync(fx.files['pkcs1']!) }).stdout).toBe(expected + '\n');
    expect(runCli(['fingerprint', '-'], { input: readFileSync(fx.files['spki-der']!) }).stdout).toBe(expected + '\n');
  });

  it('reads encrypted keys with the passphrase from the environment', () => {
    const r = runCli(['fingerprint', fx.files['pkcs8-des3']!], { env: { PRIVATE_KEY_PASSPHRASE: PASSPHRASE } });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(opensslFingerprint(fx.publicOf['pkcs8-des3']!));
  });

  it('--expect: exit 0 on a match with or without SHA256:, exit 1 with both values on mismatch', () => {
    const fp = opensslFingerprint(fx.publicOf['spki']!);
    expect(runCli(['fingerprint', fx.files['spki']!, '--expect', fp]).code).toBe(0);
    expect(runCli(['fingerprint', fx.files['spki']!, '--expect', fp.slice('SHA256:'.length)]).code).toBe(0);
    const other = opensslFingerprint(fx.publicOf['ec-p256-spki']!);
    const r = runCli(['fingerprint', fx.files['spki']!, '--expect', other]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(fp + '\n');
    expect(r.stderr).toMatch(/^sfauth: fingerprint mismatch/);
    expect(r.stderr).toContain(`expected ${other}`);
    expect(r.stderr).toContain(`actual   ${fp}`);
    const j = runCli(['fingerprint', fx.files['spki']!, '--expect', other, '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ match: false, expect: other, fingerprints: [{ fingerprint: fp, match: false }] });
    expect(JSON.parse(j.stderr).error.code).toBe('ERR_FINGERPRINT_MISMATCH');
  });

  it('--json lists every key', () => {
    const r = runCli(['fingerprint', '--json', fx.files['spki']!, fx.files['ec-p384-sec1']!]);
    const doc = JSON.parse(r.stdout);
    expect(doc.fingerprints).toEqual([
      { key: fx.files['spki'], fingerprint: opensslFingerprint(fx.publicOf['spki']!), type: 'rsa', bits: 2048, format: 'spki' },
      { key: fx.files['ec-p384-sec1'], fingerprint: opensslFingerprint(fx.publicOf['ec-p384-sec1']!), type: 'ec', curve: 'P-384', format: 'sec1' },
    ]);
  });

  describe('bad input: exit 2, one line + hint, no stack trace', () => {
    let bad: Record<string, string>;
    beforeAll(() => {
      const d = join(fx.dir, 'bad');
      mkdirSync(d);
      const pem = readFileSync(fx.files['pkcs8']!, 'utf8');
      const w = (name: string, data: string | Buffer) => (writeFileSync(join(d, name), data), join(d, name));
      bad = {
        empty: w('empty.p8', ''),
        garbage: w('garbage.p8', 'this is not a key\n'),
        truncated: w('truncated.p8', pem.slice(0, 900)),
        corrupted: w('corrupted.p8', pem.replace(/\n[A-Za-z0-9+/]{64}\n/, '\n' + '#'.repeat(64) + '\n')),
        'truncated-der': w('t.der', readFileSync(fx.files['pkcs8-der']!).subarray(0, 200)),
        binary: w('random.bin', Buffer.from([0x30, 0x82, 0x01, 0x00, 1, 2, 3, 4, 5, 0, 0xff])),
      };
      openssl(['genpkey', '-algorithm', 'ed25519', '-out', join(d, 'ed.pem')]);
      openssl(['genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:2048', '-out', join(d, 'dsa.param')]);
      openssl(['genpkey', '-paramfile', join(d, 'dsa.param'), '-out', join(d, 'dsa.pem')]);
      openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', join(d, 'small.pem')]);
      openssl(['ecparam', '-name', 'secp256k1', '-genkey', '-noout', '-out', join(d, 'k1.pem')]);
    });

    it.each([
      ['empty', /is empty/],
      ['garbage', /not a readable key/],
      ['truncated', /not a readable key/],
      ['corrupted', /corrupted/],
      ['truncated-der', /truncated or corrupted/],
      ['binary', /not a readable key/],
    ])('%s', (name, message) => expectCleanFailure(runCli(['fingerprint', bad[name]!]), 2, message));

    it.each([
      ['ed.pem', /an Ed25519 key/],
      ['dsa.pem', /DSA key/],
      ['small.pem', /1024-bit RSA key/],
      ['k1.pem', /curve secp256k1/],
    ])('unsupported %s', (file, message) => expectCleanFailure(runCli(['fingerprint', join(fx.dir, 'bad', file)]), 2, message));

    it('missing file, folder', () => {
      expectCleanFailure(runCli(['fingerprint', join(fx.dir, 'nope.p8')]), 2, /key file not found/);
      expectCleanFailure(runCli(['fingerprint', fx.dir]), 2, /is a folder/);
    });

    it('wrong passphrase, and encrypted without passphrase or terminal', () => {
      const wrong = join(fx.dir, 'wrong.txt');
      writeFileSync(wrong, 'not it\n');
      expectCleanFailure(runCli(['fingerprint', '--passphrase-file', wrong, fx.files['pkcs8-aes256']!]), 2, /wrong passphrase/);
      expectCleanFailure(runCli(['fingerprint', '--passphrase-file', wrong, fx.files['pkcs1-encrypted']!]), 2, /wrong passphrase/);
      const r = runCli(['fingerprint', fx.files['pkcs8-des3']!]);
      expectCleanFailure(r, 2, /is encrypted and no passphrase was given/);
      expect(r.stderr).toMatch(/--passphrase-file.*PRIVATE_KEY_PASSPHRASE.*terminal/);
    });

    it('a malformed --expect', () => expectCleanFailure(runCli(['fingerprint', fx.files['spki']!, '--expect', 'abc']), 2, /not a SHA256 fingerprint/));
    it('no key at all', () => expectCleanFailure(runCli(['fingerprint']), 2, /missing required argument/));
  });
});

describe('sfauth sql', () => {
  const body = () => openssl(['pkey', '-pubin', '-in', fx.files['spki']!, '-outform', 'DER']).toString('base64');

  it('prints the SET statement for slot 1 and 2, from a public or a private key', () => {
    expect(runCli(['sql', '--user', 'SVC_LOADER', '--public-key', fx.files['spki']!]).stdout).toBe(
      `ALTER USER SVC_LOADER SET RSA_PUBLIC_KEY='${body()}';\n`,
    );
    expect(runCli(['sql', '--user', 'svc', '--slot', '2', '--public-key', fx.files['pkcs1']!]).stdout).toBe(
      `ALTER USER svc SET RSA_PUBLIC_KEY_2='${body()}';\n`,
    );
    expect(runCli(['sql', '--user', 'svc', '--public-key', fx.files['pkcs8-aes256']!, '--passphrase-file', fx.passFile]).stdout).toContain(body());
  });

  it('quotes odd identifiers', () => {
    expect(runCli(['sql', '--user', 'odd"name x', '--public-key', fx.files['spki']!]).stdout).toBe(
      `ALTER USER "odd""name x" SET RSA_PUBLIC_KEY='${body()}';\n`,
    );
  });

  it('--unset and --json', () => {
    expect(runCli(['sql', '--user', 'SVC', '--unset', '--slot', '2']).stdout).toBe('ALTER USER SVC UNSET RSA_PUBLIC_KEY_2;\n');
    const doc = JSON.parse(runCli(['sql', '--user', 'SVC', '--public-key', fx.files['spki']!, '--json']).stdout);
    expect(doc).toEqual({
      user: 'SVC',
      slot: 1,
      property: 'RSA_PUBLIC_KEY',
      action: 'set',
      fingerprint: opensslFingerprint(fx.files['spki']!),
      sql: `ALTER USER SVC SET RSA_PUBLIC_KEY='${body()}';`,
    });
  });

  it('takes the user from SNOWFLAKE_USER', () => {
    expect(runCli(['sql', '--unset', '--slot', '1'], { env: { SNOWFLAKE_USER: 'ENVUSER' } }).stdout).toBe('ALTER USER ENVUSER UNSET RSA_PUBLIC_KEY;\n');
  });

  it('named key pairs: ADD with its properties, ROTATE with a grace, DISABLE/ENABLE, REMOVE; names quoted as identifiers', () => {
    const key = fx.files['spki']!;
    expect(runCli(['sql', '--user', 'SVC', '--key-pair', 'ci_key', '--public-key', key]).stdout).toBe(`ALTER USER SVC ADD KEY PAIR CI_KEY PUBLIC_KEY='${body()}';\n`);
    expect(runCli(['sql', '--user', 'SVC', '--key-pair', 'ci_key', '--public-key', key, '--role-restriction', 'LOADER', '--expires-in', '90d', '--comment', "it's CI"]).stdout).toBe(
      `ALTER USER SVC ADD KEY PAIR CI_KEY PUBLIC_KEY='${body()}' ROLE_RESTRICTION='LOADER' DAYS_TO_EXPIRY=90 COMMENT='it''s CI';\n`,
    );
    expect(runCli(['sql', '--user', 'SVC', '--key-pair', 'CI_KEY', '--rotate', '--public-key', key]).stdout).toBe(`ALTER USER SVC ROTATE KEY PAIR CI_KEY PUBLIC_KEY='${body()}';\n`);
    expect(runCli(['sql', '--user', 'SVC', '--key-pair', 'CI_KEY', '--rotate', '--public-key', key, '--grace', '2d']).stdout).toMatch(/ EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS=48;\n$/);
    expect(runCli(['sql', '--user', 'SVC', '--key-pair', 'CI_KEY', '--rotate', '--public-key', key, '--grace', '0']).stdout).toMatch(/ EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS=0;\n$/);
    expect(runCli(['sql', '--user', 'SVC', '--key-pair', 'Mixed Case', '--disable']).stdout).toBe('ALTER USER SVC MODIFY KEY PAIR "Mixed Case" SET DISABLED = TRUE;\n');
    expect(runCli(['sql', '--user', 'SVC', '--key-pair', 'k', '--enable']).stdout).toBe('ALTER USER SVC MODIFY KEY PAIR K SET DISABLED = FALSE;\n');
    const doc = JSON.parse(runCli(['sql', '--user', 'SVC', '--key-pair', 'k', '--remove', '--json']).stdout);
    expect(doc).toEqual({ user: 'SVC', action: 'remove', keyPair: 'K', sql: 'ALTER USER SVC REMOVE KEY PAIR K;' });
    const add = JSON.parse(runCli(['sql', '--user', 'SVC', '--key-pair', 'k', '--public-key', key, '--json']).stdout);
    expect(add).toMatchObject({ action: 'add', keyPair: 'K', fingerprint: opensslFingerprint(key) });
  });

  it.each([
    [['--user', 'SVC', '--unset'], /--unset needs --slot 1 or --slot 2/],
    [['--user', 'SVC', '--key-pair', 'public_key_2', '--remove'], /PUBLIC_KEY_2 is reserved for the legacy key slots/],
    [['--user', 'SVC', '--key-pair', 'CI_ROTATED_1764000000000', '--disable'], /rotated-out key pair/],
    [['--user', 'SVC', '--key-pair', 'k', '--slot', '2', '--public-key', 'x.pub'], /--slot and --key-pair do not go together/],
    [['--user', 'SVC', '--rotate', '--public-key', 'x.pub'], /--rotate needs --key-pair NAME/],
    [['--user', 'SVC', '--key-pair', 'k', '--remove', '--disable'], /one at a time/],
    [['--user', 'SVC', '--key-pair', 'k', '--public-key', 'x.pub', '--grace', '1h'], /--grace goes with --rotate/],
    [['--user', 'SVC', '--key-pair', 'k', '--rotate', '--public-key', 'x.pub', '--grace', '90m'], /--grace must be whole hours/],
    [['--user', 'SVC', '--key-pair', 'k', '--public-key', 'x.pub', '--expires-in', '12h'], /--expires-in must be whole days, at least 1d/],
    [['--user', 'SVC', '--comment', 'x', '--public-key', 'x.pub'], /--comment needs --key-pair NAME/],
    [['--user', 'SVC', '--key-pair', 'k', '--remove', '--comment', 'x'], /--comment is for adding a key pair/],
    [['--user', 'SVC', '--key-pair', 'k', '--remove', '--public-key', 'x.pub'], /--remove takes no --public-key/],
    [['--user', 'SVC', '--key-pair', 'k', '--unset'], /a named key pair is removed with --remove/],
  ])('named-pair misuse %j', (args, message) => expectCleanFailure(runCli(['sql', ...args]), 2, message));

  it.each([
    [['--public-key', 'x.pub'], /missing user/],
    [['--user', 'SVC'], /missing --public-key/],
    [['--user', 'SVC', '--slot', '0', '--unset'], /invalid slot/],
    [['--user', 'SVC', '--public-key', '/nonexistent.pub'], /key file not found/],
    [['--user', '', '--unset'], /missing user|empty/],
  ])('bad usage %j', (args, message) => expectCleanFailure(runCli(['sql', ...args]), 2, message));
});
