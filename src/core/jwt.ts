/**
 * Snowflake key-pair JWTs (DESIGN.md §3 "Key-pair JWT"): mint, decode, lint, verify. Pure: no I/O,
 * no process or env access; the clock comes in as an argument. Signing and verifying use node:crypto
 * directly (no JWT library: `sfauth jwt` start-up time is measured against a node:crypto floor).
 *
 *   header  {"alg": RS256 | RS384 | RS512 | ES256 | ES384 | ES512, "typ": "JWT"} (RS256 the default for RSA;
 *           Snowflake's key-pair guide lists all three RSA ones, https://docs.snowflake.com/en/user-guide/key-pair-auth)
 *   claims  iss = ACCOUNT.USER.SHA256:<fingerprint>, sub = ACCOUNT.USER, iat, exp (seconds, ≤ 1h apart)
 *
 * Every failure is an SfauthError: `decodeJwt` in particular only ever returns or throws
 * `UsageError('ERR_TOKEN_MALFORMED')`, whatever it is given.
 */
import { createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { isSfauthError, UsageError } from '../errors.js';
import { accountForJwt } from './account.js';
import { parseDuration } from './duration.js';
import { fingerprintOf } from './fingerprint.js';
import type { JwtAlgorithm } from './parse-key.js';

export type { JwtAlgorithm } from './parse-key.js';

/** Snowflake never honours a key-pair JWT for longer than this. */
export const MAX_LIFETIME_SECONDS = 3600;
/** Clock skew Snowflake tolerates for `iat` in the future. */
export const ALLOWED_SKEW_SECONDS = 60;

export const JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];
/** What `--alg` may choose for an RSA key; an EC key's curve fixes its algorithm. */
export const RSA_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'RS384', 'RS512'];

interface AlgInfo {
  hash: 'sha256' | 'sha384' | 'sha512';
  kind: 'rsa' | 'ec';
  /** node's name of the curve (asymmetricKeyDetails.namedCurve). */
  namedCurve?: string;
  curve?: string;
  /** JOSE (IEEE P1363) signature length for EC. */
  size?: number;
}

const ALGS: Record<JwtAlgorithm, AlgInfo> = {
  RS256: { hash: 'sha256', kind: 'rsa' },
  RS384: { hash: 'sha384', kind: 'rsa' },
  RS512: { hash: 'sha512', kind: 'rsa' },
  ES256: { hash: 'sha256', kind: 'ec', namedCurve: 'prime256v1', curve: 'P-256', size: 64 },
  ES384: { hash: 'sha384', kind: 'ec', namedCurve: 'secp384r1', curve: 'P-384', size: 96 },
  ES512: { hash: 'sha512', kind: 'ec', namedCurve: 'secp521r1', curve: 'P-521', size: 132 },
};

