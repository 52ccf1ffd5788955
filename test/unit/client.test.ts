/**
 * SnowflakeClient (src/snowflake/client.ts) against the in-process emulator over real HTTP. Backoff
 * sleeps are injected (recorded, not waited) and, where a deadline matters, the clock is virtual:
 * `sleep` moves it forward, so "30 s of retries" takes milliseconds.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { startEmulator, type Emulator } from '../support/emulator.js';
import { SnowflakeClient, excerptOf, recordsOf, type ClientOptions, type Credential, type Identity } from '../../src/snowflake/client.js';
import { HttpTransport, NetworkError, type HttpAnswer, type HttpRequest, type Transport } from '../../src/snowflake/http.js';
import { fingerprintOf } from '../../src/core/fingerprint.js';
import { isSfauthError, type SfauthError } from '../../src/errors.js';

const WHOAMI = 'SELECT CURRENT_ACCOUNT(), CURRENT_USER(), CURRENT_ROLE()';
const PAT = 'pat-secret-Zq81vK2m';
const OAUTH = 'oauth-secret-Lx09pQ3n';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let sf: Emulator;
let rsa: { privateKey: KeyObject; publicKey: KeyObject };
let other: { privateKey: KeyObject; publicKey: KeyObject };
let ec: { privateKey: KeyObject; publicKey: KeyObject };

beforeAll(async () => {
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  sf = await startEmulator();
  sf.addUser('alice', { rsaPublicKey: rsa.publicKey, rsaPublicKey2: ec.publicKey, roles: ['LOADER'] });
  sf.addPat(PAT, 'alice');
  sf.addOAuthToken(OAUTH, 'alice');
  sf.addOAuthToken('oauth-expired-secret', 'alice', { expired: true });
});

afterAll(async () => {
  await sf.close();
});

afterEach(() => {
  sf.reset();
  sf.setClockSkew(0);
  sf.setJwtErrors('specific');
});

function keypair(key = rsa, user = 'alice', account = 'myorg-myaccount'): { credential: Credential; identity: Identity } {
  const fingerprint = fingerprintOf(key.publicKey);
  return {
    credential: { kind: 'keypair', privateKey: key.privateKey, account, user, fingerprint },
    identity: { account: account.toUpperCase(), user: user.toUpperCase(), fingerprint, authMethod: 'key pair (RS256)' },
  };
}

interface Harness {
  client: SnowflakeClient;
  sleeps: number[];
  warnings: string[];
  /** Virtual ms elapsed through sleeps. */
  elapsed(): number;
  fetchCalls(): number;
}

/** A transport that answers from a function instead of the network. */
function fakeTransport(answer: (req: HttpRequest) => Partial<HttpAnswer> & { headers?: Record<string, string> }): Transport {
  return {
    connections: [],
    close() {},
    async request(req) {
      const { headers = {}, ...rest } = answer(req);
      const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
      return { status: 200, statusText: '', text: '', overflow: false, header: (name) => lower[name.toLowerCase()], ...rest };
    },
  };
}

const transports: HttpTransport[] = [];
afterAll(() => transports.forEach((t) => t.close()));

function makeHarness(overrides: Partial<ClientOptions> & { timeoutMs?: number } = {}): Harness {
  const sleeps: number[] = [];
  const warnings: string[] = [];
  let offset = 0;
  let calls = 0;
  const start = Date.now();
  const now = overrides.now ?? (() => Date.now() + offset);
  const { timeoutMs = 30_000, ...rest } = overrides;
  const base = overrides.transport ?? (transports[transports.push(new HttpTransport({})) - 1] as Transport);
  const client = new SnowflakeClient({
    baseUrl: sf.url,
    ...keypair(),
    deadline: start + timeoutMs,
    timeoutLabel: `${timeoutMs / 1000}s`,
    now,
    warn: (m) => warnings.push(m),
    sleep: async (ms) => {
      sleeps.push(ms);
      offset += ms;
    },
    random: () => 0.5,
    ...rest,
    transport: {
      connections: base.connections,
      close: () => base.close(),
      request: (req) => {
        calls++;
        return base.request(req);
      },
    },
  });
  return { client, sleeps, warnings, elapsed: () => offset, fetchCalls: () => calls };
}

