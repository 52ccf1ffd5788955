/**
 * The threat model of DESIGN.md §7, round 2 (issue 23): sfauth attacked as on a shared CI runner or
 * bastion host, with a second local user (uid 65534: the suite runs as root in CI, so it can plant
 * files owned by someone else). One test per finding; each failed on sfauth 0.2.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, STACK_TRACE, baseEnv, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../support/emulator.js';
import { fingerprintOf, spawnKillable, until } from '../support/rotation.js';
import { storeEnvironment, withoutPrivateKeys } from '../../src/rotate/hand-over.js';
import { withKeyPath } from '../../src/config/key-path-edit.js';
import { journalFixture } from '../support/journal.js';
import { parseJournal } from '../../src/core/rotation-journal.js';
import { acquireRotationLock } from '../../src/rotate/lock.js';

const OTHER_UID = 65534;
const isRoot = process.getuid?.() === 0;
const DAY = 86_400_000;

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

interface World {
  sf: Emulator;
  dir: string;
  work: string;
  store: string;
  env: Record<string, string>;
  host: string[];
  cli(args: string[], extra?: Record<string, string | undefined>, timeoutMs?: number): Promise<CliResult>;
  /** A new CI runner: nothing of the last one's HOME (journals, history, fleet runs) is there. */
  newRunner(): void;
}

async function world(opts: { emulator?: EmulatorOptions } = {}): Promise<World> {
  const sf = await startEmulator(opts.emulator);
  const { dir, cleanup } = tempDir('sfauth-threat2-');
  cleanups.push(async () => {
    await sf.close();
    cleanup();
  });
  const [work, home, store] = ['work', 'home', 'store'].map((d) => join(dir, d)) as [string, string, string];
  for (const d of [work, home, store]) mkdirSync(d, { mode: 0o700 });
  const env = { HOME: home, SNOWFLAKE_HOME: join(home, 'sf'), STORE: store };
  return {
    sf,
    dir,
    work,
    store,
    env,
    host: ['--account', 'myorg-myaccount', '--host', sf.url],
    cli: (args, extra, timeoutMs) => runCliAsync(args, { cwd: work, env: { ...env, ...extra }, timeoutMs: timeoutMs ?? 60_000 }),
    newRunner: () => {
      rmSync(home, { recursive: true });
      mkdirSync(home, { mode: 0o700 });
    },
  };
}

/** A fresh RSA key: its PEM, its public key and fingerprint. */
function key(): { pem: string; pub: ReturnType<typeof createPublicKey>; fp: string } {
  const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { pem: k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, pub: k.publicKey, fp: fingerprintOf(k.publicKey) };
}

/** An admin ADMIN with its key in admin.p8, granted on `targets`. */
function admin(w: World, targets: string[], login = 'ADMIN'): string[] {
  const a = key();
  writeFileSync(join(w.work, 'admin.p8'), a.pem, { mode: 0o600 });
  w.sf.addUser(login, { rsaPublicKey: a.pub });
  for (const t of targets) w.sf.grant(login, t);
  return [...w.host, '--user', login, '--private-key', join(w.work, 'admin.p8')];
}

function clean(r: CliResult): void {
  expect(r.stderr).not.toMatch(STACK_TRACE);
  expect(r.stderr).not.toMatch(/internal error/);
}

const pemFp = (pem: string | Buffer) => fingerprintOf(createPublicKey(pem));

// ---------------------------------------------------------------------------------------------

/** SVC behind [loader] in connections.toml (its own lines given), with its key in rsa_key.p8. */
async function connectionWorld(lines: (keyPath: string) => string[]): Promise<World & { toml: string; keyPath: string; fp: string }> {
  const w = await world();
  const k = key();
  const keyPath = join(w.work, 'rsa_key.p8');
  writeFileSync(keyPath, k.pem, { mode: 0o600 });
  w.sf.addUser('SVC', { rsaPublicKey: k.pub });
  mkdirSync(join(w.dir, 'home', 'sf'), { mode: 0o700 });
  const toml = join(w.dir, 'home', 'sf', 'connections.toml');
  writeFileSync(toml, ['[loader]', 'account = "myorg-myaccount"', 'user = "SVC"', `host = "${w.sf.url}"`, ...lines(keyPath), ''].join('\n'), { mode: 0o600 });
  return { ...w, toml, keyPath, fp: k.fp };
}

