/**
 * The transport (src/snowflake/http.ts) over real sockets on loopback: keep-alive, stages and their
 * timings, CONNECT tunnels (with and without credentials, refused, silent), TLS with a test CA (to
 * Snowflake and to an https proxy), answer caps, and timeouts that name the stage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { HttpTransport, NetworkError, RequestTimeoutError, type HttpRequest } from '../../src/snowflake/http.js';
import { startProxy, type TestProxy } from '../support/proxy.js';
import { makeTestPki, type TestPki } from '../support/tls.js';
import { startEmulator, type Emulator } from '../support/emulator.js';
import { tempDir } from '../support/cli.js';

let pki: TestPki;
let cleanup: () => void;
let plain: Server;
let plainUrl: string;
let secure: Emulator;
const closers: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  const tmp = tempDir('sfauth-http-');
  cleanup = tmp.cleanup;
  pki = makeTestPki(tmp.dir);
  plain = createServer((req, res) => {
    req.resume().on('end', () => {
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('X-Twice', ['a', 'b']);
      if (req.url === '/gzip' || req.url === '/gzip-bomb' || req.url === '/gzip-corrupt') {
        // 10 MB of zeros is ~10 kB gzipped: counted as it inflates, not as it arrives.
        const body = req.url === '/gzip-corrupt' ? Buffer.from('not gzip at all') : gzipSync(req.url === '/gzip' ? '{"data": [["a"]]}' : Buffer.alloc(10_000_000));
        res.setHeader('Content-Encoding', 'gzip');
        res.setHeader('Content-Length', body.length);
        res.end(body);
      } else if (req.url === '/big-chunked') {
        for (let i = 0; i < 100; i++) res.write('x'.repeat(1000)); // no Content-Length: read until the cap
        res.end();
      } else {
        res.end(req.url === '/big' ? 'x'.repeat(100_000) : `${req.method} ${req.url}`);
      }
    });
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
  plainUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  secure = await startEmulator({ tls: pki.server });
});

afterAll(async () => {
  for (const close of closers) await close();
  await secure.close();
  await new Promise((r) => plain.close(r));
  cleanup();
});

function transport(env: Record<string, string> = {}, ca?: string): HttpTransport {
  const t = new HttpTransport(env, ca ? { ca } : {});
  closers.push(() => t.close());
  return t;
}

function get(url: string, extra: Partial<HttpRequest> = {}): HttpRequest {
  return { url, method: 'GET', headers: { Accept: 'application/json' }, timeoutMs: 10_000, limitFor: () => 1024 * 1024, ...extra };
}

async function proxy(options: Parameters<typeof startProxy>[0] = {}): Promise<TestProxy> {
  const p = await startProxy(options);
  closers.push(() => p.close());
  return p;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** Routes the names tests ask for to the https emulator. */
const toSecure = () => ({ host: '127.0.0.1', port: Number(new URL(secure.url).port) });

describe('direct', () => {
  it('keeps one connection alive for a series of requests, and traces its stages', async () => {
    const t = transport();
    for (let i = 0; i < 3; i++) {
      const a = await t.request(get(`${plainUrl}/n${i}`));
      expect(a.status).toBe(200);
      expect(a.text).toBe(`GET /n${i}`);
      expect(a.overflow).toBe(false);
      expect(a.header('CONTENT-TYPE')).toBe('text/plain');
      expect(a.header('x-twice')).toBe('a, b');
    }
    expect(t.connections).toHaveLength(1);
    expect(t.connections[0]).toMatchObject({ target: `127.0.0.1:${new URL(plainUrl).port}`, address: '127.0.0.1', stage: 'http' });
    expect(t.connections[0]!.tcpMs).toBeGreaterThanOrEqual(0);
    expect(t.connections[0]!.dnsMs).toBeUndefined(); // an address needs no lookup
  });

  it('cuts a body at the limit for its status and says so', async () => {
    const t = transport();
    const limitFor = (status: number) => (status === 200 ? 1500 : 10);
    const declared = await t.request(get(`${plainUrl}/big`, { limitFor }));
    expect(declared).toMatchObject({ overflow: true, text: '' }); // Content-Length says it all: nothing read
    const chunked = await t.request(get(`${plainUrl}/big-chunked`, { limitFor }));
    expect(chunked.overflow).toBe(true);
    expect(chunked.text).toHaveLength(1500);
    expect(t.connections).toHaveLength(2); // a cut connection is closed, not reused
  });

  it('inflates a gzip answer, counting the inflated bytes against the limit (a small bomb is cut); a corrupt one is a failure', async () => {
    const t = transport();
    const ok = await t.request(get(`${plainUrl}/gzip`));
    expect(ok).toMatchObject({ status: 200, overflow: false, text: '{"data": [["a"]]}' });
    const bomb = await t.request(get(`${plainUrl}/gzip-bomb`, { limitFor: () => 64 * 1024 }));
    expect(bomb.overflow).toBe(true);
    expect(bomb.text.length).toBeLessThanOrEqual(64 * 1024);
    const corrupt = await rejection(t.request(get(`${plainUrl}/gzip-corrupt`)));
    expect(corrupt).toBeInstanceOf(NetworkError);
    expect(corrupt.message).toMatch(/the gzip answer is corrupt/);
  });

  it('a refused connection is a tcp-stage failure at the target', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await rejection(transport().request(get(`http://127.0.0.1:${port}/`)));
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ code: 'ECONNREFUSED', stage: 'tcp', hop: 'target' });
  });

  it('loopback never goes through a proxy, whatever the environment says', async () => {
    const p = await proxy({ refuse: { status: 403 } });
    const t = transport({ HTTP_PROXY: p.url, http_proxy: p.url, HTTPS_PROXY: p.url });
    expect((await t.request(get(`${plainUrl}/`))).status).toBe(200);
    expect(p.connects).toEqual([]);
  });
});