function isAlg(value: unknown): value is JwtAlgorithm {
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
function algFitsKey(alg: JwtAlgorithm, keyAlg: JwtAlgorithm): boolean {
  return alg === keyAlg || (ALGS[alg].kind === 'rsa' && ALGS[keyAlg].kind === 'rsa');
}

function describeKey(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return 'an RSA key';
  if (key.asymmetricKeyType === 'ec') {
    const named = key.asymmetricKeyDetails?.namedCurve;
    const info = JWT_ALGORITHMS.map((a) => ALGS[a]).find((i) => i.namedCurve === named);
    return `an EC ${info?.curve ?? named ?? 'unknown-curve'} key`;
  }
  return `a ${key.asymmetricKeyType ?? 'unknown'} key`;
}

// ---------------------------------------------------------------------------------------------
// Lifetime

/** `--lifetime` → seconds: a duration (90s, 10m, 1h, plain seconds) of at most one hour. */
export function parseLifetime(value: string, flag = '--lifetime'): number {
  const seconds = parseDuration(value, flag);
  if (seconds > MAX_LIFETIME_SECONDS) {
    throw new UsageError('ERR_LIFETIME_TOO_LONG', `${flag} ${value} is longer than Snowflake allows (1h)`, {
      hint: 'Snowflake never honours a key-pair JWT past one hour; use --lifetime 1h or less and mint a new token when it runs out',
    });
  }
  return seconds;
}

// ---------------------------------------------------------------------------------------------
// Mint

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

// ---------------------------------------------------------------------------------------------
// Decode

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

// ---------------------------------------------------------------------------------------------
// Lint

/** `error`: Snowflake refuses the token; `warning`: it may; `note`: worth knowing, accepted. */
export type Severity = 'error' | 'warning' | 'note';

export interface JwtProblem {
  code: string;
  message: string;
  severity: Severity;
}

/** One rule, as the report shows it: `label` when it holds, its problems when not. */
export interface JwtCheck {
  id: string;
  label: string;
  problems: JwtProblem[];
}

/** The parts of `iss`, when it has the shape ACCOUNT.USER.SHA256:<fingerprint>. */
export interface IssuerParts {
  account: string;
  user: string;
  fingerprint: string;
}

const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}=$/;
/** Above this a "seconds" value is really milliseconds (1e11 s is the year 5138). */
const MS_THRESHOLD = 1e11;

/** ACCOUNT.USER.SHA256:<fp>: the account is before the first dot, the fingerprint after the last `.SHA256:` (login names may hold dots). */
export function parseIssuer(iss: string): IssuerParts | undefined {
  const at = iss.lastIndexOf('.SHA256:');
  if (at < 0) return undefined;
  const prefix = iss.slice(0, at);
  const dot = prefix.indexOf('.');
  if (dot <= 0 || dot === prefix.length - 1) return undefined;
  return { account: prefix.slice(0, dot), user: prefix.slice(dot + 1), fingerprint: iss.slice(at + 1) };
}

function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? text.slice(0, 77) + '…' : text;
}

function err(code: string, message: string): JwtProblem {
  return { code, message, severity: 'error' };
}
function warning(code: string, message: string): JwtProblem {
  return { code, message, severity: 'warning' };
}
function note(code: string, message: string): JwtProblem {
  return { code, message, severity: 'note' };
}

export function isoTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? 'invalid date' : d.toISOString().replace(/\.000Z$/, 'Z');
}

/** "52m", "1h 5m", "3 days" (for the report). */
export function humanSpan(seconds: number): string {
  const s = Math.abs(Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    const rest = s % 60;
    return rest ? `${m}m ${rest}s` : `${m}m`;
  }
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return m ? `${h}h ${m}m` : `${h}h`;
  }
  const days = Math.floor(s / 86400);
  return `${days} day${days === 1 ? '' : 's'}`;
}

/** A time claim read for the checks: seconds (converted when it was in milliseconds). */
interface TimeClaim {
  seconds?: number;
  problems: JwtProblem[];
}

function timeClaim(payload: Record<string, unknown>, name: 'iat' | 'exp'): TimeClaim {
  const what = name === 'iat' ? 'issue time' : 'expiry time';
  if (!Object.hasOwn(payload, name) || payload[name] === undefined) {
    return { problems: [err(`${name.toUpperCase()}_MISSING`, `${name} (${what}) is missing; Snowflake requires it`)] };
  }
  const value = payload[name];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    const hint = typeof value === 'string' && /^\d+$/.test(value.trim()) ? ' (a string; it must be a JSON number)' : '';
    return { problems: [err(`${name.toUpperCase()}_NOT_NUMBER`, `${name} ${show(value)} is not a number of seconds${hint}`)] };
  }
  if (value >= MS_THRESHOLD) {
    const seconds = value / 1000;
    return {
      seconds,
      problems: [
        // Snowflake accepts milliseconds (the Node.js connector sends them): worth a note, not a failure.
        note(`${name.toUpperCase()}_MILLISECONDS`, `${name} ${value} is in milliseconds; Snowflake accepts that and reads it as ${Math.floor(seconds)} seconds`),
      ],
    };
  }
  if (value < 0) return { problems: [err(`${name.toUpperCase()}_NOT_NUMBER`, `${name} ${value} is negative`)] };
  const problems: JwtProblem[] = [];
  if (!Number.isInteger(value)) {
    problems.push(warning(`${name.toUpperCase()}_NOT_INTEGER`, `${name} ${value} has a fraction; whole seconds are expected`));
  }
  return { seconds: value, problems };
}