async function failure(promise: Promise<unknown>): Promise<SfauthError> {
  try {
    await promise;
  } catch (err) {
    if (isSfauthError(err)) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

function noSecrets(err: SfauthError, ...secrets: string[]): void {
  const text = JSON.stringify({ message: err.message, details: err.details, hint: err.hint, data: err.data });
  for (const s of secrets) expect(text).not.toContain(s);
  expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // no JWT
}

describe('requests', () => {
  it('sends the documented headers, a UUID requestId and the statement body; maps rows by rowType', async () => {
    const { client } = makeHarness();
    const result = await client.execute(WHOAMI);
    expect(result.columns).toEqual(['CURRENT_ACCOUNT()', 'CURRENT_USER()', 'CURRENT_ROLE()']);
    expect(result.rows).toEqual([['MYORG-MYACCOUNT', 'ALICE', 'PUBLIC']]);
    expect(recordsOf(result)).toEqual([{ 'CURRENT_ACCOUNT()': 'MYORG-MYACCOUNT', 'CURRENT_USER()': 'ALICE', 'CURRENT_ROLE()': 'PUBLIC' }]);
    expect(result.requestId).toMatch(UUID_RE);
    expect(result.statementHandle).toMatch(UUID_RE);

    const [req] = sf.requests;
    expect(req!.method).toBe('POST');
    expect(req!.path).toBe('/api/v2/statements');
    expect(req!.query).toEqual({ requestId: result.requestId });
    expect(req!.headers['authorization']).toMatch(/^Bearer eyJ/);
    expect(req!.headers['x-snowflake-authorization-token-type']).toBe('KEYPAIR_JWT');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['accept']).toBe('application/json');
    expect(req!.headers['user-agent']).toMatch(/^sfauth\/\S+$/);
    expect(req!.body).toEqual({ statement: WHOAMI, timeout: 60 });
    expect(req!.authOutcome).toBe('ok');
    expect(req!.jwt?.payload).toMatchObject({ sub: 'MYORG-MYACCOUNT.ALICE', iss: `MYORG-MYACCOUNT.ALICE.${fingerprintOf(rsa.publicKey)}` });
  });

  it('passes role and warehouse in the body when given', async () => {
    const { client } = makeHarness({ role: 'loader', warehouse: 'COMPUTE_WH' });
    const result = await client.execute('SELECT CURRENT_ROLE() AS R, CURRENT_WAREHOUSE()');
    expect(recordsOf(result)).toEqual([{ R: 'LOADER', 'CURRENT_WAREHOUSE()': 'COMPUTE_WH' }]);
    expect(sf.requests[0]!.body).toEqual({ statement: 'SELECT CURRENT_ROLE() AS R, CURRENT_WAREHOUSE()', timeout: 60, role: 'loader', warehouse: 'COMPUTE_WH' });
  });

  it('signs with EC keys too (ES256)', async () => {
    const { client } = makeHarness(keypair(ec));
    await client.execute(WHOAMI);
    expect(sf.requests[0]!.jwt?.header).toEqual({ alg: 'ES256', typ: 'JWT' });
  });

  it('sends OAuth tokens and PATs with their token type', async () => {
    for (const [credential, type] of [
      [{ kind: 'oauth', token: OAUTH }, 'OAUTH'],
      [{ kind: 'pat', token: PAT }, 'PROGRAMMATIC_ACCESS_TOKEN'],
    ] as const) {
      sf.reset();
      const { client } = makeHarness({ credential, identity: { authMethod: type } });
      const result = await client.execute(WHOAMI);
      expect(result.rows[0]![1]).toBe('ALICE');
      expect(sf.requests[0]!.headers['x-snowflake-authorization-token-type']).toBe(type);
      expect(sf.requests[0]!.headers['authorization']).toBe(`Bearer ${credential.token}`);
    }
  });

  it('mints one JWT for a batch of statements and a new one after 50 minutes', async () => {
    const auths: string[] = [];
    let clock = Date.now();
    const transport = fakeTransport((req) => {
      auths.push(req.headers['Authorization']!);
      return { text: JSON.stringify({ resultSetMetaData: { rowType: [{ name: 'X' }] }, data: [['1']] }), headers: { 'content-type': 'application/json' } };
    });
    const { client } = makeHarness({ transport, now: () => clock, deadline: clock + 10 * 3600_000 });
    await client.execute('SELECT 1');
    await client.execute('SELECT 1');
    clock += 51 * 60_000;
    await client.execute('SELECT 1');
    expect(auths[0]).toBe(auths[1]);
    expect(auths[2]).not.toBe(auths[0]);
  });
});

describe('retries', () => {
  it('retries 503 twice with the same requestId plus retry=true, with growing jittered backoff', async () => {
    sf.injectFault({ kind: 'status', status: 503, times: 2 });
    const { client, sleeps } = makeHarness();
    const result = await client.execute(WHOAMI);
    expect(result.rows[0]![1]).toBe('ALICE');
    const ids = sf.requests.map((r) => r.requestId);
    expect(new Set(ids)).toEqual(new Set([result.requestId]));
    expect(sf.requests.map((r) => [r.retry, r.status])).toEqual([
      [false, 503],
      [true, 503],
      [true, 200],
    ]);
    // random() = 0.5: three quarters of the cap (250 ms, then 500 ms)
    expect(sleeps).toEqual([188, 375]);
    // one JWT for the whole batch
    expect(new Set(sf.requests.map((r) => r.headers['authorization'])).size).toBe(1);
  });

  it('jitter stays within [cap/2, cap] and the cap stops at 8 s', async () => {
    sf.injectFault({ kind: 'status', status: 500, times: 8 });
    const lows = makeHarness({ random: () => 0 });
    await lows.client.execute(WHOAMI);
    expect(lows.sleeps).toEqual([125, 250, 500, 1000, 2000, 4000, 4000, 4000]);
    sf.injectFault({ kind: 'status', status: 504, times: 7 });
    const highs = makeHarness({ random: () => 0.999999 });
    await highs.client.execute(WHOAMI);
    expect(highs.sleeps).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000]);
  });

  it('retries every retryable status: 429 500 502 503 504', async () => {
    for (const status of [429, 500, 502, 503, 504] as const) sf.injectFault({ kind: 'status', status });
    const { client } = makeHarness();
    await client.execute(WHOAMI);
    expect(sf.requests.map((r) => r.status)).toEqual([429, 500, 502, 503, 504, 200]);
  });

  it('waits at least what Retry-After says', async () => {
    sf.injectFault({ kind: 'status', status: 429, retryAfterSeconds: 3 });
    const { client, sleeps } = makeHarness();
    await client.execute(WHOAMI);
    expect(sleeps).toEqual([3000]);
  });

  it('gives up at once when Retry-After is past the deadline', async () => {
    sf.injectFault({ kind: 'status', status: 503, retryAfterSeconds: 120 });
    const { client, sleeps } = makeHarness({ timeoutMs: 10_000 });
    const err = await failure(client.execute(WHOAMI));
    expect(err.exitCode).toBe(3);
    expect(err.code).toBe('ERR_TIMEOUT');
    expect(err.message).toContain('HTTP 503');
    expect(err.message).toContain('Retry-After 2m');
    expect(sleeps).toEqual([]);
  });

  it('endless 429: stops inside the deadline with exit 3 naming HTTP 429', async () => {
    sf.injectFault({ kind: 'status', status: 429, times: 1000 });
    const h = makeHarness({ timeoutMs: 30_000 });
    const started = Date.now();
    const err = await failure(h.client.execute(WHOAMI));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.exitCode).toBe(3);
    expect(err.code).toBe('ERR_TIMEOUT');
    expect(err.message).toMatch(/within 30s \(last: HTTP 429 Too Many Requests/);
    expect(h.elapsed()).toBeLessThanOrEqual(30_000);
    expect(h.elapsed()).toBeGreaterThan(25_000); // used the time it had
    expect(sf.requests.length).toBeGreaterThan(5);
    expect(new Set(sf.requests.map((r) => r.requestId)).size).toBe(1);
  });

  it('a reset connection is retried with retry=true', async () => {
    sf.injectFault({ kind: 'reset' });
    const { client } = makeHarness();
    await client.execute(WHOAMI);
    expect(sf.requests.map((r) => [r.retry, r.fault ?? null, r.status ?? null])).toEqual([
      [false, 'reset', null],
      [true, null, 200],
    ]);
  });

  it('drop-after-execute: the statement runs once; the retry is served the remembered answer', async () => {
    sf.injectFault({ kind: 'drop-after-execute' });
    const { client } = makeHarness();
    const result = await client.execute(WHOAMI);
    expect(result.rows[0]![1]).toBe('ALICE');
    expect(sf.executed).toHaveLength(1);
    expect(sf.requests.map((r) => [r.retry, r.executed, r.replayed])).toEqual([
      [false, true, false],
      [true, false, true],
    ]);
    expect(result.statementHandle).toBe(sf.executed[0]!.statementHandle);
  });

  it('an endless HTML 502 page: exit 3 with the status and an excerpt of the page', async () => {
    sf.injectFault({ kind: 'html', status: 502, times: 1000 });
    const { client } = makeHarness({ timeoutMs: 5000 });
    const err = await failure(client.execute(WHOAMI));
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('HTTP 502 Bad Gateway: "502 Bad Gateway nginx"');
    expect(err.message).not.toContain('<');
  });

  it('a hanging server: exit 3 at the deadline, no retry', async () => {
    sf.injectFault({ kind: 'hang' });
    const { client } = makeHarness({ now: () => Date.now(), timeoutMs: 400, timeoutLabel: '400ms' });
    const started = Date.now();
    const err = await failure(client.execute(WHOAMI));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err.exitCode).toBe(3);
    expect(err.code).toBe('ERR_TIMEOUT');
    expect(err.message).toBe(`no answer from ${new URL(sf.url).host} within 400ms`);
    expect(sf.requests).toHaveLength(1);
  });

  it('a hang after retries names the last failure', async () => {
    sf.injectFault({ kind: 'status', status: 503 });
    sf.injectFault({ kind: 'hang' });
    const { client } = makeHarness({ now: () => Date.now(), timeoutMs: 600, sleep: async () => {} });
    const err = await failure(client.execute(WHOAMI));
    expect(err.message).toMatch(/within 0\.6s \(last: HTTP 503 Service Unavailable\)$/);
  });
});