describe('TLS', () => {
  it('verifies the certificate against the trusted CA, and traces the handshake', async () => {
    const t = transport({}, pki.caPem);
    const a = await t.request(get(`${secure.url}/api/v2/other`));
    expect(a.status).toBe(404);
    expect(t.connections[0]).toMatchObject({ stage: 'http', tlsProtocol: expect.stringMatching(/^TLSv1\.[23]$/), certificate: { subject: 'server', issuer: 'sfauth test ca' } });
    expect(t.connections[0]!.tlsMs).toBeGreaterThanOrEqual(0);
  });

  it('an untrusted certificate is a tls-stage failure with the OpenSSL code', async () => {
    const err = await rejection(transport().request(get(`${secure.url}/`)));
    expect(err).toMatchObject({ stage: 'tls', hop: 'target' });
    expect((err as NetworkError).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/);
  });

  it('https:// to a plain-http port fails the handshake, at once', async () => {
    const err = await rejection(transport({}, pki.caPem).request(get(plainUrl.replace('http:', 'https:'))));
    expect(err).toMatchObject({ stage: 'tls' });
    expect((err as NetworkError).code).toMatch(/SSL|EPROTO/);
  });
});

describe('through a CONNECT proxy', () => {
  const target = 'https://myorg-myaccount.snowflakecomputing.test/api/v2/other';

  it('opens one tunnel to host:443 and keeps it for the next requests', async () => {
    const p = await proxy({ route: toSecure });
    const t = transport({ HTTPS_PROXY: p.url }, pki.caPem);
    for (let i = 0; i < 3; i++) expect((await t.request(get(target))).status).toBe(404);
    expect(p.connects).toEqual([{ authority: 'myorg-myaccount.snowflakecomputing.test:443', status: 200 }]);
    expect(t.connections).toHaveLength(1);
    expect(t.connections[0]).toMatchObject({ target: 'myorg-myaccount.snowflakecomputing.test:443', proxy: { display: p.url, variable: 'HTTPS_PROXY' }, stage: 'http' });
    expect(t.connections[0]!.proxyMs).toBeGreaterThanOrEqual(0);
    expect(t.connections[0]!.tlsMs).toBeGreaterThanOrEqual(0);
  });

  it('sends the credentials of the proxy URL as Basic', async () => {
    const p = await proxy({ route: toSecure, auth: { user: 'svc@corp', password: 'p@ss w:rd/%' } });
    const t = transport({ HTTPS_PROXY: p.urlWith('svc@corp', 'p@ss w:rd/%') }, pki.caPem);
    expect((await t.request(get(target))).status).toBe(404);
    expect(p.connects[0]).toMatchObject({ status: 200, proxyAuthorization: `Basic ${Buffer.from('svc@corp:p@ss w:rd/%').toString('base64')}` });
  });

  it('a proxy that wants credentials, or refuses, is a proxy-stage failure with its status', async () => {
    for (const [options, status] of [
      [{ auth: { user: 'u', password: 'p' } }, 407],
      [{ refuse: { status: 403, reason: 'Forbidden' } }, 403],
      [{}, 502], // the test proxy tunnels only to loopback: a .test name is a bad gateway
    ] as const) {
      const p = await proxy(options);
      const err = await rejection(transport({ HTTPS_PROXY: p.url }, pki.caPem).request(get(target)));
      expect(err).toBeInstanceOf(NetworkError);
      expect(err).toMatchObject({ code: 'PROXY_REFUSED', stage: 'proxy', hop: 'proxy', status });
      expect((err as NetworkError).proxy?.variable).toBe('HTTPS_PROXY');
    }
  });

  it('a proxy that never answers CONNECT times out at the proxy stage', async () => {
    const p = await proxy({ hang: true });
    const err = await rejection(transport({ HTTPS_PROXY: p.url }, pki.caPem).request(get(target, { timeoutMs: 300 })));
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(err).toMatchObject({ stage: 'proxy' });
  });

  it('an unreachable proxy is a failure at the proxy hop', async () => {
    const p = await proxy();
    await p.close();
    const err = await rejection(transport({ HTTPS_PROXY: p.url }, pki.caPem).request(get(target)));
    expect(err).toMatchObject({ code: 'ECONNREFUSED', stage: 'tcp', hop: 'proxy' });
  });

  it('the certificate behind the tunnel is still checked (a TLS-inspecting proxy is caught)', async () => {
    const p = await proxy({ route: toSecure });
    const err = await rejection(transport({ HTTPS_PROXY: p.url }).request(get(target)));
    expect(err).toMatchObject({ stage: 'tls', hop: 'target' });
  });

  it('an https:// proxy: TLS to the proxy, then TLS to Snowflake inside the tunnel', async () => {
    const p = await proxy({ route: toSecure, tls: pki.server });
    const t = transport({ HTTPS_PROXY: p.url }, pki.caPem);
    expect((await t.request(get(target))).status).toBe(404);
    expect(p.connects).toHaveLength(1);
  });
});
