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

export function authHint(code: string | undefined): string {
  return (code && HINTS[code]) || 'authentication was refused; check the account, user and credential';
}

/** For 390144 the message ends with `[<uuid>]`: the key to the precise reason. */
export function loginFailureUuid(message: string): string | undefined {
  return /\[([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\]\s*\.?\s*$/i.exec(message)?.[1];
}
