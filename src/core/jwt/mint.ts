/**
 * Mint a key-pair JWT: header {alg, typ}, claims iss = ACCOUNT.USER.SHA256:<fingerprint>,
 * sub = ACCOUNT.USER, iat, exp (seconds, at most one hour apart), signed with node:crypto.
 * See https://docs.snowflake.com/en/developer-guide/sql-api/authenticating#using-key-pair-authentication
 */
import { createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { UsageError } from '../../errors.js';
import { accountForJwt } from '../account.js';
import { fingerprintOf } from '../fingerprint.js';
import { ALGS, algFitsKey, algForKey, describeKey, MAX_LIFETIME_SECONDS, RSA_ALGORITHMS, type JwtAlgorithm } from './algorithms.js';

export interface JwtClaims {
  iss: string;
  sub: string;
  iat: number;
  exp: number;
}

export interface MintJwtInput {
  /** Account identifier in any accepted form (normalised with `accountForJwt`; idempotent). */
  account: string;
  /** Login name (upper-cased here). */
  user: string;
  privateKey: KeyObject;
  /** Defaults to the key's algorithm; a value that does not fit the key is an error. */
  alg?: JwtAlgorithm;
  /** `SHA256:…` of the key's public half; computed when absent. */
  fingerprint?: string;
  /** Seconds since the epoch (fractions are dropped). */
  issuedAt: number;
  /** 1..3600, default 3600. */
  lifetimeSeconds?: number;
}

export interface MintedJwt extends JwtClaims {
  token: string;
  alg: JwtAlgorithm;
  header: { alg: JwtAlgorithm; typ: 'JWT' };
  /** The JWT account (upper-case, underscores kept). */
  account: string;
  /** The upper-cased login name. */
  user: string;
  fingerprint: string;
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** Mints the key-pair JWT Snowflake accepts. */
export function mintJwt(input: MintJwtInput): MintedJwt {
  const { privateKey } = input;
  if (privateKey.type !== 'private') {
    throw new UsageError('ERR_KEY_NOT_PRIVATE', 'a private key is needed to sign the JWT', {
      hint: 'pass the private key (e.g. rsa_key.p8), not the .pub file',
    });
  }
  const keyAlg = algForKey(privateKey);
  if (!keyAlg) {
    throw new UsageError('ERR_KEY_UNSUPPORTED', `cannot sign a Snowflake JWT with ${describeKey(privateKey)}`, {
      hint: 'Snowflake accepts RSA keys and EC keys on P-256, P-384 or P-521',
    });
  }
  const alg = input.alg ?? keyAlg;
  if (!algFitsKey(alg, keyAlg)) {
    throw new UsageError('ERR_ALG_KEY_MISMATCH', `alg ${alg} does not fit ${describeKey(privateKey)}, which signs ${keyAlg === 'RS256' ? RSA_ALGORITHMS.join(', ') : keyAlg}`, {
      hint: keyAlg === 'RS256' ? 'an RSA key signs RS256 (the default), RS384 or RS512' : `an EC key signs with its curve's algorithm (${keyAlg}); leave --alg out`,
    });
  }
  const lifetime = input.lifetimeSeconds ?? MAX_LIFETIME_SECONDS;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_LIFETIME_SECONDS) {
    throw new UsageError('ERR_LIFETIME_TOO_LONG', `a JWT lifetime of ${lifetime} s is not allowed`, {
      hint: 'use a lifetime between 1 s and 1h',
    });
  }
  if (!Number.isFinite(input.issuedAt) || input.issuedAt < 0) {
    throw new UsageError('ERR_USAGE', `invalid issue time ${input.issuedAt}`, { hint: "check this machine's clock" });
  }
  const account = accountForJwt(input.account);
  const user = input.user.trim().toUpperCase();
  if (user === '') throw new UsageError('ERR_MISSING_USER', 'the user name is empty', { hint: 'pass --user NAME (the LOGIN_NAME)' });
  const fingerprint = input.fingerprint ?? fingerprintOf(createPublicKey(privateKey));

  const iat = Math.floor(input.issuedAt);
  const claims: JwtClaims = {
    iss: `${account}.${user}.${fingerprint}`,
    sub: `${account}.${user}`,
    iat,
    exp: iat + lifetime,
  };
  const header = { alg, typ: 'JWT' as const };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = cryptoSign(ALGS[alg].hash, Buffer.from(signingInput, 'ascii'), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return { token: `${signingInput}.${b64url(signature)}`, alg, header, ...claims, account, user, fingerprint };
}
