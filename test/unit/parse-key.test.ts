import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKey } from '../../src/core/parse-key.js';
import { fingerprintOf } from '../../src/core/fingerprint.js';
import { isSfauthError } from '../../src/errors.js';
import { opensslFingerprint, tempDir } from '../support/cli.js';
import { makeKeyFixtures, PASSPHRASE, type KeyFixtures } from '../support/keys.js';

let fx: KeyFixtures;
let cleanup: () => void;
beforeAll(() => {
  const t = tempDir();
  cleanup = t.cleanup;
  fx = makeKeyFixtures(t.dir);
});
afterAll(() => cleanup());

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(isSfauthError(err)).toBe(true);
    return (err as { code: string }).code;
  }
  return undefined;
}

const ENCRYPTED = new Set(['pkcs8-aes256', 'pkcs8-des3', 'pkcs1-encrypted', 'pkcs8-encrypted-der']);
const EXPECTED_FORMAT: Record<string, string> = {
  pkcs8: 'pkcs8',
  'pkcs8-aes256': 'pkcs8-encrypted',
  'pkcs8-des3': 'pkcs8-encrypted',
  pkcs1: 'pkcs1',
  'pkcs1-encrypted': 'pkcs1-encrypted',
  spki: 'spki',
  'pkcs1-public': 'pkcs1-public',
  'pkcs8-der': 'pkcs8',
  'pkcs1-der': 'pkcs1',
  'spki-der': 'spki',
  'pkcs8-encrypted-der': 'pkcs8-encrypted',
  'base64-body': 'spki',
  'genrsa-traditional': 'pkcs1',
};

describe('parseKey on every format, fingerprint equal to OpenSSL', () => {
  it('covers the formats of DESIGN.md §2', () => {
    expect(Object.keys(fx.files).length).toBeGreaterThanOrEqual(20);
  });

  it.each(Object.keys(EXPECTED_FORMAT))('%s', (name) => {
    const bytes = readFileSync(fx.files[name]!);
    const key = parseKey(bytes, name, ENCRYPTED.has(name) ? PASSPHRASE : undefined);
    expect(key.format).toBe(EXPECTED_FORMAT[name]);
    expect(key.type).toBe('rsa');
    expect(key.bits).toBe(2048);
    expect(key.alg).toBe('RS256');
    expect(key.encrypted).toBe(ENCRYPTED.has(name));
    expect(Boolean(key.privateKey)).toBe(!/spki|public|body/.test(name));
    expect(fingerprintOf(key.publicKey)).toBe(opensslFingerprint(fx.publicOf[name]!));
  });

  it.each(['p256', 'p384', 'p521'])('EC %s in SEC1 (with EC PARAMETERS), PKCS#8 and SPKI', (curve) => {
    const expected = opensslFingerprint(fx.publicOf[`ec-${curve}-spki`]!);
    for (const form of ['sec1', 'pkcs8', 'spki']) {
      const key = parseKey(readFileSync(fx.files[`ec-${curve}-${form}`]!), form);
      expect(key.type).toBe('ec');
      expect(key.curve).toBe({ p256: 'P-256', p384: 'P-384', p521: 'P-521' }[curve]);
      expect(key.alg).toBe({ p256: 'ES256', p384: 'ES384', p521: 'ES512' }[curve]);
      expect(fingerprintOf(key.publicKey)).toBe(expected);
    }
  });

  it('matches a fixed vector (public key and fingerprint computed with openssl)', () => {
    const body =
      'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaEwUJvMCkJqKmAGjd41cLJbs50bBVNGlRk3YjjWrKaPaf4pwms1v58wAfgxzEKCsvz+5EsWB0Cl9z8QkSFtbLQ==';
    expect(fingerprintOf(parseKey(body, 'vector').publicKey)).toBe('SHA256:qyNxsKQVQI+CjRVRX+Z03NIyesgrd2sIbNIgFGGxfSg=');
  });
});

describe('parseKey refusals', () => {
  it('asks for a passphrase for every encrypted format', () => {
    for (const name of ENCRYPTED) expect(codeOf(() => parseKey(readFileSync(fx.files[name]!), name))).toBe('ERR_PASSPHRASE_REQUIRED');
  });

  it('says "wrong passphrase" for every encrypted format', () => {
    for (const name of ENCRYPTED) expect(codeOf(() => parseKey(readFileSync(fx.files[name]!), name, 'nope'))).toBe('ERR_PASSPHRASE_WRONG');
  });

  it('refuses empty, garbage, truncated and corrupted input', () => {
    const pem = readFileSync(fx.files['pkcs8']!, 'utf8');
    expect(codeOf(() => parseKey('', 'x'))).toBe('ERR_KEY_EMPTY');
    expect(codeOf(() => parseKey('  \n', 'x'))).toBe('ERR_KEY_EMPTY');
    expect(codeOf(() => parseKey('hello world', 'x'))).toBe('ERR_KEY_MALFORMED');
    expect(codeOf(() => parseKey(pem.slice(0, pem.length / 2), 'x'))).toBe('ERR_KEY_MALFORMED');
    const lines = pem.split('\n');
    lines.splice(5, 3);
    expect(codeOf(() => parseKey(lines.join('\n'), 'x'))).toBe('ERR_KEY_MALFORMED');
    expect(codeOf(() => parseKey(pem.replace(/[A-Za-z]{4}\n/, '!!!!\n'), 'x'))).toBe('ERR_KEY_MALFORMED');
    const der = readFileSync(fx.files['pkcs8-der']!);
    expect(codeOf(() => parseKey(der.subarray(0, 300), 'x'))).toBe('ERR_KEY_MALFORMED');
  });

  it('refuses RSA below 2048 bits, other curves, Ed25519 and DSA, naming what is accepted', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' });
    const dsa = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    for (const [input, needle] of [
      [small, '1024-bit'],
      [k1, 'secp256k1'],
      [ed, 'Ed25519'],
      [dsa, 'DSA'],
    ] as const) {
      try {
        parseKey(input, 'k');
        throw new Error('accepted');
      } catch (err) {
        expect((err as { code: string }).code).toBe('ERR_KEY_UNSUPPORTED');
        expect((err as Error).message.toUpperCase()).toContain(needle.toUpperCase());
        expect((err as { hint: string }).hint).toMatch(/2048|P-256/);
      }
    }
  });

  it('refuses a certificate and an OpenSSH key with a pointer', () => {
    expect(codeOf(() => parseKey('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', 'c'))).toBe('ERR_KEY_MALFORMED');
    expect(codeOf(() => parseKey('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----\n', 'o'))).toBe('ERR_KEY_UNSUPPORTED');
  });

  it('names the source in messages', () => {
    writeFileSync(join(fx.dir, 'junk.p8'), 'junk');
    try {
      parseKey(readFileSync(join(fx.dir, 'junk.p8')), 'junk.p8');
    } catch (err) {
      expect((err as Error).message).toContain('junk.p8');
    }
  });
});
