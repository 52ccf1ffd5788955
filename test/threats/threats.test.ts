/**
 * The threat model of DESIGN.md §7 as tests (issue 11): what another local user, a concurrent run, a
 * hostile server, an endless input, an interrupted write or a broken output can do to sfauth. Each
 * case failed on sfauth 0.1. The second local user is uid 65534 (`nobody`): the suite runs as root in
 * CI, so it can plant files owned by someone else with chown.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, STACK_TRACE, baseEnv, openssl, runCli, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../support/emulator.js';
import { runCliInPty, sleep } from '../support/audit.js';
import { sfauthErrorOf } from '../support/errors.js';
import { journalFixture } from '../support/journal.js';
import { acquireRotationLock } from '../../src/rotate/lock.js';
import { hostname } from 'node:os';

const ACCOUNT = 'myorg-myaccount';
const OTHER_UID = 65534;
const isRoot = process.getuid?.() === 0;

function fingerprintOf(key: KeyObject): string {
  return 'SHA256:' + createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('base64');
}

/** spawnSync's answer, without blocking this process's event loop (its emulators keep serving). */
function spawnAsync(cmd: string, args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

interface World {
  sf: Emulator;
  dir: string;
  keyPath: string;
  key: { publicKey: KeyObject; privateKey: KeyObject };
  fp: string;
  env: Record<string, string>;
  args: string[];
  rotate(extra: string[], opts?: { env?: Record<string, string | undefined>; timeoutMs?: number }): Promise<CliResult>;
}

async function world(opts: { emulator?: EmulatorOptions; slot2?: KeyObject } = {}): Promise<World> {
  const sf = await startEmulator(opts.emulator);
  const { dir, cleanup } = tempDir('sfauth-threat-');
  cleanups.push(async () => {
    await sf.close();
    cleanup();
  });
  mkdirSync(join(dir, 'home'));
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPath = join(dir, 'rsa_key.p8');
  writeFileSync(keyPath, key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  sf.addUser('SVC', { rsaPublicKey: key.publicKey, ...(opts.slot2 ? { rsaPublicKey2: opts.slot2 } : {}) });
  const env = { HOME: join(dir, 'home'), SNOWFLAKE_HOME: join(dir, 'home', 'sf') };
  const args = ['--account', ACCOUNT, '--host', sf.url, '--user', 'SVC', '--private-key', keyPath];
  return {
    sf,
    dir,
    keyPath,
    key,
    fp: fingerprintOf(key.publicKey),
    env,
    args,
    rotate: (extra, o) => runCliAsync(['rotate', ...args, ...extra], { cwd: dir, env: { ...env, ...o?.env }, timeoutMs: o?.timeoutMs ?? 40_000 }),
  };
}

const slotFingerprints = (sf: Emulator) => {
  const u = sf.user('SVC');
  return [u.slots[1]?.fingerprint ?? null, u.slots[2]?.fingerprint ?? null];
};
const alters = (sf: Emulator) => sf.requests.filter((r) => /^\s*ALTER/i.test(r.statement ?? ''));

function cleanExit(r: CliResult): void {
  expect(r.stderr).not.toMatch(STACK_TRACE);
  expect(r.stderr).not.toMatch(/internal error/);
}

// ---------------------------------------------------------------------------------------------

describe('1. planted journals (another local user, a shared folder)', () => {
  /** A journal as an attacker would write it: coherent, naming the attacker's key. */
  function plantedJournal(w: World, attacker: KeyObject, name = 'rsa_key.2020-01-01.p8') {
    const privateKeyPath = join(w.dir, name);
    const journal = journalFixture({ oldFingerprint: w.fp, newPublicKey: attacker, privateKeyPath, createdAt: '2020-01-01T00:00:00.000Z' });
    return { path: privateKeyPath + '.rotate.json', journal };
  }

  it.runIf(isRoot).concurrent("a journal owned by another user is ignored: the attacker's key is never registered", async () => {
    const w = await world();
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { path, journal } = plantedJournal(w, attacker.publicKey);
    writeFileSync(path, JSON.stringify(journal), { mode: 0o644 });
    writeFileSync(journal.privateKeyPath as string, attacker.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o644 });
    chownSync(path, OTHER_UID, OTHER_UID);
    chownSync(journal.privateKeyPath as string, OTHER_UID, OTHER_UID);
    const r = await w.rotate(['--apply']);
    cleanExit(r);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/ignoring the rotation journal .*rsa_key\.2020-01-01\.p8\.rotate\.json: it belongs to uid 65534/);
    expect(slotFingerprints(w.sf)).not.toContain(fingerprintOf(attacker.publicKey));
    expect(slotFingerprints(w.sf)[1]).not.toBeNull();
  });

  it.concurrent('a journal of ours that others can write, or that names paths elsewhere, or a key that is not its fingerprint, is ignored', async () => {
    const w = await world();
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const writable = plantedJournal(w, attacker.publicKey, 'rsa_key.2020-01-01.p8');
    writeFileSync(writable.path, JSON.stringify(writable.journal), { mode: 0o600 });
    chmodSync(writable.path, 0o666);
    const elsewhere = plantedJournal(w, attacker.publicKey, 'rsa_key.2020-01-02.p8');
    elsewhere.journal.privateKeyPath = join(w.dir, 'home', 'victim.p8');
    elsewhere.journal.publicKeyPath = join(w.dir, 'home', 'victim.pub');
    writeFileSync(elsewhere.path, JSON.stringify(elsewhere.journal), { mode: 0o600 });
    const mismatched = plantedJournal(w, attacker.publicKey, 'rsa_key.2020-01-03.p8');
    mismatched.journal.newFingerprint = w.fp.replace(/.=$/, 'A=');
    writeFileSync(mismatched.path, JSON.stringify(mismatched.journal), { mode: 0o600 });
    writeFileSync(join(w.dir, 'home', 'victim.p8'), 'precious\n', { mode: 0o600 });

    const r = await w.rotate(['--apply']);
    cleanExit(r);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/rsa_key\.2020-01-01\.p8\.rotate\.json: it is writable by others/);
    expect(r.stderr).toMatch(/rsa_key\.2020-01-02\.p8\.rotate\.json: it names a key outside its own place/);
    expect(r.stderr).toMatch(/rsa_key\.2020-01-03\.p8\.rotate\.json: its public key does not match its fingerprint/);
    expect(slotFingerprints(w.sf)).not.toContain(fingerprintOf(attacker.publicKey));
    expect(readFileSync(join(w.dir, 'home', 'victim.p8'), 'utf8')).toBe('precious\n');
  });
});

