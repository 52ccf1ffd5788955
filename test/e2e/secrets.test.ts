/**
 * Secrets audit (issue 7): every command, on success and failure paths, with distinctive
 * passphrases, tokens and keys. None of them may appear in stdout (except the token a run asked for:
 * `sfauth jwt`, `sfauth pg-token`), stderr, or any file other than the key files and the files that
 * held them as input. Besides the secrets we hand in, the audit also tracks the ones sfauth and the
 * server make along the way: every JWT the emulator received as a bearer token, every Postgres token
 * it issued, and the body lines of every private key a run wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT, STACK_TRACE, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';
import { filesUnder, filesWithSecrets, pemBodyLines } from '../support/audit.js';
import { mintJwt } from '../../src/core/jwt.js';

const ACCOUNT = 'myorg-myaccount';
const tag = () => randomBytes(6).toString('hex');
const PASS = `SECRET-PASS-7f3a${tag()}`;
const NEW_PASS = `SECRET-NEWPASS-c41d${tag()}`;
const WRONG_PASS = `SECRET-WRONGPASS-99e0${tag()}`;
const PAT = `SECRET-PAT-${randomBytes(18).toString('base64url')}`;
const BOGUS_PAT = `SECRET-PAT-BOGUS-${randomBytes(18).toString('base64url')}`;
const OAUTH = `SECRET-OAUTH-${randomBytes(18).toString('base64url')}`;

let tmp: { dir: string; cleanup: () => void };
let home: string;
let sfHome: string;
let sf: Emulator;
let inspectToken: string;
/** Secrets we handed in (key body lines are added as keys are made). */
const given: string[] = [PASS, NEW_PASS, WRONG_PASS, PAT, BOGUS_PAT, OAUTH];
/** Files that hold a secret as input: the audit does not count them. */
const inputFiles = new Set<string>();
const keys: Record<string, { path: string; encPath: string; pem: string; publicKey: KeyObject; privateKey: KeyObject }> = {};

interface Audited {
  id: string;
  args: string[];
  r: CliResult;
  /** The token this run asked for: allowed on its stdout, nowhere else. */
  requested?: string;
}
const runs: Audited[] = [];

function file(name: string, data: string, input = true): string {
  const p = join(tmp.dir, name);
  writeFileSync(p, data, { mode: 0o600 });
  if (input) inputFiles.add(p);
  return p;
}

function makeKey(name: string): void {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  mkdirSync(join(tmp.dir, name));
  const path = file(`${name}/${name}.p8`, pem);
  const encPath = file(`${name}/${name}.enc.p8`, pair.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASS }) as string);
  given.push(...pemBodyLines(pem));
  keys[name] = { path, encPath, pem, publicKey: pair.publicKey, privateKey: pair.privateKey };
}

/** Everything that counts as a secret now: what we gave, what the server saw and issued, what was written. */
function allSecrets(): string[] {
  const bearer = sf.requests.map((q) => (q.headers.authorization ?? '').replace(/^Bearer /, '')).filter((t) => t.length > 20);
  const written = filesUnder(tmp.dir)
    .filter((p) => /\.p8$/.test(p) && !inputFiles.has(p))
    .flatMap((p) => {
      const text = readFileSync(p, 'utf8');
      return text.includes('ENCRYPTED') ? [] : pemBodyLines(text);
    });
  return [...new Set([...given, inspectToken, ...bearer, ...sf.pgTokens.map((t) => t.token), ...runs.flatMap((a) => (a.requested ? [a.requested] : [])), ...written])];
}

function leaks(a: Audited, secrets: string[]): string[] {
  const out: string[] = [];
  for (const s of secrets) {
    if (a.r.stderr.includes(s)) out.push(`${a.id}: stderr holds ${s.slice(0, 14)}…`);
    if (a.r.stdout.includes(s) && s !== a.requested) out.push(`${a.id}: stdout holds ${s.slice(0, 14)}…`);
  }
  return out;
}

interface Run {
  id: string;
  args: () => string[];
  env?: () => Record<string, string>;
  exit: number;
  /** How to find the requested token on stdout. */
  requested?: (stdout: string) => string;
}