describe('High', () => {
  it.concurrent('1. no-journal recovery is judged on the key held: --if-older-than never calls it "nothing to do" (self and fleet)', async () => {
    // Self: a CI runner (key from the store as SNOWFLAKE_PRIVATE_KEY_RAW) dies between the ROTATE and the hand-over.
    const w = await world();
    const k = key();
    w.sf.addUser('SVC', {});
    w.sf.addKeyPair('SVC', 'CI_KEY', k.pub, { createdOn: new Date(Date.now() - 100 * DAY) });
    const env = { SNOWFLAKE_ACCOUNT: 'myorg-myaccount', SNOWFLAKE_USER: 'SVC', SNOWFLAKE_HOST: w.sf.url, SNOWFLAKE_PRIVATE_KEY_RAW: k.pem };
    const p = spawnKillable(['rotate', '--apply', '--if-older-than', '90d', '--store-cmd', 'touch "$STORE/started"; sleep 30'], w.work, { ...w.env, ...env });
    await until(() => existsSync(join(w.store, 'started')));
    p.kill();
    await p.done;
    w.newRunner();
    const again = await w.cli(['rotate', '--apply', '--if-older-than', '90d', '--json', '--store-cmd', 'cat > "$STORE/key.p8"'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).outcome).toBe('rotated');
    expect(pemFp(readFileSync(join(w.store, 'key.p8')))).toBe(w.sf.keyPairs('SVC').find((x) => x.name === 'CI_KEY')!.fingerprint);

    // A fleet: the admin's runner dies the same way; the next runner's scheduled run rotates the user again.
    const f = await world();
    f.sf.addUser('SVC', {});
    f.sf.addKeyPair('SVC', 'CI_KEY', key().pub, { createdOn: new Date(Date.now() - 100 * DAY) });
    const adminArgs = admin(f, ['SVC']);
    writeFileSync(join(f.work, 'users.txt'), 'SVC\n');
    const fleet = ['rotate', ...adminArgs, '--targets', 'users.txt', '--no-encrypt', '--apply', '--if-older-than', '90d', '--json'];
    const q = spawnKillable([...fleet, '--store-cmd', 'touch "$STORE/started"; sleep 30'], f.work, f.env);
    await until(() => existsSync(join(f.store, 'started')));
    q.kill();
    await q.done;
    f.newRunner();
    const rerun = await f.cli([...fleet, '--store-cmd', 'cat > "$STORE/SVC.p8"']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)[0].outcome).toBe('rotated');
    expect(pemFp(readFileSync(join(f.store, 'SVC.p8')))).toBe(f.sf.keyPairs('SVC').find((x) => x.name === 'CI_KEY')!.fingerprint);
  });

  it.concurrent('2. the hand-over gives the store the bytes that were registered, whatever the path holds by then; an --out-dir others can write is refused', async () => {
    const w = await world({ emulator: { propagationDelayMs: 1500 } });
    const k = key();
    writeFileSync(join(w.work, 'rsa_key.p8'), k.pem, { mode: 0o600 });
    w.sf.addUser('SVC', { rsaPublicKey: k.pub });
    const secret = key(); // a root-only admin key elsewhere on the host
    const secretPath = join(w.dir, 'root-only.p8');
    writeFileSync(secretPath, secret.pem, { mode: 0o600 });
    const run = w.cli(['rotate', ...w.host, '--user', 'SVC', '--private-key', join(w.work, 'rsa_key.p8'), '--apply', '--in-place', '--store-cmd', 'cat > "$STORE/key.p8"']);
    // Between "written" and "hand over" (the verification waits for propagation), the file is swapped for a link.
    let swapped = '';
    await until(() => {
      const found = readdirSync(w.work).find((n) => /\.\d{4}-\d\d-\d\d\.p8$/.test(n));
      if (found && w.sf.executed.some((e) => /SET RSA_PUBLIC_KEY_2/.test(e.statement))) swapped = found;
      return swapped !== '';
    });
    renameSync(join(w.work, swapped), join(w.work, 'moved.p8'));
    symlinkSync(secretPath, join(w.work, swapped));
    const r = await run;
    clean(r);
    expect(r.code, r.stderr).toBe(0);
    const registered = w.sf.user('SVC').slots[2]!.fingerprint;
    expect(pemFp(readFileSync(join(w.store, 'key.p8')))).toBe(registered);
    expect(pemFp(readFileSync(join(w.work, 'rsa_key.p8')))).toBe(registered);
    expect(readFileSync(join(w.store, 'key.p8'), 'utf8')).not.toBe(secret.pem);

    // An --out-dir another user could write (group-writable, not sticky) is refused before anything.
    const f = await world();
    f.sf.addUser('SVC', { rsaPublicKey: key().pub });
    const adminArgs = admin(f, ['SVC']);
    writeFileSync(join(f.work, 'users.txt'), 'SVC\n');
    mkdirSync(join(f.work, 'keys'));
    chmodSync(join(f.work, 'keys'), 0o770);
    const refused = await f.cli(['rotate', ...adminArgs, '--targets', 'users.txt', '--out-dir', 'keys', '--no-encrypt', '--apply']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^sfauth: refusing to use the --out-dir .*keys is writable by its group/m);
    expect(f.sf.requests).toEqual([]);
  });

  it.concurrent('3. a fleet never rotates the admin itself, however its name is spelled; revoke compares identities the same way', async () => {
    const w = await world();
    w.sf.addUser('SVC_A', { rsaPublicKey: key().pub });
    const adminArgs = admin(w, ['SVC_A'], 'admin.ops@corp'); // NAME admin.ops@corp, LOGIN_NAME ADMIN.OPS@CORP
    adminArgs[adminArgs.indexOf('admin.ops@corp')] = 'ADMIN.OPS@CORP';
    w.sf.grant('ADMIN.OPS@CORP', 'admin.ops@corp');
    const adminFp = w.sf.user('admin.ops@corp').slots[1]!.fingerprint;
    writeFileSync(join(w.work, 'users.txt'), 'admin.ops@corp\nSVC_A\n');
    const r = await w.cli(['rotate', ...adminArgs, '--targets', 'users.txt', '--no-encrypt', '--store-cmd', 'cat > /dev/null', '--apply', '--json']);
    clean(r);
    const doc = JSON.parse(r.stdout) as Array<{ user: string; outcome: string; error: { code: string } | null }>;
    expect(doc[0]).toMatchObject({ user: 'admin.ops@corp', outcome: 'failed', error: { code: 'ERR_TARGET_IS_SELF' } });
    expect(doc[1]).toMatchObject({ user: 'SVC_A', outcome: 'rotated' });
    expect(w.sf.user('admin.ops@corp').slots[1]?.fingerprint).toBe(adminFp);
    expect(w.sf.user('admin.ops@corp').slots[2]).toBeNull();
    const rev = await w.cli(['revoke', ...adminArgs, '--target-user', 'admin.ops@corp', '--fingerprint', adminFp, '--apply']);
    expect(rev.code).toBe(1);
    expect(rev.stderr).toMatch(/^sfauth: slot 1 .* is the key this command authenticates with/m);
    expect(w.sf.user('admin.ops@corp').slots[1]?.fingerprint).toBe(adminFp);
  });
});

