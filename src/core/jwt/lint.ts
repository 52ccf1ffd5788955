/**
 * Check a decoded token against Snowflake's rules (alg, typ, iss/sub shape, iat/exp in seconds and at
 * most an hour apart, clock), as problems with a stable code and a severity.
 * See https://docs.snowflake.com/en/user-guide/key-pair-auth#troubleshooting
 */
import { ALLOWED_SKEW_SECONDS, isAlg, JWT_ALGORITHMS, MAX_LIFETIME_SECONDS } from './algorithms.js';
import type { DecodedJwt } from './decode.js';

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

export const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}=$/;
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

export function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? text.slice(0, 77) + '…' : text;
}

export function err(code: string, message: string): JwtProblem {
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
      // Snowflake accepts such a token and honours it for one hour (`snow connection generate-jwt`
      // makes 24-hour ones): a warning, not a failure (DESIGN.md §3 "Doctor", v3).
      problems.push(warning('LIFETIME_TOO_LONG', `the lifetime (exp - iat) is ${humanSpan(lifetime)}; Snowflake honours a token for at most 1h after iat, whatever exp says`));
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
