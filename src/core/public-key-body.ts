/**
 * The value `ALTER USER … SET RSA_PUBLIC_KEY='…'` takes: the base64 of the SPKI DER, with no PEM
 * delimiters and no newlines (DESIGN.md §3 "Users and key slots").
 */
import type { KeyObject } from 'node:crypto';
import { spkiDer } from './fingerprint.js';

export function publicKeyBody(publicKey: KeyObject): string {
  return spkiDer(publicKey).toString('base64');
}

/** SPKI PEM with the usual 64-column lines, as written to `rsa_key.pub`. */
export function publicKeyPem(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}
