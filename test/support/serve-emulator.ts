/**
 * The emulator (test/support/emulator.ts) as a process of its own, for `npm run bench` and for trying
 * sfauth by hand (`npm run emulator`). Prints one JSON line on stdout, `{"url", "account"[, "caFile"]}`,
 * once it listens, and serves until stdin closes or it gets SIGINT/SIGTERM.
 *
 *   serve-emulator [--account NAME] [--port N] [--user NAME[=PUBLIC_KEY.pem]]... [--users FILE] [--tls] [--banner] [--latency MS]
 *
 * `--users FILE` seeds users from JSON: `[{"name": "SVC_LOADER", "publicKeyFile": "rsa_key.pub",
 * "publicKey2File"?: …, "role"?: "LOADER", "roles"?: […], "manages"?: ["SVC_LOADER"] | ["*"],
 * "pat"?: "token text", "keyPairs"?: [{"name": "CI_KEY", "publicKeyFile": "ci.pub", "roleRestriction"?: …,
 * "daysToExpiry"?: 90}]}]`; key files are relative to the JSON file. `--tls` serves HTTPS with a
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

interface SeedUser {
  name: string;
  publicKeyFile?: string;
  publicKey2File?: string;
  role?: string;
  roles?: string[];
  manages?: string[];
  pat?: string;
  keyPairs?: Array<{ name: string; publicKeyFile: string; roleRestriction?: string; daysToExpiry?: number }>;
}

const { values } = parseArgs({
  options: {
    account: { type: 'string', default: 'MYORG-MYACCOUNT' },
    port: { type: 'string', default: '0' },
    user: { type: 'string', multiple: true, default: [] },
    users: { type: 'string' },
    tls: { type: 'boolean', default: false },
    banner: { type: 'boolean', default: false },
    latency: { type: 'string', default: '0' },
  },
});

function fail(message: string): never {
  process.stderr.write(`emulator: ${message}\n`);
  process.exit(2);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0-65535, not '${values.port}'`);
let seeds: SeedUser[] = [];
if (values.users) {
  try {
    seeds = JSON.parse(readFileSync(values.users, 'utf8')) as SeedUser[];
    if (!Array.isArray(seeds) || !seeds.every((u) => u && typeof u.name === 'string')) throw new Error('expected an array of {"name": …}');
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
const latencyMs = Number(values.latency);
if (!Number.isFinite(latencyMs) || latencyMs < 0) fail(`--latency must be milliseconds, not '${values.latency}'`);
const sf = await startEmulator({ account: values.account, port, latencyMs, ...(pki ? { tls: pki.server } : {}) });
for (const spec of values.user) {
  const [name, keyFile] = spec.split('=', 2) as [string, string | undefined];
  sf.addUser(name, keyFile ? { rsaPublicKey: readFileSync(keyFile, 'utf8') } : {});
}
const base = values.users ? dirname(resolve(values.users)) : process.cwd();
const pem = (file: string | undefined) => (file === undefined ? undefined : readFileSync(resolve(base, file), 'utf8'));
try {
  for (const u of seeds) {
    sf.addUser(u.name, { rsaPublicKey: pem(u.publicKeyFile), rsaPublicKey2: pem(u.publicKey2File), role: u.role, roles: u.roles });
    if (u.pat) sf.addPat(u.pat, u.name);
    for (const p of u.keyPairs ?? []) sf.addKeyPair(u.name, p.name, pem(p.publicKeyFile)!, { ...(p.roleRestriction ? { roleRestriction: p.roleRestriction } : {}), ...(p.daysToExpiry ? { daysToExpiry: p.daysToExpiry } : {}) });
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
