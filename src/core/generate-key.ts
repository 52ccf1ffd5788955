/**
 * New key pairs, always from `node:crypto` (OpenSSL underneath; never a pure-JS generator), and
 * their PKCS#8 PEM encoding: PBES2 with AES-256-CBC and PBKDF2-HMAC-SHA256 when encrypted
 * (DESIGN.md §2), which OpenSSL and every Snowflake driver read.
 */
import { generateKeyPair as generate, type KeyObject } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { Curve } from './parse-key.js';

export type KeySpec = { type: 'rsa'; bits: 2048 | 3072 | 4096 } | { type: 'ec'; curve: Curve };

const NAMED_CURVE: Record<Curve, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };

/**
 * Validates `--type/--bits/--curve` as typed by a user into a KeySpec. `--curve` alone means an EC key
 * and `--bits` alone an RSA key; a size with a curve (or either with the other type) contradicts itself.
 */
export function keySpecFrom(input: { type?: string; bits?: string | number; curve?: string }): KeySpec {
  if (input.type === undefined && input.curve !== undefined && input.bits !== undefined) {
    throw new UsageError('ERR_USAGE', `--bits ${input.bits} and --curve ${input.curve} contradict each other`, {
      hint: 'an RSA key has --bits, an EC key has --curve: drop one of them',
    });
  }
  const type = (input.type ?? (input.curve !== undefined ? 'ec' : 'rsa')).toLowerCase();
  if (type === 'rsa' && input.curve !== undefined) {
    throw new UsageError('ERR_USAGE', `--curve ${input.curve} is for EC keys, but --type is rsa`, { hint: 'use --type ec --curve …, or --type rsa --bits …' });
  }
  if (type === 'ec' && input.bits !== undefined) {
    throw new UsageError('ERR_USAGE', `--bits ${input.bits} is for RSA keys, but --type is ec`, { hint: 'an EC key takes --curve P-256, P-384 or P-521' });
  }
  if (type === 'rsa') {
    const bits = Number(input.bits ?? 2048);
    if (bits !== 2048 && bits !== 3072 && bits !== 4096) {
      throw new UsageError('ERR_USAGE', `unsupported RSA size '${input.bits}'`, {
        hint: 'use --bits 2048, 3072 or 4096 (Snowflake needs at least 2048)',
      });
    }
    return { type: 'rsa', bits };
  }
  if (type === 'ec') {
    const raw = String(input.curve ?? 'P-256').toUpperCase();
    const curve = ({ 'P-256': 'P-256', P256: 'P-256', PRIME256V1: 'P-256', SECP256R1: 'P-256', 'P-384': 'P-384', P384: 'P-384', SECP384R1: 'P-384', 'P-521': 'P-521', P521: 'P-521', SECP521R1: 'P-521' } as Record<string, Curve>)[raw];
    if (!curve) {
      throw new UsageError('ERR_USAGE', `unsupported curve '${input.curve}'`, { hint: 'use --curve P-256, P-384 or P-521' });
    }
    return { type: 'ec', curve };
  }
  throw new UsageError('ERR_USAGE', `unknown key type '${input.type}'`, { hint: 'use --type rsa or --type ec' });
}

export interface GeneratedKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Generates off the main thread (libuv pool), so a spinner can turn while RSA-4096 is made. */
export function generateKeyPair(spec: KeySpec): Promise<GeneratedKeyPair> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKey: KeyObject, privateKey: KeyObject) =>
      err ? reject(err) : resolve({ privateKey, publicKey });
    if (spec.type === 'rsa') generate('rsa', { modulusLength: spec.bits, publicExponent: 0x10001 }, done);
    else generate('ec', { namedCurve: NAMED_CURVE[spec.curve] }, done);
  });
}

/** PKCS#8 PEM, encrypted with AES-256-CBC when a passphrase is given. */
export function privateKeyPem(privateKey: KeyObject, passphrase?: Buffer | string): string {
  if (passphrase === undefined) return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString();
}
