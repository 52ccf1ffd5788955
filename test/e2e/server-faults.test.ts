/**
 * Server misbehaviour × every network command (issue 7): HTML error pages, truncated or invalid JSON
 * on a 200, missing fields, a 202 that never completes, endless 503, resets, hangs, a body that stalls
 * after the headers, a refused port. For each: the documented exit code and error code, one clean
 * error report (text or `--json`, alternating), no secret (key body lines, the JWT that went over the
 * wire), and the time it took: about `--timeout` for what is retried or awaited, well under it for
 * what must fail at once. A few faults that heal must end in success.
 *
 * Every fault gets an emulator of its own (faults are queued per emulator), and the four commands
 * run side by side, so the whole table takes little more than the longest timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator, type Fault } from '../support/emulator.js';
import { expectFailure, pemBodyLines, snapshot, type ExpectedFailure } from '../support/audit.js';

const ACCOUNT = 'myorg-myaccount';
/** The timeout of the cases that must wait for the deadline. */
const SHORT = 3;
/** The timeout of the cases that must fail at once: far above what they may take. */
const LONG = 60;
/**
 * Upper bounds are taken from the first request the server saw (the deadline starts just before
 * it) to the exit, so a slow process start does not count; the slack is what finishing may take on
 * a badly overloaded machine. A CLI that waited for the 60 s deadline, retried forever or hung
 * would still be far off. Lower bounds are taken from the start: a busy machine only adds to them.
 */
const SLACK_MS = 10_000;

let tmp: { dir: string; cleanup: () => void };
let home: string;
let keyPath: string;
let alicePublic: import('node:crypto').KeyObject;
const secrets: string[] = [];
const emulators: Emulator[] = [];

interface NetCommand {
  name: string;
  args(host: string, timeout: number): string[];
  /**
   * Logs its steps on stderr (✓ / ✗ lines) before an error. rotate does, also under --json, which
   * breaks "stderr is one JSON error" (reported); it runs in text mode here.
   */
  progress?: boolean;
}

const COMMANDS: NetCommand[] = [
  { name: 'test-connection', args: (h, t) => ['test-connection', ...common(h, t)] },
  { name: 'pg-token', args: (h, t) => ['pg-token', ...common(h, t), '--instance', 'reporting', '--pg-user', 'app'] },
  { name: 'status', args: (h, t) => ['status', ...common(h, t)] },
  // The plan only (read-only): DESC USER.
  { name: 'rotate', args: (h, t) => ['rotate', ...common(h, t)], progress: true },
];

function common(host: string, timeout: number): string[] {
  return ['--account', ACCOUNT, '--host', host, '--user', 'alice', '--private-key', keyPath, '--timeout', `${timeout}s`];
}

async function emulator(fault?: Fault): Promise<Emulator> {
  const e = await startEmulator({ account: 'MYORG-MYACCOUNT' });
  emulators.push(e);
  e.addUser('alice', { rsaPublicKey: alicePublic });
  e.addPostgresInstance('reporting', { users: ['app'] });
  if (fault) e.injectFault(fault);
  return e;
}

interface Timed extends CliResult {
  /** From the first request that reached the server (else from the start) to the exit. */
  ms: number;
  /** From the start to the exit. */
  total: number;
  args: string[];
}

/** Runs the CLI; `requests` counts what the server has seen so far (polled to time the first one). */
async function run(cmd: NetCommand, host: string, timeout: number, json: boolean, requests: () => number = () => 0): Promise<Timed> {
  const args = [...cmd.args(host, timeout), ...(json && !cmd.progress ? ['--json'] : [])];
  const started = Date.now();
  let first = 0;
  const poll = setInterval(() => {
    if (!first && requests() > 0) first = Date.now();
  }, 5);
  const r = await runCliAsync(args, { cwd: tmp.dir, env: { HOME: home, SNOWFLAKE_HOME: home }, timeoutMs: (timeout + 30) * 1000 });
  clearInterval(poll);
  const end = Date.now();
  return { ...r, ms: end - (first || started), total: end - started, args };
}

