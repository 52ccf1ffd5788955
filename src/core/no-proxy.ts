/**
 * `NO_PROXY` matching (DESIGN.md §1 "(proxy)"): which hosts go direct although a proxy is set.
 *
 * There is no standard; this follows what curl and Python's requests (so the Snowflake CLI) agree on:
 * - a comma- or space-separated list, case-insensitive, blanks ignored;
 * - `*` alone means "no host uses the proxy";
 * - a name matches itself and every name below it: `example.com`, `.example.com` and `*.example.com`
 *   all match `example.com` and `db.example.com`, never `badexample.com`;
 * - an IP address matches itself, a CIDR block (`10.0.0.0/8`, `fd00::/8`) the addresses in it;
 * - `host:port` (IPv6 as `[::1]:443`) matches that port only.
 * Loopback (`localhost`, `*.localhost`, 127.0.0.0/8, ::1) never goes through a proxy, whatever the list.
 * See https://curl.se/docs/manpage.html#--noproxy and https://about.gitlab.com/blog/we-need-to-talk-no-proxy/
 */

/** One entry of a `NO_PROXY` list. */
export type NoProxyRule =
  | { kind: 'all' }
  | { kind: 'name'; name: string; port?: number }
  | { kind: 'address'; bytes: number[]; prefix: number; port?: number };

/** Parses a `NO_PROXY` value; entries that mean nothing (`:80`, `10.0.0.0/99`) are dropped. */
export function parseNoProxy(value: string | undefined): NoProxyRule[] {
  const rules: NoProxyRule[] = [];
  for (const raw of (value ?? '').toLowerCase().split(/[\s,]+/)) {
    if (raw === '') continue;
    if (raw === '*') {
      rules.push({ kind: 'all' });
      continue;
    }
    const rule = parseEntry(raw);
    if (rule) rules.push(rule);
  }
  return rules;
}

function parseEntry(entry: string): NoProxyRule | undefined {
  let host = entry;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else {
    const withPort = /^([^:]+):(\d+)$/.exec(host); // one colon: name:port or v4:port; more: bare IPv6
    if (withPort) {
      host = withPort[1]!;
      port = Number(withPort[2]);
    }
  }
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  const slash = host.indexOf('/');
  const prefixText = slash === -1 ? undefined : host.slice(slash + 1);
  const bytes = addressBytes(slash === -1 ? host : host.slice(0, slash));
  if (bytes) {
    const max = bytes.length * 8;
    const prefix = prefixText === undefined ? max : /^\d+$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!(prefix >= 0 && prefix <= max)) return undefined;
    return { kind: 'address', bytes, prefix, ...(port === undefined ? {} : { port }) };
  }
  const name = host.replace(/^\*?\.+/, '').replace(/\.$/, '');
  if (name === '' || prefixText !== undefined) return undefined;
  return { kind: 'name', name, ...(port === undefined ? {} : { port }) };
}

/** True when `hostname` (as in a URL: lower-case, IPv6 in brackets or not) must not use the proxy. */
export function bypassesProxy(hostname: string, port: number, rules: readonly NoProxyRule[]): boolean {
  const host = unbracket(hostname.toLowerCase()).replace(/\.$/, '');
  if (isLoopbackHost(host)) return true;
  const bytes = addressBytes(host);
  return rules.some((rule) => {
    if (rule.kind === 'all') return true;
    if (rule.port !== undefined && rule.port !== port) return false;
    if (rule.kind === 'name') return !bytes && (host === rule.name || host.endsWith(`.${rule.name}`));
    return bytes !== undefined && bytes.length === rule.bytes.length && samePrefix(bytes, rule.bytes, rule.prefix);
  });
}

/** `localhost`, `*.localhost` (RFC 6761), 127.0.0.0/8, `::1` and `::ffff:127.x.x.x`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = unbracket(hostname.toLowerCase()).replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const bytes = addressBytes(host);
  if (!bytes) return false;
  if (bytes.length === 4) return bytes[0] === 127;
  const v4mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (v4mapped) return bytes[12] === 127;
  return bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1;
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function samePrefix(a: readonly number[], b: readonly number[], prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit += 8) {
    const take = Math.min(8, prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((a[bit / 8]! & mask) !== (b[bit / 8]! & mask)) return false;
  }
  return true;
}

/** The bytes of a dotted IPv4 or an IPv6 address (with `::` and a trailing IPv4), else undefined. */
export function addressBytes(text: string): number[] | undefined {
  const v4 = parseIPv4(text);
  if (v4) return v4;
  if (!text.includes(':') || !/^[0-9a-f:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes('.')) {
        const tail = parseIPv4(piece);
        if (!tail) return undefined;
        out.push((tail[0]! << 8) | tail[1]!, (tail[2]! << 8) | tail[3]!);
      } else if (/^[0-9a-f]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail].flatMap((g) => [g >> 8, g & 0xff]);
}

function parseIPv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
}
