/**
 * `sfauth pg-token` end to end: spawns the built binary (run `npm run build` first) against the local
 * Snowflake emulator (test/support/emulator.ts), with every kind of credential, awkward names, each
 * `--format`, refusals and faults. The emulator runs in this process, so the CLI is spawned with
 * runCliAsync. Keys and tokens are made at run time.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { BIN, ROOT, STACK_TRACE, baseEnv, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';

const ACCOUNT = 'myorg-myaccount';
const PAT = 'pat_' + randomBytes(24).toString('base64url');
const OAUTH = 'oauth_' + randomBytes(24).toString('base64url');
const AWKWARD_USERS = ["o'connor", 'with space', 'back\\slash', 'Zoë_ünïcødé_用户', '"quoted"', "it's a \\'mess\\''"];

let sf: Emulator;
let tmp: { dir: string; cleanup: () => void };
let home: string;
let sfHome: string;
let keyPath: string;
let strangerKeyPath: string;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { HOME: home, SNOWFLAKE_HOME: sfHome, ...extra };
}

/** Key-pair flags for ALICE against the emulator. */
function keyPair(path = keyPath): string[] {
  return ['--account', ACCOUNT, '--host', sf.url, '--user', 'alice', '--private-key', path];
}

function pg(args: string[], extra: Record<string, string> = {}): Promise<CliResult> {
  return runCliAsync(['pg-token', ...args], { cwd: tmp.dir, env: env(extra) });
}

/** Every secret of this suite that must never reach stderr. */
function secrets(): string[] {
  return [PAT, OAUTH, ...sf.pgTokens.map((t) => t.token)];
}

function expectCleanStderr(r: CliResult): void {
  for (const s of secrets()) expect(r.stderr).not.toContain(s);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  expect(r.stderr).not.toContain('PRIVATE KEY');
}

/** The run succeeded and printed exactly the token the emulator issued, nothing on stderr. */
function expectToken(r: CliResult): string {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(sf.pgTokens).toHaveLength(1);
  const issued = sf.pgTokens[0]!;
  expect(r.stdout).toBe(issued.token + '\n');
  return issued.token;
}