describe('Medium', () => {
  it.concurrent('4. the connection update edits the value in effect, refuses one that lives in the environment, and checks the result before retiring', async () => {
    // Both keys in the table: the later (private_key_path) is the one snow uses.
    const w = await connectionWorld((p) => [`private_key_file = "${join(w0(p), 'nowhere.p8')}"`, `private_key_path = "${p}"`]);
    const r = await w.cli(['rotate', '-c', 'loader', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.connectionUpdate).toMatchObject({ key: 'private_key_path', updated: true });
    expect(readFileSync(w.toml, 'utf8')).toContain(`private_key_path = "${doc.privateKeyPath}"`);
    expect((await w.cli(['test-connection', '-c', 'loader'])).code).toBe(0);

    // SNOWFLAKE_CONNECTIONS_LOADER_PRIVATE_KEY_FILE wins over the file: --update-connection cannot help.
    const v = await connectionWorld((p) => [`private_key_file = "${join(w0(p), 'stale.p8')}"`]);
    const override = { SNOWFLAKE_CONNECTIONS_LOADER_PRIVATE_KEY_FILE: v.keyPath };
    const refused = await v.cli(['rotate', '-c', 'loader', '--update-connection', '--apply'], override);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/its key path in effect comes from SNOWFLAKE_CONNECTIONS_LOADER_PRIVATE_KEY_FILE/);
    expect(v.sf.executed.filter((e) => /^ALTER/.test(e.statement))).toEqual([]);
    // By default it is a path of its own: the run waits for delivery, the old key keeps working.
    const waits = await v.cli(['rotate', '-c', 'loader', '--apply', '--json'], override);
    expect(waits.code, waits.stderr).toBe(0);
    expect(JSON.parse(waits.stdout).outcome).toBe('awaiting-delivery');
    expect(v.sf.user('SVC').slots[1]?.fingerprint).toBe(v.fp);
  });

  it.concurrent('5. two rotations updating one connections.toml at once both land', async () => {
    const w = await world({ emulator: { latencyMs: 20 } });
    const lines: string[] = [];
    for (const u of ['SVC_A', 'SVC_B']) {
      const k = key();
      writeFileSync(join(w.work, `${u}.p8`), k.pem, { mode: 0o600 });
      w.sf.addUser(u, { rsaPublicKey: k.pub });
      lines.push(`[${u.toLowerCase()}]`, 'account = "myorg-myaccount"', `user = "${u}"`, `host = "${w.sf.url}"`, `private_key_file = "${join(w.work, `${u}.p8`)}"`, '');
    }
    mkdirSync(join(w.dir, 'home', 'sf'), { mode: 0o700 });
    const toml = join(w.dir, 'home', 'sf', 'connections.toml');
    writeFileSync(toml, lines.join('\n'), { mode: 0o600 });
    for (let round = 0; round < 3; round++) {
      const [a, b] = await Promise.all([w.cli(['rotate', '-c', 'svc_a', '--apply', '--json']), w.cli(['rotate', '-c', 'svc_b', '--apply', '--json'])]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      const text = readFileSync(toml, 'utf8');
      expect(text).toContain(`"${JSON.parse(a.stdout).privateKeyPath}"`);
      expect(text).toContain(`"${JSON.parse(b.stdout).privateKeyPath}"`);
    }
    expect((await w.cli(['test-connection', '-c', 'svc_a'])).code).toBe(0);
    expect((await w.cli(['test-connection', '-c', 'svc_b'])).code).toBe(0);
  });

  it.concurrent('6. revoke --fingerprint of a key in both slots is refused, naming both: nothing is half-revoked', async () => {
    const w = await world();
    const k = key();
    w.sf.addUser('SVC', { rsaPublicKey: k.pub, rsaPublicKey2: k.pub });
    const adminArgs = admin(w, ['SVC']);
    const r = await w.cli(['revoke', ...adminArgs, '--target-user', 'SVC', '--fingerprint', k.fp, '--apply']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is registered in 2 places of SVC: slot 1 .* and slot 2 .*; removing one would leave it working/);
    expect(r.stderr).toMatch(/hint: revoke each of them: --slot 1, then --slot 2/);
    expect([w.sf.user('SVC').slots[1]?.fingerprint, w.sf.user('SVC').slots[2]?.fingerprint]).toEqual([k.fp, k.fp]);
  });

  it.concurrent("7. revoke's last-key guard does not count a rotated-out pair that expires in minutes", async () => {
    const w = await world();
    const k = key();
    w.sf.addUser('SVC', { rsaPublicKey: k.pub });
    const adminArgs = admin(w, ['SVC']);
    w.sf.addKeyPair('SVC', 'CI_KEY_ROTATED_1700000000000', key().pub, { rotatedTo: 'CI_KEY', expiresAt: new Date(Date.now() + 5 * 60_000) });
    const r = await w.cli(['revoke', ...adminArgs, '--target-user', 'SVC', '--slot', '1', '--apply']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sfauth: slot 1 .* is the last working key of SVC/m);
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(k.fp);
  });

  it.concurrent('8. a user whose only pair is DISABLED (or EXPIRED) gets no fresh legacy key from a scheduled fleet run', async () => {
    const w = await world();
    w.sf.addUser('SVC_CUT', {});
    w.sf.addKeyPair('SVC_CUT', 'CI_KEY', key().pub, { disabled: true });
    w.sf.addUser('SVC_OLD', {});
    w.sf.addKeyPair('SVC_OLD', 'CI_KEY', key().pub, { expiresAt: new Date(Date.now() - DAY) });
    const adminArgs = admin(w, ['SVC_CUT', 'SVC_OLD']);
    writeFileSync(join(w.work, 'users.txt'), 'SVC_CUT\nSVC_OLD\n');
    const r = await w.cli(['rotate', ...adminArgs, '--targets', 'users.txt', '--no-encrypt', '--store-cmd', 'cat > /dev/null', '--if-older-than', '90d', '--apply', '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as Array<{ outcome: string; error: { code: string } }>;
    expect(doc.map((x) => [x.outcome, x.error?.code])).toEqual([
      ['failed', 'ERR_KEY_PAIR_NOT_ACTIVE'],
      ['failed', 'ERR_KEY_PAIR_NOT_ACTIVE'],
    ]);
    for (const u of ['SVC_CUT', 'SVC_OLD']) expect(w.sf.user(u).slots[1]).toBeNull();
    expect(w.sf.executed.filter((e) => /^ALTER/.test(e.statement))).toEqual([]);
  });

  it('9. SNOWFLAKE_CONNECTIONS (a whole connections.toml, secrets included) never reaches the store command', () => {
    const j = parseJournal(JSON.stringify(journalFixture({ oldFingerprint: key().fp, newPublicKey: key().pub, privateKeyPath: '/k/new.p8' })))!;
    const env = storeEnvironment({ PATH: '/bin', SNOWFLAKE_CONNECTIONS: '[x]\nprivate_key_raw = "-----BEGIN PRIVATE KEY-----…"\ntoken = "secret"' }, j, 'myorg-myaccount');
    expect(env.SNOWFLAKE_CONNECTIONS).toBeUndefined();
    expect(env.PATH).toBe('/bin');
  });
});

describe('Low', () => {
  it.concurrent('10. at --timeout the store command is killed as a group, and SIGTERM to sfauth stops it before it writes', async () => {
    const w = await world();
    const k = key();
    const env = { SNOWFLAKE_ACCOUNT: 'myorg-myaccount', SNOWFLAKE_USER: 'SVC', SNOWFLAKE_HOST: w.sf.url, SNOWFLAKE_PRIVATE_KEY_RAW: k.pem };
    w.sf.addUser('SVC', { rsaPublicKey: k.pub });
    const started = Date.now();
    // --timeout leaves the rotation's own requests room on a busy machine; the store gets it whole.
    const r = await w.cli(['rotate', '--apply', '--timeout', '10s', '--store-cmd', 'cat | sleep 120'], env, 150_000);
    const took = Date.now() - started;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/the store command did not finish within 10s/);
    expect(took).toBeLessThan(60_000); // 120 s if only sh had been killed
    // SIGTERM while the store runs: its group goes too, and nothing is written afterwards.
    const child = spawn(process.execPath, [BIN, 'rotate', '--apply', '--store-cmd', 'touch "$STORE/started"; sleep 3; cat > "$STORE/late.p8"'], { cwd: w.work, env: baseEnv({ ...w.env, ...env }), stdio: 'ignore' });
    const exited = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    await until(() => existsSync(join(w.store, 'started')));
    child.kill('SIGTERM');
    expect(await exited).toBe(130);
    await new Promise((res) => setTimeout(res, 4000));
    expect(existsSync(join(w.store, 'late.p8'))).toBe(false);
  });

  it.concurrent('11. two revokes started together never both pass the last-key check', async () => {
    const w = await world({ emulator: { latencyMs: 150 } });
    w.sf.addUser('SVC', { rsaPublicKey: key().pub, rsaPublicKey2: key().pub });
    const adminArgs = admin(w, ['SVC']);
    const revoke = (slot: string) => w.cli(['revoke', ...adminArgs, '--target-user', 'SVC', '--slot', slot, '--apply']);
    const [a, b] = await Promise.all([revoke('1'), revoke('2')]);
    expect([a.code, b.code].sort()).toEqual([0, 1]);
    expect((a.code === 1 ? a : b).stderr).toMatch(/is the last working key of SVC/);
    const left = [w.sf.user('SVC').slots[1], w.sf.user('SVC').slots[2]].filter(Boolean);
    expect(left).toHaveLength(1);
  });

  it.concurrent('12. a store echoing the key on stdout and stderr (stderr lagging) shows none of it', async () => {
    const w = await world();
    const k = key();
    const env = { SNOWFLAKE_ACCOUNT: 'myorg-myaccount', SNOWFLAKE_USER: 'SVC', SNOWFLAKE_HOST: w.sf.url, SNOWFLAKE_PRIVATE_KEY_RAW: k.pem };
    w.sf.addUser('SVC', { rsaPublicKey: k.pub });
    // stdout: BEGIN and two lines; stderr: BEGIN; stdout: the rest; stderr: the rest.
    const echo = [
      'k=$(cat); printf "%s" "$k" > "$STORE/key.p8"',
      'printf "%s\\n" "$k" | head -3; sleep 0.3',
      'printf "%s\\n" "$k" | head -1 >&2; sleep 0.3',
      'printf "%s\\n" "$k" | tail -n +4; sleep 0.3',
      'printf "%s\\n" "$k" | tail -n +2 >&2',
    ].join('; ');
    const r = await w.cli(['rotate', '--apply', '--store-cmd', echo], env);
    expect(r.code, r.stderr).toBe(0);
    const body = readFileSync(join(w.store, 'key.p8'), 'utf8').trim().split('\n').slice(1, -1);
    expect(body.length).toBeGreaterThan(10);
    for (const line of body) expect(r.stderr + r.stdout).not.toContain(line);
    expect(r.stderr.match(/store: \[a private key, not shown\]/g)).toHaveLength(2);
    // The filter itself, one per stream.
    const shown: string[] = [];
    const f = withoutPrivateKeys((l) => shown.push(l));
    k.pem.trimEnd().split('\n').forEach(f);
    expect(shown).toEqual(['[a private key, not shown]']);
  });

  it.concurrent('13. doctor: login-failure details that are not a JSON object are a warning; every check already made is kept', async () => {
    const w = await world();
    const k = key();
    writeFileSync(join(w.work, 'svc.p8'), k.pem, { mode: 0o600 });
    w.sf.addUser('SVC', {});
    admin(w, ['SVC']);
    mkdirSync(join(w.dir, 'home', 'sf'), { mode: 0o700 });
    writeFileSync(
      join(w.dir, 'home', 'sf', 'connections.toml'),
      `[admin]\naccount = "myorg-myaccount"\nuser = "ADMIN"\nhost = "${w.sf.url}"\nprivate_key_file = "${join(w.work, 'admin.p8')}"\n`,
      { mode: 0o600 },
    );
    for (const body of ['not json', 'null', '[1,2]']) {
      w.sf.injectFault({ kind: 'answer', status: 200, match: /GET_LOGIN_FAILURE_DETAILS/, body: JSON.stringify({ resultSetMetaData: { rowType: [{ name: 'DETAILS', type: 'text' }] }, data: [[body]] }) });
      const r = await w.cli(['doctor', ...w.host, '--user', 'SVC', '--private-key', join(w.work, 'svc.p8'), '--admin-connection', 'admin', '--login-failure', '0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d', '--json']);
      clean(r);
      expect(r.code, r.stderr).toBe(1);
      const checks = JSON.parse(r.stdout).checks as Array<{ id: string; status: string; evidence: string }>;
      expect(checks.find((c) => c.id === 'login-failure')).toMatchObject({ status: 'warn', evidence: expect.stringContaining('not a JSON object') });
      expect(checks.find((c) => c.id === 'auth')?.status).toBe('fail');
    }
  });

  it.concurrent('14. fleet users whose names reduce to the same file name get their own files and state folders', async () => {
    const w = await world();
    const users = ['svc x', 'SVC_X', 'svc+x'];
    for (const u of users) w.sf.addUser(u, { rsaPublicKey: key().pub });
    const adminArgs = admin(w, users);
    writeFileSync(join(w.work, 'users.txt'), '"svc x"\nSVC_X\nsvc+x\n');
    mkdirSync(join(w.work, 'keys'), { mode: 0o700 });
    const r = await w.cli(['rotate', ...adminArgs, '--targets', 'users.txt', '--out-dir', 'keys', '--no-encrypt', '--store-cmd', 'cat > /dev/null', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Array<{ outcome: string }>).map((x) => x.outcome)).toEqual(['rotated', 'rotated', 'rotated']);
    // And with the keys in the state folder (--store-cmd alone).
    const s = await w.cli(['rotate', ...adminArgs, '--targets', 'users.txt', '--no-encrypt', '--store-cmd', 'cat > /dev/null', '--apply', '--json']);
    expect(s.code, s.stderr).toBe(0);
    expect((JSON.parse(s.stdout) as Array<{ outcome: string }>).map((x) => x.outcome)).toEqual(['rotated', 'rotated', 'rotated']);
  });

  it('(found on the way) a lock is never left empty by a kill, and an empty one from 0.2 is taken over once old', () => {
    const { dir, cleanup } = tempDir('sfauth-lock2-');
    cleanups.push(cleanup);
    const env = { HOME: dir };
    const first = acquireRotationLock(env, dir, 'myorg-myaccount', 'svc', Date.now());
    // Written whole before it appears: the record is there the moment the lock exists.
    expect(JSON.parse(readFileSync(first.path, 'utf8'))).toMatchObject({ pid: process.pid });
    first.release();
    // 0.2 created the lock empty and wrote it after: a kill in between left an empty lock.
    writeFileSync(first.path, '', { mode: 0o600 });
    expect(() => acquireRotationLock(env, dir, 'myorg-myaccount', 'svc', Date.now())).toThrow(/another sfauth rotate of svc is running/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(first.path, old, old);
    const taken = acquireRotationLock(env, dir, 'myorg-myaccount', 'svc', Date.now());
    expect(JSON.parse(readFileSync(taken.path, 'utf8'))).toMatchObject({ pid: process.pid });
    taken.release();
    // No temp file is left beside the locks.
    expect(readdirSync(join(dir, '.local', 'state', 'sfauth', 'locks'))).toEqual([]);
  });

  it('15. stale SFAUTH_* variables in sfauth\'s own environment never reach the store', () => {
    const j = parseJournal(JSON.stringify(journalFixture({ oldFingerprint: key().fp, newPublicKey: key().pub, privateKeyPath: '/k/new.p8' })))!;
    const env = storeEnvironment({ PATH: '/bin', SFAUTH_KEY_PAIR: 'STALE', SFAUTH_ANYTHING: 'x' }, j, 'myorg-myaccount');
    expect(env.SFAUTH_SLOT).toBe('2');
    expect(env.SFAUTH_KEY_PAIR).toBeUndefined();
    expect(env.SFAUTH_ANYTHING).toBeUndefined();
  });

  it('16. one CRLF line does not turn the edited connections.toml into CRLF', () => {
    const text = '# a comment written on Windows\r\n[loader]\naccount = "a"\nprivate_key_file = "/k/old.p8"\n';
    const edit = withKeyPath(text, ['loader'], '/k/new.p8', 'connections.toml');
    expect(edit.text).toBe('# a comment written on Windows\r\n[loader]\naccount = "a"\nprivate_key_file = "/k/new.p8"\n');
  });

  it.runIf(isRoot).concurrent("17. run by root on a service account's config, the connection update keeps the file's owner", async () => {
    const w = await connectionWorld((p) => [`private_key_file = "${p}"`]);
    chownSync(w.toml, OTHER_UID, OTHER_UID);
    const r = await w.cli(['rotate', '-c', 'loader', '--apply']);
    expect(r.code, r.stderr).toBe(0);
    const st = statSync(w.toml);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([OTHER_UID, OTHER_UID, 0o600]);
    expect(readFileSync(w.toml, 'utf8')).not.toContain(`"${w.keyPath}"`);
  });
});

/** The folder of a path (helper for the connection lines). */
function w0(p: string): string {
  return join(p, '..');
}