describe('2. concurrent rotations of one user', () => {
  it.concurrent('two rotations with different --out: one rotates, the other stops at the lock; one new key, no false "undo"', async () => {
    const w = await world({ emulator: { propagationDelayMs: 4000 } }); // the winner holds the lock this long at least
    const [a, b] = await Promise.all([w.rotate(['--apply', '--out', 'a.p8']), w.rotate(['--apply', '--out', 'b.p8'])]);
    for (const r of [a, b]) cleanExit(r);
    const codes = [a.code, b.code].sort();
    expect(codes, a.stderr + b.stderr).toEqual([0, 1]);
    const loser = a.code === 1 ? a : b;
    expect(loser.stderr).toMatch(/another sfauth rotate of SVC is running \(pid \d+/);
    expect(loser.stderr).not.toMatch(/to undo|no one is locked out/);
    const winnerFile = a.code === 0 ? 'a.p8' : 'b.p8';
    const loserFile = a.code === 0 ? 'b.p8' : 'a.p8';
    expect(existsSync(join(w.dir, loserFile))).toBe(false);
    const winnerFp = fingerprintOf(createPublicKey(readFileSync(join(w.dir, winnerFile))));
    // The winner's key came from --private-key PATH (not replaced in place): it awaits delivery, the old key kept.
    expect(slotFingerprints(w.sf).filter(Boolean)).toEqual([w.fp, winnerFp]);
    expect(alters(w.sf).filter((q) => /(^|\s)SET RSA_PUBLIC_KEY/.test(q.statement!))).toHaveLength(1);
  });

  it.concurrent('keys that move between the plan and the SET (another machine): ERR_ROTATION_CONFLICT, no statement sent', async () => {
    const w = await world();
    const elsewhere = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // RSA-4096 generation leaves a window between the read and the SET; the other "machine" acts in it.
    const run = w.rotate(['--apply', '--bits', '4096']);
    for (let i = 0; i < 400 && !w.sf.requests.some((q) => /^DESC/i.test(q.statement ?? '')); i++) await sleep(10);
    w.sf.setKey('SVC', 2, elsewhere.publicKey);
    const r = await run;
    cleanExit(r);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/the keys of SVC changed while this rotation ran; nothing more was changed/);
    expect(alters(w.sf)).toHaveLength(0);
    expect(slotFingerprints(w.sf)).toEqual([w.fp, fingerprintOf(elsewhere.publicKey)]);
  });

  it('a lock left by a process that died (SIGKILL) is stale and taken over; a live one stops the second run', () => {
    const { dir, cleanup } = tempDir('sfauth-lock-');
    cleanups.push(cleanup);
    const env = { HOME: dir };
    const first = acquireRotationLock(env, dir, ACCOUNT, 'svc', Date.now());
    expect(statSync(join(dir, '.local', 'state', 'sfauth', 'locks')).mode & 0o777).toBe(0o700);
    const err = sfauthErrorOf(() => acquireRotationLock(env, dir, ACCOUNT, 'SVC', Date.now()));
    expect(err.code).toBe('ERR_ROTATION_LOCKED');
    expect(err.exitCode).toBe(1);
    // The holder dies without releasing (SIGKILL): its record names a pid that no longer runs.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(first.path, JSON.stringify({ pid: dead, host: hostname(), startedAt: 'then' }));
    const second = acquireRotationLock(env, dir, ACCOUNT, 'svc', Date.now());
    expect(JSON.parse(readFileSync(second.path, 'utf8')).pid).toBe(process.pid);
    second.release();
    expect(existsSync(second.path)).toBe(false);
    // Other users' lock folders are not used.
    chmodSync(join(dir, '.local', 'state', 'sfauth', 'locks'), 0o777);
    expect(sfauthErrorOf(() => acquireRotationLock(env, dir, ACCOUNT, 'svc', Date.now())).code).toBe('ERR_FILE_UNTRUSTED');
  });
});

