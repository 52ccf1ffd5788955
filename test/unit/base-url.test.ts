/**
 * Where requests go (src/snowflake/base-url.ts): the host derived from the account (DESIGN.md §3),
 * the --host / SNOWFLAKE_HOST override, and plain http:// only to loopback.
 */
import { describe, expect, it } from 'vitest';
import { isLoopback, resolveBaseUrl } from '../../src/snowflake/base-url.js';
import { sfauthErrorOf } from '../support/errors.js';

describe('from the account', () => {
  it.each([
    ['myorg-myaccount', 'https://myorg-myaccount.snowflakecomputing.com'],
    ['MYORG-MYACCOUNT', 'https://myorg-myaccount.snowflakecomputing.com'],
    ['myorg-my_account', 'https://myorg-my-account.snowflakecomputing.com'],
    ['xy12345.us-east-2.aws', 'https://xy12345.us-east-2.aws.snowflakecomputing.com'],
    ['myorg-myaccount.privatelink', 'https://myorg-myaccount.privatelink.snowflakecomputing.com'],
    ['https://MyOrg-MyAccount.snowflakecomputing.com', 'https://myorg-myaccount.snowflakecomputing.com'],
    ['https://myorg-myaccount.snowflakecomputing.com/console#/x', 'https://myorg-myaccount.snowflakecomputing.com'],
    ['myorg-myaccount.snowflakecomputing.com', 'https://myorg-myaccount.snowflakecomputing.com'],
  ])('%s → %s', (account, url) => {
    expect(resolveBaseUrl(account, undefined)).toBe(url);
  });

  it('a bad account identifier is a usage error', () => {
    const err = sfauthErrorOf(() => resolveBaseUrl('my org', undefined));
    expect(err.exitCode).toBe(2);
    expect(err.code).toBe('ERR_ACCOUNT_INVALID');
  });

  it('no account and no host: exit 2 naming --account and SNOWFLAKE_ACCOUNT', () => {
    for (const account of [undefined, '', '  ']) {
      const err = sfauthErrorOf(() => resolveBaseUrl(account, undefined));
      expect(err.exitCode).toBe(2);
      expect(err.code).toBe('ERR_MISSING_ACCOUNT');
      expect(err.message).toContain('--account');
      expect(err.message).toContain('SNOWFLAKE_ACCOUNT');
    }
  });
});

describe('--host', () => {
  it('wins over the account; no scheme means https; only the origin is kept', () => {
    expect(resolveBaseUrl('myorg-myaccount', 'myorg-myaccount.privatelink.snowflakecomputing.com')).toBe(
      'https://myorg-myaccount.privatelink.snowflakecomputing.com',
    );
    expect(resolveBaseUrl(undefined, 'https://proxy.example.com:8443/some/path?x=1')).toBe('https://proxy.example.com:8443');
    expect(resolveBaseUrl(undefined, '  HTTPS://Proxy.Example.com  ')).toBe('https://proxy.example.com');
    expect(resolveBaseUrl(undefined, 'https://proxy.example.com:443')).toBe('https://proxy.example.com');
  });

  it('an empty host falls back to the account', () => {
    expect(resolveBaseUrl('myorg-myaccount', '')).toBe('https://myorg-myaccount.snowflakecomputing.com');
    expect(resolveBaseUrl('myorg-myaccount', '   ')).toBe('https://myorg-myaccount.snowflakecomputing.com');
  });

  it.each([
    'http://127.0.0.1:8080',
    'http://127.1.2.3',
    'http://localhost:1234',
    'http://LOCALHOST',
    'http://[::1]:9000',
    'http://[::ffff:127.0.0.1]:80',
  ])('plain http to loopback is allowed: %s', (host) => {
    expect(resolveBaseUrl(undefined, host)).toBe(new URL(host).origin);
  });

  it.each([
    ['http://example.com', 'example.com'],
    ['http://10.0.0.1:8080', '10.0.0.1'],
    ['http://128.0.0.1', '128.0.0.1'],
    ['http://localhost.evil.com', 'localhost.evil.com'],
    ['http://127.0.0.1.nip.io', '127.0.0.1.nip.io'],
    ['http://[::2]', '[::2]'],
    ['http://myorg-myaccount.snowflakecomputing.com', 'myorg-myaccount.snowflakecomputing.com'],
  ])('plain http elsewhere is refused (exit 2): %s', (host, name) => {
    const err = sfauthErrorOf(() => resolveBaseUrl('myorg-myaccount', host, 'SNOWFLAKE_HOST'));
    expect(err.exitCode).toBe(2);
    expect(err.code).toBe('ERR_HOST_INSECURE');
    expect(err.message).toBe(`refusing plain http:// to ${name} (SNOWFLAKE_HOST)`);
    expect(err.hint).toMatch(/https/);
  });

  it('other schemes and unparsable hosts are usage errors naming where the value came from', () => {
    let err = sfauthErrorOf(() => resolveBaseUrl(undefined, 'ftp://example.com', '--host'));
    expect(err.exitCode).toBe(2);
    expect(err.code).toBe('ERR_HOST_INVALID');
    expect(err.message).toBe("unsupported scheme 'ftp' in --host");
    err = sfauthErrorOf(() => resolveBaseUrl(undefined, 'exa mple.com', "connections.toml [dev]"));
    expect(err.code).toBe('ERR_HOST_INVALID');
    expect(err.message).toBe("invalid host 'exa mple.com' (connections.toml [dev])");
    err = sfauthErrorOf(() => resolveBaseUrl(undefined, 'https://'));
    expect(err.code).toBe('ERR_HOST_INVALID');
  });
});

describe('isLoopback', () => {
  it('knows loopback names and addresses, and nothing else', () => {
    for (const h of ['localhost', 'localhost.', '127.0.0.1', '127.255.255.254', '[::1]', '::1', '::ffff:7f00:1']) expect(isLoopback(h)).toBe(true);
    for (const h of ['example.com', '0.0.0.0', '128.0.0.1', '::2', 'localhost.example.com', '1127.0.0.1', '::ffff:a00:1']) expect(isLoopback(h)).toBe(false);
  });
});
