import { createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPair, keySpecFrom, privateKeyPem } from '../../src/core/generate-key.js';
import { fingerprintOf } from '../../src/core/fingerprint.js';
import { parseKey } from '../../src/core/parse-key.js';
import { publicKeyBody, publicKeyPem } from '../../src/core/public-key-body.js';
import { openssl, opensslFingerprint, tempDir } from '../support/cli.js';

const t = tempDir();
afterAll(() => t.cleanup());

describe('keySpecFrom', () => {
  it('accepts the documented choices', () => {
    expect(keySpecFrom({})).toEqual({ type: 'rsa', bits: 2048 });
    expect(keySpecFrom({ type: 'rsa', bits: '4096' })).toEqual({ type: 'rsa', bits: 4096 });
    expect(keySpecFrom({ type: 'ec' })).toEqual({ type: 'ec', curve: 'P-256' });
    expect(keySpecFrom({ type: 'EC', curve: 'p-521' })).toEqual({ type: 'ec', curve: 'P-521' });
  });
  it.each([
    [{ type: 'rsa', bits: '1024' }, /unsupported RSA size/],
    [{ type: 'ec', curve: 'secp256k1' }, /unsupported curve/],
    [{ type: 'ed25519' }, /unknown key type/],
    [{ type: 'dsa' }, /unknown key type/],
  ])('refuses %j', (input, message) => expect(() => keySpecFrom(input)).toThrow(message));
});

describe('generated keys interoperate with OpenSSL', () => {
  it.each([
    [{ type: 'rsa', bits: 2048 }],
    [{ type: 'ec', curve: 'P-256' }],
    [{ type: 'ec', curve: 'P-384' }],
    [{ type: 'ec', curve: 'P-521' }],
  ] as const)('%j: encrypted PKCS#8 (PBES2, AES-256-CBC, PBKDF2-HMAC-SHA256) that openssl opens', async (spec) => {
    const pair = await generateKeyPair(spec);
    const pem = privateKeyPem(pair.privateKey, 'pw 1');
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const file = join(t.dir, `k-${JSON.stringify(spec).replace(/\W/g, '')}.p8`);
    writeFileSync(file, pem);
    const asn1 = openssl(['asn1parse', '-in', file]).toString();
    expect(asn1).toContain('PBES2');
    expect(asn1).toContain('PBKDF2');
    expect(asn1).toContain('aes-256-cbc');
    expect(asn1).toContain('hmacWithSHA256');
    // openssl pkey reads it with -passin, and derives the same public key.
    const pubFile = file + '.pub';
    openssl(['pkey', '-in', file, '-passin', 'pass:pw 1', '-pubout', '-out', pubFile]);
    expect(opensslFingerprint(pubFile)).toBe(fingerprintOf(pair.publicKey));
    // Node reads it too, and so does our parser.
    expect(createPrivateKey({ key: pem, passphrase: 'pw 1' }).asymmetricKeyType).toBe(spec.type);
    expect(parseKey(pem, 'k', 'pw 1').encrypted).toBe(true);
    // The body for ALTER USER is the SPKI DER base64 on one line.
    expect(publicKeyBody(pair.publicKey)).toBe(openssl(['pkey', '-pubin', '-in', pubFile, '-outform', 'DER']).toString('base64'));
    expect(publicKeyPem(pair.publicKey)).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
  });

  it('writes unencrypted PKCS#8 when asked', async () => {
    const pair = await generateKeyPair({ type: 'rsa', bits: 2048 });
    expect(privateKeyPem(pair.privateKey)).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });
});