async function audit(run: Run): Promise<void> {
  const runDir = mkdtempSync(join(tmp.dir, 'run-'));
  const args = run.args();
  const r = await runCliAsync(args, { cwd: runDir, env: { HOME: home, SNOWFLAKE_HOME: sfHome, ...run.env?.() } });
  const a: Audited = { id: run.id, args, r };
  expect(r.code, `${run.id}: sfauth ${args.join(' ')}\n${r.stderr}`).toBe(run.exit);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  if (run.requested) {
    a.requested = run.requested(r.stdout);
    expect(a.requested.length).toBeGreaterThan(20);
  }
  runs.push(a);
  expect(leaks(a, allSecrets())).toEqual([]);
}

const key = (name: string, encrypted = true) => ['--private-key', encrypted ? keys[name]!.encPath : keys[name]!.path];
const pass = () => ['--passphrase-file', join(tmp.dir, 'pass.txt')];
const at = () => ['--account', ACCOUNT, '--host', sf.url];

const RUNS: Run[] = [
  // keygen
  { id: 'keygen, passphrase from a file', args: () => ['keygen', ...pass(), '--out', 'new.p8', '--user', 'SVC'], exit: 0 },
  { id: 'keygen --json, passphrase from the environment', args: () => ['keygen', '--type', 'ec', '--json'], env: () => ({ PRIVATE_KEY_PASSPHRASE: PASS }), exit: 0 },
  { id: 'keygen over an existing file (refused)', args: () => ['keygen', '--out', join(tmp.dir, 'pass.txt')], env: () => ({ PRIVATE_KEY_PASSPHRASE: PASS }), exit: 2 },
  { id: 'keygen --no-encrypt with a passphrase file (refused)', args: () => ['keygen', '--no-encrypt', '--passphrase-file', join(tmp.dir, 'new-pass.txt')], exit: 2 },
  // fingerprint, sql
  { id: 'fingerprint of an encrypted key', args: () => ['fingerprint', keys.alice!.encPath, ...pass()], exit: 0 },
  { id: 'fingerprint --json, wrong passphrase', args: () => ['fingerprint', keys.alice!.encPath, '--json'], env: () => ({ PRIVATE_KEY_PASSPHRASE: WRONG_PASS }), exit: 2 },
  { id: 'fingerprint --expect that does not match (unencrypted key)', args: () => ['fingerprint', keys.alice!.path, '--expect', 'SHA256:' + 'A'.repeat(43) + '='], exit: 1 },
  { id: 'sql from an encrypted private key', args: () => ['sql', '--user', 'alice', '--public-key', keys.alice!.encPath, ...pass()], exit: 0 },
  { id: 'sql --json from an unencrypted private key', args: () => ['sql', '--user', 'alice', '--public-key', keys.alice!.path, '--json'], exit: 0 },
  // jwt
  { id: 'jwt', args: () => ['jwt', '--account', ACCOUNT, '--user', 'alice', ...key('alice'), ...pass()], exit: 0, requested: (o) => o.trim() },
  {
    id: 'jwt --json, the PEM in SNOWFLAKE_PRIVATE_KEY_RAW',
    args: () => ['jwt', '--account', ACCOUNT, '--user', 'alice', '--json'],
    env: () => ({ SNOWFLAKE_PRIVATE_KEY_RAW: keys.alice!.pem }),
    exit: 0,
    requested: (o) => JSON.parse(o).token,
  },
  { id: 'jwt, wrong passphrase', args: () => ['jwt', '--account', ACCOUNT, '--user', 'alice', ...key('alice')], env: () => ({ SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: WRONG_PASS }), exit: 2 },
  { id: 'jwt, bad account with the raw key in the environment', args: () => ['jwt', '--account', 'bad account', '--user', 'alice'], env: () => ({ SNOWFLAKE_PRIVATE_KEY_RAW: keys.alice!.pem }), exit: 2 },
  // inspect
  { id: 'inspect with the encrypted private key', args: () => ['inspect', inspectToken, '--public-key', keys.alice!.encPath, ...pass()], exit: 0 },
  { id: 'inspect --json with a key that does not match', args: () => ['inspect', inspectToken, '--public-key', keys.bob!.path, '--json'], exit: 1 },
  { id: 'inspect of a broken token', args: () => ['inspect', inspectToken.slice(0, -10) + '!!!'], exit: 2 },
  // test-connection
  { id: 'test-connection, key pair, passphrase from the environment', args: () => ['test-connection', ...at(), '--user', 'alice', ...key('alice')], env: () => ({ SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: PASS }), exit: 0 },
  { id: 'test-connection --json, PAT from SNOWFLAKE_TOKEN', args: () => ['test-connection', ...at(), '--token-type', 'pat', '--json'], env: () => ({ SNOWFLAKE_TOKEN: PAT }), exit: 0 },
  { id: 'test-connection, OAuth from --token-file', args: () => ['test-connection', ...at(), '--token-file', join(tmp.dir, 'oauth.txt'), '--token-type', 'oauth'], exit: 0 },
  { id: 'test-connection, an unknown PAT (refused)', args: () => ['test-connection', ...at(), '--token-type', 'pat'], env: () => ({ SNOWFLAKE_TOKEN: BOGUS_PAT }), exit: 1 },
  { id: 'test-connection --json, a key the user does not have (refused)', args: () => ['test-connection', ...at(), '--user', 'alice', ...key('bob'), ...pass(), '--json'], exit: 1 },
  { id: 'test-connection -c (key and passphrase in connections.toml)', args: () => ['test-connection', '-c', 'keyconn'], exit: 0 },
  { id: 'test-connection -c (PAT in connections.toml)', args: () => ['test-connection', '-c', 'patconn', '--json'], exit: 0 },
  // status
  { id: 'status --json', args: () => ['status', ...at(), '--user', 'alice', ...key('alice'), ...pass(), '--json'], exit: 0 },
  { id: 'status with a PAT, --max-age exceeded', args: () => ['status', ...at(), '--user', 'alice', '--token-type', 'pat', '--max-age', '1h'], env: () => ({ SNOWFLAKE_TOKEN: PAT }), exit: 1 },
  { id: 'status with a wrong passphrase', args: () => ['status', ...at(), '--user', 'alice', ...key('alice')], env: () => ({ PRIVATE_KEY_PASSPHRASE: WRONG_PASS }), exit: 2 },
  // rotate
  { id: 'rotate (plan)', args: () => ['rotate', ...at(), '--user', 'bob', ...key('bob'), ...pass()], exit: 0 },
  { id: 'rotate --apply, the current passphrase reused', args: () => ['rotate', ...at(), '--user', 'bob', ...key('bob'), ...pass(), '--apply'], exit: 0 },
  {
    id: 'rotate --apply --json, a new passphrase from a file',
    args: () => ['rotate', ...at(), '--user', 'carol', ...key('carol'), ...pass(), '--apply', '--new-passphrase-file', join(tmp.dir, 'new-pass.txt'), '--json'],
    exit: 0,
  },
  { id: 'rotate --apply with a wrong passphrase', args: () => ['rotate', ...at(), '--user', 'dave', ...key('dave'), '--apply'], env: () => ({ PRIVATE_KEY_PASSPHRASE: WRONG_PASS }), exit: 2 },
  // pg-token
  { id: 'pg-token', args: () => ['pg-token', ...at(), '--user', 'alice', ...key('alice'), ...pass(), '--instance', 'reporting', '--pg-user', 'app'], exit: 0, requested: (o) => o.trim() },
  {
    id: 'pg-token --format env, PAT',
    args: () => ['pg-token', ...at(), '--token-type', 'pat', '--instance', 'reporting', '--pg-user', 'app', '--format', 'env'],
    env: () => ({ SNOWFLAKE_TOKEN: PAT }),
    exit: 0,
    requested: (o) => o.trim().replace(/^PGPASSWORD=/, ''),
  },
  {
    id: 'pg-token --json, OAuth',
    args: () => ['pg-token', ...at(), '--token-file', join(tmp.dir, 'oauth.txt'), '--token-type', 'oauth', '--instance', 'reporting', '--pg-user', 'app', '--json'],
    exit: 0,
    requested: (o) => JSON.parse(o).token,
  },
  { id: 'pg-token, unknown instance (refused)', args: () => ['pg-token', ...at(), '--user', 'alice', ...key('alice'), ...pass(), '--instance', 'nosuch', '--pg-user', 'app'], exit: 1 },
  { id: 'pg-token --json, unknown Postgres role (refused), PAT', args: () => ['pg-token', ...at(), '--token-type', 'pat', '--instance', 'reporting', '--pg-user', 'nobody', '--json'], env: () => ({ SNOWFLAKE_TOKEN: PAT }), exit: 1 },
];

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
  tmp = tempDir('sfauth-e2e-secrets-');
  home = join(tmp.dir, 'home');
  sfHome = join(tmp.dir, 'snowflake');
  mkdirSync(home);
  mkdirSync(sfHome);
  for (const name of ['alice', 'bob', 'carol', 'dave']) makeKey(name);
  file('pass.txt', PASS + '\n');
  file('new-pass.txt', NEW_PASS + '\n');
  file('oauth.txt', OAUTH + '\n');
  // Minted a minute ago, so that it differs from every token `sfauth jwt` prints in this run.
  inspectToken = mintJwt({ account: ACCOUNT, user: 'alice', privateKey: keys.alice!.privateKey, issuedAt: Math.floor(Date.now() / 1000) - 60, lifetimeSeconds: 900 }).token;

  sf = await startEmulator({ account: 'MYORG-MYACCOUNT' });
  const yesterday = new Date(Date.now() - 86_400_000);
  for (const name of ['alice', 'bob', 'carol', 'dave']) sf.addUser(name, { rsaPublicKey: keys[name]!.publicKey, lastSet1: yesterday });
  sf.addPat(PAT, 'alice');
  sf.addOAuthToken(OAUTH, 'alice');
  sf.addPostgresInstance('reporting', { users: ['app'] });
  file(
    'snowflake/connections.toml',
    [
      '[keyconn]',
      `account = "${ACCOUNT}"`,
      'user = "alice"',
      `host = "${sf.url}"`,
      `private_key_file = "${keys.alice!.encPath}"`,
      `private_key_file_pwd = "${PASS}"`,
      '',
      '[patconn]',
      `account = "${ACCOUNT}"`,
      'user = "alice"',
      `host = "${sf.url}"`,
      'authenticator = "PROGRAMMATIC_ACCESS_TOKEN"',
      `token = "${PAT}"`,
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await sf?.close();
  tmp?.cleanup();
});

