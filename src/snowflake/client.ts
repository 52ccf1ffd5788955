/**
 * The SQL API client every network command shares (DESIGN.md §3 "REST calls"):
 * `POST /api/v2/statements?requestId=<uuid>`, 202-then-poll, results mapped by `rowType` names,
 * retries with exponential backoff and jitter for 429/5xx/resets (same requestId plus `retry=true`,
 * so a statement that reached the server is not run twice), all inside one deadline, and every
 * failure turned into an SfauthError with a plain hint. Tokens never appear in messages.
 * See https://docs.snowflake.com/en/developer-guide/sql-api/reference
 */
import type { Throttle } from './throttle.js';
import { randomUUID, type KeyObject } from 'node:crypto';
import { CheckFailedError, ServiceError, isSfauthError, type SfauthError } from '../errors.js';
import { mintJwt } from '../core/jwt.js';
import { formatDuration } from '../core/duration.js';
import { VERSION } from '../version.js';
import { authHint, loginFailureUuid } from './auth-hints.js';
import { plainLine, plainText, serverText } from '../core/untrusted-text.js';
import { NetworkError, RequestTimeoutError, type HttpAnswer, type Stage, type Transport } from './http.js';

export type Credential =
  | { kind: 'keypair'; privateKey: KeyObject; account: string; user: string; fingerprint: string }
  | { kind: 'oauth'; token: string }
  | { kind: 'pat'; token: string };

const TOKEN_TYPE: Record<Credential['kind'], string> = {
  keypair: 'KEYPAIR_JWT',
  oauth: 'OAUTH',
  pat: 'PROGRAMMATIC_ACCESS_TOKEN',
};

/** What went into the credential, shown whenever authentication fails (DESIGN.md §3). */
export interface Identity {
  account?: string;
  user?: string;
  fingerprint?: string;
  authMethod: string;
}

export interface ClientOptions {
  baseUrl: string;
  credential: Credential;
  identity: Identity;
  transport: Transport;
  now(): number;
  /** Absolute deadline (ms since the epoch) for everything this client does. */
  deadline: number;
  /** The `--timeout` as the user wrote it, for messages. */
  timeoutLabel: string;
  role?: string;
  warehouse?: string;
  warn(message: string): void;
  sleep?(ms: number): Promise<void>;
  random?(): number;
  /** A fleet's shared rate-limit gate: 429 pauses everyone, and paused time extends the deadline. */
  throttle?: Throttle;
  /** The gate's pause total when the deadline was set (default: when this client is made). */
  pausedBase?: number;
}

export interface StatementResult {
  requestId: string;
  statementHandle?: string;
  columns: string[];
  rows: (string | null)[][];
}

/** Rows as objects keyed by column name. */
export function recordsOf(result: StatementResult): Record<string, string | null>[] {
  return result.rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c, row[i] ?? null])));
}

/** Statuses worth another try with the same requestId (DESIGN.md §3). */
export /** Node's timers hold at most 2^31-1 ms (~24.8 days); a longer --timeout is clamped per request. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const RETRY_STATUS: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);
/** In a fleet, how long one statement may be held back by rate limits before it gives up. */
const RATE_LIMIT_CAP_MS = 15 * 60_000;
const JWT_LIFETIME_SECONDS = 3600;
const JWT_REISSUE_AFTER_MS = 50 * 60 * 1000;
const SKEW_WARN_SECONDS = 60;
/** Backoff: 250 ms doubling, capped at 8 s, "equal jitter" (half fixed, half random). */
const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 8000;
/** Time an attempt needs at least; with less left we give up instead of sending a doomed request. */
const MIN_ATTEMPT_MS = 200;
/** Polling a 202: 250 ms growing ×1.5 up to 2 s. */
const POLL_FIRST_MS = 250;
const POLL_CAP_MS = 2000;
/** The largest answer sfauth reads (DESIGN.md §3): DESC USER and SHOW are a few KiB. */
const ANSWER_CAP = 16 * 1024 * 1024;
/** A partitioned result: at most this many partitions, fetched this many at a time, this many rows in all. */
const MAX_PARTITIONS = 1000;
const PARTITIONS_AT_ONCE = 4;
const MAX_ROWS = 1_000_000;
/** How much of an error body we read for a message. */
const EXCERPT_READ_LIMIT = 64 * 1024;
const EXCERPT_CHARS = 120;

/** A network failure, classified: retry it, or stop with `error`. */
interface Failure {
  retry: boolean;
  describe: string;
  error?: SfauthError;
}

