/**
 * NO_PROXY matching (src/core/no-proxy.ts) as a table, and which proxy the environment names for a
 * URL (src/snowflake/proxy.ts): variable precedence, loopback, credentials, bad values.
 */
import { describe, expect, it } from 'vitest';
import { addressBytes, bypassesProxy, isLoopbackHost, parseNoProxy } from '../../src/core/no-proxy.js';
import { proxyFor } from '../../src/snowflake/proxy.js';
import { isSfauthError } from '../../src/errors.js';

const SF = 'myorg-myaccount.snowflakecomputing.com';

// [NO_PROXY, host, port, bypass?]
const TABLE: [string, string, number, boolean][] = [
  ['', SF, 443, false],
  ['*', SF, 443, true],
  [' * ', SF, 443, true],
  ['snowflakecomputing.com', SF, 443, true],
  ['.snowflakecomputing.com', SF, 443, true],
  ['*.snowflakecomputing.com', SF, 443, true],
  ['snowflakecomputing.com', 'snowflakecomputing.com', 443, true],
  ['.snowflakecomputing.com', 'snowflakecomputing.com', 443, true],
  ['com', SF, 443, true],
  ['flakecomputing.com', SF, 443, false], // a suffix of labels, not of characters
  ['badsnowflakecomputing.com', SF, 443, false],
  [SF, SF, 443, true],
  [SF.toUpperCase(), SF, 443, true], // case-insensitive
  [`${SF}.`, SF, 443, true], // trailing dot
  [`other.example, ${SF}`, SF, 443, true],
  [`other.example ${SF}`, SF, 443, true], // spaces separate too
  [`other.example,,${SF},`, SF, 443, true],
  ['other.example', SF, 443, false],
  [`${SF}:443`, SF, 443, true],
  [`${SF}:8443`, SF, 443, false],
  ['snowflakecomputing.com:443', SF, 443, true],
  ['10.1.2.3', '10.1.2.3', 443, true],
  ['10.1.2.3', '10.1.2.4', 443, false],
  ['10.0.0.0/8', '10.200.3.4', 443, true],
  ['10.0.0.0/8', '11.0.0.1', 443, false],
  ['192.168.1.0/24', '192.168.1.77', 443, true],
  ['192.168.1.0/24', '192.168.2.1', 443, false],
  ['172.16.0.0/12', '172.31.255.255', 443, true],
  ['172.16.0.0/12', '172.32.0.0', 443, false],
  ['10.1.2.3:443', '10.1.2.3', 443, true],
  ['10.1.2.3:443', '10.1.2.3', 80, false],
  ['10.0.0.0/8', SF, 443, false], // a CIDR never matches a name
  ['10.1.2.3', '10.1.2.3.example.com', 443, false],
  ['fd00::/8', '[fd12::1]', 443, true],
  ['fd00::/8', 'fe80::1', 443, false],
  ['2001:db8::1', '[2001:db8:0:0:0:0:0:1]', 443, true],
  ['[2001:db8::1]:443', '[2001:db8::1]', 443, true],
  ['[2001:db8::1]:443', '[2001:db8::1]', 80, false],
  ['0.0.0.0/0', '203.0.113.9', 443, true],
  // entries that mean nothing are ignored, not taken as "match everything"
  [':443', SF, 443, false],
  ['.', SF, 443, false],
  ['10.0.0.0/33', '10.0.0.1', 443, false],
  [`${SF}:0`, SF, 443, false],
  [`${SF}:99999`, SF, 443, false],
  // loopback is never proxied, whatever the list says
  ['', 'localhost', 443, true],
  ['', 'LOCALHOST', 443, true],
  ['', 'api.localhost', 443, true],
  ['', '127.0.0.1', 443, true],
  ['', '127.8.9.10', 443, true],
  ['', '[::1]', 443, true],
  ['', '::ffff:127.0.0.1', 443, true],
  ['', 'localhost.example.com', 443, false],
  ['', '128.0.0.1', 443, false],
];

describe('NO_PROXY', () => {
  it.each(TABLE)('NO_PROXY=%j: %s:%i bypasses the proxy: %s', (noProxy, host, port, expected) => {
    expect(bypassesProxy(host, port, parseNoProxy(noProxy))).toBe(expected);
  });

  it('parses entries into rules', () => {
    expect(parseNoProxy(' .Example.COM:8443, 10.0.0.0/8 ,*')).toEqual([
      { kind: 'name', name: 'example.com', port: 8443 },
      { kind: 'address', bytes: [10, 0, 0, 0], prefix: 8 },
      { kind: 'all' },
    ]);
    expect(parseNoProxy(undefined)).toEqual([]);
  });

  it('reads IPv4 and IPv6 addresses, and refuses what is neither', () => {
    expect(addressBytes('192.0.2.1')).toEqual([192, 0, 2, 1]);
    expect(addressBytes('::1')).toEqual([...new Array(15).fill(0), 1]);
    expect(addressBytes('::ffff:10.0.0.1')?.slice(10)).toEqual([0xff, 0xff, 10, 0, 0, 1]);
    for (const bad of ['256.0.0.1', '1.2.3', '1::2::3', '1:2:3:4:5:6:7:8:9', 'example.com', '12345::', '']) {
      expect(addressBytes(bad)).toBeUndefined();
    }
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
  });
});