/** Region, cloud and connection suffixes that belong in the host, never in the JWT account. */
const HOST_SUFFIX_RE = /^(?:[A-Z]{2,}-[A-Z]+-\d+(?:-GOV)?|AWS|AZURE|GCP|PRIVATELINK|GLOBAL|SNOWFLAKECOMPUTING)$/;

/**
 * Checks a decoded token against Snowflake's rules (DESIGN.md §3), as the report shows them. A check
 * whose inputs are missing (e.g. the lifetime without `iat`) is left out.
 */
export function checkJwt(decoded: Pick<DecodedJwt, 'header' | 'payload' | 'signature'>, nowSeconds: number): JwtCheck[] {
  const { header, payload } = decoded;
  const checks: JwtCheck[] = [];
  const add = (id: string, label: string, problems: JwtProblem[]) => checks.push({ id, label, problems });

  // Header.
  const alg = header.alg;
  const algProblems: JwtProblem[] = [];
  if (alg === undefined) algProblems.push(err('ALG_MISSING', 'the header has no alg'));
  else if (!isAlg(alg)) {
    algProblems.push(err('ALG_NOT_ALLOWED', `alg ${show(alg)} is not accepted; Snowflake takes ${JWT_ALGORITHMS.join(', ')}`));
  }
  if (decoded.signature.length === 0) algProblems.push(err('SIGNATURE_MISSING', 'the token has no signature'));
  add('alg', `alg ${typeof alg === 'string' ? alg : show(alg)} is accepted and the token is signed`, algProblems);

  const typ = header.typ;
  add(
    'typ',
    'typ is "JWT"',
    typ === 'JWT'
      ? []
      : typ === undefined
        ? [err('TYP_MISSING', 'the header has no typ; Snowflake expects "typ": "JWT"')]
        : [err('TYP_INVALID', `typ ${show(typ)} is not "JWT"`)],
  );

  // iss / sub.
  const iss = payload.iss;
  const sub = payload.sub;
  let issuer: IssuerParts | undefined;
  const issProblems: JwtProblem[] = [];
  if (iss === undefined) issProblems.push(err('ISS_MISSING', 'iss is missing; it must be ACCOUNT.USER.SHA256:<fingerprint>'));
  else if (typeof iss !== 'string') issProblems.push(err('ISS_INVALID', `iss ${show(iss)} is not a string`));
  else {
    issuer = parseIssuer(iss);
    if (!issuer) {
      const lower = /\.sha256:/i.test(iss) && !iss.includes('.SHA256:');
      issProblems.push(
        err(
          'ISS_INVALID',
          lower
            ? `iss ${show(iss)}: the fingerprint prefix must be "SHA256:" in upper case`
            : `iss ${show(iss)} is not ACCOUNT.USER.SHA256:<fingerprint>`,
        ),
      );
    } else if (!FINGERPRINT_RE.test(issuer.fingerprint)) {
      issProblems.push(
        err('ISS_FINGERPRINT_INVALID', `the fingerprint ${show(issuer.fingerprint)} in iss is not SHA256: and 44 base64 characters`),
      );
    }
  }
  add('iss', 'iss is ACCOUNT.USER.SHA256:<fingerprint>', issProblems);

  const subProblems: JwtProblem[] = [];
  if (sub === undefined) subProblems.push(err('SUB_MISSING', 'sub is missing; it must be ACCOUNT.USER'));
  else if (typeof sub !== 'string') subProblems.push(err('SUB_INVALID', `sub ${show(sub)} is not a string`));
  else if (issuer) {
    const expected = `${issuer.account}.${issuer.user}`;
    if (sub !== expected) subProblems.push(err('SUB_MISMATCH', `sub ${show(sub)} is not the ACCOUNT.USER of iss (${show(expected)})`));
  } else {
    const dot = sub.indexOf('.');
    if (dot <= 0 || dot === sub.length - 1) subProblems.push(err('SUB_INVALID', `sub ${show(sub)} is not ACCOUNT.USER`));
  }
  add('sub', 'sub is the ACCOUNT.USER of iss', subProblems);

  // Upper case (from iss, else from sub).
  let names: { account: string; user: string } | undefined = issuer;
  if (!names && typeof sub === 'string' && sub.indexOf('.') > 0) {
    names = { account: sub.slice(0, sub.indexOf('.')), user: sub.slice(sub.indexOf('.') + 1) };
  }
  if (names) {
    const caseProblems: JwtProblem[] = [];
    if (names.account !== names.account.toUpperCase()) {
      caseProblems.push(err('ACCOUNT_NOT_UPPERCASE', `the account ${show(names.account)} must be upper-case (${show(names.account.toUpperCase())})`));
    }
    if (names.user !== names.user.toUpperCase()) {
      caseProblems.push(err('USER_NOT_UPPERCASE', `the user ${show(names.user)} must be upper-case (${show(names.user.toUpperCase())})`));
    }
    const firstOfUser = names.user.split('.')[0]!.toUpperCase();
    if (names.user.includes('.') && HOST_SUFFIX_RE.test(firstOfUser)) {
      caseProblems.push(
        warning(
          'ACCOUNT_HAS_SUFFIX',
          `the account looks like it carries a region or host suffix (${show(firstOfUser)}); the JWT account is only the part before the first dot`,
        ),
      );
    }
    add('case', `account ${show(names.account)} and user ${show(names.user)} are upper-case`, caseProblems);
  }

  // Times.
  const iat = timeClaim(payload, 'iat');
  const exp = timeClaim(payload, 'exp');
  add('times', 'iat and exp are present, in seconds', [...iat.problems, ...exp.problems]);

  if (iat.seconds !== undefined && exp.seconds !== undefined) {
    const lifetime = exp.seconds - iat.seconds;
    const problems: JwtProblem[] = [];
    if (lifetime <= 0) problems.push(err('EXP_BEFORE_IAT', `exp is ${lifetime === 0 ? 'equal to' : `${humanSpan(lifetime)} before`} iat`));
    else if (lifetime > MAX_LIFETIME_SECONDS) {
      problems.push(err('LIFETIME_TOO_LONG', `the lifetime (exp - iat) is ${humanSpan(lifetime)}; Snowflake allows at most 1h`));
    }
    add('lifetime', `lifetime ${humanSpan(lifetime)} (at most 1h)`, problems);
  }
  if (exp.seconds !== undefined) {
    const left = exp.seconds - nowSeconds;
    add(
      'expiry',
      `not expired (expires in ${humanSpan(left)})`,
      left <= 0 ? [err('EXPIRED', `the token expired ${humanSpan(-left)} ago (${isoTime(exp.seconds)})`)] : [],
    );
  }
  if (iat.seconds !== undefined) {
    const ahead = iat.seconds - nowSeconds;
    add(
      'issued',
      'not issued in the future',
      ahead > ALLOWED_SKEW_SECONDS
        ? [err('IAT_IN_FUTURE', `iat is ${humanSpan(ahead)} in the future (${isoTime(iat.seconds)}); check this machine's clock`)]
        : [],
    );
  }
  return checks;
}

/** Every problem of `checkJwt`, in report order. */
export function lintJwt(decoded: Pick<DecodedJwt, 'header' | 'payload' | 'signature'>, nowSeconds: number): JwtProblem[] {
  return checkJwt(decoded, nowSeconds).flatMap((c) => c.problems);
}

// ---------------------------------------------------------------------------------------------
// Verify with a key

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