/** What one attempt produced: a complete answer (status + body), or a failure. */
type Attempt = { kind: 'answer'; response: HttpAnswer; text: string } | { kind: 'failure'; failure: Failure };

/** The code of a network error (its own, or its cause's: an AggregateError keeps them in `errors`). */
function networkCode(err: unknown): { code?: string; message?: string } {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: { code?: unknown }[] };
  const cause = e?.cause as { code?: unknown; message?: unknown; errors?: { code?: unknown }[] } | undefined;
  const code = [e?.code, e?.errors?.[0]?.code, cause?.code, cause?.errors?.[0]?.code].find((c): c is string => typeof c === 'string');
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : typeof cause?.message === 'string' ? cause.message : undefined;
  return { code, message };
}

/** What a request was doing when its time ran out, for the timeout message. */
const WAITING_FOR: Record<Stage, string> = {
  dns: 'resolving the host name',
  tcp: 'connecting',
  proxy: 'the proxy to open a tunnel',
  tls: 'the TLS handshake',
  http: '',
};

const RESET_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENETRESET',
  'ANSWER_BROKE_OFF',
]);

/** Readable text of an error body: HTML reduced to its words, controls and escapes gone, cut short. */
export function excerptOf(text: string, limit = EXCERPT_CHARS, secrets: readonly string[] = []): string {
  let plain = text;
  if (/<\/?[a-z][^>]*>/i.test(plain)) {
    plain = plain
      .replace(/<head[\s\S]*?<\/head>/gi, ' ')
      .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/&nbsp;/g, ' ')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  }
  plain = serverText(plain, secrets);
  return plain.length > limit ? `${plain.slice(0, limit - 1)}…` : plain;
}

export class SnowflakeClient {
  private jwt?: { token: string; mintedAt: number };
  private skewSeconds?: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  /** `host[:port]` of the base URL, for messages. */
  readonly host: string;
  /** The fleet's pause total when this client began (its deadline moves by what accrues after). */
  private readonly pausedAtStart: number;

  constructor(private readonly options: ClientOptions) {
    this.pausedAtStart = options.pausedBase ?? options.throttle?.pausedMs() ?? 0;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = options.random ?? Math.random;
    this.host = new URL(options.baseUrl).host;
  }

  /** The same client (credential, role, host) with another deadline. */
  withDeadline(deadline: number): SnowflakeClient {
    return new SnowflakeClient({ ...this.options, deadline });
  }

  /** The same credential with its own deadline and a fleet's shared rate-limit gate. */
  forFleet(deadline: number, throttle: Throttle, pausedBase: number): SnowflakeClient {
    return new SnowflakeClient({ ...this.options, deadline, throttle, pausedBase });
  }

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  get identity(): Identity {
    return this.options.identity;
  }

  /** Local clock minus the server's `Date`, in seconds, once a response told us (else undefined). */
  get clockSkewSeconds(): number | undefined {
    return this.skewSeconds;
  }

  /**
   * Runs one statement and returns its rows. Retries 429/500/502/503/504 and connection resets with
   * the same requestId plus `retry=true` until the deadline; DNS failures, refused connections and
   * TLS failures stop at once.
   */
  async execute(statement: string): Promise<StatementResult> {
    const requestId = randomUUID();
    const body = JSON.stringify({
      statement,
      timeout: 60,
      ...(this.options.role ? { role: this.options.role } : {}),
      ...(this.options.warehouse ? { warehouse: this.options.warehouse } : {}),
    });
    let lastFailure = '';
    for (let attempt = 0; ; attempt++) {
      const url = `${this.options.baseUrl}/api/v2/statements?requestId=${requestId}${attempt > 0 ? '&retry=true' : ''}`;
      await this.options.throttle?.waitTurn();
      const outcome = await this.attempt(url, 'POST', body, lastFailure);
      if (outcome.kind === 'answer') {
        const retryAfter = this.retryAfterMs(outcome.response);
        if (!RETRY_STATUS.has(outcome.response.status)) return this.handle(outcome.response, outcome.text, requestId);
        lastFailure = this.describeStatus(outcome.response, outcome.text);
        if (outcome.response.status === 429 && this.options.throttle) {
          await this.rateLimited(attempt, lastFailure, retryAfter);
          continue;
        }
        await this.backoff(attempt, lastFailure, retryAfter);
      } else {
        if (!outcome.failure.retry) throw outcome.failure.error;
        lastFailure = outcome.failure.describe;
        await this.backoff(attempt, lastFailure);
      }
    }
  }

