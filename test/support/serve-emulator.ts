/**
 * The emulator (test/support/emulator.ts) as a process of its own, for `npm run bench` and for trying
 * sfauth by hand (`npm run emulator`). Prints one JSON line on stdout, `{"url", "account"[, "caFile"]}`,
 * once it listens, and serves until stdin closes or it gets SIGINT/SIGTERM.
 *
 *   serve-emulator [--account NAME] [--port N] [--user NAME[=PUBLIC_KEY.pem]]... [--users FILE] [--tls] [--banner]
 *                  [--latency MS] [--clock-offset SECONDS] [--help]
 *
 * `--users FILE` seeds users from JSON, either an array of users or
 * `{"users": [...], "latencyMs"?: 50, "clockOffsetSeconds"?: -120}` (the server's clock runs that far
 * from this machine's: a negative offset puts it behind, so sfauth's tokens look issued in the future).
 * A user: `{"name": "SVC_LOADER", "publicKeyFile": "rsa_key.pub", "publicKey2File"?: …, "role"?: "LOADER",
 * "roles"?: […], "manages"?: ["SVC_LOADER"] | ["*"], "pat"?: "token text", "keyPairs"?: [{"name": "CI_KEY",
 * "publicKeyFile": "ci.pub", "roleRestriction"?: …, "daysToExpiry"?: 90, "comment"?: …, "disabled"?: true,
 * "expiresInHours"?: 6 (negative: already expired)}], "pats"?: [{"name", "roleRestriction"?, "expiresInHours"?, "comment"?}],
 * "type"?: "SERVICE", "hasPassword"?: true, "hasMfa"?: true, "disabled"?: true, "lastLoginDaysAgo"?: 3}`, and the object form may set "partitionRows" (rows per
 * result partition); key files are relative to the JSON file. Flags
 * win over the file. `--tls` serves HTTPS with a
 * certificate from a throw-away CA (test/support/tls.ts); `caFile` is that CA's certificate, for
 * NODE_EXTRA_CA_CERTS, deleted when the emulator stops. `--banner` adds a how-to on stderr.
 *
 * Under a parent (no `--banner`), stdin takes one command a line, for the bench: `reset` forgets the
 * requests seen so far; `stats` answers one JSON line on stdout, `{"requests", "roundTrips"}`, where
 * a round trip is a group of requests that arrived together (a gap of more than half the latency, at
 * least 10 ms, starts the next one): what a client waits for, one after the other.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulator } from './emulator.js';
import { makeTestPki, type TestPki } from './tls.js';

const USAGE = `usage: npm run emulator -- [options]

A local Snowflake SQL API emulator to try sfauth against (loopback only; nothing reaches Snowflake).

  --users FILE            seed users, key pairs, PATs, latency and clock offset from JSON (see README "Trying it without Snowflake")
  --user NAME[=KEY.pub]   add a user (repeatable), with its RSA_PUBLIC_KEY
  --account NAME          the account it is (default MYORG-MYACCOUNT)
  --port N                port on 127.0.0.1 (default: any free one)
  --tls                   serve HTTPS with a throw-away CA (its file is printed, for NODE_EXTRA_CA_CERTS)
  --latency MS            answer every request this much later
  --clock-offset SECONDS  the server clock's offset from this machine's (negative: behind)
  -h, --help              this help
`;

interface SeedFile {
  users: SeedUser[];
  latencyMs?: number;
  clockOffsetSeconds?: number;
  /** Rows per result partition (the emulator's default 1000). */
  partitionRows?: number;
}

interface SeedUser {
  name: string;
  publicKeyFile?: string;
  publicKey2File?: string;
  role?: string;
  roles?: string[];
  manages?: string[];
  pat?: string;
  keyPairs?: Array<{ name: string; publicKeyFile: string; roleRestriction?: string; daysToExpiry?: number; comment?: string; disabled?: boolean; expiresInHours?: number }>;
  /** PAT objects (SHOW USER PATS), not tokens that authenticate (that is `pat`). */
  pats?: Array<{ name: string; roleRestriction?: string; expiresInHours?: number; comment?: string }>;
  type?: 'PERSON' | 'SERVICE' | 'LEGACY_SERVICE';
  hasPassword?: boolean;
  hasMfa?: boolean;
  disabled?: boolean;
  /** Days since the last successful login (SHOW USERS last_success_login). */
  lastLoginDaysAgo?: number;
}