/** The JWTs the emulator saw: they must never be printed. */
function bearerTokens(e: Emulator): string[] {
  return [...new Set(e.requests.map((q) => (q.headers.authorization ?? '').replace(/^Bearer /, '')).filter((t) => t.length > 20))];
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
  tmp = tempDir('sfauth-e2e-faults-');
  home = join(tmp.dir, 'home');
  mkdirSync(home);
  const alice = generateKeyPairSync('rsa', { modulusLength: 2048 });
  alicePublic = alice.publicKey;
  keyPath = join(tmp.dir, 'alice.p8');
  const pem = alice.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  writeFileSync(keyPath, pem, { mode: 0o600 });
  secrets.push(...pemBodyLines(pem));
});

afterAll(async () => {
  await Promise.all(emulators.map((e) => e.close()));
  tmp?.cleanup();
});

// ---------------------------------------------------------------------------------------------

interface FaultCase {
  id: string;
  fault: Fault;
  /** waits: retried or awaited until --timeout; fast: must fail without waiting for it. */
  timing: 'waits' | 'fast';
  want: ExpectedFailure & { code: string };
  /** Checks on what the server saw. */
  server?(e: Emulator, cmd: NetCommand): void;
}

const ENDLESS = 1_000_000;

/**
 * Retried with the same requestId and retry=true, never run twice. Reads that do not depend on each
 * other (DESC USER with SHOW USER KEY PAIRS) go out together: each statement has its one requestId.
 */
function sameRequestRetried(e: Emulator): void {
  expect(e.requests.length).toBeGreaterThan(1);
  const ids = new Map<string, string>();
  for (const q of e.requests) {
    const known = ids.get(q.statement ?? '');
    if (known === undefined) ids.set(q.statement ?? '', q.requestId ?? '');
    else expect(q.requestId).toBe(known);
  }
  expect(new Set(e.requests.map((q) => q.requestId)).size).toBe(ids.size);
  // status reads DESC USER, SHOW USER KEY PAIRS and SHOW USER PATS together: three statements at most.
  expect(ids.size).toBeLessThanOrEqual(3);
  for (const id of new Set(e.requests.map((q) => q.requestId))) {
    const mine = e.requests.filter((q) => q.requestId === id);
    expect(mine[0]!.retry).toBe(false);
    expect(mine.slice(1).every((q) => q.retry)).toBe(true);
  }
  expect(e.executed).toHaveLength(0);
}

/** No retry: each statement was sent once (a read's statements go out together: status's three). */
function oncePerStatement(e: Emulator): void {
  expect(e.requests.length).toBeGreaterThanOrEqual(1);
  expect(e.requests.length).toBeLessThanOrEqual(3);
  expect(new Set(e.requests.map((q) => q.statement)).size).toBe(e.requests.length);
  expect(e.requests.every((q) => !q.retry)).toBe(true);
}