  private headers(method: 'GET' | 'POST', gzip = false): Record<string, string> {
    return {
      ...(gzip ? { 'Accept-Encoding': 'gzip' } : {}),
      Authorization: `Bearer ${this.token()}`,
      'X-Snowflake-Authorization-Token-Type': TOKEN_TYPE[this.options.credential.kind],
      ...(method === 'POST' ? { 'Content-Type': 'application/json' } : {}),
      Accept: 'application/json',
      'User-Agent': `sfauth/${VERSION}`,
    };
  }

  /** The bearer token; a key-pair JWT is minted once per batch of requests and renewed well before expiry. */
  private token(): string {
    const cred = this.options.credential;
    if (cred.kind !== 'keypair') return cred.token;
    const now = this.options.now();
    if (!this.jwt || now - this.jwt.mintedAt > JWT_REISSUE_AFTER_MS) {
      const minted = mintJwt({
        account: cred.account,
        user: cred.user,
        privateKey: cred.privateKey,
        fingerprint: cred.fingerprint,
        issuedAt: Math.floor(now / 1000),
        lifetimeSeconds: JWT_LIFETIME_SECONDS,
      });
      this.jwt = { token: minted.token, mintedAt: now };
    }
    return this.jwt.token;
  }

  /** Time this client spent in the rate-limit stops of its fleet and in its own. */
  private rateLimitedMs = 0;

  private remaining(): number {
    const paused = (this.options.throttle?.pausedMs() ?? 0) - this.pausedAtStart;
    return this.options.deadline + paused - this.options.now();
  }

  /**
   * A 429 in a fleet: everyone pauses (Retry-After, else the backoff), and the pause is not counted
   * against the deadline. Only a rate limit that lasts longer than RATE_LIMIT_CAP_MS for one
   * statement gives up.
   */
  private async rateLimited(attempt: number, lastFailure: string, retryAfterMs?: number): Promise<void> {
    const cap = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
    const delay = Math.max(retryAfterMs ?? 0, Math.round(cap / 2 + this.random() * (cap / 2)));
    this.rateLimitedMs += delay;
    if (this.rateLimitedMs > RATE_LIMIT_CAP_MS) throw this.timeoutError(`${lastFailure}, rate-limited for over ${formatDuration(RATE_LIMIT_CAP_MS / 1000)}`);
    this.options.throttle!.slowDown(delay);
    await this.options.throttle!.waitTurn();
  }

  private timeoutError(lastFailure: string, timeout?: RequestTimeoutError): ServiceError {
    const waiting = timeout ? WAITING_FOR[timeout.stage] : '';
    const proxy = timeout?.stage === 'proxy' && timeout.proxy ? ` ${timeout.proxy.display} (from ${timeout.proxy.variable})` : '';
    const what = waiting ? `, waiting for ${waiting.replace('the proxy', `the proxy${proxy}`)}` : '';
    return new ServiceError(
      'ERR_TIMEOUT',
      lastFailure
        ? `no successful answer from ${this.host} within ${this.options.timeoutLabel}${what} (last: ${lastFailure})`
        : `no answer from ${this.host} within ${this.options.timeoutLabel}${what}`,
      {
        hint:
          timeout?.stage === 'proxy' && timeout.proxy
            ? `the proxy did not answer; check ${timeout.proxy.variable}, or allow more time with --timeout`
            : 'Snowflake or the network may be slow or down; try again, or allow more time with --timeout',
        data: { host: this.host, timeout: this.options.timeoutLabel, ...(lastFailure ? { lastFailure } : {}), ...(timeout ? { stage: timeout.stage } : {}) },
      },
    );
  }

  /** Waits before the next try, inside the deadline; gives up (timeout error) when no useful try fits. */
  private async backoff(attempt: number, lastFailure: string, retryAfterMs?: number): Promise<void> {
    const cap = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
    let delay = Math.round(cap / 2 + this.random() * (cap / 2));
    const left = this.remaining();
    if (retryAfterMs !== undefined) {
      // The server said when: waiting less is pointless, waiting past the deadline too.
      if (retryAfterMs > left - MIN_ATTEMPT_MS) throw this.timeoutError(`${lastFailure}, Retry-After ${formatDuration(retryAfterMs / 1000)}`);
      delay = Math.max(delay, retryAfterMs);
    }
    delay = Math.min(delay, left - MIN_ATTEMPT_MS);
    if (delay < 0) throw this.timeoutError(lastFailure);
    await this.sleep(delay);
  }

