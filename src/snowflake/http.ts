/**
 * The HTTP transport under the SQL API client (DESIGN.md §3 "REST calls", §1 "(proxy)"): node:http
 * and node:https with one keep-alive agent per scheme for the whole command, HTTP CONNECT tunnels
 * through the proxy the environment names (src/snowflake/proxy.ts), bounded answers, no redirects
 * followed, and a timer per request that covers connecting as well as the answer.
 *
 * Every connection is opened here, stage by stage — DNS, TCP, proxy tunnel, TLS — so a failure says
 * at which stage it happened (and whether at the proxy or at Snowflake), and `connections` keeps the
 * timings of each stage for `doctor`.
 *
 * Why not `fetch`: in Node 20 it is undici, whose HTTP parser is WebAssembly; V8 finishes compiling
 * it on background threads before the process may exit, which cost a one-request CLI run ~0.25 s and
 * ~30 MiB. node:http's parser is native, and a tunnel needs a raw socket anyway.
 */
import { createGunzip } from 'node:zlib';
import type { Transform } from 'node:stream';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Env } from '../context.js';
import { VERSION } from '../version.js';
import { proxyFor, type ProxyRoute } from './proxy.js';

/** Where a connection or request is: what `doctor` reports, and what an error names. */
export type Stage = 'dns' | 'tcp' | 'proxy' | 'tls' | 'http';

/** A failure on the way to an answer, with the stage and hop it happened at. */
export class NetworkError extends Error {
  constructor(
    message: string,
    /** Node's error code (`ENOTFOUND`, `ECONNRESET`, `CERT_HAS_EXPIRED`…), or `PROXY_REFUSED`. */
    readonly code: string | undefined,
    readonly stage: Stage,
    /** Set when the request went through a proxy; `hop` says whether the proxy or Snowflake failed. */
    readonly proxy: ProxyRoute | undefined,
    readonly hop: 'proxy' | 'target',
    /** For `PROXY_REFUSED`: the proxy's status and reason phrase (untrusted text). */
    readonly status?: number,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'NetworkError';
  }
}

/** The request's time ran out; `stage` says what it was waiting for. */
export class RequestTimeoutError extends Error {
  override readonly name = 'TimeoutError';
  constructor(
    readonly stage: Stage,
    readonly proxy: ProxyRoute | undefined,
  ) {
    super(`timed out during ${stage}`);
  }
}

export interface HttpRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** Connecting, sending and reading the whole answer must fit in this. */
  timeoutMs: number;
  /** The most body bytes to keep for an answer with this status; a longer body is cut (`overflow`). */
  limitFor(status: number): number;
}

export interface HttpAnswer {
  status: number;
  statusText: string;
  /** A response header by name (any case); repeated headers joined with `, `. */
  header(name: string): string | undefined;
  /** The body as UTF-8, at most the limit for its status. */
  text: string;
  /** The body was longer than the limit; the rest was not read. */
  overflow: boolean;
}

/** One connection this transport opened: the stages and what they took (milliseconds). */
export interface ConnectionTrace {
  /** `host:port` of Snowflake (or whatever --host names). */
  target: string;
  proxy?: { display: string; variable: string };
  /** The address the TCP connection went to (the proxy's, when proxied). */
  address?: string;
  dnsMs?: number;
  tcpMs?: number;
  proxyMs?: number;
  tlsMs?: number;
  tlsProtocol?: string;
  certificate?: { subject?: string; issuer?: string; validTo?: string };
  /** The stage reached: `http` once the connection is ready for requests. */
  stage: Stage;
  error?: string;
}

export interface Transport {
  request(request: HttpRequest): Promise<HttpAnswer>;
  /** Connections opened so far, in order. */
  readonly connections: readonly ConnectionTrace[];
  /** Closes idle keep-alive connections. */
  close(): void;
}

/** What a request hands down to the connection it may open (through the agent's options). */
interface Attempt {
  route: ProxyRoute | undefined;
  signal: AbortSignal;
  stage: Stage;
}

/** The longest CONNECT answer head we read from a proxy. */
const PROXY_HEAD_LIMIT = 16 * 1024;

export class HttpTransport implements Transport {
  readonly connections: ConnectionTrace[] = [];
  private readonly agents: { http?: http.Agent; https?: https.Agent } = {};

  /**
   * `env` names the proxies. `trust` adds CA certificates (PEM) to Node's store for this transport
   * alone; the CLI takes them from NODE_EXTRA_CA_CERTS instead, which Node reads at start-up.
   */
  constructor(
    private readonly env: Env,
    private readonly trust: { ca?: string } = {},
  ) {}

