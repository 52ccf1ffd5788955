/**
 * Bad input, systematically (issue 7): the built binary over a corpus of bad inputs for every
 * command. Each run gets a fresh working folder holding copies of its inputs; for every case we
 * assert the documented exit code, one `sfauth: …` line with a `hint: …` (or, under `--json`, one
 * JSON error on stderr and nothing on stdout), no stack trace, the folder unchanged (no partial or
 * temp file) and no secret echoed (passphrase, private key body lines, the token under inspection).
 * Half the cases run with `--json`, alternating, so both renderings meet every command and input.
 *
 * The network commands point at the local emulator; none of these inputs may reach it (checked at
 * the end: a bad input fails before any request).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT, openssl, runCliAsync, tempDir } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';
import { expectFailure, pemBodyLines, snapshot, type ExpectedFailure } from '../support/audit.js';
import { mintJwt } from '../../src/core/jwt.js';

const ACCOUNT = 'myorg-myaccount';
const PASS = 'SECRET-PASS-7f3a' + randomBytes(6).toString('hex');
const IS_ROOT = process.getuid?.() === 0;

let sf: Emulator;
let tmp: { dir: string; cleanup: () => void };
/** Fixtures, never written by a run (checked at the end). */
let fx: string;
let home: string;
let sfHome: string;
let token: string;
let alicePublic: KeyObject;
let fixturesBefore: Record<string, string>;
let homeBefore: Record<string, string>;
/** Every secret no run may print: the passphrase, every private key body line, the inspected token. */
const secrets: string[] = [PASS];

// ---------------------------------------------------------------------------------------------
// Fixtures

const f = (name: string) => join(fx, name);

function write(name: string, data: string | Buffer): string {
  writeFileSync(f(name), data, { mode: 0o600 });
  if (typeof data === 'string' && data.includes('PRIVATE KEY')) secrets.push(...pemBodyLines(data));
  return f(name);
}