  private retryAfterMs(response: HttpAnswer): number | undefined {
    if (response.status !== 429 && response.status !== 503) return undefined;
    const value = response.header('retry-after')?.trim();
    if (!value) return undefined;
    if (/^\d+$/.test(value)) return Number(value) * 1000;
    const at = Date.parse(value);
    return Number.isNaN(at) ? undefined : Math.max(0, at - this.options.now());
  }

  /** "HTTP 503 Service Unavailable: "…"" for a retried answer. */
  private describeStatus(response: HttpAnswer, text: string): string {
    let detail = '';
    try {
      const json = JSON.parse(text) as { message?: unknown; code?: unknown };
      if (json && typeof json.message === 'string') detail = this.excerpt(json.message);
    } catch {
      detail = this.excerpt(text);
    }
    const statusText = this.said(response.statusText, 60);
    const reason = statusText ? ` ${statusText}` : '';
    return `HTTP ${response.status}${reason}${detail && detail !== statusText ? `: "${detail}"` : ''}`;
  }

  /**
   * One HTTP exchange, body included, so a connection that breaks mid-body is retried like a reset.
   * Network failures come back as a Failure, never thrown raw. Error bodies are read only in part.
   */
  private async attempt(url: string, method: 'GET' | 'POST', body: string | undefined, lastFailure: string, gzip = false): Promise<Attempt> {
    const left = this.remaining();
    if (left <= 0) throw this.timeoutError(lastFailure);
    let response: HttpAnswer;
    try {
      response = await this.options.transport.request({
        url,
        method,
        headers: this.headers(method, gzip),
        body,
        timeoutMs: Math.min(left, MAX_TIMER_MS),
        limitFor: (status) => (status === 200 ? ANSWER_CAP : EXCERPT_READ_LIMIT),
      });
    } catch (err) {
      return { kind: 'failure', failure: this.classify(err, lastFailure) };
    }
    this.checkSkew(response);
    if (response.overflow && response.status === 200) {
      const error = new ServiceError('ERR_BAD_RESPONSE', `unexpected answer from ${this.host}: the result is larger than ${ANSWER_CAP / 1024 / 1024} MiB`, {
        hint: 'no answer sfauth asks for is that large; a proxy or the wrong host may be answering (check --host / the account identifier)',
        data: { host: this.host, limitBytes: ANSWER_CAP },
      });
      return { kind: 'failure', failure: { retry: false, describe: 'answer too large', error } };
    }
    return { kind: 'answer', response, text: response.text };
  }