const FAULTS: FaultCase[] = [
  {
    id: 'endless 503',
    fault: { kind: 'status', status: 503, times: ENDLESS },
    timing: 'waits',
    want: { exit: 3, code: 'ERR_TIMEOUT', message: /within 3s \(last: HTTP 503/ },
    server: sameRequestRetried,
  },
  {
    id: 'an endless nginx 502 HTML page',
    fault: { kind: 'html', status: 502, times: ENDLESS },
    timing: 'waits',
    want: { exit: 3, code: 'ERR_TIMEOUT', message: /HTTP 502 Bad Gateway/ },
    server: sameRequestRetried,
  },
  {
    id: 'endless connection resets',
    fault: { kind: 'reset', times: ENDLESS },
    timing: 'waits',
    want: { exit: 3, code: 'ERR_TIMEOUT', message: /within 3s/ },
    server: sameRequestRetried,
  },
  {
    id: 'a server that never answers',
    fault: { kind: 'hang', times: ENDLESS },
    timing: 'waits',
    want: { exit: 3, code: 'ERR_TIMEOUT', message: /no answer from .* within 3s/ },
  },
  {
    id: 'a 202 that never completes',
    fault: { kind: 'never-complete', times: ENDLESS },
    timing: 'waits',
    want: { exit: 3, code: 'ERR_TIMEOUT', message: /within 3s/ },
    server: (e) => {
      const posts = e.requests.filter((q) => q.method === 'POST');
      expect(posts.length).toBeGreaterThanOrEqual(1);
      expect(posts.length).toBeLessThanOrEqual(3);
      expect(posts.every((q) => q.status === 202)).toBe(true);
      expect(e.requests.filter((q) => q.method !== 'POST').every((q) => q.method === 'GET')).toBe(true);
    },
  },
  {
    id: 'an HTML page with 200 (a proxy login page)',
    fault: { kind: 'html', status: 200, times: ENDLESS },
    timing: 'fast',
    want: { exit: 3, code: 'ERR_BAD_RESPONSE', message: /unexpected answer .*HTTP 200 \(text\/html\)/ },
    server: oncePerStatement,
  },
  {
    id: 'an HTML 404 page',
    fault: { kind: 'html', status: 404, times: ENDLESS },
    timing: 'fast',
    want: { exit: 3, code: 'ERR_BAD_RESPONSE', message: /HTTP 404/ },
    server: oncePerStatement,
  },
  {
    id: 'invalid JSON on 200',
    fault: { kind: 'invalid-json', times: ENDLESS },
    timing: 'fast',
    want: { exit: 3, code: 'ERR_BAD_RESPONSE', message: /the body is not JSON/ },
    server: oncePerStatement,
  },
  {
    id: 'truncated JSON on 200',
    fault: { kind: 'truncated-json', times: ENDLESS },
    timing: 'fast',
    want: { exit: 3, code: 'ERR_BAD_RESPONSE', message: /unexpected answer/ },
    server: oncePerStatement,
  },
  {
    id: 'a 200 without resultSetMetaData or data',
    fault: { kind: 'missing-fields', times: ENDLESS },
    timing: 'fast',
    want: { exit: 3, code: 'ERR_BAD_RESPONSE', message: /unexpected answer/ },
    server: oncePerStatement,
  },
  {
    id: '429 with Retry-After: 1 hour (beyond the deadline)',
    fault: { kind: 'status', status: 429, retryAfterSeconds: 3600, times: ENDLESS },
    timing: 'fast',
    want: { exit: 3, code: 'ERR_TIMEOUT', message: /Retry-After/ },
    server: oncePerStatement,
  },
  {
    id: 'authentication refused after the JWT was accepted (390144)',
    fault: { kind: 'fail-auth', times: ENDLESS },
    timing: 'fast',
    want: { exit: 1, code: 'ERR_AUTH_REFUSED', message: /authentication refused/ },
    server: (e) => expect(e.executed).toHaveLength(0),
  },
];

describe('faults, for test-connection, pg-token, status and rotate', () => {
  it.concurrent.each(FAULTS)('$id', async ({ fault, timing, want, server }) => {
    const timeout = timing === 'waits' ? SHORT : LONG;
    const runs = await Promise.all(
      COMMANDS.map(async (cmd, i) => {
        const e = await emulator({ ...fault });
        const r = await run(cmd, e.url, timeout, i % 2 === 0, () => e.requests.length);
        return { cmd, e, r };
      }),
    );
    for (const { cmd, e, r } of runs) {
      const context = `${cmd.name}: ${r.ms} ms from the first request, ${r.total} ms in all`;
      expect(r.ms, context).toBeLessThan(LONG * 1000 - 20_000);
      expectFailure(r.args, r, { ...want, afterProgress: cmd.progress }, [...secrets, ...bearerTokens(e)]);
      if (timing === 'waits') {
        // At least --timeout (less the minimum attempt of 200 ms it may give up early rather than
        // send a doomed request), and not much more.
        expect(r.total, context).toBeGreaterThanOrEqual(timeout * 1000 - 300);
        expect(r.ms, context).toBeLessThan(timeout * 1000 + SLACK_MS);
      } else {
        expect(r.ms, context).toBeLessThan(SLACK_MS);
      }
      server?.(e, cmd);
      expect(e.pgTokens, context).toHaveLength(0);
    }
    // Nothing was written beside the key or in the home folder (rotate's plan writes nothing).
    expect(Object.keys(snapshot(tmp.dir)).sort()).toEqual(['alice.p8', 'home']);
  });
});

describe('faults that heal: every command succeeds', () => {
  it.concurrent.each<{ id: string; fault: Fault }>([
    { id: '503 twice, then an answer', fault: { kind: 'status', status: 503, times: 2 } },
    { id: 'a reset, then an answer', fault: { kind: 'reset', times: 1 } },
    { id: 'a 202 polled twice', fault: { kind: 'async', polls: 2, times: 1 } },
    { id: 'an HTML 504 page, then an answer', fault: { kind: 'html', status: 504, times: 1 } },
  ])('$id', async ({ fault }) => {
    const runs = await Promise.all(
      COMMANDS.map(async (cmd) => {
        const e = await emulator({ ...fault });
        return { cmd, e, r: await run(cmd, e.url, LONG, true) };
      }),
    );
    for (const { cmd, e, r } of runs) {
      expect(r.code, `${cmd.name}\n${r.stderr}`).toBe(0);
      if (cmd.progress) expect(r.stdout, cmd.name).toMatch(/^Rotation plan for alice/);
      else {
        expect(() => JSON.parse(r.stdout), cmd.name).not.toThrow();
        expect(r.stderr).toBe('');
      }
      for (const s of [...secrets, ...bearerTokens(e)]) expect(r.stderr.includes(s) || r.stdout.includes(s)).toBe(false);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Transport faults the emulator cannot make.

function listen(server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('transport faults', () => {
  it.concurrent('a refused port: exit 3 at once for every command, no retry loop', async () => {
    const probe = createNetServer();
    const port = await listen(probe);
    await new Promise<void>((r) => probe.close(() => r()));
    const runs = await Promise.all(COMMANDS.map((cmd, i) => run(cmd, `http://127.0.0.1:${port}`, LONG, i % 2 === 0)));
    for (const [i, r] of runs.entries()) {
      expectFailure(r.args, r, { exit: 3, code: 'ERR_CONNECTION_REFUSED', message: /refused/, afterProgress: COMMANDS[i]!.progress }, secrets);
      // No request can be timed here: the whole run, start-up included, stays far below --timeout 60s.
      expect(r.total).toBeLessThan(20_000);
    }
  });

  /** A raw HTTP server per command, counting requests; `answer` misbehaves as the case wants. */
  async function rawServers(answer: (res: import('node:http').ServerResponse) => void) {
    return Promise.all(
      COMMANDS.map(async () => {
        let hits = 0;
        const server = createHttpServer((req, res) => {
          hits++;
          req.resume();
          answer(res);
        });
        const port = await listen(server);
        return {
          url: `http://127.0.0.1:${port}`,
          hits: () => hits,
          close: async () => {
            server.closeAllConnections();
            await new Promise<void>((r) => server.close(() => r()));
          },
        };
      }),
    );
  }

  it.concurrent('headers, then a body that never comes: exit 3 within --timeout', async () => {
    const servers = await rawServers((res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
      res.write('{"resultSetMetaData": {"numRows": 1, "rowType": [{"name": "X"}]}, "data": [["');
    });
    try {
      const runs = await Promise.all(COMMANDS.map((cmd, i) => run(cmd, servers[i]!.url, SHORT, i % 2 === 1, servers[i]!.hits)));
      for (const [i, r] of runs.entries()) {
        const context = `${COMMANDS[i]!.name}: ${r.ms} ms from the first request`;
        expectFailure(r.args, r, { exit: 3, code: 'ERR_TIMEOUT', message: /within 3s/, afterProgress: COMMANDS[i]!.progress }, secrets);
        expect(r.total, context).toBeGreaterThanOrEqual(SHORT * 1000 - 300);
        expect(r.ms, context).toBeLessThan(SHORT * 1000 + SLACK_MS);
      }
    } finally {
      await Promise.all(servers.map((x) => x.close()));
    }
  });

  it.concurrent('a body cut short by a closed connection, every time: retried, exit 3 within --timeout', async () => {
    const servers = await rawServers((res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
      res.write('{"resultSetMetaData": {"numRows": 1');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    try {
      const runs = await Promise.all(COMMANDS.map((cmd, i) => run(cmd, servers[i]!.url, SHORT, i % 2 === 0, servers[i]!.hits)));
      for (const [i, r] of runs.entries()) {
        const context = `${COMMANDS[i]!.name}: ${r.ms} ms from the first request`;
        expectFailure(r.args, r, { exit: 3, code: 'ERR_TIMEOUT', message: /broke off|reset/, afterProgress: COMMANDS[i]!.progress }, secrets);
        expect(r.ms, context).toBeLessThan(SHORT * 1000 + SLACK_MS);
        expect(servers[i]!.hits(), context).toBeGreaterThan(1);
      }
    } finally {
      await Promise.all(servers.map((x) => x.close()));
    }
  });
});
