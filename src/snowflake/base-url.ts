/**
 * Where the SQL API lives: derived from the account (DESIGN.md §3), or `--host` / SNOWFLAKE_HOST.
 * A host value with a scheme is the base URL; plain `http://` is refused except on loopback, so a
 * token is never sent in clear text over a network.
 */
import { UsageError } from '../errors.js';
import { baseUrlForAccount } from '../core/account.js';

/** 127.0.0.0/8, ::1, localhost (and IPv4-mapped 127.x), as the URL parser normalises them. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^127(\.\d{1,3}){3}$/.test(h)) return true;
  // IPv4-mapped IPv6 (the URL parser writes ::ffff:127.0.0.1 as ::ffff:7f00:1).
  return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/**
 * The base URL (`scheme://host[:port]`, no path) for an account and an optional host override.
 * `hostOrigin` names where the host came from (`--host`, `SNOWFLAKE_HOST`, a connection) for messages.
 */
export function resolveBaseUrl(account: string | undefined, host: string | undefined, hostOrigin = '--host'): string {
  if (host !== undefined && host.trim() !== '') {
    const value = host.trim();
    const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
    let url: URL;
    try {
      url = new URL(hasScheme ? value : `https://${value}`);
    } catch {
      throw new UsageError('ERR_HOST_INVALID', `invalid host '${value}' (${hostOrigin})`, {
        hint: 'give a host name like myorg-myaccount.snowflakecomputing.com or a https:// URL',
      });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UsageError('ERR_HOST_INVALID', `unsupported scheme '${url.protocol.replace(/:$/, '')}' in ${hostOrigin}`, {
        hint: 'use https:// (or no scheme)',
      });
    }
    if (url.hostname === '') {
      throw new UsageError('ERR_HOST_INVALID', `invalid host '${value}' (${hostOrigin})`, { hint: 'give a host name or a https:// URL' });
    }
    if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
      throw new UsageError('ERR_HOST_INSECURE', `refusing plain http:// to ${url.hostname} (${hostOrigin})`, {
        hint: 'use https://; plain http is only allowed to a loopback address (127.0.0.1, localhost, ::1)',
      });
    }
    return url.origin;
  }
  if (account === undefined || account.trim() === '') {
    throw new UsageError('ERR_MISSING_ACCOUNT', 'missing account: pass --account or set SNOWFLAKE_ACCOUNT (or use -c NAME)', {
      hint: 'an account identifier looks like myorg-myaccount or xy12345.us-east-2.aws; --host gives the address directly',
      data: { field: 'account' },
    });
  }
  return baseUrlForAccount(account);
}