  request(req: HttpRequest): Promise<HttpAnswer> {
    const url = new URL(req.url);
    const secure = url.protocol === 'https:';
    const controller = new AbortController();
    const attempt: Attempt = { route: proxyFor(url, this.env), signal: controller.signal, stage: 'http' };
    return new Promise<HttpAnswer>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const options = {
        method: req.method,
        headers: req.body === undefined ? req.headers : { ...req.headers, 'Content-Length': String(Buffer.byteLength(req.body)) },
        agent: this.agent(secure),
        sfauthAttempt: attempt,
      };
      const request = (secure ? https : http).request(url, options, (res) => {
        const status = res.statusCode ?? 0;
        const limit = req.limitFor(status);
        const chunks: Buffer[] = [];
        let size = 0;
        const answer = (overflow: boolean): HttpAnswer => {
          const body = Buffer.concat(chunks);
          return {
            status,
            statusText: res.statusMessage ?? '',
            header: (name) => {
              const value = res.headers[name.toLowerCase()];
              return Array.isArray(value) ? value.join(', ') : value;
            },
            text: body.subarray(0, Math.min(body.length, limit)).toString('utf8'),
            overflow,
          };
        };
        const cut = () => {
          // The rest is never read: the connection is closed, not handed back to the pool.
          res.destroy();
          settle(() => resolve(answer(true)));
        };
        if (status === 200 && Number(res.headers['content-length']) > limit) return cut();
        // A gzip answer (asked for with Accept-Encoding, for result partitions) is counted against the
        // limit as it inflates, so a small bomb cannot grow past the cap.
        const gzip = /\bgzip\b/i.test(String(res.headers['content-encoding'] ?? ''));
        const body = gzip ? res.pipe(createGunzip()) : res;
        if (gzip) {
          body.on('error', (err: Error & { code?: string }) => {
            res.destroy();
            settle(() => reject(new NetworkError(`the gzip answer is corrupt (${err.code ?? err.message})`, 'BAD_GZIP', 'http', attempt.route, 'target')));
          });
        }
        body.on('data', (chunk: Buffer) => {
          if (settled) return;
          chunks.push(chunk);
          size += chunk.length;
          if (size > limit) {
            if (gzip) (body as Transform).destroy();
            cut();
          }
        });
        body.on('end', () => settle(() => resolve(answer(false))));
        res.on('close', () => {
          if (!res.complete) settle(() => reject(new NetworkError('the answer broke off', 'ANSWER_BROKE_OFF', 'http', attempt.route, 'target')));
        });
        res.on('error', () => {}); // 'close' above reports it
      });
      const timer = setTimeout(() => {
        const err = new RequestTimeoutError(attempt.stage, attempt.route);
        controller.abort(err);
        request.destroy(err);
        settle(() => reject(err));
      }, Math.max(0, req.timeoutMs));
      request.on('error', (err: Error & { code?: string }) => {
        settle(() => reject(err instanceof NetworkError || err instanceof RequestTimeoutError ? err : new NetworkError(err.message, err.code, 'http', attempt.route, 'target')));
      });
      request.end(req.body);
    });
  }

  close(): void {
    this.agents.http?.destroy();
    this.agents.https?.destroy();
  }

  private agent(secure: boolean): http.Agent {
    const existing = secure ? this.agents.https : this.agents.http;
    if (existing) return existing;
    const agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    // The agent pools connections by host:port; opening one is ours (stages, proxy, TLS).
    (agent as unknown as { createConnection: unknown }).createConnection = (
      options: { host: string; port: number | string; sfauthAttempt: Attempt },
      callback: (err: Error | null, socket?: net.Socket) => void,
    ) => {
      const trace: ConnectionTrace = { target: authority(options.host, Number(options.port)), stage: 'dns' };
      this.connections.push(trace);
      openConnection({ hostname: options.host, port: Number(options.port), secure, ca: this.trust.ca }, options.sfauthAttempt, trace).then(
        (socket) => callback(null, socket),
        (err: Error) => callback(err),
      );
      return undefined;
    };
    if (secure) this.agents.https = agent as https.Agent;
    else this.agents.http = agent;
    return agent;
  }
}

function authority(hostname: string, port: number): string {
  return `${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`;
}

/**
 * An IP address rather than a name (URL hostnames are one or the other). Not net.isIP: its IPv6
 * regular expression costs ~10 ms to compile on first use, a tenth of a whole run.
 */
function isAddress(hostname: string): boolean {
  return hostname.includes(':') || /^\d+\.\d+\.\d+\.\d+$/.test(hostname);
}

interface Target {
  hostname: string;
  port: number;
  secure: boolean;
  /** Extra trusted CA certificates (PEM), on top of Node's store. */
  ca?: string;
}