describe('every command, success and failure paths', () => {
  it.concurrent.each(RUNS)('$id', async (run) => {
    await audit(run);
  });
});

describe('the audit over everything', () => {
  it('no secret in any output, including tokens issued after the run that printed it', () => {
    expect(runs).toHaveLength(RUNS.length);
    const secrets = allSecrets();
    expect(secrets.length).toBeGreaterThan(100);
    // The server did see bearer JWTs and issue Postgres tokens, so the audit covered them.
    expect(sf.requests.some((q) => q.tokenType === 'KEYPAIR_JWT')).toBe(true);
    expect(sf.pgTokens).toHaveLength(3);
    expect(runs.flatMap((a) => leaks(a, secrets))).toEqual([]);
  });

  it('the requested token is on stdout alone, and only there', () => {
    for (const a of runs.filter((x) => x.requested)) {
      expect(a.r.stderr).toBe('');
      // Two runs of `sfauth jwt` in the same second mint the same token: that is not a leak.
      const others = runs.filter((x) => x !== a && x.requested !== a.requested);
      for (const o of others) expect(o.r.stdout.includes(a.requested!) || o.r.stderr.includes(a.requested!), `${a.id} token in ${o.id}`).toBe(false);
    }
  });

  it('no secret in any file but the key files and the inputs that held them', () => {
    const secrets = allSecrets();
    const keyFile = (p: string) => /\.(p8|pub)$/.test(p);
    expect(filesWithSecrets(tmp.dir, secrets, (p) => inputFiles.has(p) || keyFile(p))).toEqual([]);
    // Key files sfauth wrote: private keys encrypted unless asked otherwise, no passphrase or token in any.
    const written = filesUnder(tmp.dir).filter((p) => keyFile(p) && !inputFiles.has(p));
    expect(written.length).toBeGreaterThanOrEqual(6);
    expect(filesWithSecrets(tmp.dir, [PASS, NEW_PASS, WRONG_PASS, PAT, BOGUS_PAT, OAUTH, inspectToken], (p) => !written.includes(p))).toEqual([]);
    for (const p of written.filter((x) => x.endsWith('.p8'))) expect(readFileSync(p, 'utf8'), basename(p)).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  });
});
