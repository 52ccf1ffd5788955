/**
 * A local HTTP CONNECT proxy for tests: the corporate proxy sfauth must go through. It listens on
 * loopback, records every CONNECT, can demand Basic credentials (407), refuse (any status), or never
 * answer, and tunnels only to loopback: `route` maps the names sfauth asks for (e.g.
 * `myorg-myaccount.snowflakecomputing.test:443`) to the emulator, and anything unmapped that is not
 * loopback gets a 502 without a single outside packet.
 *
 * ```ts
 * const proxy = await startProxy({ auth: { user: 'u', password: 'p w' }, route: () => emulatorAddress });
 * runCli([...], { env: { HTTPS_PROXY: proxy.urlWith('u', 'p w') } });
 * expect(proxy.connects[0].authority).toBe('myorg-myaccount.snowflakecomputing.test:443');
 * ```
 */
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';

export interface ProxyConnect {
  /** What came after CONNECT (`host:port`). */
  authority: string;
  /** The Proxy-Authorization header as sent, if any. */
  proxyAuthorization?: string;
  /** What the proxy answered (200 when the tunnel opened). */
  status: number;
}

export interface TestProxyOptions {
  /** Credentials the proxy demands (Basic); without them or with others it answers 407. */
  auth?: { user: string; password: string };
  /** Answer every CONNECT with this status (and reason) instead of opening the tunnel. */
  refuse?: { status: number; reason?: string };
  /** Accept connections and read the CONNECT, but never answer it. */
  hang?: boolean;
  /** Where a tunnel to host:port goes; undefined → loopback only, as asked. */
  route?: (host: string, port: number) => { host: string; port: number } | undefined;
  /** Serve the proxy itself over TLS (an `https://` proxy URL). */
  tls?: { cert: string; key: string };
}

export interface TestProxy {
  /** `http://127.0.0.1:PORT` (or `https://`). */
  readonly url: string;
  /** The URL with credentials, percent-encoded as a user would write them. */
  urlWith(user: string, password: string): string;
  readonly connects: ProxyConnect[];
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)$/i;

export async function startProxy(options: TestProxyOptions = {}): Promise<TestProxy> {
  const connects: ProxyConnect[] = [];
  const sockets = new Set<Socket>();
  const expected = options.auth ? `Basic ${Buffer.from(`${options.auth.user}:${options.auth.password}`).toString('base64')}` : undefined;

  const onConnection = (client: Socket) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > 65536) client.destroy();
        return;
      }
      client.off('data', onData);
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      const [method, authority = ''] = lines[0]!.split(' ');
      const header = (name: string) => lines.slice(1).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.slice(name.length + 1).trim();
      const record: ProxyConnect = { authority, status: 0, ...(header('proxy-authorization') ? { proxyAuthorization: header('proxy-authorization') } : {}) };
      connects.push(record);
      const answer = (status: number, reason: string, extra = '') => {
        record.status = status;
        client.end(`HTTP/1.1 ${status} ${reason}\r\n${extra}Content-Type: text/html\r\nContent-Length: 21\r\nConnection: close\r\n\r\n<h1>${status} proxy</h1>\n`);
      };
      if (options.hang) return;
      if (method !== 'CONNECT') return answer(405, 'Method Not Allowed');
      if (expected && record.proxyAuthorization !== expected) {
        return answer(407, 'Proxy Authentication Required', 'Proxy-Authenticate: Basic realm="test proxy"\r\n');
      }
      if (options.refuse) return answer(options.refuse.status, options.refuse.reason ?? 'Refused');
      const colon = authority.lastIndexOf(':');
      const host = authority.slice(0, colon).replace(/^\[|\]$/g, '');
      const port = Number(authority.slice(colon + 1));
      const to = options.route?.(host, port) ?? (LOOPBACK.test(host) ? { host, port } : undefined);
      if (!to) return answer(502, 'Bad Gateway');
      const upstream = net.connect(to.port, to.host, () => {
        record.status = 200;
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        const rest = head.subarray(end + 4);
        if (rest.length) upstream.write(rest);
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.on('close', () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on('error', () => (record.status ? client.destroy() : answer(502, 'Bad Gateway')));
    };
    client.on('data', onData);
  };

  const server = options.tls ? tls.createServer({ cert: options.tls.cert, key: options.tls.key }, onConnection) : net.createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const scheme = options.tls ? 'https' : 'http';
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    urlWith: (user, password) => `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    connects,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