/** DNS → TCP (to Snowflake, or to the proxy) → [TLS to an https proxy] → [CONNECT] → [TLS] → ready. */
async function openConnection(target: Target, attempt: Attempt, trace: ConnectionTrace): Promise<net.Socket> {
  const { route, signal } = attempt;
  const hop = route ? 'proxy' : 'target';
  const mark = (stage: Stage) => {
    attempt.stage = stage;
    trace.stage = stage;
  };
  const fail = (err: Error & { code?: string }, stage: Stage, at: 'proxy' | 'target' = hop): Error => {
    trace.error = err.code ?? err.message;
    if (signal.aborted) return signal.reason as Error;
    return err instanceof NetworkError ? err : new NetworkError(err.message, err.code, stage, route, at);
  };
  if (signal.aborted) throw signal.reason;
  if (route) trace.proxy = { display: route.display, variable: route.variable };
  // process.hrtime, not performance.now(): the `performance` global loads perf_hooks on first use.
  let started = process.hrtime.bigint();
  const elapsed = () => {
    const now = process.hrtime.bigint();
    const ms = Math.round(Number(now - started) / 1e5) / 10;
    started = now;
    return ms;
  };

  mark(isAddress(route?.hostname ?? target.hostname) ? 'tcp' : 'dns');
  let socket: net.Socket = net.connect({ host: route?.hostname ?? target.hostname, port: route?.port ?? target.port });
  const onAbort = () => socket.destroy(signal.reason as Error);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('lookup', (err: Error | null, address: string) => {
        if (err) return;
        trace.dnsMs = elapsed();
        trace.address = address;
        mark('tcp');
      });
      socket.once('connect', () => resolve());
      socket.once('error', (err: Error & { code?: string; syscall?: string }) =>
        reject(fail(err, err.syscall === 'getaddrinfo' || /^E(NOTFOUND|AI_)/.test(err.code ?? '') ? 'dns' : 'tcp')),
      );
    });
    trace.address ??= socket.remoteAddress;
    trace.tcpMs = elapsed();

    if (route) {
      if (route.secure) {
        mark('proxy');
        socket = await handshake(socket, route.hostname, target.ca, (err) => fail(err, 'proxy'));
      }
      mark('proxy');
      await openTunnel(socket, target, route, (err) => fail(err, 'proxy'));
      trace.proxyMs = elapsed();
    }

    if (target.secure) {
      mark('tls');
      const secured = await handshake(socket, target.hostname, target.ca, (err) => fail(err, 'tls', 'target'));
      trace.tlsMs = elapsed();
      trace.tlsProtocol = secured.getProtocol() ?? undefined;
      const cert = secured.getPeerCertificate();
      if (cert && Object.keys(cert).length > 0) {
        trace.certificate = { subject: nameOf(cert.subject), issuer: nameOf(cert.issuer), validTo: cert.valid_to };
      }
      socket = secured;
    }
    mark('http');
    return socket;
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function nameOf(name: tls.Certificate | undefined): string | undefined {
  if (!name) return undefined;
  const value = name.CN ?? name.O;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** TLS over a connected socket, the certificate checked against `hostname` (CA store + NODE_EXTRA_CA_CERTS). */
function handshake(socket: net.Socket, hostname: string, ca: string | undefined, fail: (err: Error & { code?: string }) => Error): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secured = tls.connect({
      socket,
      ...(ca ? { ca: [...tls.rootCertificates, ca] } : {}),
      host: hostname,
      // SNI carries names only (RFC 6066 §3); an IP address is checked against the certificate's IP SANs.
      ...(isAddress(hostname) ? {} : { servername: hostname }),
      ALPNProtocols: ['http/1.1'],
    });
    const onError = (err: Error) => {
      secured.destroy();
      reject(fail(err));
    };
    secured.once('error', onError);
    secured.once('secureConnect', () => {
      secured.off('error', onError);
      resolve(secured);
    });
  });
}

/**
 * `CONNECT host:port` through the proxy; resolves once the proxy answers 2xx. Any other answer is a
 * refusal (407 wants credentials, 403 a forbidden destination, 502/503/504 the proxy could not get
 * through); its body is never read.
 */
function openTunnel(socket: net.Socket, target: Target, route: ProxyRoute, fail: (err: Error & { code?: string }) => Error): Promise<void> {
  const where = authority(target.hostname, target.port);
  const head = [
    `CONNECT ${where} HTTP/1.1`,
    `Host: ${where}`,
    `User-Agent: sfauth/${VERSION}`,
    ...(route.authorization ? [`Proxy-Authorization: ${route.authorization}`] : []),
    '',
    '',
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
    };
    const refuse = (err: Error & { code?: string }) => {
      cleanup();
      reject(fail(err));
    };
    const onError = (err: Error) => refuse(err);
    const onEnd = () => refuse(Object.assign(new Error('the proxy closed the connection before answering CONNECT'), { code: 'ECONNRESET' }));
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end === -1) {
        if (received.length > PROXY_HEAD_LIMIT) refuse(Object.assign(new Error('the proxy answered CONNECT with an endless header'), { code: 'PROXY_BAD_ANSWER' }));
        return;
      }
      cleanup();
      const statusLine = received.subarray(0, received.indexOf('\r\n')).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (!match) {
        reject(fail(Object.assign(new Error('the proxy did not answer CONNECT in HTTP'), { code: 'PROXY_BAD_ANSWER' })));
        return;
      }
      const status = Number(match[1]);
      if (status < 200 || status > 299) {
        reject(new NetworkError(`the proxy refused the tunnel: HTTP ${status}`, 'PROXY_REFUSED', 'proxy', route, 'proxy', status, match[2] ?? ''));
        return;
      }
      // Nothing may follow the proxy's answer: the far end speaks only after we do.
      if (received.length > end + 4) {
        reject(fail(Object.assign(new Error('the proxy sent data before the tunnel was used'), { code: 'PROXY_BAD_ANSWER' })));
        return;
      }
      resolve();
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.write(head);
  });
}
