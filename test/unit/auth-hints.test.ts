/**
 * Login-failure codes in either form (DESIGN.md §3 "Doctor", v3): SYSTEM$GET_LOGIN_FAILURE_DETAILS's
 * `errorCode` is a STRING naming the error; older answers (and the REST error) carry the number. Both
 * map to the same hint, and no name is cut.
 */
import { describe, expect, it } from 'vitest';
import { authHint, loginFailureCode, loginFailureHint } from '../../src/snowflake/auth-hints.js';

describe('loginFailureCode', () => {
  it.each([
    ['JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH', '394304'],
    ['JWT_TOKEN_INVALID_ISSUE_TIME', '394302'],
    ['JWT_TOKEN_ACCOUNT_MISMATCH', '394307'],
    ['JWT_TOKEN_INVALID', '390144'],
    ['394304', '394304'],
    ['390144', '390144'],
    // Names this table does not list find their code by their words.
    ['JWT_TOKEN_EXPIRED', '394303'],
    ['JWT_TOKEN_INVALID_SIGNATURE', '394306'],
    ['JWT_TOKEN_INVALID_USER_IN_ISSUER', '394300'],
    ['EXTERNAL_OAUTH_INVALID_SIGNATURE', undefined],
    ['OVERFLOW_FAILURE_EVENTS_ELIDED', undefined],
  ])('%s → %s', (name, code) => {
    expect(loginFailureCode(name)).toBe(code);
  });

  it('a name and its number give the same hint; the overflow event has its own', () => {
    expect(loginFailureHint('JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH')).toBe(authHint('394304'));
    expect(loginFailureHint('394304')).toBe(authHint('394304'));
    expect(loginFailureHint('OVERFLOW_FAILURE_EVENTS_ELIDED')).toMatch(/too many failed logins/);
  });
});
