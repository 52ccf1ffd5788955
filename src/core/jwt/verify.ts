/**
 * Check a token against a public (or private) key: the alg fits the key, the fingerprint in iss is the
 * key's, and the signature verifies.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { fingerprintOf } from '../fingerprint.js';
import { ALGS, algFitsKey, algForKey, describeKey, isAlg, RSA_ALGORITHMS } from './algorithms.js';
import type { DecodedJwt } from './decode.js';
import { err, parseIssuer, show, type JwtCheck, type JwtProblem } from './lint.js';

export type SignatureStatus = 'valid' | 'invalid' | 'unchecked';

export interface KeyCheckResult {
  signature: 'valid' | 'invalid';
  checks: JwtCheck[];
}

/** Checks the token against a public key (or private key): alg fits the key, fingerprint in iss, signature. */
export function checkJwtKey(decoded: Pick<DecodedJwt, 'header' | 'payload' | 'signature' | 'signingInput'>, key: KeyObject): KeyCheckResult {
  const checks: JwtCheck[] = [];
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const keyAlg = algForKey(publicKey);
  const fingerprint = fingerprintOf(publicKey);
  const alg = decoded.header.alg;

  let fits = false;
  const fitProblems: JwtProblem[] = [];
  if (!keyAlg) fitProblems.push(err('KEY_UNSUPPORTED', `the key is ${describeKey(publicKey)}, which Snowflake does not accept`));
  else if (isAlg(alg) && !algFitsKey(alg, keyAlg)) {
    fitProblems.push(err('ALG_KEY_MISMATCH', `alg ${alg} does not fit the key: ${describeKey(publicKey)} signs ${keyAlg === 'RS256' ? RSA_ALGORITHMS.join(', ') : keyAlg}`));
  } else fits = isAlg(alg);
  if (isAlg(alg) || !keyAlg) checks.push({ id: 'alg-key', label: `alg ${String(alg)} fits the key (${describeKey(publicKey)})`, problems: fitProblems });

  const iss = typeof decoded.payload.iss === 'string' ? parseIssuer(decoded.payload.iss) : undefined;
  if (iss) {
    checks.push({
      id: 'fingerprint',
      label: `the fingerprint in iss is the key's (${fingerprint})`,
      problems:
        iss.fingerprint === fingerprint
          ? []
          : [err('FINGERPRINT_MISMATCH', `the fingerprint in iss (${show(iss.fingerprint)}) is not the key's (${fingerprint})`)],
    });
  }

  let valid = false;
  if (fits && isAlg(alg)) {
    const info = ALGS[alg];
    try {
      valid =
        (info.size === undefined || decoded.signature.length === info.size) &&
        cryptoVerify(info.hash, Buffer.from(decoded.signingInput, 'ascii'), { key: publicKey, dsaEncoding: 'ieee-p1363' }, decoded.signature);
    } catch {
      valid = false;
    }
  }
  checks.push({
    id: 'signature',
    label: 'the signature verifies with the key',
    problems: valid ? [] : [err('SIGNATURE_INVALID', fits ? 'the signature does not verify with the key' : 'the signature cannot verify with this key')],
  });
  return { signature: valid ? 'valid' : 'invalid', checks };
}
