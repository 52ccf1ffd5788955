/**
 * Key fingerprints as Snowflake shows them in `RSA_PUBLIC_KEY_FP` (DESIGN.md §2): `SHA256:` and the
 * standard padded base64 of SHA-256 over the DER SubjectPublicKeyInfo. Equal to
 * `openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | openssl enc -base64`.
 */
import { createHash, type KeyObject } from 'node:crypto';

export function spkiDer(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' });
}

export function fingerprintOf(publicKey: KeyObject): string {
  return 'SHA256:' + createHash('sha256').update(spkiDer(publicKey)).digest('base64');
}

/** Accepts a fingerprint with or without the `SHA256:` prefix (any case), returns the prefixed form. */
export function normalizeFingerprint(value: string): string {
  const bare = value.trim().replace(/^sha256:/i, '');
  return 'SHA256:' + bare;
}

export function sameFingerprint(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  return normalizeFingerprint(a) === normalizeFingerprint(b);
}