function fail(message: string): never {
  process.stderr.write(`emulator: ${message}\n`);
  process.exit(2);
}

let parsed: ReturnType<typeof parseOptions>;
function parseOptions() {
  return parseArgs({
    options: {
      account: { type: 'string', default: 'MYORG-MYACCOUNT' },
      port: { type: 'string', default: '0' },
      user: { type: 'string', multiple: true, default: [] },
      users: { type: 'string' },
      tls: { type: 'boolean', default: false },
      banner: { type: 'boolean', default: false },
      latency: { type: 'string' },
      'clock-offset': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
try {
  parsed = parseOptions();
} catch (err) {
  // node:util's message names the option ("Unknown option '--prot'"); one line, then the way to help.
  fail(`${(err as Error).message.split('\n')[0]} (npm run emulator -- --help)`);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0-65535, not '${values.port}'`);
let seeds: SeedUser[] = [];
let seedFile: Omit<SeedFile, 'users'> = {};
if (values.users) {
  try {
    const doc = JSON.parse(readFileSync(values.users, 'utf8')) as SeedUser[] | SeedFile;
    seeds = Array.isArray(doc) ? doc : doc?.users;
    if (!Array.isArray(seeds) || !seeds.every((u) => u && typeof u.name === 'string')) throw new Error('expected an array of {"name": …}, or {"users": [...]}');
    if (!Array.isArray(doc)) {
      for (const field of ['latencyMs', 'clockOffsetSeconds', 'partitionRows'] as const) {
        if (doc[field] !== undefined && (typeof doc[field] !== 'number' || !Number.isFinite(doc[field]))) throw new Error(`${field} must be a number`);
      }
      seedFile = { latencyMs: doc.latencyMs, clockOffsetSeconds: doc.clockOffsetSeconds, partitionRows: doc.partitionRows };
    }
  } catch (err) {
    fail(`cannot use ${values.users}: ${(err as Error).message}`);
  }
}

let pki: TestPki | undefined;
if (values.tls) {
  const dir = mkdtempSync(join(tmpdir(), 'sfauth-emulator-ca-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  pki = makeTestPki(dir);
}
const latencyMs = values.latency !== undefined ? Number(values.latency) : (seedFile.latencyMs ?? 0);
if (!Number.isFinite(latencyMs) || latencyMs < 0) fail(`--latency must be milliseconds, not '${values.latency}'`);
const clockSkewSeconds = values['clock-offset'] !== undefined ? Number(values['clock-offset']) : (seedFile.clockOffsetSeconds ?? 0);
if (!Number.isFinite(clockSkewSeconds)) fail(`--clock-offset must be seconds, not '${values['clock-offset']}'`);
let sf: Awaited<ReturnType<typeof startEmulator>>;
try {
  sf = await startEmulator({ account: values.account, port, latencyMs, clockSkewSeconds, ...(seedFile.partitionRows ? { partitionRows: seedFile.partitionRows } : {}), ...(pki ? { tls: pki.server } : {}) });
} catch (err) {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') fail(`port ${port} is in use: pick another with --port, or leave it out for any free one`);
  if (code === 'EACCES') fail(`port ${port} needs privileges: use one above 1023, or leave --port out`);
  fail(`cannot listen: ${(err as Error).message}`);
}
for (const spec of values.user) {
  const [name, keyFile] = spec.split('=', 2) as [string, string | undefined];
  sf.addUser(name, keyFile ? { rsaPublicKey: readFileSync(keyFile, 'utf8') } : {});
}
const base = values.users ? dirname(resolve(values.users)) : process.cwd();
const pem = (file: string | undefined) => (file === undefined ? undefined : readFileSync(resolve(base, file), 'utf8'));
try {
  for (const u of seeds) {
    sf.addUser(u.name, { rsaPublicKey: pem(u.publicKeyFile), rsaPublicKey2: pem(u.publicKey2File), role: u.role, roles: u.roles, ...(u.type ? { type: u.type } : {}), ...(u.hasPassword ? { hasPassword: true } : {}), ...(u.hasMfa ? { hasMfa: true } : {}), ...(u.disabled ? { disabled: true } : {}), ...(u.lastLoginDaysAgo !== undefined ? { lastSuccessLogin: new Date(sf.now().getTime() - u.lastLoginDaysAgo * 86_400_000) } : {}) });
    for (const t of u.pats ?? []) {
      sf.addPatObject(u.name, t.name, { ...(t.roleRestriction ? { roleRestriction: t.roleRestriction } : {}), ...(t.comment !== undefined ? { comment: t.comment } : {}), ...(t.expiresInHours !== undefined ? { expiresAt: new Date(sf.now().getTime() + t.expiresInHours * 3_600_000) } : {}) });
    }
    if (u.pat) sf.addPat(u.pat, u.name);
    for (const p of u.keyPairs ?? []) {
      sf.addKeyPair(u.name, p.name, pem(p.publicKeyFile)!, {
        ...(p.roleRestriction ? { roleRestriction: p.roleRestriction } : {}),
        ...(p.daysToExpiry ? { daysToExpiry: p.daysToExpiry } : {}),
        ...(p.comment !== undefined ? { comment: p.comment } : {}),
        ...(p.disabled ? { disabled: true } : {}),
        ...(p.expiresInHours !== undefined ? { expiresAt: new Date(sf.now().getTime() + p.expiresInHours * 3_600_000) } : {}),
      });
    }
  }
  for (const u of seeds) for (const target of u.manages ?? []) sf.grant(u.name, target);
} catch (err) {
  await sf.close();
  fail(`cannot seed ${values.users}: ${(err as Error).message}`);
}
if (values.banner) {
  const names = [...values.user.map((s) => s.split('=')[0]), ...seeds.map((u) => u.name)];
  process.stderr.write(
    [
      `emulator: Snowflake SQL API for account ${sf.account} at ${sf.url}${names.length ? `, users: ${names.join(', ')}` : ' (no users: pass --user NAME=KEY.pub or --users FILE)'}`,
      ...(latencyMs || clockSkewSeconds ? [`  latency ${latencyMs} ms, server clock ${clockSkewSeconds >= 0 ? '+' : ''}${clockSkewSeconds} s from this machine's`] : []),
      `  try:  sfauth status --account ${sf.account.toLowerCase()} --host ${sf.url} --user NAME --private-key rsa_key.p8`,
      ...(pki ? [`  with: NODE_EXTRA_CA_CERTS=${pki.caFile}`] : []),
      '  Ctrl-C stops it.',
      '',
    ].join('\n'),
  );
}

process.stdout.write(JSON.stringify({ url: sf.url, account: sf.account, ...(pki ? { caFile: pki.caFile } : {}) }) + '\n');

const stop = () => void sf.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// Under a parent (the bench), stdin closing means the parent is gone. By hand it is the terminal:
// reading it from a background job would stop the process, so Ctrl-C it is.
if (!values.banner) {
  let pending = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    pending += chunk;
    for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
      const command = pending.slice(0, i).trim();
      pending = pending.slice(i + 1);
      if (command === 'reset') sf.reset();
      else if (command === 'stats') process.stdout.write(JSON.stringify(stats()) + '\n');
    }
  });
  process.stdin.on('end', stop).on('error', stop);
}

/** Requests since the last `reset`, and the round trips they took (see the header). */
function stats(): { requests: number; roundTrips: number } {
  const times = sf.requests.map((q) => q.at.getTime()).sort((a, b) => a - b);
  const gap = Math.max(10, latencyMs / 2);
  let roundTrips = 0;
  for (let i = 0; i < times.length; i++) if (i === 0 || times[i]! - times[i - 1]! > gap) roundTrips++;
  return { requests: times.length, roundTrips };
}