  private classify(err: unknown, lastFailure: string): Failure {
    if (isSfauthError(err)) return { retry: false, describe: err.code, error: err };
    if (err instanceof RequestTimeoutError) {
      return { retry: false, describe: 'timeout', error: this.timeoutError(lastFailure, err) };
    }
    const name = (err as { name?: unknown })?.name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return { retry: false, describe: 'timeout', error: this.timeoutError(lastFailure) };
    }
    if (err instanceof NetworkError && err.hop === 'proxy' && err.proxy) return { retry: false, describe: 'proxy', error: this.proxyError(err) };
    const { code, message } = networkCode(err);
    const viaProxy = err instanceof NetworkError && err.proxy ? ` through the proxy ${err.proxy.display} (${err.proxy.variable})` : '';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL' || code === 'EAI_NODATA') {
      return {
        retry: false,
        describe: 'DNS',
        error: new ServiceError('ERR_DNS', `cannot resolve ${new URL(this.options.baseUrl).hostname} (${code})`, {
          hint: 'check the account identifier (--account) or --host, and your DNS / network; behind a proxy, set HTTPS_PROXY',
          data: { host: this.host, cause: code, stage: 'dns' },
        }),
      };
    }
    if (code === 'ECONNREFUSED') {
      return {
        retry: false,
        describe: 'refused',
        error: new ServiceError('ERR_CONNECTION_REFUSED', `connection to ${this.host} refused`, {
          hint: 'check --host / the account identifier and firewalls; behind a proxy, set HTTPS_PROXY',
          data: { host: this.host, cause: code, stage: 'tcp' },
        }),
      };
    }
    if (code && RESET_CODES.has(code)) {
      return { retry: true, describe: code === 'ANSWER_BROKE_OFF' ? 'the answer broke off' : `connection reset (${code})` };
    }
    const tlsHint = viaProxy
      ? `the proxy ${(err as NetworkError).proxy!.display} may be inspecting TLS: set NODE_EXTRA_CA_CERTS to a file with its CA certificate (PEM)`
      : 'a proxy or firewall may be intercepting TLS: set NODE_EXTRA_CA_CERTS to a file with its CA certificate (PEM), or check --host';
    if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME_MISMATCH|ALTNAME/.test(code)) {
      return {
        retry: false,
        describe: 'TLS',
        error: new ServiceError('ERR_TLS', `TLS certificate of ${this.host} not trusted${viaProxy} (${code})`, {
          hint: tlsHint,
          data: { host: this.host, cause: code, stage: 'tls' },
        }),
      };
    }
    if (code && /^ERR_SSL_|^EPROTO$|TLS/.test(code)) {
      return {
        retry: false,
        describe: 'TLS',
        error: new ServiceError('ERR_TLS', `TLS handshake with ${this.host} failed${viaProxy} (${code})`, {
          hint: 'the server does not speak https on that port; check --host (a plain-http test server on loopback needs http://)',
          data: { host: this.host, cause: code, stage: 'tls' },
        }),
      };
    }
    if (code && /^HPE_/.test(code)) {
      return {
        retry: false,
        describe: 'not HTTP',
        error: new ServiceError('ERR_BAD_RESPONSE', `unexpected answer from ${this.host}: not a valid HTTP answer (${code})`, {
          hint: 'a proxy or the wrong host may be answering; check --host / the account identifier',
          data: { host: this.host, cause: code, stage: 'http' },
        }),
      };
    }
    // Anything else (a bad port, an unreachable network…) does not heal by waiting.
    const why = this.excerpt(code ?? message ?? 'unknown error', 80);
    return {
      retry: false,
      describe: why,
      error: new ServiceError('ERR_NETWORK', `cannot reach ${this.host}${viaProxy}: ${why}`, {
        hint: 'check --host / the account identifier and the network (proxy, VPN, firewall)',
        data: { host: this.host, ...(code ? { cause: code } : {}), ...(err instanceof NetworkError ? { stage: err.stage } : {}) },
      }),
    };
  }

  /** The proxy failed us: it is unreachable, wants credentials, or will not open the tunnel. */
  private proxyError(err: NetworkError): ServiceError {
    const proxy = err.proxy!;
    const named = `the proxy ${proxy.display} (from ${proxy.variable})`;
    const data = { host: this.host, proxy: proxy.display, variable: proxy.variable, stage: err.stage, ...(err.code ? { cause: err.code } : {}) };
    if (err.code === 'PROXY_REFUSED') {
      const status = err.status!;
      const reason = this.said(err.reason ?? '', 60);
      const hint =
        status === 407
          ? proxy.authorization
            ? `the proxy refused the user and password in ${proxy.variable}; check them (percent-encode special characters: http://user:p%40ss@host:port)`
            : `the proxy wants credentials: put them in ${proxy.variable} as http://user:password@host:port (percent-encode special characters)`
          : status === 403
            ? `the proxy does not allow ${this.host}; ask for *.snowflakecomputing.com to be allowed, or list the host in NO_PROXY if it needs no proxy`
            : `the proxy could not reach ${this.host}; check --host / the account identifier, or ${proxy.variable}`;
      return new ServiceError('ERR_PROXY', `${named} refused the tunnel to ${this.host}: HTTP ${status}${reason ? ` ${reason}` : ''}`, {
        hint,
        data: { ...data, status },
      });
    }
    const { code, message } = networkCode(err);
    const why =
      code === 'ECONNREFUSED'
        ? 'connection refused'
        : code && /^E(NOTFOUND|AI_)/.test(code)
          ? `its host name does not resolve (${code})`
          : this.excerpt(code ?? message ?? 'unknown error', 80);
    return new ServiceError('ERR_PROXY', `cannot use ${named}: ${why}`, {
      hint: `check ${proxy.variable}, or unset it (or list ${new URL(this.options.baseUrl).hostname} in NO_PROXY) to connect directly`,
      data,
    });
  }

  /** The credential in use, to be cut out of anything the server (or the network stack) says back. */
  private secrets(): string[] {
    const cred = this.options.credential;
    return [cred.kind === 'keypair' ? this.jwt?.token : cred.token].filter((t): t is string => Boolean(t));
  }

  /** A server's string (message, code) made safe: one line, no controls, no credentials, at most `limit` long. */
  private said(text: string, limit: number): string {
    const safe = serverText(text, this.secrets());
    return safe.length > limit ? `${safe.slice(0, limit - 1)}…` : safe;
  }

  /** Untrusted text (a server's or the network stack's) as a short, safe excerpt without credentials. */
  private excerpt(text: string, limit = EXCERPT_CHARS): string {
    return excerptOf(text, limit, this.secrets());
  }

  /** Warns once when the server's `Date` is more than a minute away from the local clock. */
  private checkSkew(response: HttpAnswer): void {
    if (this.skewSeconds !== undefined) return;
    const date = response.header('date');
    if (!date) return;
    const serverMs = Date.parse(date);
    if (Number.isNaN(serverMs)) return;
    // `Date` has whole seconds (truncated): half a second is the best guess of what was cut.
    const skew = Math.round((this.options.now() - serverMs - 500) / 1000);
    this.skewSeconds = skew;
    if (Math.abs(skew) > SKEW_WARN_SECONDS) {
      this.options.warn(
        `this machine's clock is ${formatDuration(skew)} ${skew > 0 ? 'ahead of' : 'behind'} Snowflake's (server Date: ${new Date(serverMs).toISOString()}); key-pair tokens may be refused (394302/394303). Sync the clock (NTP).`,
      );
    }
  }

  private unexpected(response: HttpAnswer, text: string, why: string): ServiceError {
    const type = plainLine((response.header('content-type') ?? 'no content type').split(';')[0]!).slice(0, 80);
    const location = response.status >= 300 && response.status < 400 ? (response.header('location') ?? null) : null;
    const excerpt = this.excerpt(text);
    const reason = location ? `redirected to ${this.excerpt(location, 200)}` : why;
    return new ServiceError(
      'ERR_BAD_RESPONSE',
      `unexpected answer from ${this.host}: HTTP ${response.status} (${type}), ${reason}${excerpt && !location ? `: "${excerpt}"` : ''}`,
      {
        hint: location
          ? 'give --host the final address (the SQL API does not redirect), or check the account identifier'
          : 'a proxy or the wrong host may be answering; check --host / the account identifier',
        data: { host: this.host, status: response.status, contentType: type },
      },
    );
  }

  private async handle(response: HttpAnswer, text: string, requestId: string): Promise<StatementResult> {
    const json = parseJson(text);
    const status = response.status;
    if (status === 200) return this.withPartitions(this.toResult(response, text, json, requestId), json, response, text);
    if (status === 202) {
      const handle = (json as { statementHandle?: unknown } | undefined)?.statementHandle;
      if (typeof handle !== 'string' || handle === '') throw this.unexpected(response, text, 'a 202 without a statementHandle');
      return this.poll(handle, requestId);
    }
    const err = json && typeof json === 'object' ? (json as { code?: unknown; message?: unknown; sqlState?: unknown }) : undefined;
    const rawCode = typeof err?.code === 'string' ? err.code : typeof err?.code === 'number' ? String(err.code) : undefined;
    const code = rawCode === undefined ? undefined : this.said(rawCode, 40) || undefined;
    const message = typeof err?.message === 'string' ? this.said(err.message, 2000) || undefined : undefined;
    if (status === 401 || status === 403) {
      if (!message) throw this.unexpected(response, text, 'authentication refused without a Snowflake error body');
      throw this.authRefused(code, message);
    }
    if (status === 422 && message) {
      const sqlState = typeof err?.sqlState === 'string' ? this.said(err.sqlState, 20) : undefined;
      throw new CheckFailedError('ERR_STATEMENT_FAILED', `Snowflake refused the statement: ${message}${code ? ` (${code})` : ''}`, {
        hint: statementHint(code),
        data: { code, sqlState },
      });
    }
    throw this.unexpected(response, text, message ? `${message}${code ? ` (code ${code})` : ''}` : 'not a Snowflake answer');
  }

  /**
   * The likeliest fix for a refused login. A key-pair token is judged by Snowflake's clock, so a clock
   * off by more than a minute explains an "expired" or "issue time" refusal better than the code's own
   * words; and a generic 390144 may be a named pair's role restriction, which the request's role must meet.
   */
  private refusalHint(code: string | undefined): string {
    if (this.options.credential.kind !== 'keypair') return authHint(code);
    const skew = this.skewSeconds;
    if (skew !== undefined && Math.abs(skew) > SKEW_WARN_SECONDS) {
      return `this machine's clock is ${formatDuration(Math.abs(skew))} ${skew > 0 ? 'ahead of' : 'behind'} Snowflake's, and tokens are judged by Snowflake's clock: sync it (NTP)`;
    }
    if (code === '390144' || code === undefined) {
      return `${authHint(code)}; a named key pair with a role restriction authenticates only with that role (--role ROLE; this request asked for ${this.options.role ? `role ${this.options.role}` : 'the default role'})`;
    }
    return authHint(code);
  }

  /**
   * One unauthenticated GET of the base URL, without a credential: proves DNS, TCP, proxy and TLS and
   * reads the server's clock when no login can be tried (doctor with a key it could not open). Any
   * HTTP answer is a success; nothing is retried.
   */
  async reach(): Promise<void> {
    const left = this.remaining();
    try {
      const response = await this.options.transport.request({
        url: `${this.options.baseUrl}/`,
        method: 'GET',
        headers: { Accept: 'application/json', 'User-Agent': `sfauth/${VERSION}` },
        timeoutMs: Math.min(Math.max(left, 1), MAX_TIMER_MS),
        limitFor: () => EXCERPT_READ_LIMIT,
      });
      this.checkSkew(response);
    } catch (err) {
      const failure = this.classify(err, '');
      throw failure.error ?? new ServiceError('ERR_NETWORK', `the connection to ${this.host} broke: ${failure.describe}`, { hint: 'try again; check the network', data: { host: this.host, stage: 'http' } });
    }
  }

  private authRefused(code: string | undefined, message: string): CheckFailedError {
    const id = this.options.identity;
    const details: string[] = [];
    if (id.account) details.push(`account     ${id.account}`);
    if (id.user) details.push(`user        ${id.user}`);
    if (id.fingerprint) details.push(`fingerprint ${id.fingerprint}`);
    details.push(`auth        ${id.authMethod}`, `host        ${this.host}`);
    if (this.skewSeconds !== undefined && Math.abs(this.skewSeconds) > SKEW_WARN_SECONDS) {
      details.push(`clock       ${formatDuration(this.skewSeconds)} ${this.skewSeconds > 0 ? 'ahead of' : 'behind'} Snowflake's`);
    }
    const uuid = loginFailureUuid(message);
    if (uuid && code === '390144') {
      details.push(`an admin can see the precise reason with: SELECT SYSTEM$GET_LOGIN_FAILURE_DETAILS('${uuid}');`);
    }
    return new CheckFailedError('ERR_AUTH_REFUSED', `authentication refused: ${message}${code ? ` (${code})` : ''}`, {
      details,
      hint: this.refusalHint(code),
      data: {
        code,
        ...(id.account ? { account: id.account } : {}),
        ...(id.user ? { user: id.user } : {}),
        ...(id.fingerprint ? { fingerprint: id.fingerprint } : {}),
        authMethod: id.authMethod,
        host: this.host,
        ...(uuid ? { loginFailureId: uuid } : {}),
      },
    });
  }

  private cleanCell(cell: string, secrets: readonly string[]): string {
    let value = plainText(cell);
    for (const secret of secrets) value = value.split(secret).join('<redacted>');
    return value;
  }

  private toResult(response: HttpAnswer, text: string, json: unknown, requestId: string): StatementResult {
    if (json === undefined || json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw this.unexpected(response, text, 'the body is not JSON');
    }
    const body = json as { resultSetMetaData?: { rowType?: unknown }; data?: unknown; statementHandle?: unknown };
    const rowType = body.resultSetMetaData?.rowType;
    if (!Array.isArray(rowType) || !rowType.every((c) => c && typeof (c as { name?: unknown }).name === 'string')) {
      throw this.unexpected(response, text, 'resultSetMetaData.rowType is missing');
    }
    const data = body.data ?? [];
    if (!Array.isArray(data) || !data.every((row) => Array.isArray(row) && row.every((cell) => cell === null || typeof cell === 'string'))) {
      throw this.unexpected(response, text, 'data is not rows of strings');
    }
    // Cell values reach the terminal (CURRENT_USER(), DESC USER values): no escapes, no controls, and
    // never the bearer token in use, whatever the server puts there.
    const secrets = this.secrets();
    const clean = (cell: string) => this.cleanCell(cell, secrets);
    return {
      requestId,
      statementHandle: typeof body.statementHandle === 'string' ? body.statementHandle : undefined,
      columns: rowType.map((c) => plainLine((c as { name: string }).name)),
      rows: (data as (string | null)[][]).map((row) => row.map((cell) => (cell === null ? null : clean(cell)))),
    };
  }

  /**
   * A result too large for one answer comes in partitions (sqlapi.yaml `ResultSet.resultSetMetaData.
   * partitionInfo`): partition 0 is inline, the others are `GET /api/v2/statements/{handle}?partition=N`,
   * fetched a few at a time (gzip welcome), each retried like a statement, inside the same deadline.
   */
  private async withPartitions(first: StatementResult, json: unknown, response: HttpAnswer, text: string): Promise<StatementResult> {
    const info = (json as { resultSetMetaData?: { partitionInfo?: unknown } }).resultSetMetaData?.partitionInfo;
    if (!Array.isArray(info) || info.length <= 1) return first;
    if (info.length > MAX_PARTITIONS) throw this.unexpected(response, text, `${info.length} result partitions (at most ${MAX_PARTITIONS} are read)`);
    if (!first.statementHandle) throw this.unexpected(response, text, 'a partitioned result without a statementHandle');
    const url = (n: number) => `${this.options.baseUrl}/api/v2/statements/${encodeURIComponent(first.statementHandle!)}?partition=${n}`;
    const parts: (string | null)[][][] = [];
    for (let n = 1; n < info.length; n += PARTITIONS_AT_ONCE) {
      const batch = Array.from({ length: Math.min(PARTITIONS_AT_ONCE, info.length - n) }, (_, i) => this.partition(url(n + i), first.columns.length));
      parts.push(...(await Promise.all(batch)));
    }
    const rows = first.rows.concat(...parts);
    if (rows.length > MAX_ROWS) throw this.unexpected(response, text, `more than ${MAX_ROWS} rows`);
    return { ...first, rows };
  }

  /** One partition's rows (its answer carries `data`; the metadata came with partition 0). */
  private async partition(url: string, width: number): Promise<(string | null)[][]> {
    let lastFailure = '';
    for (let attempt = 0; ; attempt++) {
      await this.options.throttle?.waitTurn();
      const outcome = await this.attempt(url, 'GET', undefined, lastFailure, true);
      if (outcome.kind === 'failure') {
        if (!outcome.failure.retry) throw outcome.failure.error;
        lastFailure = outcome.failure.describe;
        await this.backoff(attempt, lastFailure);
        continue;
      }
      const { response, text } = outcome;
      if (RETRY_STATUS.has(response.status)) {
        lastFailure = this.describeStatus(response, text);
        if (response.status === 429 && this.options.throttle) await this.rateLimited(attempt, lastFailure, this.retryAfterMs(response));
        else await this.backoff(attempt, lastFailure, this.retryAfterMs(response));
        continue;
      }
      if (response.status !== 200) return (await this.handle(response, text, '')).rows;
      const data = (parseJson(text) as { data?: unknown } | undefined)?.data;
      if (!Array.isArray(data) || !data.every((row) => Array.isArray(row) && row.length === width && row.every((cell) => cell === null || typeof cell === 'string'))) {
        throw this.unexpected(response, text, `partition data is not rows of ${width} strings`);
      }
      const secrets = this.secrets();
      return (data as (string | null)[][]).map((row) => row.map((cell) => (cell === null ? null : this.cleanCell(cell, secrets))));
    }
  }

  /** A 202 means "still running": poll its handle until 200, inside the same deadline. */
  private async poll(handle: string, requestId: string): Promise<StatementResult> {
    const url = `${this.options.baseUrl}/api/v2/statements/${encodeURIComponent(handle)}`;
    let lastFailure = 'statement still running';
    for (let attempt = 0; ; attempt++) {
      // The whole --timeout is used: the last poll lands at the deadline (less one attempt's time),
      // not a whole poll interval before it.
      const left = this.remaining() - MIN_ATTEMPT_MS;
      if (left <= 0) throw this.timeoutError(lastFailure);
      await this.sleep(Math.min(left, POLL_CAP_MS, Math.round(POLL_FIRST_MS * 1.5 ** Math.min(attempt, 16))));
      const outcome = await this.attempt(url, 'GET', undefined, lastFailure);
      if (outcome.kind === 'failure') {
        if (!outcome.failure.retry) throw outcome.failure.error;
        lastFailure = outcome.failure.describe;
        continue;
      }
      const { response, text } = outcome;
      if (response.status === 202) {
        lastFailure = 'statement still running';
        continue;
      }
      if (RETRY_STATUS.has(response.status)) {
        lastFailure = this.describeStatus(response, text);
        continue;
      }
      return this.handle(response, text, requestId);
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function statementHint(code: string | undefined): string {
  switch (code) {
    case '002003':
      return 'check the user name; the role in use needs OWNERSHIP (or MODIFY PROGRAMMATIC AUTHENTICATION METHODS) on the user to see or change its keys (--role)';
    case '003001':
      return 'the role in use lacks the privilege: changing a key needs OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on the user (--role)';
    case '390189':
      return 'the role is not granted to this user; pass a granted role with --role (or SNOWFLAKE_ROLE), or leave it out to use the default role';
    default:
      return 'check the role in use (--role) and its privileges';
  }
}
