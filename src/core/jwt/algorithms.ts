/**
 * The JWT algorithms Snowflake takes for key-pair authentication, and which key signs which: an RSA
 * key RS256 (default), RS384 or RS512; an EC key its curve's ES256 / ES384 / ES512.
 * See https://docs.snowflake.com/en/user-guide/key-pair-auth
 */
import type { KeyObject } from 'node:crypto';
import type { JwtAlgorithm } from '../parse-key.js';

export type { JwtAlgorithm } from '../parse-key.js';

/** Snowflake never honours a key-pair JWT for longer than this. */
export const MAX_LIFETIME_SECONDS = 3600;
/** Clock skew Snowflake tolerates for `iat` in the future. */
export const ALLOWED_SKEW_SECONDS = 60;

export const JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];
/** What `--alg` may choose for an RSA key; an EC key's curve fixes its algorithm. */
export const RSA_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'RS384', 'RS512'];

export interface AlgInfo {
  hash: 'sha256' | 'sha384' | 'sha512';
  kind: 'rsa' | 'ec';
  /** node's name of the curve (asymmetricKeyDetails.namedCurve). */
  namedCurve?: string;
  curve?: string;
  /** JOSE (IEEE P1363) signature length for EC. */
  size?: number;
}

export const ALGS: Record<JwtAlgorithm, AlgInfo> = {
  RS256: { hash: 'sha256', kind: 'rsa' },
  RS384: { hash: 'sha384', kind: 'rsa' },
  RS512: { hash: 'sha512', kind: 'rsa' },
  ES256: { hash: 'sha256', kind: 'ec', namedCurve: 'prime256v1', curve: 'P-256', size: 64 },
  ES384: { hash: 'sha384', kind: 'ec', namedCurve: 'secp384r1', curve: 'P-384', size: 96 },
  ES512: { hash: 'sha512', kind: 'ec', namedCurve: 'secp521r1', curve: 'P-521', size: 132 },
};

export function isAlg(value: unknown): value is JwtAlgorithm {
  return typeof value === 'string' && Object.hasOwn(ALGS, value);
}

/** The algorithm a key signs with by default (RS256 for RSA), or undefined for a key Snowflake does not accept. */
export function algForKey(key: KeyObject): JwtAlgorithm | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const named = key.asymmetricKeyDetails?.namedCurve;
    return JWT_ALGORITHMS.find((a) => ALGS[a].namedCurve === named);
  }
  return undefined;
}

/** An RSA key signs any RS* algorithm; an EC key only its curve's. */
export function algFitsKey(alg: JwtAlgorithm, keyAlg: JwtAlgorithm): boolean {
  return alg === keyAlg || (ALGS[alg].kind === 'rsa' && ALGS[keyAlg].kind === 'rsa');
}

export function describeKey(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return 'an RSA key';
  if (key.asymmetricKeyType === 'ec') {
    const named = key.asymmetricKeyDetails?.namedCurve;
    const info = JWT_ALGORITHMS.map((a) => ALGS[a]).find((i) => i.namedCurve === named);
    return `an EC ${info?.curve ?? named ?? 'unknown-curve'} key`;
  }
  return `a ${key.asymmetricKeyType ?? 'unknown'} key`;
}
