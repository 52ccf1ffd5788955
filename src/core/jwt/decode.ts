/**
 * Decode a JWT without trusting it: three base64url segments, JSON header and payload. Only ever
 * returns, or throws `UsageError('ERR_TOKEN_MALFORMED')`, whatever it is given.
 */
import { isSfauthError, UsageError } from '../../errors.js';

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** `<header>.<payload>` as it appeared in the token: what the signature covers. */
  signingInput: string;
  signature: Buffer;
  /** The token itself, trimmed and without a `Bearer ` prefix. */
  token: string;
}

const B64URL_RE = /^[A-Za-z0-9_-]*$/;

function malformedToken(why: string, hint?: string): UsageError {
  return new UsageError('ERR_TOKEN_MALFORMED', `not a JWT: ${why}`, {
    hint: hint ?? 'a JWT is three base64url parts separated by dots (header.payload.signature), as `sfauth jwt` prints it',
  });
}

function segmentBytes(segment: string, name: string): Buffer {
  if (!B64URL_RE.test(segment)) {
    const padded = /^[A-Za-z0-9_-]+=+$/.test(segment);
    throw malformedToken(padded ? `the ${name} has base64 padding ('='), which JWTs never use` : `the ${name} is not base64url`);
  }
  if (segment.length % 4 === 1) throw malformedToken(`the ${name} has an impossible base64url length`);
  return Buffer.from(segment, 'base64url');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function jsonSegment(segment: string, name: string): Record<string, unknown> {
  if (segment === '') throw malformedToken(`the ${name} is empty`);
  const bytes = segmentBytes(segment, name);
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    throw malformedToken(`the ${name} is not base64url-encoded JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw malformedToken(`the ${name} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Trims whitespace and an `Authorization`-style `Bearer ` prefix. */
export function normalizeToken(input: string): string {
  return input.trim().replace(/^bearer(?:\s+|$)/i, '').trim();
}

function decodeUnchecked(input: unknown): DecodedJwt {
  if (typeof input !== 'string') throw malformedToken('the token is not a string');
  const token = normalizeToken(input);
  if (token === '') throw malformedToken('the token is empty');
  const parts = token.split('.');
  if (parts.length === 5) {
    throw malformedToken('it has five parts: an encrypted JWT (JWE), not a signed one', 'Snowflake key-pair authentication takes a signed JWT (three parts)');
  }
  if (parts.length !== 3) {
    throw malformedToken(`expected three base64url parts separated by dots, found ${parts.length}`);
  }
  const [h, p, s] = parts as [string, string, string];
  const header = jsonSegment(h, 'header');
  const payload = jsonSegment(p, 'payload');
  const signature = segmentBytes(s, 'signature');
  return { header, payload, signingInput: `${h}.${p}`, signature, token };
}

/**
 * Splits and decodes a JWT without verifying it. Throws `UsageError` ERR_TOKEN_MALFORMED (exit 2)
 * for anything that is not one, and never any other kind of error.
 */
export function decodeJwt(input: string): DecodedJwt {
  try {
    return decodeUnchecked(input);
  } catch (err) {
    if (isSfauthError(err)) throw err;
    throw malformedToken('it cannot be decoded');
  }
}