describe('proxyFor', () => {
  const https = new URL(`https://${SF}`);
  const http = new URL('http://legacy.example.com:8080/api');

  it('https URLs use HTTPS_PROXY, http URLs HTTP_PROXY; no fallback from one to the other', () => {
    const env = { HTTPS_PROXY: 'http://secure-proxy:3128', HTTP_PROXY: 'http://plain-proxy:3128' };
    expect(proxyFor(https, env)).toMatchObject({ variable: 'HTTPS_PROXY', hostname: 'secure-proxy', port: 3128, secure: false });
    expect(proxyFor(http, env)).toMatchObject({ variable: 'HTTP_PROXY', hostname: 'plain-proxy' });
    expect(proxyFor(https, { HTTP_PROXY: 'http://plain-proxy:3128' })).toBeUndefined();
    expect(proxyFor(https, {})).toBeUndefined();
  });

  it('the lower-case variable wins; an empty one means no proxy', () => {
    expect(proxyFor(https, { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' })).toMatchObject({ variable: 'https_proxy', hostname: 'lower' });
    expect(proxyFor(https, { https_proxy: '', HTTPS_PROXY: 'http://upper:2' })).toBeUndefined();
    expect(proxyFor(https, { HTTPS_PROXY: '  ' })).toBeUndefined();
  });

  it('no_proxy / NO_PROXY (lower-case first) and loopback send the request direct', () => {
    const proxy = { HTTPS_PROXY: 'http://p:3128' };
    expect(proxyFor(https, { ...proxy, NO_PROXY: '.snowflakecomputing.com' })).toBeUndefined();
    expect(proxyFor(https, { ...proxy, no_proxy: 'other.example', NO_PROXY: '.snowflakecomputing.com' })).toBeDefined();
    expect(proxyFor(new URL('https://127.0.0.1:8443'), proxy)).toBeUndefined();
    expect(proxyFor(new URL('http://localhost:8080'), { HTTP_PROXY: 'http://p:3128' })).toBeUndefined();
    expect(proxyFor(new URL('https://[::1]:8443'), proxy)).toBeUndefined();
  });

  it('default ports, no scheme, an https proxy', () => {
    expect(proxyFor(https, { HTTPS_PROXY: 'proxy.corp' })).toMatchObject({ display: 'http://proxy.corp', port: 80, secure: false });
    expect(proxyFor(https, { HTTPS_PROXY: 'proxy.corp:8080' })).toMatchObject({ display: 'http://proxy.corp:8080', port: 8080 });
    expect(proxyFor(https, { HTTPS_PROXY: 'https://proxy.corp' })).toMatchObject({ display: 'https://proxy.corp', port: 443, secure: true });
    expect(proxyFor(https, { HTTPS_PROXY: 'http://proxy.corp:3128/' })).toMatchObject({ port: 3128 });
    expect(proxyFor(https, { HTTPS_PROXY: 'http://[fd00::1]:3128' })).toMatchObject({ hostname: 'fd00::1', display: 'http://[fd00::1]:3128' });
  });

  it('credentials become Basic (percent-decoded) and never reach the display name', () => {
    const route = proxyFor(https, { HTTPS_PROXY: 'http://svc%40corp:p%40ss%20w%3Ard@proxy.corp:3128' })!;
    expect(route.authorization).toBe(`Basic ${Buffer.from('svc@corp:p@ss w:rd').toString('base64')}`);
    expect(route.display).toBe('http://proxy.corp:3128');
    expect(JSON.stringify({ ...route, authorization: undefined })).not.toMatch(/p%40ss|p@ss|svc/);
    expect(proxyFor(https, { HTTPS_PROXY: 'http://user@proxy.corp:3128' })!.authorization).toBe(`Basic ${Buffer.from('user:').toString('base64')}`);
  });

  it('a proxy variable sfauth cannot use is exit 2, naming the variable and never its value', () => {
    for (const [value, why] of [
      ['socks5://user:s3cr3t@proxy:1080', /socks5 scheme is not supported/],
      ['http://user:s3cr3t@proxy:3128/path', /no path/],
      ['http://user:s3cr3t@proxy:99999', /does not parse/],
      ['http://user:s3cr3t%zz@proxy:3128', /broken %-escape/],
      ['http://[s3cr3t', /does not parse/],
    ] as const) {
      let error: unknown;
      try {
        proxyFor(https, { https_proxy: value });
      } catch (err) {
        error = err;
      }
      expect(isSfauthError(error), value).toBe(true);
      const e = error as { exitCode: number; code: string; message: string; hint: string };
      expect(e.exitCode).toBe(2);
      expect(e.code).toBe('ERR_PROXY_URL');
      expect(e.message).toMatch(/^https_proxy is not a proxy URL sfauth can use/);
      expect(e.message).toMatch(why);
      expect(JSON.stringify(e) + e.message + e.hint).not.toContain('s3cr3t');
    }
  });
});