describe('3. the server’s words', () => {
  it.concurrent('a 401 that echoes the bearer token and escape sequences: neither reaches stderr or --json', async () => {
    const w = await world();
    for (const json of [false, true]) {
      w.sf.injectFault({
        kind: 'answer',
        status: 401,
        body: (bearer) => JSON.stringify({ code: '390144', message: `JWT token is invalid: ${bearer} \u001b[2J\u001b[HAll keys OK\u0007 \u009b31m` }),
      });
      const r = await runCliAsync(['test-connection', ...w.args, ...(json ? ['--json'] : [])], { cwd: w.dir, env: w.env });
      cleanExit(r);
      expect(r.code).toBe(1);
      expect(r.stderr).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/);
      expect(r.stderr).toContain('<redacted>');
      // eslint-disable-next-line no-control-regex
      expect(r.stderr + r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    }
  });

  it.concurrent('a PAT echoed in a 422 message is cut out; control characters in cell values are stripped', async () => {
    const w = await world();
    const pat = 'pat_' + randomBytes(24).toString('hex');
    writeFileSync(join(w.dir, 'pat.txt'), pat + '\n', { mode: 0o600 });
    w.sf.injectFault({ kind: 'answer', status: 422, body: (bearer) => JSON.stringify({ code: '002003', message: `no such thing for token ${bearer}` }) });
    const tokenArgs = ['--account', ACCOUNT, '--host', w.sf.url, '--token-file', join(w.dir, 'pat.txt'), '--token-type', 'pat'];
    const r = await runCliAsync(['test-connection', ...tokenArgs, '--json'], { cwd: w.dir, env: w.env });
    expect(r.stderr + r.stdout).not.toContain(pat);
    const evil = JSON.stringify({
      resultSetMetaData: { rowType: [{ name: 'CURRENT_ACCOUNT()' }, { name: 'CURRENT_USER()' }, { name: 'CURRENT_ROLE()' }] },
      data: [['MYORG\u001b[2J', 'SVC\u001b]0;pwned\u0007', 'PUBLIC\r\nAll keys OK']],
    });
    w.sf.injectFault({ kind: 'answer', status: 200, body: evil });
    const ok = await runCliAsync(['test-connection', ...w.args], { cwd: w.dir, env: w.env });
    expect(ok.code, ok.stderr).toBe(0);
    // eslint-disable-next-line no-control-regex
    expect(ok.stdout + ok.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(ok.stdout).not.toMatch(/^All keys OK/m);
  });
});

describe('4. passphrase files are bytes', () => {
  it.concurrent('a random binary passphrase encrypts a key that openssl -passin file: opens; NUL-only is refused', async () => {
    const { dir, cleanup } = tempDir('sfauth-pass-');
    cleanups.push(cleanup);
    let pass = randomBytes(32);
    pass = Buffer.from(pass.map((b) => (b === 0x0a || b === 0x00 ? 0x41 : b)));
    pass[0] = 0xff; // never valid UTF-8
    writeFileSync(join(dir, 'pass.bin'), pass, { mode: 0o600 });
    const r = runCli(['keygen', '--out', join(dir, 'k.p8'), '--passphrase-file', join(dir, 'pass.bin')], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const pub = openssl(['pkey', '-in', join(dir, 'k.p8'), '-passin', `file:${join(dir, 'pass.bin')}`, '-pubout']).toString();
    expect(pub).toBe(readFileSync(join(dir, 'k.pub'), 'utf8'));
    // A passphrase with U+FFFD in place of the invalid byte must not open it.
    writeFileSync(join(dir, 'mangled'), Buffer.from(pass.toString('utf8')), { mode: 0o600 });
    expect(runCli(['fingerprint', join(dir, 'k.p8'), '--passphrase-file', join(dir, 'mangled')], { cwd: dir }).code).toBe(2);
    expect(runCli(['fingerprint', join(dir, 'k.p8'), '--passphrase-file', join(dir, 'pass.bin')], { cwd: dir }).code).toBe(0);

    writeFileSync(join(dir, 'nul'), Buffer.alloc(16), { mode: 0o600 });
    const nul = runCli(['keygen', '--out', join(dir, 'n.p8'), '--passphrase-file', join(dir, 'nul')], { cwd: dir });
    expect(nul.code).toBe(2);
    expect(nul.stderr).toMatch(/ERR_PASSPHRASE_EMPTY|is empty/);
    expect(existsSync(join(dir, 'n.p8'))).toBe(false);
  });
});

describe('5. a key from SNOWFLAKE_PRIVATE_KEY_RAW or stdin', () => {
  it.concurrent('rotate refuses before any network call unless --out or --keep-old says where the new key goes', async () => {
    const w = await world();
    const pem = readFileSync(w.keyPath, 'utf8');
    const args = ['rotate', '--account', ACCOUNT, '--host', w.sf.url, '--user', 'SVC', '--apply'];
    const raw = await runCliAsync(args, { cwd: w.dir, env: { ...w.env, SNOWFLAKE_PRIVATE_KEY_RAW: pem } });
    cleanExit(raw);
    expect(raw.code).toBe(2);
    expect(raw.stderr).toMatch(/came from SNOWFLAKE_PRIVATE_KEY_RAW/);
    expect(raw.stderr).toMatch(/hint: .*--out PATH.*--keep-old/);
    const stdin = await runCliAsync([...args, '--private-key', '-'], { cwd: w.dir, env: w.env, input: pem });
    expect(stdin.code).toBe(2);
    expect(w.sf.requests).toHaveLength(0);
    expect(readdirSync(w.dir).filter((f) => f.endsWith('.p8'))).toEqual(['rsa_key.p8']);
    const out = await runCliAsync([...args, '--out', join(w.dir, 'home', 'kept.p8')], { cwd: w.dir, env: { ...w.env, SNOWFLAKE_PRIVATE_KEY_RAW: pem } });
    expect(out.code, out.stderr).toBe(0);
    expect(existsSync(join(w.dir, 'home', 'kept.p8'))).toBe(true);
  });
});

describe('6. inputs that never end', () => {
  it.concurrent('a FIFO with no writer as --passphrase-file: SIGINT ends sfauth at once (JSON under --json)', async () => {
    const { dir, cleanup } = tempDir('sfauth-fifo-');
    cleanups.push(cleanup);
    expect(spawnSync('mkfifo', [join(dir, 'fifo')]).status).toBe(0);
    const child = spawn(process.execPath, [BIN, 'keygen', '--out', join(dir, 'k.p8'), '--passphrase-file', join(dir, 'fifo'), '--json'], {
      cwd: dir,
      env: baseEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await sleep(700);
    const sent = Date.now();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    const took = Date.now() - sent;
    expect(code).toBe(130);
    // Before the fix this never returned (the test's own timeout ended it); now it is immediate.
    expect(took).toBeLessThan(5000);
    expect(JSON.parse(stderr.trim()).error.code).toBe('ERR_INTERRUPTED');
    expect(readdirSync(dir)).toEqual(['fifo']);
  });

  it.concurrent('/dev/zero as a key or passphrase is cut at the cap: exit 2 at once; <(cmd) still works', async () => {
    const { dir, cleanup } = tempDir('sfauth-zero-');
    cleanups.push(cleanup);
    const key = runCli(['fingerprint', '/dev/zero'], { cwd: dir });
    expect(key.code).toBe(2);
    expect(key.stderr).toMatch(/larger than 1024 KiB/);
    const pass = runCli(['keygen', '--out', join(dir, 'k.p8'), '--passphrase-file', '/dev/zero'], { cwd: dir });
    expect(pass.code).toBe(2);
    expect(pass.stderr).toMatch(/larger than 64 KiB/);
    const big = runCli(['fingerprint', '-'], { cwd: dir, input: Buffer.alloc(2 * 1024 * 1024, 0x41) });
    expect(big.code).toBe(2);
    const sub = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" keygen --out k.p8 --passphrase-file <(sleep 0.3; printf 'from a pipe')`], {
      cwd: dir,
      env: baseEnv(),
      encoding: 'utf8',
    });
    expect(sub.status, sub.stderr).toBe(0);
    writeFileSync(join(dir, 'p'), 'from a pipe');
    openssl(['pkey', '-in', join(dir, 'k.p8'), '-passin', `file:${join(dir, 'p')}`, '-noout']);
  });
});

describe('7. answers without a size limit', () => {
  it.concurrent('a 17 MiB answer (with and without Content-Length) is ERR_BAD_RESPONSE, exit 3', async () => {
    const w = await world();
    const huge = JSON.stringify({ resultSetMetaData: { rowType: [{ name: 'X' }] }, data: [['a'.repeat(17 * 1024 * 1024)]] });
    for (const chunked of [false, true]) {
      w.sf.injectFault({ kind: 'answer', status: 200, body: huge, chunked });
      const r = await runCliAsync(['test-connection', ...w.args, '--json'], { cwd: w.dir, env: w.env });
      cleanExit(r);
      expect(r.code).toBe(3);
      expect(JSON.parse(r.stderr).error.code).toBe('ERR_BAD_RESPONSE');
      expect(r.stderr).toMatch(/larger than 16 MiB/);
    }
  });
});

describe('8. temp files and modes', () => {
  it.concurrent("a dead writer's temp file is removed by the next write in that folder; a live one's is kept", async () => {
    const { dir, cleanup } = tempDir('sfauth-tmp-');
    cleanups.push(cleanup);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const stale = join(dir, `.rsa_key.p8.sfauth-${dead}-deadbeef.tmp`);
    const live = join(dir, `.rsa_key.p8.sfauth-${process.pid}-cafebabe.tmp`);
    writeFileSync(stale, '-----BEGIN PRIVATE KEY-----\nhalf\n', { mode: 0o600 });
    writeFileSync(live, 'in progress', { mode: 0o600 });
    const r = runCli(['keygen', '--no-encrypt'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it.concurrent('the .pub follows the umask; the private key is 0600 whatever the umask', async () => {
    const { dir, cleanup } = tempDir('sfauth-umask-');
    cleanups.push(cleanup);
    for (const [umask, pubMode] of [
      ['077', 0o600],
      ['022', 0o644],
      ['002', 0o664],
    ] as const) {
      const r = spawnSync('sh', ['-c', `umask ${umask}; exec "${process.execPath}" "${BIN}" keygen --no-encrypt --out k${umask}.p8`], { cwd: dir, env: baseEnv(), encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(statSync(join(dir, `k${umask}.pub`)).mode & 0o777).toBe(pubMode);
      expect(statSync(join(dir, `k${umask}.p8`)).mode & 0o777).toBe(0o600);
    }
  });
});

describe('9. a permission refusal during rotate', () => {
  it.concurrent('a 422 on the SET names the privilege, suggests --role, and cleans up: no key, no journal, nothing circular', async () => {
    const w = await world();
    w.sf.injectFault({
      kind: 'answer',
      status: 422,
      match: /SET RSA_PUBLIC_KEY/,
      body: JSON.stringify({ code: '003001', sqlState: '42501', message: "SQL access control error:\nInsufficient privileges to operate on user 'SVC'" }),
    });
    const r = await w.rotate(['--apply']);
    cleanExit(r);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Insufficient privileges to operate on user 'SVC'/);
    expect(r.stderr).toMatch(/hint: .*OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on user SVC: pass --role/);
    expect(r.stderr).toMatch(/nothing changed; the new key files and the journal were removed/);
    expect(r.stderr).not.toMatch(/may or may not/);
    expect(readdirSync(w.dir).sort()).toEqual(['home', 'rsa_key.p8']);
    expect(slotFingerprints(w.sf)).toEqual([w.fp, null]);
  });
});

describe('10. a slot holding a key nothing accounts for', () => {
  it.concurrent('is not overwritten without --overwrite-other (refused before any statement); with it, it is', async () => {
    const handedOut = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const w = await world({ slot2: handedOut.publicKey });
    const plan = await w.rotate([]);
    expect(plan.code).toBe(0);
    expect(plan.stdout + plan.stderr).toMatch(/--apply would refuse: RSA_PUBLIC_KEY_2 holds/);
    const r = await w.rotate(['--apply']);
    cleanExit(r);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to overwrite RSA_PUBLIC_KEY_2 of SVC: it holds SHA256:/);
    expect(r.stderr).toMatch(/--overwrite-other/);
    expect(alters(w.sf)).toHaveLength(0);
    expect(readdirSync(w.dir).sort()).toEqual(['home', 'rsa_key.p8']);
    const forced = await w.rotate(['--apply', '--overwrite-other']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(slotFingerprints(w.sf)).not.toContain(fingerprintOf(handedOut.publicKey));
  });
});

describe('11–16. output, keygen flags, inspect, broken pipes, interrupts, prompts', () => {
  it.concurrent('colour is per stream: stderr on a terminal does not colour piped stdout (inspect, rotate plan)', async () => {
    const w = await world();
    const token = runCli(['jwt', '--account', ACCOUNT, '--user', 'SVC', '--private-key', w.keyPath], { cwd: w.dir, env: w.env }).stdout.trim();
    expect(token).toMatch(/^eyJ/);
    // A pty on stderr only; stdout stays a pipe the driver reads separately.
    const driver = `
import os, pty, subprocess, sys
m, s = pty.openpty()
p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=s)
os.close(s)
sys.stdout.buffer.write(p.stdout)
sys.exit(p.returncode)
`;
    for (const args of [['inspect', token], ['rotate', ...w.args]]) {
      // Asynchronous: the emulator in this process must keep answering while it runs.
      const r = await spawnAsync('python3', ['-c', driver, process.execPath, BIN, ...args], { cwd: w.dir, env: baseEnv({ ...w.env, NO_COLOR: undefined, TERM: 'xterm' }) });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
      // eslint-disable-next-line no-control-regex
      expect(r.stdout).not.toMatch(/\u001b\[/);
    }
  });

  it.concurrent('keygen: --curve alone makes an EC key; contradictions are usage errors', async () => {
    const { dir, cleanup } = tempDir('sfauth-curve-');
    cleanups.push(cleanup);
    const ec = runCli(['keygen', '--curve', 'P-384', '--no-encrypt', '--json'], { cwd: dir });
    expect(ec.code, ec.stderr).toBe(0);
    expect(JSON.parse(ec.stdout)).toMatchObject({ type: 'ec', curve: 'P-384' });
    expect(createPublicKey(readFileSync(join(dir, 'ec_key.pub'))).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    for (const bad of [
      ['--type', 'ec', '--bits', '4096'],
      ['--type', 'rsa', '--curve', 'P-256'],
      ['--bits', '3072', '--curve', 'P-256'],
    ]) {
      const r = runCli(['keygen', '--no-encrypt', '--out', join(dir, 'x.p8'), ...bad], { cwd: dir });
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/contradict|is for (EC|RSA) keys/);
      expect(existsSync(join(dir, 'x.p8'))).toBe(false);
    }
  });

  it.concurrent('inspect: iat/exp in milliseconds (as the Node.js connector sends them) is a note, exit 0', async () => {
    const w = await world();
    const now = Date.now();
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ iss: `MYORG-MYACCOUNT.SVC.${w.fp}`, sub: 'MYORG-MYACCOUNT.SVC', iat: now, exp: now + 3_000_000 }),
    ).toString('base64url');
    const { createSign } = await import('node:crypto');
    const sig = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(w.key.privateKey).toString('base64url');
    const r = runCli(['inspect', `${header}.${payload}.${sig}`, '--public-key', w.keyPath], { cwd: w.dir });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/iat \d+ is in milliseconds; Snowflake accepts that/);
    expect(r.stdout).toMatch(/OK: no problems found/);
  });

  it.concurrent('stdout on a full disk (/dev/full) or a closed pipe: a clean exit, never "internal error"', async () => {
    const { dir, cleanup } = tempDir('sfauth-full-');
    cleanups.push(cleanup);
    runCli(['keygen', '--no-encrypt'], { cwd: dir });
    const full = spawnSync(process.execPath, [BIN, 'fingerprint', 'rsa_key.pub'], { cwd: dir, env: baseEnv(), stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'], encoding: 'utf8' });
    expect(full.status).toBe(2);
    expect(full.stderr).toMatch(/cannot write to standard output: ENOSPC/);
    expect(full.stderr).not.toMatch(/internal error/);
    const closed = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" sql --user SVC --public-key rsa_key.pub | true`], { cwd: dir, env: baseEnv(), encoding: 'utf8' });
    expect(closed.status).toBe(0);
    expect(closed.stderr).not.toMatch(/internal error|EPIPE/);
  });

  it.concurrent('an interrupted rotate says "run the same command again"; status then mentions the unfinished rotation', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'hang', match: /SET RSA_PUBLIC_KEY/ });
    const child = spawn(process.execPath, [BIN, 'rotate', ...w.args, '--apply'], { cwd: w.dir, env: baseEnv(w.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    for (let i = 0; i < 200 && !w.sf.requests.some((q) => /SET RSA_PUBLIC_KEY/.test(q.statement ?? '')); i++) await sleep(50);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted \(SIGINT\)/);
    expect(stderr).toMatch(/hint: run the same command again to finish this rotation/);
    const status = await runCliAsync(['status', ...w.args], { cwd: w.dir, env: w.env });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stderr).toMatch(/an unfinished rotation of SVC .*last step: written.*run the same sfauth rotate command again/);
    const json = await runCliAsync(['status', ...w.args, '--json'], { cwd: w.dir, env: w.env });
    expect(JSON.parse(json.stdout).unfinishedRotation).toMatchObject({ step: 'written' });
  });

  it.concurrent('the passphrase prompt: says a mismatch, asks again on empty, echoes nothing', async () => {
    const { dir, cleanup } = tempDir('sfauth-prompt-');
    cleanups.push(cleanup);
    const r = await runCliInPty(['keygen', '--out', 'k.p8'], {
      cwd: dir,
      steps: [
        { waitFor: /New passphrase for k\.p8/, send: '\r' },
        { waitFor: /cannot be empty/, send: 'first-try\r' },
        { waitFor: /Repeat the new passphrase/, send: 'other\r' },
        { waitFor: /did not match; type it again/, send: 'sesame-42\r' },
        { waitFor: /Repeat the new passphrase/, send: 'sesame-42\r' },
      ],
    });
    expect(r.code, r.output).toBe(0);
    expect(r.output).not.toMatch(/\*{3}|sesame|first-try/);
    // A problem is never shown with a success mark, and there is one check glyph.
    expect(r.output).toMatch(/^✗ The two passphrases did not match; type it again\.$/m);
    expect(r.output).not.toMatch(/✓ The|✔/);
    writeFileSync(join(dir, 'p'), 'sesame-42\n');
    openssl(['pkey', '-in', join(dir, 'k.p8'), '-passin', `file:${join(dir, 'p')}`, '-noout']);
  });
});
