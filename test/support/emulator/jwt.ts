/**
 * Independent verification of Snowflake key-pair JWTs (DESIGN.md §3), on node:crypto only.
 * No JWT library is used on purpose: this is the second implementation that checks the CLI's first.
 */
import { verify as cryptoVerify, constants } from 'node:crypto';
import type { ParsedPublicKey } from './keys.js';

/** The reasons a key-pair JWT is refused, with the codes of DESIGN.md §3. */
export const JWT_FAILURES = {
  '390144': { name: 'JWT_TOKEN_INVALID', text: 'JWT token is invalid' },
  '394300': { name: 'JWT_TOKEN_INVALID_USER_IN_ISSUER', text: 'JWT token is invalid: the user in the issuer is not the LOGIN_NAME of an existing user' },
  '394301': { name: 'JWT_TOKEN_INVALID_MISSING_ISSUE_OR_EXPIRATION_TIME', text: 'JWT token is invalid: the issue time (iat) or the expiration time (exp) is missing or not a number' },
  '394302': { name: 'JWT_TOKEN_INVALID_ISSUE_TIME', text: 'JWT token is invalid: the issue time is too far from the current server time' },
  '394303': { name: 'JWT_TOKEN_EXPIRED', text: 'JWT token is invalid: the token has expired' },
  '394304': { name: 'JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH', text: 'JWT token is invalid: the public key fingerprint in the issuer does not match any public key of the user' },
  '394305': { name: 'JWT_TOKEN_INVALID_ALGORITHM', text: 'JWT token is invalid: the algorithm is not accepted' },
  '394306': { name: 'JWT_TOKEN_INVALID_SIGNATURE', text: 'JWT token is invalid: the signature does not verify with the registered public key' },
  '394307': { name: 'JWT_TOKEN_ACCOUNT_MISMATCH', text: 'JWT token is invalid: the account in the token does not match the account in the URL' },
} as const;
export type JwtFailureCode = keyof typeof JWT_FAILURES;

export interface JwtKeyCandidate {
  /** A legacy slot, or a named key pair. */
  slot?: 1 | 2;
  pair?: string;
  key: ParsedPublicKey;
}

export interface JwtContext {
  /** The emulator's account, upper-case. */
  account: string;
  /** Server clock, seconds since the epoch (may be fractional). */
  nowSeconds: number;
  /** Login names are compared exactly: the token must carry the upper-case login name. */
  userExists(login: string): boolean;
  /** Keys of that user that may authenticate now (propagation delay elapsed). */
  usableKeys(login: string): JwtKeyCandidate[];
}

export type JwtResult =
  | { ok: true; login: string; slot?: 1 | 2; pair?: string; fingerprint: string; header: Record<string, unknown>; payload: Record<string, unknown> }
  | {
      ok: false;
      code: JwtFailureCode;
      /** Precise reason, for the login-failure log (never sent in generic mode). */
      detail: string;
      login?: string;
      fingerprint?: string;
      header?: Record<string, unknown>;
      payload?: Record<string, unknown>;
    };

const ALGS = {
  RS256: { hash: 'sha256', kind: 'rsa' as const },
  RS384: { hash: 'sha384', kind: 'rsa' as const },
  RS512: { hash: 'sha512', kind: 'rsa' as const },
  ES256: { hash: 'sha256', kind: 'ec' as const, curve: 'P-256', size: 64 },
  ES384: { hash: 'sha384', kind: 'ec' as const, curve: 'P-384', size: 96 },
  ES512: { hash: 'sha512', kind: 'ec' as const, curve: 'P-521', size: 132 },
};

const B64URL = /^[A-Za-z0-9_-]*$/;

function decodeSegment(segment: string): Buffer | undefined {
  // base64url without padding (RFC 7515 §2); a length of 1 mod 4 is never valid.
  if (!B64URL.test(segment) || segment.length % 4 === 1) return undefined;
  return Buffer.from(segment, 'base64url');
}