/** One `sfauth: …` line, optional detail lines, and a `hint: …` line; no secrets. */
function expectOneError(r: CliResult, code: number, message: RegExp): void {
  expect(r.code).toBe(code);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^sfauth: /);
  expect(lines[0]).toMatch(message);
  expect(lines.at(-1)).toMatch(/^hint: /);
  expectCleanStderr(r);
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
  tmp = tempDir('sfauth-e2e-pg-token-');
  home = join(tmp.dir, 'home');
  sfHome = join(tmp.dir, 'snowflake');
  mkdirSync(home, { recursive: true });
  mkdirSync(sfHome, { recursive: true });

  const alice = generateKeyPairSync('rsa', { modulusLength: 2048 });
  keyPath = join(tmp.dir, 'rsa_key.p8');
  writeFileSync(keyPath, alice.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  strangerKeyPath = join(tmp.dir, 'stranger.p8');
  writeFileSync(strangerKeyPath, stranger.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

  sf = await startEmulator({ account: 'MYORG-MYACCOUNT' });
  sf.addUser('alice', { rsaPublicKey: alice.publicKey });
  sf.addUser('bob');
  sf.addPat(PAT, 'alice');
  sf.addOAuthToken(OAUTH, 'alice');
  sf.addPostgresInstance('reporting', { users: ['app', 'App', ...AWKWARD_USERS] });
  sf.addPostgresInstance('Reporting_server', { caseSensitive: true, users: ['reporting_user'] });
  sf.addPostgresInstance("o'brien_reports", { users: ['app'] });
  sf.addPostgresInstance("Team's \"BI\" Reports", { caseSensitive: true, users: ['app'] });
  sf.addPostgresInstance('locked', { allowedUsers: ['bob'] });

  writeFileSync(
    join(sfHome, 'connections.toml'),
    [
      '[loader]',
      `account = "${ACCOUNT}"`,
      'user = "alice"',
      `host = "${sf.url}"`,
      `private_key_file = "${keyPath}"`,
      '',
      '[patconn]',
      `account = "${ACCOUNT}"`,
      'user = "alice"',
      `host = "${sf.url}"`,
      'authenticator = "PROGRAMMATIC_ACCESS_TOKEN"',
      `token = "${PAT}"`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
});

afterAll(async () => {
  await sf?.close();
  tmp?.cleanup();
});

beforeEach(() => sf.reset());

describe('credentials', () => {
  it('key pair: prints the token alone on stdout and runs the exact statement', async () => {
    const r = await pg([...keyPair(), '--instance', 'reporting', '--pg-user', 'app']);
    expectToken(r);
    expect(sf.executed.map((e) => e.statement)).toEqual(["SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('reporting', 'app')"]);
    expect(sf.pgTokens[0]).toMatchObject({ instance: 'REPORTING', pgUser: 'app', login: 'ALICE' });
    const req = sf.requests.at(-1)!;
    expect(req.tokenType).toBe('KEYPAIR_JWT');
    expect(req.authOutcome).toBe('ok');
  });

  it('programmatic access token from SNOWFLAKE_TOKEN', async () => {
    const r = await pg(['--account', ACCOUNT, '--host', sf.url, '--token-type', 'pat', '--instance', 'REPORTING', '--pg-user', 'app'], {
      SNOWFLAKE_TOKEN: PAT,
    });
    expectToken(r);
    expect(sf.requests.at(-1)?.tokenType).toBe('PROGRAMMATIC_ACCESS_TOKEN');
    expect(sf.pgTokens[0]).toMatchObject({ instance: 'REPORTING', pgUser: 'app', login: 'ALICE' });
  });

  it('OAuth token from --token-file', async () => {
    const file = join(tmp.dir, 'oauth.txt');
    writeFileSync(file, OAUTH + '\n', { mode: 0o600 });
    const r = await pg(['--account', ACCOUNT, '--host', sf.url, '--token-file', file, '--token-type', 'oauth', '--instance', 'reporting', '--pg-user', 'App']);
    expectToken(r);
    expect(sf.requests.at(-1)?.tokenType).toBe('OAUTH');
    expect(sf.pgTokens[0]).toMatchObject({ instance: 'REPORTING', pgUser: 'App' });
  });

  it('-c connection from connections.toml (key pair)', async () => {
    const r = await pg(['-c', 'loader', '--instance', 'reporting', '--pg-user', 'app']);
    expectToken(r);
    expect(sf.requests.at(-1)?.tokenType).toBe('KEYPAIR_JWT');
    expect(sf.pgTokens[0]).toMatchObject({ instance: 'REPORTING', pgUser: 'app', login: 'ALICE' });
  });

  it('-c connection with a PAT (authenticator = PROGRAMMATIC_ACCESS_TOKEN)', async () => {
    const r = await pg(['-c', 'patconn', '--instance', 'reporting', '--pg-user', 'app']);
    expectToken(r);
    expect(sf.requests.at(-1)?.tokenType).toBe('PROGRAMMATIC_ACCESS_TOKEN');
  });
});

describe('awkward names', () => {
  it.each([
    ["o'brien_reports", 'app', "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('o''brien_reports', 'app')", "O'BRIEN_REPORTS"],
    ['"Reporting_server"', 'reporting_user', `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('"Reporting_server"', 'reporting_user')`, 'Reporting_server'],
    [
      '"Team\'s ""BI"" Reports"',
      'app',
      `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('"Team''s ""BI"" Reports"', 'app')`,
      'Team\'s "BI" Reports',
    ],
  ])('instance %s', async (instance, pgUser, statement, resolved) => {
    const r = await pg([...keyPair(), '--instance', instance, '--pg-user', pgUser]);
    expectToken(r);
    expect(sf.executed.map((e) => e.statement)).toEqual([statement]);
    expect(sf.pgTokens[0]).toMatchObject({ instance: resolved, pgUser });
  });

  it.each([
    ["o'connor", "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('reporting', 'o''connor')"],
    ['with space', "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('reporting', 'with space')"],
    ['back\\slash', "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('reporting', 'back\\\\slash')"],
    ['Zoë_ünïcødé_用户', "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('reporting', 'Zoë_ünïcødé_用户')"],
    ['"quoted"', `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('reporting', '"quoted"')`],
    ["it's a \\'mess\\''", "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('reporting', 'it''s a \\\\''mess\\\\''''')"],
  ])('pg user %s', async (pgUser, statement) => {
    const r = await pg([...keyPair(), '--instance', 'reporting', '--pg-user', pgUser]);
    expectToken(r);
    expect(sf.executed.map((e) => e.statement)).toEqual([statement]);
    expect(sf.pgTokens[0]).toMatchObject({ instance: 'REPORTING', pgUser });
  });

  it('a case-sensitive instance named without its double quotes is not found (exit 1)', async () => {
    const r = await pg([...keyPair(), '--instance', 'Reporting_server', '--pg-user', 'reporting_user']);
    expectOneError(r, 1, /Postgres instance 'REPORTING_SERVER' does not exist or not authorized/);
    expect(sf.pgTokens).toHaveLength(0);
  });

  it('refuses an unbalanced double quote before any request (exit 2)', async () => {
    const r = await pg([...keyPair(), '--instance', '"Reporting_server', '--pg-user', 'app']);
    expectOneError(r, 2, /unbalanced double quote/);
    expect(sf.requests).toHaveLength(0);
  });
});

describe('--format', () => {
  it('token (explicit) is the default output', async () => {
    expectToken(await pg([...keyPair(), '--instance', 'reporting', '--pg-user', 'app', '--format', 'token']));
  });

  it('env prints PGPASSWORD=<token>', async () => {
    const r = await pg([...keyPair(), '--instance', 'reporting', '--pg-user', 'app', '--format', 'env']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`PGPASSWORD=${sf.pgTokens[0]!.token}\n`);
  });

  it('env works with eval "export $(…)" in a real shell', async () => {
    const script = `eval "export $("$NODE" "$BIN" pg-token ${keyPair()
      .concat(['--instance', 'reporting', '--pg-user', 'app', '--format', 'env'])
      .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
      .join(' ')})" && printf '%s' "$PGPASSWORD"`;
    const r = await new Promise<CliResult>((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', script], { cwd: tmp.dir, env: { ...baseEnv(env()), NODE: process.execPath, BIN } });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(sf.pgTokens[0]!.token);
  });

  it.each([['--format', 'json'], ['--json'], ['--format=json']])('%s gives {token, instance, pgUser, expiresAt}', async (...flag) => {
    const before = Date.now();
    const r = await pg([...keyPair(), '--instance', '"Reporting_server"', '--pg-user', 'reporting_user', ...flag]);
    const after = Date.now();
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout);
    const issued = sf.pgTokens[0]!;
    expect(Object.keys(doc).sort()).toEqual(['connection', 'expiresAt', 'instance', 'pgUser', 'token']);
    expect(doc).toMatchObject({ token: issued.token, instance: '"Reporting_server"', pgUser: 'reporting_user' });
    expect(doc.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const expires = Date.parse(doc.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 15 * 60_000);
    expect(expires).toBeLessThanOrEqual(after + 15 * 60_000);
    expect(Math.abs(expires - issued.expiresAt.getTime())).toBeLessThan(5_000);
  });

  it('an invalid --format is exit 2 before any request', async () => {
    const r = await pg([...keyPair(), '--instance', 'reporting', '--pg-user', 'app', '--format', 'yaml']);
    expectOneError(r, 2, /invalid --format 'yaml'/);
    expect(r.stderr).toMatch(/token, env or json/);
    expect(sf.requests).toHaveLength(0);
  });

  it('--json with --format env is exit 2', async () => {
    const r = await pg([...keyPair(), '--instance', 'reporting', '--pg-user', 'app', '--format', 'env', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr).error.message).toMatch(/conflicts/);
    expect(sf.requests).toHaveLength(0);
  });
});

describe('usage errors', () => {
  it.each([
    [['--pg-user', 'app'], /missing --instance/],
    [['--instance', 'reporting'], /missing --pg-user/],
    [['--instance', '', '--pg-user', 'app'], /instance name cannot be empty/],
    [['--instance', 'reporting', '--pg-user', ''], /Postgres user cannot be empty/],
  ])('%j → exit 2', async (args, message) => {
    const r = await pg([...keyPair(), ...args]);
    expectOneError(r, 2, message);
    expect(sf.requests).toHaveLength(0);
  });

  it('no credential at all is exit 2', async () => {
    const r = await pg(['--account', ACCOUNT, '--host', sf.url, '--user', 'alice', '--instance', 'reporting', '--pg-user', 'app']);
    expectOneError(r, 2, /no credential/);
  });
});

describe('refusals (exit 1)', () => {
  it('unknown instance: the server message and a hint about USAGE and AUTHENTICATION_AUTHORITY', async () => {
    const r = await pg([...keyPair(), '--instance', 'nope', '--pg-user', 'app']);
    expectOneError(r, 1, /Postgres instance 'NOPE' does not exist or not authorized/);
    const hint = r.stderr.trimEnd().split('\n').at(-1)!;
    expect(hint).toMatch(/USAGE/);
    expect(hint).toMatch(/OWNERSHIP/);
    expect(hint).toMatch(/AUTHENTICATION_AUTHORITY = POSTGRES_OR_SNOWFLAKE/);
    expect(sf.pgTokens).toHaveLength(0);
  });

  it('no USAGE on the instance', async () => {
    const r = await pg([...keyPair(), '--instance', 'locked', '--pg-user', 'app']);
    expectOneError(r, 1, /Postgres instance 'LOCKED' does not exist or not authorized/);
    expect(r.stderr).toMatch(/USAGE/);
    expect(sf.pgTokens).toHaveLength(0);
  });

  it('unknown Postgres role (case-sensitive)', async () => {
    const r = await pg([...keyPair(), '--instance', 'reporting', '--pg-user', 'APP']);
    expectOneError(r, 1, /Postgres role 'APP' does not exist on instance 'REPORTING'/);
    expect(r.stderr).toMatch(/AUTHENTICATION_AUTHORITY = POSTGRES_OR_SNOWFLAKE/);
    expect(r.stderr).toMatch(/case-sensitive/);
  });

  it('under --format json the refusal is JSON on stderr with the hint', async () => {
    const r = await pg([...keyPair(), '--instance', 'nope', '--pg-user', 'app', '--format', 'json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const { error } = JSON.parse(r.stderr);
    expect(error.code).toBe('ERR_STATEMENT_FAILED');
    expect(error.message).toMatch(/Postgres instance 'NOPE'/);
    expect(error.hint).toMatch(/AUTHENTICATION_AUTHORITY = POSTGRES_OR_SNOWFLAKE/);
  });

  it('authentication refused: a key the user does not have', async () => {
    const r = await pg([...keyPair(strangerKeyPath), '--instance', 'reporting', '--pg-user', 'app']);
    expectOneError(r, 1, /authentication refused/);
    expect(r.stderr).toMatch(/fingerprint SHA256:/);
    expect(sf.pgTokens).toHaveLength(0);
  });

  it('authentication refused: an unknown PAT (never echoed)', async () => {
    const bogus = 'pat_' + randomBytes(24).toString('base64url');
    const r = await pg(['--account', ACCOUNT, '--host', sf.url, '--token-type', 'pat', '--instance', 'reporting', '--pg-user', 'app'], {
      SNOWFLAKE_TOKEN: bogus,
    });
    expectOneError(r, 1, /authentication refused.*394400/);
    expect(r.stderr).not.toContain(bogus);
  });
});

describe('service failures (exit 3)', () => {
  it('endless 503 with a short --timeout', async () => {
    sf.injectFault({ kind: 'status', status: 503, times: 1_000 });
    const started = Date.now();
    const r = await pg([...keyPair(), '--instance', 'reporting', '--pg-user', 'app', '--timeout', '2s']);
    expectOneError(r, 3, /no successful answer .* within 2s/);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(sf.requests.length).toBeGreaterThan(1);
    expect(sf.requests.slice(1).every((q) => q.retry)).toBe(true);
    expect(sf.pgTokens).toHaveLength(0);
  });

  it('a 202 then the token (polling) still prints only the token', async () => {
    sf.injectFault({ kind: 'async', polls: 2 });
    expectToken(await pg([...keyPair(), '--instance', 'reporting', '--pg-user', 'app']));
  });

  it('a connection reset after the server ran it: the retry replays the same token', async () => {
    sf.injectFault({ kind: 'drop-after-execute' });
    const r = await pg([...keyPair(), '--instance', 'reporting', '--pg-user', 'app']);
    expectToken(r);
    expect(sf.requests.at(-1)).toMatchObject({ retry: true, replayed: true });
  });
});

describe('odd answers (exit 3)', () => {
  let server: Server;
  let url: string;
  let answer: unknown;

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const body = (data: unknown) => ({
    resultSetMetaData: { numRows: Array.isArray(data) ? data.length : 0, rowType: [{ name: "GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('REPORTING', 'APP')" }] },
    data,
    code: '090001',
    statementHandle: 'h',
    message: 'Statement executed successfully.',
  });

  it.each([
    ['no row', [], /returned no row/],
    ['a NULL cell', [[null]], /returned NULL/],
    ['an empty cell', [['']], /returned an empty token/],
    ['an empty row', [[]], /returned no row/],
    ['a cell with whitespace', [['half a secret\nvalue']], /not a token \(19 characters/],
  ])('%s', async (_name, data, message) => {
    answer = body(data);
    const r = await runCliAsync(
      ['pg-token', '--account', ACCOUNT, '--host', url, '--token-type', 'pat', '--instance', 'reporting', '--pg-user', 'app'],
      { cwd: tmp.dir, env: env({ SNOWFLAKE_TOKEN: PAT }) },
    );
    expectOneError(r, 3, message);
    expect(r.stderr).not.toContain('half a secret');
  });
});