function pem(label: string, der: Buffer, headers = ''): string {
  return `-----BEGIN ${label}-----\n${headers}${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

/** Replaces the base64 characters 2..5 of a PEM body (the DER length bytes): the structure no longer adds up. */
function corruptPemLength(text: string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l));
  lines[i] = lines[i]!.slice(0, 2) + 'AAAA' + lines[i]!.slice(6);
  return lines.join('\n');
}

function badBase64Char(text: string): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l)) + 1;
  lines[i] = lines[i]!.slice(0, 20) + '!*' + lines[i]!.slice(22);
  return lines.join('\n');
}

function makeFixtures(): void {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const enc = { cipher: 'aes-256-cbc', passphrase: PASS } as const;
  const rsaPkcs8 = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  write('rsa.p8', rsaPkcs8);
  write('rsa.enc.p8', rsa.privateKey.export({ type: 'pkcs8', format: 'pem', ...enc }) as string);
  write('rsa.pkcs1.pem', rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
  write('rsa.pkcs1.enc.pem', rsa.privateKey.export({ type: 'pkcs1', format: 'pem', ...enc }) as string);
  write('ec.sec1.pem', ec.privateKey.export({ type: 'sec1', format: 'pem' }) as string);
  write('rsa.pub', rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const pkcs8Der = rsa.privateKey.export({ type: 'pkcs8', format: 'der' });
  write('rsa.p8.der', pkcs8Der);
  secrets.push(pkcs8Der.toString('base64').slice(100, 164));
  write('rsa.enc.der', rsa.privateKey.export({ type: 'pkcs8', format: 'der', ...enc }));
  const spkiDer = rsa.publicKey.export({ type: 'spki', format: 'der' });
  write('rsa.pub.der', spkiDer);
  write('rsa.body.txt', spkiDer.toString('base64') + '\n');

  write('empty.p8', '');
  write('blank.p8', '  \n\n\t\n');
  write('garbage.p8', 'this is not a key, just some words\n');
  write('random.bin', Buffer.concat([Buffer.from([0x30, 0x82, 0x01]), randomBytes(400)]));
  write('locked.p8', 'this is not a key either\n'); // made mode 000 in each run folder
  mkdirSync(f('keys.d'));

  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  write('rsa1024.p8', rsa1024.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  write('rsa1024.pub', rsa1024.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  write('ed25519.p8', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  write('secp256k1.p8', generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  const dsa = generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 });
  write('dsa.p8', dsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  write('openssh.key', pem('OPENSSH PRIVATE KEY', Buffer.concat([Buffer.from('openssh-key-v1\0'), randomBytes(300)])));
  openssl(['req', '-x509', '-key', f('rsa.p8'), '-subj', '/CN=sfauth-test', '-days', '1', '-out', f('cert.pem')]);
  write('label-swap.pem', pem('PUBLIC KEY', pkcs8Der));
  write('pub-proc-type.pem', pem('PUBLIC KEY', spkiDer, 'Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n'));

  // Per format: truncated, structurally corrupted, and a character that is not base64.
  const text = (name: string) => readFileSync(f(name), 'utf8');
  for (const name of ['rsa.p8', 'rsa.enc.p8', 'rsa.pkcs1.pem', 'ec.sec1.pem', 'rsa.pub']) {
    write(`trunc.${name}`, text(name).slice(0, Math.floor(text(name).length / 2)));
    write(`corrupt.${name}`, corruptPemLength(text(name)));
    write(`badchar.${name}`, badBase64Char(text(name)));
  }
  for (const name of ['rsa.p8.der', 'rsa.enc.der', 'rsa.pub.der']) {
    const der = readFileSync(f(name));
    write(`trunc.${name}`, der.subarray(0, Math.floor(der.length / 2)));
    const bad = Buffer.from(der);
    bad[3] = bad[3]! ^ 0x10; // the length no longer matches the data
    write(`corrupt.${name}`, bad);
  }
  const body = spkiDer.toString('base64');
  write('trunc.rsa.body.txt', body.slice(0, 150) + '\n');
  write('corrupt.rsa.body.txt', body.slice(0, 2) + 'AAAA' + body.slice(6) + '\n');
  write('badchar.rsa.body.txt', body.slice(0, 40) + '!' + body.slice(41) + '\n');

  write('pass.txt', PASS + '\n');
  write('wrong-pass.txt', 'SECRET-WRONG-PASS-0b9e\n');
  write('empty-pass.txt', '');
  secrets.push('SECRET-WRONG-PASS-0b9e');
}

// ---------------------------------------------------------------------------------------------
// Running a case

interface Input {
  /** Fixture to copy into the run folder (keeps its name), or a directory to create. */
  file?: string;
  dir?: string;
  /** Extra fixtures copied alongside (e.g. the passphrase file). */
  also?: string[];
  env?: Record<string, string>;
  stdin?: string;
}

/** Runs `args` in a fresh folder holding copies of the inputs; asserts the failure and an unchanged folder. */
async function runCase(args: string[], input: Input, want: ExpectedFailure): Promise<void> {
  const runDir = mkdtempSync(join(tmp.dir, 'run-'));
  for (const name of [...(input.file ? [input.file] : []), ...(input.also ?? [])]) {
    const src = f(name);
    if (!existsSync(src)) continue;
    copyFileSync(src, join(runDir, name));
    if (name === 'locked.p8') chmodSync(join(runDir, name), 0o000);
  }
  if (input.dir) mkdirSync(join(runDir, input.dir));
  const before = snapshot(runDir);
  const r = await runCliAsync(args, {
    cwd: runDir,
    env: { HOME: home, SNOWFLAKE_HOME: sfHome, ...input.env },
    input: input.stdin,
  });
  expectFailure(args, r, want, secrets);
  expect(snapshot(runDir), `files changed by sfauth ${args.join(' ')}`).toEqual(before);
}

/** `args` without `flag` and its value. */
function without(args: string[], flag: string): string[] {
  const at = args.indexOf(flag);
  return at < 0 ? args : [...args.slice(0, at), ...args.slice(at + 2)];
}

/** Connection flags for the network commands: everything valid but the input under test. */
const conn = () => ['--account', ACCOUNT, '--host', sf.url, '--user', 'alice', '--timeout', '10s'];

interface CommandUnderTest {
  name: string;
  /** A public key is a valid input (only a private one can sign). */
  publicOk: boolean;
  /** argv with the key at `key` (relative to the run folder). */
  withKey(key: string): string[];
}

const KEY_COMMANDS: CommandUnderTest[] = [
  { name: 'fingerprint', publicOk: true, withKey: (k) => ['fingerprint', k] },
  { name: 'sql', publicOk: true, withKey: (k) => ['sql', '--user', 'SVC_LOADER', '--public-key', k] },
  { name: 'inspect', publicOk: true, withKey: (k) => ['inspect', token, '--public-key', k] },
  { name: 'jwt', publicOk: false, withKey: (k) => ['jwt', '--account', ACCOUNT, '--user', 'alice', '--private-key', k] },
  { name: 'test-connection', publicOk: false, withKey: (k) => ['test-connection', ...conn(), '--private-key', k] },
  { name: 'status', publicOk: false, withKey: (k) => ['status', ...conn(), '--private-key', k] },
  { name: 'rotate', publicOk: false, withKey: (k) => ['rotate', ...conn(), '--private-key', k, '--apply', '--no-encrypt'] },
  { name: 'pg-token', publicOk: false, withKey: (k) => ['pg-token', ...conn(), '--instance', 'reporting', '--pg-user', 'app', '--private-key', k] },
];
const SHARED_LOADER = ['test-connection', 'status', 'pg-token'];
const NETWORK = KEY_COMMANDS.filter((c) => ['test-connection', 'status', 'rotate', 'pg-token'].includes(c.name));
const ALL_COMMANDS = ['keygen', 'fingerprint', 'sql', 'jwt', 'inspect', 'test-connection', 'status', 'rotate', 'pg-token'];

type Pass = 'right' | 'wrong' | 'empty' | 'none';
interface KeyCase {
  id: string;
  file: string;
  pass?: Pass;
  /** Only a failure for commands that need a private key. */
  privateOnly?: boolean;
  want: { code: string; message: RegExp };
}

const malformed = (message: RegExp = /is not a readable key/) => ({ code: 'ERR_KEY_MALFORMED', message });

/** Every kind of bad key (each through the commands `keyCases` picks). */
const KEY_CORPUS: KeyCase[] = [
  { id: 'a missing file', file: 'no-such-key.p8', want: { code: 'ERR_FILE_NOT_FOUND', message: /not found/ } },
  { id: 'a folder', file: 'keys.d', want: { code: 'ERR_FILE_UNREADABLE', message: /folder|directory/ } },
  IS_ROOT
    ? // root reads a mode-000 file anyway: what it holds decides (here: not a key).
      { id: 'a mode-000 file (root reads it)', file: 'locked.p8', want: malformed() }
    : { id: 'a mode-000 file', file: 'locked.p8', want: { code: 'ERR_FILE_UNREADABLE', message: /permission denied/ } },
  { id: 'an empty file', file: 'empty.p8', want: { code: 'ERR_KEY_EMPTY', message: /is empty/ } },
  { id: 'whitespace only', file: 'blank.p8', want: { code: 'ERR_KEY_EMPTY', message: /is empty/ } },
  { id: 'garbage text', file: 'garbage.p8', want: malformed() },
  { id: 'random binary', file: 'random.bin', want: malformed() },
  { id: 'a private key body under a PUBLIC KEY label', file: 'label-swap.pem', want: malformed(/corrupted/) },
  { id: 'a public key PEM with encryption headers', file: 'pub-proc-type.pem', want: malformed(/never encrypted/) },
  { id: 'a certificate', file: 'cert.pem', want: malformed(/certificate/) },
  { id: 'a wrong passphrase (PKCS#8)', file: 'rsa.enc.p8', pass: 'wrong', want: { code: 'ERR_PASSPHRASE_WRONG', message: /wrong passphrase/ } },
  { id: 'a wrong passphrase (PKCS#1 Proc-Type)', file: 'rsa.pkcs1.enc.pem', pass: 'wrong', want: { code: 'ERR_PASSPHRASE_WRONG', message: /wrong passphrase/ } },
  { id: 'a wrong passphrase (encrypted DER)', file: 'rsa.enc.der', pass: 'wrong', want: { code: 'ERR_PASSPHRASE_WRONG', message: /wrong passphrase/ } },
  { id: 'an empty passphrase file', file: 'rsa.enc.p8', pass: 'empty', want: { code: 'ERR_PASSPHRASE_EMPTY', message: /passphrase .* is empty/ } },
  { id: 'no passphrase and no terminal', file: 'rsa.enc.p8', pass: 'none', want: { code: 'ERR_PASSPHRASE_REQUIRED', message: /encrypted and no passphrase/ } },
  { id: 'RSA-1024', file: 'rsa1024.p8', want: { code: 'ERR_KEY_UNSUPPORTED', message: /1024-bit RSA/ } },
  { id: 'Ed25519', file: 'ed25519.p8', want: { code: 'ERR_KEY_UNSUPPORTED', message: /Ed25519/ } },
  { id: 'DSA', file: 'dsa.p8', want: { code: 'ERR_KEY_UNSUPPORTED', message: /DSA/ } },
  { id: 'secp256k1', file: 'secp256k1.p8', want: { code: 'ERR_KEY_UNSUPPORTED', message: /secp256k1/ } },
  { id: 'an OpenSSH key', file: 'openssh.key', want: { code: 'ERR_KEY_UNSUPPORTED', message: /OpenSSH/ } },
  { id: 'a public key where a private one is needed', file: 'rsa.pub', privateOnly: true, want: { code: 'ERR_KEY_NOT_PRIVATE', message: /public key/ } },
];

/** Each format truncated, corrupted and with a non-base64 character: through a reader of any key and a signer. */
const FORMAT_CORPUS: KeyCase[] = [
  ...['rsa.p8', 'rsa.enc.p8', 'rsa.pkcs1.pem', 'ec.sec1.pem', 'rsa.pub'].flatMap((name) => [
    { id: `${name} truncated`, file: `trunc.${name}`, want: malformed(/incomplete/) },
    { id: `${name} corrupted`, file: `corrupt.${name}`, want: malformed(/truncated or corrupted/) },
    { id: `${name} with a non-base64 character`, file: `badchar.${name}`, want: malformed(/base64 body is corrupted/) },
  ]),
  ...['rsa.p8.der', 'rsa.enc.der', 'rsa.pub.der'].flatMap((name) => [
    { id: `${name} truncated`, file: `trunc.${name}`, want: malformed(/truncated or corrupted/) },
    { id: `${name} corrupted`, file: `corrupt.${name}`, want: malformed(/truncated or corrupted/) },
  ]),
  { id: 'base64 body truncated', file: 'trunc.rsa.body.txt', want: malformed() },
  { id: 'base64 body corrupted', file: 'corrupt.rsa.body.txt', want: malformed(/truncated or corrupted/) },
  { id: 'base64 body with a non-base64 character', file: 'badchar.rsa.body.txt', want: malformed() },
].map((c) => ({ ...c, pass: 'right' as Pass }));

function passArgs(pass: Pass | undefined): { args: string[]; also: string[] } {
  switch (pass ?? 'right') {
    case 'right':
      return { args: ['--passphrase-file', 'pass.txt'], also: ['pass.txt'] };
    case 'wrong':
      return { args: ['--passphrase-file', 'wrong-pass.txt'], also: ['wrong-pass.txt'] };
    case 'empty':
      return { args: ['--passphrase-file', 'empty-pass.txt'], also: ['empty-pass.txt'] };
    default:
      return { args: [], also: [] };
  }
}

let parity = 0;
/** Alternates text and --json over the table, so both renderings meet every command and input. */
const nextJson = () => parity++ % 2 === 1;

/**
 * Every entry through fingerprint, sql, inspect, jwt and rotate (each loads keys its own way), and
 * through one of test-connection / status / pg-token in turn (they share one session loader), so
 * every command meets the corpus.
 */
function keyCases(corpus: KeyCase[]) {
  const own = KEY_COMMANDS.filter((c) => !SHARED_LOADER.includes(c.name));
  const shared = KEY_COMMANDS.filter((c) => SHARED_LOADER.includes(c.name));
  return corpus.flatMap((c, i) =>
    [...own, shared[i % shared.length]!]
      .filter((cmd) => !(c.privateOnly && cmd.publicOk))
      .map((cmd) => ({ ...c, cmd, json: nextJson(), label: `${cmd.name} ← ${c.id}` })),
  );
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
  tmp = tempDir('sfauth-e2e-bad-input-');
  fx = join(tmp.dir, 'fixtures');
  home = join(tmp.dir, 'home');
  sfHome = join(tmp.dir, 'snowflake');
  for (const d of [fx, home, sfHome]) mkdirSync(d, { recursive: true });
  makeFixtures();

  const alice = generateKeyPairSync('rsa', { modulusLength: 2048 });
  write('alice.p8', alice.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  token = mintJwt({ account: ACCOUNT, user: 'alice', privateKey: alice.privateKey as KeyObject, issuedAt: Math.floor(Date.now() / 1000), lifetimeSeconds: 3600 }).token;
  secrets.push(token);

  sf = await startEmulator({ account: 'MYORG-MYACCOUNT' });
  alicePublic = alice.publicKey;
  sf.addUser('alice', { rsaPublicKey: alice.publicKey });
  sf.addPostgresInstance('reporting', { users: ['app'] });
  fixturesBefore = snapshot(fx);
  homeBefore = { ...snapshot(home), ...snapshot(sfHome) };
});

afterAll(async () => {
  // No bad input may reach the server, and no run may touch the fixtures or the homes.
  expect(sf.requests.map((q) => `${q.method} ${q.path} ${q.statement ?? ''}`)).toEqual([]);
  expect(snapshot(fx)).toEqual(fixturesBefore);
  expect({ ...snapshot(home), ...snapshot(sfHome) }).toEqual(homeBefore);
  await sf?.close();
  tmp?.cleanup();
});

describe('bad keys, through every command that reads a key', () => {
  it.concurrent.each(keyCases(KEY_CORPUS))('$label', async ({ cmd, file, pass, want, json }) => {
    const p = passArgs(pass);
    const args = [...cmd.withKey(file), ...p.args, ...(json ? ['--json'] : [])];
    await runCase(args, { file: file === 'keys.d' ? undefined : file, dir: file === 'keys.d' ? file : undefined, also: p.also }, { exit: 2, ...want });
  });
});

describe('each key format truncated or corrupted', () => {
  // Alternately through a reader of any key (fingerprint) and a signer (jwt): both load keys the same way.
  const readers = KEY_COMMANDS.filter((c) => c.name === 'fingerprint' || c.name === 'jwt');
  const cases = FORMAT_CORPUS.map((c, i) => ({ ...c, cmd: readers[i % 2]!, json: nextJson(), label: `${readers[i % 2]!.name} ← ${c.id}` }));
  it.concurrent.each(cases)('$label', async ({ cmd, file, pass, want, json }) => {
    const p = passArgs(pass);
    const args = [...cmd.withKey(file), ...p.args, ...(json ? ['--json'] : [])];
    await runCase(args, { file, also: p.also }, { exit: 2, ...want });
  });
});

describe('keys from stdin and from the environment', () => {
  const cases = NETWORK.map((cmd, i) =>
    i % 2 === 0
      ? { cmd, how: "'-' with nothing on stdin", key: '-', stdin: '', code: 'ERR_KEY_EMPTY' }
      : { cmd, how: "'-' with garbage on stdin", key: '-', stdin: 'not a key at all\n', code: 'ERR_KEY_MALFORMED' },
  ).map((c) => ({ ...c, json: nextJson(), label: `${c.cmd.name} ← ${c.how}` }));
  it.concurrent.each(cases)('$label', async ({ cmd, key, stdin, code, json }) => {
    await runCase([...cmd.withKey(key), ...(json ? ['--json'] : [])], { stdin }, { exit: 2, code });
  });

  const raw = ['jwt', ...NETWORK.map((c) => c.name)].map((name) => ({ name, json: nextJson() }));
  it.concurrent.each(raw)('$name ← SNOWFLAKE_PRIVATE_KEY_RAW holding garbage', async ({ name, json }) => {
    const base = name === 'jwt' ? ['jwt', '--account', ACCOUNT, '--user', 'alice'] : [name, ...conn()];
    const extra = name === 'pg-token' ? ['--instance', 'reporting', '--pg-user', 'app'] : [];
    await runCase([...base, ...extra, ...(json ? ['--json'] : [])], { env: { SNOWFLAKE_PRIVATE_KEY_RAW: '-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n' } }, {
      exit: 2,
      code: 'ERR_KEY_MALFORMED',
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('malformed durations (before any key is read or request sent)', () => {
  const bad = ['abc', '', '0', '-5m', '1.5h', '10 m', '1e3', '99999999999999999999999'];
  const key = ['--private-key', 'alice.p8'];
  const jwt = () => ['jwt', '--account', ACCOUNT, '--user', 'alice', ...key];
  const cases = [
    ...bad.map((v) => ({ cmd: 'jwt', flag: '--lifetime', v, args: () => [...jwt(), '--lifetime', v], code: 'ERR_DURATION_INVALID' })),
    ...['2h', '3601'].map((v) => ({ cmd: 'jwt', flag: '--lifetime', v, args: () => [...jwt(), '--lifetime', v], code: 'ERR_LIFETIME_TOO_LONG' })),
    ...NETWORK.flatMap((cmd, i) =>
      (i % 2 === 0 ? ['abc', '0'] : ['', '30 s']).map((v) => ({
        cmd: cmd.name,
        flag: '--timeout',
        v,
        args: () => [...without(cmd.withKey('alice.p8'), '--timeout'), '--timeout', v],
        code: 'ERR_DURATION_INVALID',
      })),
    ),
    ...['abc', '0', '90dd', '-90d'].map((v) => ({ cmd: 'status', flag: '--max-age', v, args: () => ['status', ...conn(), ...key, '--max-age', v], code: 'ERR_DURATION_INVALID' })),
    ...['', '0', 'ninety', '1.5d'].map((v) => ({
      cmd: 'rotate',
      flag: '--if-older-than',
      v,
      args: () => ['rotate', ...conn(), ...key, '--apply', '--if-older-than', v],
      code: 'ERR_DURATION_INVALID',
    })),
  ].map((c) => ({ ...c, json: nextJson(), label: `${c.cmd} ${c.flag} ${JSON.stringify(c.v)}` }));

  it.concurrent.each(cases)('$label', async ({ args, flag, code, json }) => {
    await runCase([...args(), ...(json ? ['--json'] : [])], { also: ['alice.p8'] }, { exit: 2, code, message: new RegExp(flag) });
  });
});

describe('account identifiers with spaces or illegal characters', () => {
  const accounts = ['my account', 'org!acct', "o'brien;drop", 'über-org', 'http://myorg-myaccount.snowflakecomputing.com', 'https://example.com'];
  const commands = [{ name: 'jwt', withKey: (k: string) => ['jwt', '--user', 'alice', '--private-key', k] }, ...NETWORK];
  const cases = accounts.flatMap((account, i) =>
    [commands[0]!, NETWORK[i % NETWORK.length]!].map((cmd) => ({
      args: () => [...without(cmd.withKey('alice.p8'), '--account'), '--account', account],
      json: nextJson(),
      label: `${cmd.name} --account ${JSON.stringify(account)}`,
    })),
  );
  it.concurrent.each(cases)('$label', async ({ args, json }) => {
    await runCase([...args(), ...(json ? ['--json'] : [])], { also: ['alice.p8'] }, { exit: 2, code: 'ERR_ACCOUNT_INVALID', message: /invalid account identifier/ });
  });

  it.concurrent.each([['jwt'], ['test-connection']])("%s: an empty --account is a usage error, not 'missing'", async (name) => {
    const args = name === 'jwt' ? ['jwt', '--user', 'alice', '--private-key', 'alice.p8', '--account', ' '] : [name, '--host', sf.url, '--user', 'alice', '--private-key', 'alice.p8', '--account', ''];
    await runCase(args, { also: ['alice.p8'] }, { exit: 2, code: 'ERR_USAGE', message: /--account is empty/ });
  });
});

describe('unknown flags, commands and arguments', () => {
  const cases = ALL_COMMANDS.flatMap((name, i) => [
    { args: [name, '--frobnicate'], message: /unknown option '--frobnicate'/ },
    ...(i % 3 === 0 ? [{ args: [name, '--passphrase-file'], message: /option '--passphrase-file <path>' argument missing/ }] : []),
    ...(i % 3 === 1 ? [{ args: [name, '--timeout'], message: /option '--timeout <duration>' argument missing|unknown option '--timeout'/ }] : []),
    ...(i % 3 === 2 ? [{ args: [name, 'stray-argument', 'another'], message: /too many arguments|missing required argument|unknown command/ }] : []),
  ]).map((c) => ({ ...c, json: nextJson(), label: c.args.join(' ') }));
  it.concurrent.each(cases)('$label', async ({ args, message, json }) => {
    await runCase([args[0]!, ...(json ? ['--json'] : []), ...args.slice(1)], {}, { exit: 2, code: 'ERR_USAGE', message });
  });

  it.concurrent.each([
    { args: ['frobnicate'], message: /unknown command 'frobnicate'/ },
    { args: ['keygn'], message: /unknown command 'keygn'/, hint: /did you mean keygen\?/ },
    { args: ['KEYGEN'], message: /unknown command 'KEYGEN'/ },
    { args: ['--frobnicate'], message: /unknown option '--frobnicate'/ },
  ])('sfauth $args', async ({ args, message, hint }) => {
    const runDir = mkdtempSync(join(tmp.dir, 'run-'));
    const r = await runCliAsync(args, { cwd: runDir, env: { HOME: home } });
    const e = expectFailure(args, r, { exit: 2, message });
    if (hint) expect(e.hint).toMatch(hint);
    const j = await runCliAsync([...args, '--json'], { cwd: runDir, env: { HOME: home } });
    expect(j.code).toBe(2);
    expect(j.stdout).toBe('');
  });
});

// ---------------------------------------------------------------------------------------------

describe('keygen: bad options and unwritable output paths', () => {
  const roDir = 'read-only';
  /** A folder this process cannot create files in: a mode-555 folder, or (root ignores modes) sysfs. */
  const unwritable = (name: string) => (IS_ROOT ? `/sys/sfauth-${process.pid}-${name}` : `${roDir}/${name}`);
  const cases: { id: string; args: string[]; code: string; message: RegExp; input?: Input }[] = [
    { id: '--type dsa', args: ['--type', 'dsa', '--no-encrypt'], code: 'ERR_USAGE', message: /unknown key type 'dsa'/ },
    { id: '--type ed25519', args: ['--type', 'ed25519', '--no-encrypt'], code: 'ERR_USAGE', message: /unknown key type/ },
    { id: '--bits 1024', args: ['--bits', '1024', '--no-encrypt'], code: 'ERR_USAGE', message: /unsupported RSA size '1024'/ },
    { id: '--bits 8192', args: ['--bits', '8192', '--no-encrypt'], code: 'ERR_USAGE', message: /unsupported RSA size/ },
    { id: '--bits abc', args: ['--bits', 'abc', '--no-encrypt'], code: 'ERR_USAGE', message: /unsupported RSA size/ },
    { id: '--bits 2048.5', args: ['--bits', '2048.5', '--no-encrypt'], code: 'ERR_USAGE', message: /unsupported RSA size/ },
    { id: '--curve secp256k1', args: ['--type', 'ec', '--curve', 'secp256k1', '--no-encrypt'], code: 'ERR_USAGE', message: /unsupported curve/ },
    { id: '--curve P-192', args: ['--type', 'ec', '--curve', 'P-192', '--no-encrypt'], code: 'ERR_USAGE', message: /unsupported curve/ },
    { id: '--slot 3', args: ['--slot', '3', '--no-encrypt'], code: 'ERR_USAGE', message: /slot/ },
    { id: '--no-encrypt with --passphrase-file', args: ['--no-encrypt', '--passphrase-file', 'pass.txt'], code: 'ERR_USAGE', message: /contradict/, input: { also: ['pass.txt'] } },
    { id: '--out equal to --pub-out', args: ['--no-encrypt', '--out', 'k.p8', '--pub-out', 'k.p8'], code: 'ERR_USAGE', message: /same file/ },
    { id: 'a missing folder', args: ['--no-encrypt', '--out', 'missing/k.p8'], code: 'ERR_OUTPUT_UNWRITABLE', message: /does not exist/ },
    { id: "--out ''", args: ['--no-encrypt', '--out', ''], code: 'ERR_USAGE', message: /names no file/ },
    { id: '--out naming a folder with a trailing slash', args: ['--no-encrypt', '--out', 'keys/'], code: 'ERR_USAGE', message: /names no file/ },
    { id: '--out naming an existing folder, even with --force', args: ['--no-encrypt', '--force', '--out', 'keys.d'], code: 'ERR_OUTPUT_UNWRITABLE', message: /is a folder/, input: { dir: 'keys.d' } },
    { id: '--pub-out naming an existing folder', args: ['--no-encrypt', '--out', 'k.p8', '--pub-out', '.'], code: 'ERR_OUTPUT_UNWRITABLE', message: /is a folder/ },
    { id: 'a path through a file', args: ['--no-encrypt', '--out', 'pass.txt/k.p8'], code: 'ERR_OUTPUT_UNWRITABLE', message: /not a folder/, input: { also: ['pass.txt'] } },
    { id: 'a read-only folder', args: ['--passphrase-file', 'pass.txt', '--out', unwritable('k.p8')], code: 'ERR_OUTPUT_UNWRITABLE', message: /cannot write/, input: { dir: roDir, also: ['pass.txt'] } },
    {
      id: 'the public key in a read-only folder (the private key is removed again)',
      args: ['--no-encrypt', '--out', 'k.p8', '--pub-out', unwritable('k.pub')],
      code: 'ERR_OUTPUT_UNWRITABLE',
      message: /cannot write/,
      input: { dir: roDir },
    },
    { id: 'an existing file', args: ['--no-encrypt', '--out', 'pass.txt'], code: 'ERR_FILE_EXISTS', message: /refusing to overwrite/, input: { also: ['pass.txt'] } },
    { id: 'a missing passphrase file', args: ['--passphrase-file', 'nope.txt'], code: 'ERR_FILE_NOT_FOUND', message: /not found/ },
    { id: 'a passphrase file that is a folder', args: ['--passphrase-file', 'keys.d'], code: 'ERR_FILE_UNREADABLE', message: /folder/, input: { dir: 'keys.d' } },
    { id: 'an empty passphrase file', args: ['--passphrase-file', 'empty-pass.txt'], code: 'ERR_PASSPHRASE_EMPTY', message: /empty/, input: { also: ['empty-pass.txt'] } },
    { id: 'no passphrase and no terminal', args: [], code: 'ERR_PASSPHRASE_MISSING', message: /passphrase is needed/ },
    // set but empty is an empty passphrase (as the Snowflake CLI reads it), refused for a new key
    { id: 'an empty PRIVATE_KEY_PASSPHRASE', args: [], code: 'ERR_PASSPHRASE_EMPTY', message: /the passphrase from PRIVATE_KEY_PASSPHRASE is empty/, input: { env: { PRIVATE_KEY_PASSPHRASE: '' } } },
  ];
  it.concurrent.each(cases.map((c) => ({ ...c, json: nextJson() })))('$id', async ({ args, code, message, input, json }) => {
    const runDir = mkdtempSync(join(tmp.dir, 'run-'));
    if (input?.dir === roDir) {
      mkdirSync(join(runDir, roDir));
      chmodSync(join(runDir, roDir), 0o555);
    }
    const full = ['keygen', ...args, ...(json ? ['--json'] : [])];
    for (const name of input?.also ?? []) copyFileSync(f(name), join(runDir, name));
    if (input?.dir && input.dir !== roDir) mkdirSync(join(runDir, input.dir));
    const before = snapshot(runDir);
    const r = await runCliAsync(full, { cwd: runDir, env: { HOME: home, ...input?.env } });
    expectFailure(full, r, { exit: 2, code, message }, secrets);
    expect(snapshot(runDir), `files changed by ${full.join(' ')}`).toEqual(before);
    if (IS_ROOT && full.some((a) => a.startsWith('/sys/'))) expect(existsSync(full.find((a) => a.startsWith('/sys/'))!)).toBe(false);
  });
});

describe('other bad values, per command', () => {
  const net = (cmd: CommandUnderTest, ...extra: string[]) => () => [...cmd.withKey('alice.p8'), ...extra];
  const cases: { id: string; args: () => string[]; code: string; message?: RegExp; input?: Input }[] = [
    { id: 'sql --slot 3', args: () => ['sql', '--user', 'U', '--public-key', 'rsa.pub', '--slot', '3'], code: 'ERR_USAGE', message: /slot/, input: { also: ['rsa.pub'] } },
    { id: 'sql --unset with --public-key', args: () => ['sql', '--user', 'U', '--unset', '--public-key', 'rsa.pub'], code: 'ERR_USAGE', input: { also: ['rsa.pub'] } },
    { id: 'sql without --user', args: () => ['sql', '--public-key', 'rsa.pub'], code: 'ERR_USAGE', message: /missing user/, input: { also: ['rsa.pub'] } },
    { id: 'fingerprint --expect abc', args: () => ['fingerprint', 'rsa.pub', '--expect', 'abc'], code: 'ERR_USAGE', message: /not a SHA256 fingerprint/, input: { also: ['rsa.pub'] } },
    { id: 'fingerprint - - (stdin twice)', args: () => ['fingerprint', '-', '-'], code: 'ERR_USAGE', message: /stdin/ },
    { id: "inspect 'not-a-jwt'", args: () => ['inspect', 'not-a-jwt'], code: 'ERR_TOKEN_MALFORMED', message: /not a JWT/ },
    { id: 'inspect - with nothing on stdin', args: () => ['inspect', '-'], code: 'ERR_TOKEN_MALFORMED', message: /empty/ },
    { id: 'inspect with a missing --passphrase-file', args: () => ['inspect', token, '--public-key', 'rsa.pub', '--passphrase-file', 'nope.txt'], code: 'ERR_FILE_NOT_FOUND', message: /not found/, input: { also: ['rsa.pub'] } },
    { id: 'jwt with a missing --passphrase-file', args: () => ['jwt', '--account', ACCOUNT, '--user', 'alice', '--private-key', 'alice.p8', '--passphrase-file', 'nope.txt'], code: 'ERR_FILE_NOT_FOUND', message: /not found/, input: { also: ['alice.p8'] } },
    { id: 'jwt with a user of spaces', args: () => ['jwt', '--account', ACCOUNT, '--user', '   ', '--private-key', 'alice.p8'], code: 'ERR_USAGE', message: /--user is empty/, input: { also: ['alice.p8'] } },
    { id: 'pg-token --format xml', args: () => ['pg-token', ...conn(), '--instance', 'reporting', '--pg-user', 'app', '--private-key', 'alice.p8', '--format', 'xml'], code: 'ERR_USAGE', message: /format/, input: { also: ['alice.p8'] } },
    { id: 'pg-token without --instance', args: () => ['pg-token', ...conn(), '--pg-user', 'app', '--private-key', 'alice.p8'], code: 'ERR_USAGE', message: /--instance/, input: { also: ['alice.p8'] } },
    { id: 'status --target-user ""', args: () => ['status', ...conn(), '--private-key', 'alice.p8', '--target-user', ''], code: 'ERR_USAGE', input: { also: ['alice.p8'] } },
    { id: 'rotate --new-passphrase-file with --no-encrypt', args: () => ['rotate', ...conn(), '--private-key', 'alice.p8', '--apply', '--no-encrypt', '--new-passphrase-file', 'pass.txt'], code: 'ERR_USAGE', input: { also: ['alice.p8', 'pass.txt'] } },
    { id: 'rotate --bits 1024', args: () => ['rotate', ...conn(), '--private-key', 'alice.p8', '--apply', '--no-encrypt', '--bits', '1024'], code: 'ERR_USAGE', message: /RSA size/, input: { also: ['alice.p8'] } },
  ];
  // Credential and host problems, shared by the network commands.
  const shared = (cmd: CommandUnderTest) => {
    const withoutKey = () => without(cmd.withKey('alice.p8'), '--private-key');
    const pg = cmd.name === 'pg-token' ? ['--instance', 'reporting', '--pg-user', 'app'] : [];
    return [
      { id: `${cmd.name} --host http://example.com`, args: net(cmd, '--host', 'http://example.com'), code: 'ERR_HOST_INSECURE', message: /plain http/, input: { also: ['alice.p8'] } },
      { id: `${cmd.name} --host 'exa mple'`, args: net(cmd, '--host', 'exa mple'), code: 'ERR_HOST_INVALID', input: { also: ['alice.p8'] } },
      { id: `${cmd.name} --token-type bogus`, args: () => [...withoutKey(), '--token-file', 'pass.txt', '--token-type', 'bogus'], code: 'ERR_USAGE', message: /--token-type/, input: { also: ['pass.txt'] } },
      { id: `${cmd.name} a missing --token-file`, args: () => [...withoutKey(), '--token-file', 'nope.txt', '--token-type', 'pat'], code: 'ERR_FILE_NOT_FOUND', input: {} },
      { id: `${cmd.name} an empty --token-file`, args: () => [...withoutKey(), '--token-file', 'empty-pass.txt', '--token-type', 'pat'], code: 'ERR_TOKEN_EMPTY', input: { also: ['empty-pass.txt'] } },
      { id: `${cmd.name} -c unknown`, args: () => [cmd.name, '-c', 'nosuch', ...pg], code: 'ERR_CONNECTION_NOT_FOUND', input: {} },
    ];
  };
  // Each credential/host problem on two of the four network commands (they share the session code).
  NETWORK.forEach((cmd, i) => cases.push(...shared(cmd).filter((_, j) => (i + j) % 2 === 0)));
  it.concurrent.each(cases.map((c) => ({ ...c, json: nextJson() })))('$id', async ({ args, code, message, input, json }) => {
    await runCase([...args(), ...(json ? ['--json'] : [])], input ?? {}, { exit: 2, code, message });
  });

  it.concurrent('rotate --apply --out in a missing folder: exit 2, nothing written, nothing changed on the server', async () => {
    // rotate reads DESC USER before it writes, so this one runs against its own emulator.
    const own = await startEmulator({ account: 'MYORG-MYACCOUNT' });
    try {
      own.addUser('alice', { rsaPublicKey: alicePublic });
      const args = ['rotate', '--account', ACCOUNT, '--host', own.url, '--user', 'alice', '--private-key', 'alice.p8', '--apply', '--no-encrypt', '--out', 'missing/new.p8'];
      // It prints the plan (stdout) and its progress (stderr) before it finds out.
      await runCase(args, { also: ['alice.p8'] }, { exit: 2, message: /cannot write .*missing/, stdoutEmpty: false, afterProgress: true });
      expect(own.executed.map((e) => e.statement).filter((q) => !/^\s*DESC/i.test(q))).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it.concurrent('a broken connections.toml: exit 2 for every network command, the file untouched', async () => {
    const cfg = mkdtempSync(join(tmp.dir, 'cfg-'));
    writeFileSync(join(cfg, 'connections.toml'), '[loader\naccount = "x"\n', { mode: 0o600 });
    for (const cmd of NETWORK) {
      const args = [cmd.name, '-c', 'loader', ...(cmd.name === 'pg-token' ? ['--instance', 'reporting', '--pg-user', 'app'] : [])];
      const r = await runCliAsync(args, { cwd: cfg, env: { HOME: home, SNOWFLAKE_HOME: cfg } });
      expectFailure(args, r, { exit: 2, code: 'ERR_CONFIG_INVALID', message: /invalid TOML/ }, secrets);
    }
    expect(Object.keys(snapshot(cfg))).toEqual(['connections.toml']);
    expect(basename(cfg)).toMatch(/^cfg-/);
  });
});