function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  const bytes = decodeSegment(segment);
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Verify a KEYPAIR_JWT bearer token. Checks run in the order of the list in DESIGN.md §3. */
export function verifyKeypairJwt(token: string, ctx: JwtContext): JwtResult {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, code: '390144', detail: `token has ${parts.length} dot-separated parts, expected 3` };
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJsonSegment(h);
  if (!header) return { ok: false, code: '390144', detail: 'header is not base64url-encoded JSON' };
  const payload = decodeJsonSegment(p);
  if (!payload) return { ok: false, code: '390144', detail: 'payload is not base64url-encoded JSON', header };
  const signature = decodeSegment(s);
  if (!signature || signature.length === 0) return { ok: false, code: '390144', detail: 'signature is missing or not base64url', header, payload };
  const base = { header, payload };

  const alg = header.alg;
  if (typeof alg !== 'string' || !Object.hasOwn(ALGS, alg)) {
    return { ok: false, code: '394305', detail: `alg ${JSON.stringify(alg)} is not one of RS256, RS384, RS512, ES256, ES384, ES512`, ...base };
  }
  if (header.typ !== 'JWT') return { ok: false, code: '394305', detail: `typ ${JSON.stringify(header.typ)} is not "JWT"`, ...base };
  const algInfo = ALGS[alg as keyof typeof ALGS];

  // iss = ACCOUNT.USER.SHA256:<fp>, sub = ACCOUNT.USER. The login name may itself contain dots, so the
  // account is what precedes the first dot and the fingerprint what follows the last ".SHA256:".
  const iss = payload.iss;
  const sub = payload.sub;
  if (typeof iss !== 'string' || typeof sub !== 'string') {
    return { ok: false, code: '390144', detail: 'iss or sub claim missing or not a string', ...base };
  }
  const fpAt = iss.lastIndexOf('.SHA256:');
  if (fpAt < 0) return { ok: false, code: '390144', detail: `iss ${JSON.stringify(iss)} is not ACCOUNT.USER.SHA256:<fingerprint>`, ...base };
  const issPrefix = iss.slice(0, fpAt);
  const fingerprint = iss.slice(fpAt + 1);
  if (issPrefix !== sub) return { ok: false, code: '390144', detail: `sub ${JSON.stringify(sub)} is not the ACCOUNT.USER part of iss`, ...base };
  const dot = sub.indexOf('.');
  if (dot <= 0 || dot === sub.length - 1) return { ok: false, code: '390144', detail: `sub ${JSON.stringify(sub)} is not ACCOUNT.USER`, ...base };
  const account = sub.slice(0, dot);
  const login = sub.slice(dot + 1);

  if (account !== ctx.account) {
    return { ok: false, code: '394307', detail: `account ${JSON.stringify(account)} in token, server account is ${JSON.stringify(ctx.account)}`, ...base };
  }
  if (login !== login.toUpperCase() || !ctx.userExists(login)) {
    const why = login !== login.toUpperCase() ? 'is not upper-case' : 'is not the login name of any user';
    return { ok: false, code: '394300', detail: `user ${JSON.stringify(login)} in issuer ${why}`, ...base };
  }

  const { iat, exp } = payload;
  if (typeof iat !== 'number' || !Number.isFinite(iat) || typeof exp !== 'number' || !Number.isFinite(exp)) {
    return { ok: false, code: '394301', detail: 'iat and exp must be numeric seconds', login, ...base };
  }
  if (iat > ctx.nowSeconds + 60) {
    return { ok: false, code: '394302', detail: `iat is ${Math.round(iat - ctx.nowSeconds)} s ahead of the server clock (more than 60 s)`, login, ...base };
  }
  if (exp - iat > 3600) return { ok: false, code: '394302', detail: `exp - iat is ${exp - iat} s, more than 3600 s`, login, ...base };
  if (exp <= iat) return { ok: false, code: '394302', detail: 'exp is not after iat', login, ...base };
  if (exp <= ctx.nowSeconds) {
    return { ok: false, code: '394303', detail: `token expired ${Math.round(ctx.nowSeconds - exp)} s ago by the server clock`, login, ...base };
  }

  const candidate = ctx.usableKeys(login).find((c) => c.key.fingerprint === fingerprint);
  if (!candidate) {
    return { ok: false, code: '394304', detail: `fingerprint ${fingerprint} matches no usable key of ${login}`, login, fingerprint, ...base };
  }
  const key = candidate.key;
  const data = Buffer.from(`${h}.${p}`, 'ascii');
  let good = false;
  if (key.kind !== algInfo.kind || ('curve' in algInfo && key.curve !== algInfo.curve)) {
    return {
      ok: false,
      code: '394306',
      detail: `alg ${alg} does not fit the registered ${key.kind === 'rsa' ? 'RSA' : key.curve} key`,
      login,
      fingerprint,
      ...base,
    };
  }
  try {
    if (algInfo.kind === 'rsa') {
      good = cryptoVerify(algInfo.hash, data, { key: key.key, padding: constants.RSA_PKCS1_PADDING }, signature);
    } else {
      good = signature.length === algInfo.size && cryptoVerify(algInfo.hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature);
    }
  } catch {
    good = false;
  }
  if (!good) return { ok: false, code: '394306', detail: `signature does not verify with ${candidate.pair ? `key pair ${candidate.pair}` : `slot ${candidate.slot} key`}`, login, fingerprint, ...base };
  return { ok: true, login, ...(candidate.pair ? { pair: candidate.pair } : { slot: candidate.slot }), fingerprint, header, payload };
}
