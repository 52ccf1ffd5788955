import { describe, expect, it } from 'vitest';
import { accountForJwt, baseUrlForAccount, parseAccount } from '../../src/core/account.js';
import { isSfauthError } from '../../src/errors.js';

// DESIGN.md §3 "Account identifier": one input, two different outputs (host vs JWT account).
const valid: Array<{ input: string; host: string; jwt: string; note: string }> = [
  { note: 'org-account', input: 'myorg-myaccount', host: 'https://myorg-myaccount.snowflakecomputing.com', jwt: 'MYORG-MYACCOUNT' },
  { note: 'underscore: host gets -, JWT keeps _', input: 'myorg-my_account', host: 'https://myorg-my-account.snowflakecomputing.com', jwt: 'MYORG-MY_ACCOUNT' },
  { note: 'mixed case', input: 'MyOrg-MyAccount', host: 'https://myorg-myaccount.snowflakecomputing.com', jwt: 'MYORG-MYACCOUNT' },
  { note: 'upper case with underscore', input: 'MYORG-MY_ACCOUNT', host: 'https://myorg-my-account.snowflakecomputing.com', jwt: 'MYORG-MY_ACCOUNT' },
  { note: 'locator with region', input: 'xy12345.us-east-2.aws', host: 'https://xy12345.us-east-2.aws.snowflakecomputing.com', jwt: 'XY12345' },
  { note: 'locator in default region', input: 'xy12345', host: 'https://xy12345.snowflakecomputing.com', jwt: 'XY12345' },
  { note: 'locator, mixed case, azure', input: 'XY12345.East-US-2.Azure', host: 'https://xy12345.east-us-2.azure.snowflakecomputing.com', jwt: 'XY12345' },
  { note: 'privatelink', input: 'myorg-myaccount.privatelink', host: 'https://myorg-myaccount.privatelink.snowflakecomputing.com', jwt: 'MYORG-MYACCOUNT' },
  { note: 'locator privatelink', input: 'xy12345.us-east-2.aws.privatelink', host: 'https://xy12345.us-east-2.aws.privatelink.snowflakecomputing.com', jwt: 'XY12345' },
  { note: 'full URL', input: 'https://myorg-myaccount.snowflakecomputing.com', host: 'https://myorg-myaccount.snowflakecomputing.com', jwt: 'MYORG-MYACCOUNT' },
  { note: 'full URL, trailing slash', input: 'https://myorg-myaccount.snowflakecomputing.com/', host: 'https://myorg-myaccount.snowflakecomputing.com', jwt: 'MYORG-MYACCOUNT' },
  { note: 'full URL with a path', input: 'https://MyOrg-MyAccount.snowflakecomputing.com/console/login#/', host: 'https://myorg-myaccount.snowflakecomputing.com', jwt: 'MYORG-MYACCOUNT' },
  { note: 'full URL with region', input: 'https://xy12345.us-east-2.aws.snowflakecomputing.com', host: 'https://xy12345.us-east-2.aws.snowflakecomputing.com', jwt: 'XY12345' },
  { note: 'full URL keeps an explicit port', input: 'https://xy12345.snowflakecomputing.com:8443/', host: 'https://xy12345.snowflakecomputing.com:8443', jwt: 'XY12345' },
  { note: 'host without scheme', input: 'myorg-myaccount.snowflakecomputing.com', host: 'https://myorg-myaccount.snowflakecomputing.com', jwt: 'MYORG-MYACCOUNT' },
  { note: '.global: part before the last -', input: 'myorg-acct-abc123.global', host: 'https://myorg-acct-abc123.global.snowflakecomputing.com', jwt: 'MYORG-ACCT' },
  { note: '.global, upper case', input: 'MYORG-ACCT-ABC123.GLOBAL', host: 'https://myorg-acct-abc123.global.snowflakecomputing.com', jwt: 'MYORG-ACCT' },
  { note: '.global as URL', input: 'https://myorg-acct-abc123.global.snowflakecomputing.com', host: 'https://myorg-acct-abc123.global.snowflakecomputing.com', jwt: 'MYORG-ACCT' },
  { note: 'surrounding whitespace', input: '  myorg-myaccount\n', host: 'https://myorg-myaccount.snowflakecomputing.com', jwt: 'MYORG-MYACCOUNT' },
];

describe('parseAccount / accountForJwt / baseUrlForAccount', () => {
  it.each(valid)('$note: $input', ({ input, host, jwt }) => {
    const parsed = parseAccount(input);
    expect(parsed.baseUrl).toBe(host);
    expect(parsed.jwtAccount).toBe(jwt);
    expect(accountForJwt(input)).toBe(jwt);
    expect(baseUrlForAccount(input)).toBe(host);
  });

  it('accountForJwt is idempotent (a JWT account maps to itself)', () => {
    for (const { input } of valid) {
      const once = accountForJwt(input);
      expect(accountForJwt(once)).toBe(once);
    }
  });

  it('hyphens are never changed', () => {
    expect(accountForJwt('my-org-my-account')).toBe('MY-ORG-MY-ACCOUNT');
  });
});

const invalid: Array<{ input: string; note: string; why: RegExp }> = [
  { note: 'empty', input: '', why: /empty/ },
  { note: 'blank', input: '   ', why: /empty/ },
  { note: 'space inside', input: 'my org', why: /spaces/ },
  { note: 'illegal character', input: 'myorg!acct', why: /only letters/ },
  { note: 'slash', input: 'myorg/acct', why: /only letters/ },
  { note: 'empty label', input: 'xy12345..aws', why: /only letters/ },
  { note: 'leading dot', input: '.myorg', why: /only letters/ },
  { note: 'non-ASCII', input: 'myörg-acct', why: /only letters/ },
  { note: 'http:// URL', input: 'http://myorg-myaccount.snowflakecomputing.com', why: /https/ },
  { note: 'other scheme', input: 'ftp://myorg-myaccount.snowflakecomputing.com', why: /https/ },
  { note: 'non-snowflake host', input: 'https://example.com', why: /snowflakecomputing\.com/ },
  { note: 'look-alike host', input: 'https://myorg.snowflakecomputing.com.evil.example', why: /snowflakecomputing\.com/ },
  { note: 'bare domain', input: 'https://snowflakecomputing.com', why: /snowflakecomputing\.com/ },
  { note: 'host without account', input: 'https://.snowflakecomputing.com', why: /account part|not a valid URL/ },
];

describe('invalid account identifiers', () => {
  it.each(invalid)('$note: $input', ({ input, why }) => {
    let thrown: unknown;
    try {
      parseAccount(input);
    } catch (err) {
      thrown = err;
    }
    expect(isSfauthError(thrown)).toBe(true);
    const err = thrown as { code: string; exitCode: number; message: string; hint?: string };
    expect(err.code).toBe('ERR_ACCOUNT_INVALID');
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(why);
    expect(err.hint).toMatch(/myorg-myaccount/);
    expect(() => accountForJwt(input)).toThrow();
  });
});
