/**
 * Which proxy a request goes through, from the environment (DESIGN.md §1 "(proxy)"), the way curl
 * and Python's requests (so the Snowflake CLI) read it:
 * - `https://` URLs use `https_proxy` / `HTTPS_PROXY`, `http://` URLs `http_proxy` / `HTTP_PROXY`; the
 *   lower-case name wins when both are set, and an empty value means "no proxy";
 * - `no_proxy` / `NO_PROXY` lists hosts that go direct (src/core/no-proxy.ts); loopback always does;
 * - the proxy URL is `http://[user:password@]host[:port]` (`https://` for TLS to the proxy itself; no
 *   scheme means `http://`; default ports 80 / 443); credentials are percent-decoded and sent as
 *   `Proxy-Authorization: Basic`, and never shown: messages name the proxy by scheme, host and port,
 *   and say which variable it came from.
 */
import type { Env } from '../context.js';
import { UsageError } from '../errors.js';
import { bypassesProxy, parseNoProxy } from '../core/no-proxy.js';

export interface ProxyRoute {
  /** The variable it came from, as spelled in the environment (`HTTPS_PROXY`, `https_proxy`…). */
  variable: string;
  /** `http://proxy.corp:3128`: scheme, host and port, never the credentials. */
  display: string;
  hostname: string;
  port: number;
  /** TLS to the proxy itself (an `https://` proxy URL). */
  secure: boolean;
  /** `Basic …` when the URL carries credentials. */
  authorization?: string;
}

/** The proxy for `url`, or undefined to go direct. A proxy variable that is not a URL is exit 2. */
export function proxyFor(url: URL, env: Env): ProxyRoute | undefined {
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const variable = [`${scheme}_proxy`, `${scheme.toUpperCase()}_PROXY`].find((name) => env[name] !== undefined);
  const value = variable === undefined ? '' : env[variable]!.trim();
  if (variable === undefined || value === '') return undefined;
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const noProxy = env.no_proxy ?? env.NO_PROXY;
  if (bypassesProxy(url.hostname, port, parseNoProxy(noProxy))) return undefined;
  return parseProxyUrl(value, variable);
}

function parseProxyUrl(value: string, variable: string): ProxyRoute {
  // The value may hold a password: no message quotes it.
  const invalid = (why: string) =>
    new UsageError('ERR_PROXY_URL', `${variable} is not a proxy URL sfauth can use: ${why}`, {
      hint: `set ${variable} to http://[user:password@]host:port (percent-encode special characters in the password), or unset it to connect directly`,
      data: { variable },
    });
  let parsed: URL;
  try {
    parsed = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw invalid('it does not parse as a URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalid(`the ${parsed.protocol.slice(0, -1)} scheme is not supported (HTTP CONNECT proxies only: http:// or https://)`);
  }
  if (parsed.hostname === '') throw invalid('it has no host');
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search || parsed.hash) {
    throw invalid('a proxy URL has no path or query');
  }
  const secure = parsed.protocol === 'https:';
  const port = Number(parsed.port || (secure ? 443 : 80));
  let authorization: string | undefined;
  if (parsed.username || parsed.password) {
    let user: string;
    let password: string;
    try {
      user = decodeURIComponent(parsed.username);
      password = decodeURIComponent(parsed.password);
    } catch {
      throw invalid('its user or password has a broken %-escape');
    }
    authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  return {
    variable,
    display: `${parsed.protocol}//${parsed.host}`,
    hostname: parsed.hostname.replace(/^\[|\]$/g, ''),
    port,
    secure,
    ...(authorization ? { authorization } : {}),
  };
}