describe('fail fast', () => {
  it('a refused connection: exit 3 after one try', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createNetServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const h = makeHarness({ baseUrl: `http://127.0.0.1:${port}` });
    const err = await failure(h.client.execute(WHOAMI));
    expect(err.exitCode).toBe(3);
    expect(err.code).toBe('ERR_CONNECTION_REFUSED');
    expect(err.message).toBe(`connection to 127.0.0.1:${port} refused`);
    expect(h.fetchCalls()).toBe(1);
    expect(h.sleeps).toEqual([]);
  });

  it('a DNS failure: exit 3 after one try', async () => {
    const transport = fakeTransport(() => {
      throw new NetworkError('getaddrinfo ENOTFOUND nope-nope.snowflakecomputing.com', 'ENOTFOUND', 'dns', undefined, 'target');
    });
    const h = makeHarness({ baseUrl: 'https://nope-nope.snowflakecomputing.com', transport });
    const err = await failure(h.client.execute(WHOAMI));
    expect(err.exitCode).toBe(3);
    expect(err.code).toBe('ERR_DNS');
    expect(err.message).toBe('cannot resolve nope-nope.snowflakecomputing.com (ENOTFOUND)');
    expect(err.hint).toMatch(/--account/);
    expect(h.fetchCalls()).toBe(1);
  });

  it('a TLS failure and an unknown network error: exit 3 after one try', async () => {
    for (const [code, expected] of [
      ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', /TLS certificate of .* not trusted/],
      ['ERR_SSL_WRONG_VERSION_NUMBER', /TLS handshake with .* failed/],
      [undefined, /cannot reach .*: bad port/],
    ] as const) {
      const transport = fakeTransport(() => {
        throw new NetworkError('bad port', code, code?.includes('SSL') || code?.includes('VERIFY') ? 'tls' : 'tcp', undefined, 'target');
      });
      const h = makeHarness({ transport });
      const err = await failure(h.client.execute(WHOAMI));
      expect(err.exitCode).toBe(3);
      expect(err.message).toMatch(expected);
      expect(h.fetchCalls()).toBe(1);
    }
  });

  it('a token fetch refuses as a header value is not quoted back', async () => {
    const token = 'pat-secret-line1\npat-secret-line2';
    const h = makeHarness({ credential: { kind: 'pat', token }, identity: { authMethod: 'PAT' } });
    const err = await failure(h.client.execute(WHOAMI));
    expect(err.exitCode).toBe(3);
    noSecrets(err, 'pat-secret-line1', 'pat-secret-line2');
    expect(sf.requests).toHaveLength(0);
  });

  it('a redirect is not followed (the token stays here); exit 3 naming the target', async () => {
    const server: Server = createServer((_req, res) => {
      res.writeHead(302, { Location: 'https://login.example.com/sso', 'Content-Type': 'text/html' });
      res.end('<a href="https://login.example.com/sso">moved</a>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const h = makeHarness({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, credential: { kind: 'pat', token: PAT }, identity: { authMethod: 'PAT' } });
      const err = await failure(h.client.execute(WHOAMI));
      expect(err.exitCode).toBe(3);
      expect(err.code).toBe('ERR_BAD_RESPONSE');
      expect(err.message).toContain('HTTP 302');
      expect(err.message).toContain('redirected to https://login.example.com/sso');
      expect(h.fetchCalls()).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('malformed answers', () => {
  for (const [kind, why] of [
    ['invalid-json', 'the body is not JSON'],
    ['truncated-json', 'the body is not JSON'],
    ['missing-fields', 'resultSetMetaData.rowType is missing'],
  ] as const) {
    it(`${kind}: exit 3 with the status and an excerpt, no parser message`, async () => {
      sf.injectFault({ kind });
      const { client } = makeHarness();
      const err = await failure(client.execute(WHOAMI));
      expect(err.exitCode).toBe(3);
      expect(err.code).toBe('ERR_BAD_RESPONSE');
      expect(err.message).toContain(`HTTP 200 (application/json), ${why}: "{`);
      expect(err.message).not.toMatch(/Unexpected token|SyntaxError|at position/);
      expect(err.message.length).toBeLessThan(300);
      expect(sf.requests).toHaveLength(1);
    });
  }

  it('a 401 without a Snowflake error body is a service failure, not a refusal', async () => {
    const transport = fakeTransport(() => ({ status: 401, statusText: 'Unauthorized', text: '<h1>401 Authorization Required</h1>', headers: { 'content-type': 'text/html' } }));
    const { client } = makeHarness({ transport });
    const err = await failure(client.execute(WHOAMI));
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('HTTP 401 (text/html), authentication refused without a Snowflake error body: "401 Authorization Required"');
  });
});

describe('asynchronous statements', () => {
  it('202 then polls until 200', async () => {
    sf.injectFault({ kind: 'async', polls: 3 });
    const { client, sleeps } = makeHarness();
    const result = await client.execute(WHOAMI);
    expect(result.rows[0]![1]).toBe('ALICE');
    expect(sf.requests.map((r) => [r.method, r.status])).toEqual([
      ['POST', 202],
      ['GET', 202],
      ['GET', 202],
      ['GET', 202],
      ['GET', 200],
    ]);
    const handle = sf.executed[0]!.statementHandle;
    expect(sf.requests[1]!.path).toBe(`/api/v2/statements/${handle}`);
    expect(sf.requests[1]!.headers['x-snowflake-authorization-token-type']).toBe('KEYPAIR_JWT');
    expect(sleeps).toEqual([250, 375, 563, 844]);
  });

  it('a statement that never completes: exit 3 at the deadline', async () => {
    sf.injectFault({ kind: 'never-complete' });
    const h = makeHarness({ timeoutMs: 10_000 });
    const err = await failure(h.client.execute(WHOAMI));
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('within 10s (last: statement still running)');
    expect(h.elapsed()).toBeLessThanOrEqual(10_000);
    // The whole timeout is used: the last poll lands at the deadline (less one attempt), not up to a
    // poll interval (2 s) before it, as in 0.1.
    expect(h.elapsed()).toBeGreaterThanOrEqual(10_000 - 500); // 0.1 stopped at 9193 here
    expect(sf.executed).toHaveLength(0);
  });
});

describe('errors from Snowflake', () => {
  it('a wrong key: 394304 refused, exit 1, with account, user and fingerprint', async () => {
    const { client } = makeHarness(keypair(other));
    const err = await failure(client.execute(WHOAMI));
    expect(err.exitCode).toBe(1);
    expect(err.code).toBe('ERR_AUTH_REFUSED');
    expect(err.message).toMatch(/^authentication refused: JWT token is invalid: the public key fingerprint .* \[[0-9a-f-]{36}\] \(394304\)$/);
    expect(err.details).toEqual([
      'account     MYORG-MYACCOUNT',
      'user        ALICE',
      `fingerprint ${fingerprintOf(other.publicKey)}`,
      'auth        key pair (RS256)',
      `host        ${new URL(sf.url).host}`,
    ]);
    expect(err.hint).toMatch(/RSA_PUBLIC_KEY_FP/);
    expect(err.data).toMatchObject({ code: '394304', fingerprint: fingerprintOf(other.publicKey) });
    noSecrets(err);
  });

  it('generic 390144: the SYSTEM$GET_LOGIN_FAILURE_DETAILS line with the uuid', async () => {
    sf.setJwtErrors('generic');
    const { client } = makeHarness(keypair(other));
    const err = await failure(client.execute(WHOAMI));
    expect(err.exitCode).toBe(1);
    const uuid = /\[([0-9a-f-]{36})\]/.exec(err.message)![1]!;
    expect(err.message).toBe(`authentication refused: JWT token is invalid. [${uuid}] (390144)`);
    expect(err.details.at(-1)).toBe(`an admin can see the precise reason with: SELECT SYSTEM$GET_LOGIN_FAILURE_DETAILS('${uuid}');`);
    expect(err.data).toMatchObject({ code: '390144', loginFailureId: uuid });
    expect(sf.loginFailure(uuid)?.code).toBe('394304');
  });

  it('wrong account 394307 and unknown user 394300', async () => {
    let err = await failure(makeHarness(keypair(rsa, 'alice', 'otherorg-other')).client.execute(WHOAMI));
    expect(err.data).toMatchObject({ code: '394307', account: 'OTHERORG-OTHER' });
    expect(err.hint).toMatch(/--account/);
    err = await failure(makeHarness(keypair(rsa, 'bob')).client.execute(WHOAMI));
    expect(err.data).toMatchObject({ code: '394300', user: 'BOB' });
  });

  it('OAuth invalid (390303) and expired (390318), PAT invalid (394400): exit 1, tokens not shown', async () => {
    for (const [credential, code] of [
      [{ kind: 'oauth', token: 'oauth-wrong-secret' }, '390303'],
      [{ kind: 'oauth', token: 'oauth-expired-secret' }, '390318'],
      [{ kind: 'pat', token: 'pat-wrong-secret' }, '394400'],
    ] as const) {
      const { client } = makeHarness({ credential, identity: { account: 'MYORG-MYACCOUNT', user: 'ALICE', authMethod: credential.kind } });
      const err = await failure(client.execute(WHOAMI));
      expect(err.exitCode).toBe(1);
      expect(err.data).toMatchObject({ code });
      expect(err.details).toContain('user        ALICE');
      noSecrets(err, credential.token);
    }
  });

  it('422: the statement failed (exit 1) with code, sqlState and a hint', async () => {
    const { client } = makeHarness();
    const err = await failure(client.execute('DESC USER nobody'));
    expect(err.exitCode).toBe(1);
    expect(err.code).toBe('ERR_STATEMENT_FAILED');
    expect(err.message).toBe("Snowflake refused the statement: SQL compilation error: User 'NOBODY' does not exist or not authorized. (002003)");
    expect(err.data).toEqual({ code: '002003', sqlState: '02000' });
  });

  it('a role not granted (390189) gets its own hint', async () => {
    const { client } = makeHarness({ role: 'ACCOUNTADMIN' });
    const err = await failure(client.execute(WHOAMI));
    expect(err.exitCode).toBe(1);
    expect(err.hint).toMatch(/not granted/);
  });
});

describe('clock skew', () => {
  it('warns once when Snowflake is more than 60 s ahead; the call still works', async () => {
    sf.setClockSkew(300);
    const { client, warnings } = makeHarness();
    await client.execute(WHOAMI);
    await client.execute(WHOAMI);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^this machine's clock is (5m|4m 59s|5m 1s) behind Snowflake's .*NTP/);
    expect(client.clockSkewSeconds).toBeGreaterThanOrEqual(-301);
    expect(client.clockSkewSeconds).toBeLessThanOrEqual(-299);
  });

  it('ahead of Snowflake: the warning, and the refusal (394302) shows the skew', async () => {
    sf.setClockSkew(-180);
    const { client, warnings } = makeHarness();
    const err = await failure(client.execute(WHOAMI));
    expect(warnings[0]).toMatch(/^this machine's clock is (3m|2m 59s|3m 1s) ahead of Snowflake's/);
    expect(err.data).toMatchObject({ code: '394302' });
    expect(err.details.join('\n')).toMatch(/^clock {7}(3m|2m 59s|3m 1s) ahead of Snowflake's$/m);
  });

  it('no warning within 60 s', async () => {
    sf.setClockSkew(45);
    const { client, warnings } = makeHarness({ credential: { kind: 'pat', token: PAT }, identity: { authMethod: 'PAT' } });
    await client.execute(WHOAMI);
    expect(warnings).toEqual([]);
  });
});

describe('excerptOf', () => {
  it('reduces HTML to its words and cuts long text', () => {
    expect(excerptOf('<html><head><title>T</title><style>p{}</style></head><body><h1>502  Bad\r\nGateway</h1><hr>nginx</body></html>')).toBe('502 Bad Gateway nginx');
    expect(excerptOf('x'.repeat(500), 20)).toBe('x'.repeat(19) + '…');
    expect(excerptOf('a\u0000b\tc')).toBe('a b c');
  });
});
