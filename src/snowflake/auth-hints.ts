/**
 * Snowflake's authentication error codes in plain words (DESIGN.md §3 "REST calls").
 * See https://docs.snowflake.com/en/user-guide/key-pair-auth-troubleshooting
 */
const HINTS: Record<string, string> = {
  '390144': 'the JWT was refused; compare the account, user and fingerprint above with the account URL and DESC USER (LOGIN_NAME, RSA_PUBLIC_KEY_FP, RSA_PUBLIC_KEY_2_FP)',
  '394300': 'the user in the token is not the LOGIN_NAME of any user; use the login name (DESC USER shows LOGIN_NAME)',
  '394301': 'the token lacks iat or exp; mint it with sfauth jwt',
  '394302': "the token's issue time is too far from Snowflake's clock; fix this machine's clock (NTP)",
  '394303': 'the token has expired; mint a fresh one (tokens live at most 1 hour)',
  '394304':
    "the key's fingerprint matches neither RSA_PUBLIC_KEY_FP nor RSA_PUBLIC_KEY_2_FP of the user; register it with sfauth sql, or compare with sfauth status",
  '394305': 'the signing algorithm is not accepted; use an RSA (RS256) or EC P-256/384/521 key',
  '394306': 'the signature does not verify: the private key is not the pair of the registered public key',
  '394307': 'the account in the token is not the account of the URL; check --account (org-account or locator, without region for the JWT)',
  '390303': 'the OAuth access token is invalid; get a new one from your identity provider',
  '390318': 'the OAuth access token has expired; get a fresh one',
  '394400': 'the programmatic access token is invalid, expired, or belongs to another user; check --token-file / SNOWFLAKE_TOKEN',
};

/**
 * `SYSTEM$GET_LOGIN_FAILURE_DETAILS` names the error in `errorCode` as a STRING
 * (https://docs.snowflake.com/en/sql-reference/functions/system_get_login_failure_details), and the
 * troubleshooting page pairs those names with the numeric codes
 * (https://docs.snowflake.com/en/user-guide/key-pair-auth-troubleshooting). Documented names first;
 * for the rest the name's words decide, so a name this table does not know still finds its hint.
 */
const LOGIN_FAILURE_NAMES: Record<string, string> = {
  JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH: '394304',
  JWT_TOKEN_INVALID_ISSUE_TIME: '394302',
  JWT_TOKEN_ACCOUNT_MISMATCH: '394307',
  JWT_TOKEN_INVALID: '390144',
};
const LOGIN_FAILURE_WORDS: Array<[RegExp, string]> = [
  [/FINGERPRINT/, '394304'],
  [/ISSUE_?TIME|IAT/, '394302'],
  [/ACCOUNT/, '394307'],
  [/EXPIRED|EXPIRATION/, '394303'],
  [/SIGNATURE/, '394306'],
  [/ALGORITHM/, '394305'],
  [/MISSING/, '394301'],
  [/USER|ISSUER/, '394300'],
];

/** The numeric code of a login failure's `errorCode`, whichever form it has; undefined when unknown. */
export function loginFailureCode(errorCode: string): string | undefined {
  if (/^\d{6}$/.test(errorCode)) return errorCode;
  const name = errorCode.toUpperCase();
  if (LOGIN_FAILURE_NAMES[name]) return LOGIN_FAILURE_NAMES[name];
  if (!name.startsWith('JWT_')) return undefined;
  return LOGIN_FAILURE_WORDS.find(([re]) => re.test(name))?.[1];
}

/** The hint for a login failure's `errorCode` (a name or a number). */
export function loginFailureHint(errorCode: string): string {
  if (errorCode.toUpperCase() === 'OVERFLOW_FAILURE_EVENTS_ELIDED') {
    return 'there were too many failed logins to keep each one: look at the client that retries in a loop, then try again and read the new failure id';
  }
  return authHint(loginFailureCode(errorCode));
}

export function authHint(code: string | undefined): string {
  return (code && HINTS[code]) || 'authentication was refused; check the account, user and credential';
}

/** For 390144 the message ends with `[<uuid>]`: the key to the precise reason. */
export function loginFailureUuid(message: string): string | undefined {
  return /\[([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\]\s*\.?\s*$/i.exec(message)?.[1];
}
