/**
 * Account identifiers (DESIGN.md §3 "Account identifier"). One input (`myorg-myaccount`,
 * `xy12345.us-east-2.aws`, `myorg-myaccount.privatelink`, `name-xxxx.global`, or a full
 * `https://….snowflakecomputing.com` URL) gives two different things, and mixing them up is the
 * most common cause of "JWT token is invalid":
 * - the host: lower-cased, `_` → `-` (hostnames take no underscores), dots kept;
 * - the JWT account: the first label, upper-cased, underscores kept.
 * See https://docs.snowflake.com/en/user-guide/key-pair-auth#generate-a-jwt-token
 */
import { UsageError } from '../errors.js';

const DOMAIN = '.snowflakecomputing.com';
const LABELS_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export interface AccountIdentifier {
  /** The identifier as the user gave it (URL reduced to its account part). */
  identifier: string;
  /** `https://<host>` for the SQL API. */
  baseUrl: string;
  /** The account part of `iss`/`sub`. */
  jwtAccount: string;
}

function invalid(input: string, why: string): UsageError {
  return new UsageError('ERR_ACCOUNT_INVALID', `invalid account identifier '${input}': ${why}`, {
    hint: 'use the identifier from your account URL, e.g. myorg-myaccount, xy12345.us-east-2.aws or https://myorg-myaccount.snowflakecomputing.com',
  });
}

function jwtAccountOf(identifier: string): string {
  let first = identifier.split('.')[0]!;
  if (/\.global$/i.test(identifier) && first.includes('-')) first = first.slice(0, first.lastIndexOf('-'));
  return first.toUpperCase();
}

/** Parses and validates an account identifier or URL. */
export function parseAccount(input: string): AccountIdentifier {
  const raw = input.trim();
  if (raw === '') throw invalid(input, 'it is empty');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw invalid(input, 'it is not a valid URL');
    }
    if (url.protocol !== 'https:') throw invalid(input, 'account URLs must use https://');
    const host = url.hostname.toLowerCase();
    if (!host.endsWith(DOMAIN)) throw invalid(input, `the host is not a ${DOMAIN.slice(1)} host`);
    const identifier = host.slice(0, -DOMAIN.length);
    if (!LABELS_RE.test(identifier)) throw invalid(input, 'the host has no account part');
    // A full URL is taken as is: keep an explicit port (url.host omits the default 443).
    return { identifier, baseUrl: `https://${url.host.toLowerCase()}`, jwtAccount: jwtAccountOf(identifier) };
  }
  let identifier = raw;
  if (identifier.toLowerCase().endsWith(DOMAIN)) identifier = identifier.slice(0, -DOMAIN.length);
  if (/\s/.test(identifier)) throw invalid(input, 'it contains spaces');
  if (!LABELS_RE.test(identifier)) {
    throw invalid(input, 'only letters, digits, "-", "_" and "." are allowed');
  }
  const host = identifier.toLowerCase().replace(/_/g, '-') + DOMAIN;
  return { identifier, baseUrl: `https://${host}`, jwtAccount: jwtAccountOf(identifier) };
}

/** The account part of the JWT claims. */
export function accountForJwt(input: string): string {
  return parseAccount(input).jwtAccount;
}

/** `https://<account>.snowflakecomputing.com` for an identifier, or the URL given. */
export function baseUrlForAccount(input: string): string {
  return parseAccount(input).baseUrl;
}
