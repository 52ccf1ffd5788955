/**
 * `sfauth rotate` end to end against the local Snowflake emulator (run `npm run build` first).
 * Every interruption point of DESIGN.md §3 "Rotation" is struck with the emulator's faults or a
 * SIGKILL, and the same command is run again: it must finish the same rotation, with exactly one new
 * key file, and at no moment may both slots be without a working key. Each case has its own
 * emulator and temp folder, so they run concurrently.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, STACK_TRACE, openssl, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { fingerprintOf, journals, newKeys, spawnKillable, until } from '../support/rotation.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../support/emulator.js';
import { journalFixture } from '../support/journal.js';

const PASSPHRASE = 'rotate me gently 42';
const DAY = 86_400_000;
/** --timeout for runs that must fail at their deadline: short, yet room for start-up on a busy machine. */
const SHORT = '6s';
const gen = promisify(generateKeyPair);

interface World {
  sf: Emulator;
  dir: string;
  keyPath: string;
  fp: string;
  /** The common flags: account, host, user, current key. */
  args: string[];
  run(extra: string[], opts?: { timeoutMs?: number }): Promise<CliResult>;
  spawn(extra: string[]): { done: Promise<CliResult>; kill(): void };
  cleanup(): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(cleanups.map((c) => c()));
});

async function world(
  opts: { emulator?: EmulatorOptions; encrypted?: boolean; type?: 'rsa' | 'ec'; lastSet1?: Date | null; user?: string; slot2?: KeyObject } = {},
): Promise<World> {
  const sf = await startEmulator(opts.emulator);
  const { dir, cleanup } = tempDir('sfauth-rotate-');
  mkdirSync(join(dir, 'home'));
  const pair = opts.type === 'ec' ? await gen('ec', { namedCurve: 'P-256' }) : await gen('rsa', { modulusLength: 2048 });
  const name = opts.type === 'ec' ? 'ec_key.p8' : 'rsa_key.p8';
  const keyPath = join(dir, name);
  const pem = opts.encrypted
    ? pair.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE })
    : pair.privateKey.export({ type: 'pkcs8', format: 'pem' });
  writeFileSync(keyPath, pem, { mode: 0o600 });
  if (opts.encrypted) writeFileSync(join(dir, 'pass.txt'), PASSPHRASE + '\n');
  const user = opts.user ?? 'SVC';
  sf.addUser(user, {
    rsaPublicKey: pair.publicKey,
    ...(opts.slot2 ? { rsaPublicKey2: opts.slot2 } : {}),
    ...(opts.lastSet1 !== undefined ? { lastSet1: opts.lastSet1 } : {}),
  });
  // --retire-now: these cases exercise the engine's retire step, as after a deployment by hand
  // (test/e2e/rotate-delivery.test.ts covers who keeps working without it).
  const args = ['--account', 'myorg-myaccount', '--host', sf.url, '--user', user, '--private-key', keyPath, ...(opts.encrypted ? ['--passphrase-file', join(dir, 'pass.txt')] : []), '--retire-now'];
  const env = { HOME: join(dir, 'home'), SNOWFLAKE_HOME: join(dir, 'home', 'sf') };
  const w: World = {
    sf,
    dir,
    keyPath,
    fp: fingerprintOf(pair.publicKey),
    args,
    run: (extra, o) => runCliAsync(['rotate', ...args, ...extra], { cwd: dir, env, timeoutMs: o?.timeoutMs ?? 40_000 }),
    spawn: (extra) => spawnKillable(['rotate', ...args, ...extra], dir, env),
    cleanup: async () => {
      await sf.close();
      cleanup();
    },
  };
  cleanups.push(w.cleanup);
  return w;
}



/** The history lines of completed rotations (the state folder under the world's HOME). */
function history(w: World): Array<Record<string, unknown>> {
  const path = join(w.dir, 'home', '.local', 'state', 'sfauth', 'history.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function alters(sf: Emulator): string[] {
  return sf.executed.map((e) => e.statement).filter((s) => /^ALTER USER/i.test(s));
}


/** No secrets, no stack traces, in anything the command printed. */
function clean(r: CliResult): void {
  const all = r.stdout + r.stderr;
  expect(all).not.toMatch(/PRIVATE KEY/);
  expect(all).not.toContain(PASSPHRASE);
  expect(all).not.toMatch(STACK_TRACE);
}

/** The rotation finished: exactly one new key, registered alone (or beside the kept old one). */
function expectRotated(w: World, opts: { keepOld?: boolean; newSlot?: 1 | 2 } = {}): string {
  const keys = newKeys(w.dir);
  expect(keys).toHaveLength(1);
  const key = keys[0]!;
  expect(statSync(key).mode & 0o777).toBe(0o600);
  const pub = key.replace(/\.p8$/, '.pub');
  expect(existsSync(pub)).toBe(true);
  const newFp = fingerprintOf(readFileSync(pub, 'utf8'));
  const slots = w.sf.user('SVC').slots;
  const newSlot = opts.newSlot ?? 2;
  const oldSlot = newSlot === 1 ? 2 : 1;
  expect(slots[newSlot]?.fingerprint).toBe(newFp);
  if (opts.keepOld) expect(slots[oldSlot]?.fingerprint).toBe(w.fp);
  else expect(slots[oldSlot]).toBeNull();
  // A completed rotation leaves no journal: its facts are in the history.
  expect(journals(w.dir)).toHaveLength(0);
  const h = history(w);
  expect(h.at(-1)).toMatchObject({ newFingerprint: newFp, oldFingerprint: w.fp, place: `RSA_PUBLIC_KEY${newSlot === 2 ? '_2' : ''}` });
  return key;
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
});

describe.concurrent('sfauth rotate: plan and apply', { timeout: 60_000 }, () => {
  it('without --apply prints the plan and the exact SQL, and writes nothing anywhere', async () => {
    const w = await world();
    const before = readdirSync(w.dir).sort();
    const r = await w.run([]);
    expect(r.code, r.stderr).toBe(0);
    clean(r);
    expect(r.stdout).toContain('Rotation plan for SVC');
    expect(r.stdout).toContain('DESC USER SVC;');
    expect(r.stdout).toContain("ALTER USER SVC SET RSA_PUBLIC_KEY_2='<public key of the new key, made at --apply>';");
    expect(r.stdout).toContain('SELECT CURRENT_USER();');
    expect(r.stdout).toContain('ALTER USER SVC UNSET RSA_PUBLIC_KEY;');
    expect(r.stdout).toMatch(/rsa_key\.\d{4}-\d{2}-\d{2}\.p8 \(0600\)/);
    expect(r.stderr).toContain('plan only: nothing was changed');
    expect(readdirSync(w.dir).sort()).toEqual(before);
    expect(alters(w.sf)).toEqual([]);
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);
    expect(w.sf.user('SVC').slots[2]).toBeNull();
  });

  it('--json without --apply gives the plan document', async () => {
    const w = await world();
    const r = await w.run(['--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      user: 'SVC',
      applied: false,
      oldSlot: 1,
      newSlot: 2,
      oldFingerprint: w.fp,
      newFingerprint: null,
      newKey: { type: 'rsa', bits: 2048, encrypted: false, passphrase: 'none' },
    });
    expect(doc.privateKeyPath).toMatch(/rsa_key\.\d{4}-\d{2}-\d{2}\.p8$/);
    expect(doc.publicKeyPath).toMatch(/rsa_key\.\d{4}-\d{2}-\d{2}\.pub$/);
    expect(doc.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'describe:done',
      'choose-slot:done',
      'write-key:planned',
      'set:planned',
      'verify:planned',
      'hand-over:planned',
      'unset:planned',
    ]);
    expect(doc.steps[6].sql).toEqual(['ALTER USER SVC UNSET RSA_PUBLIC_KEY', 'DESC USER SVC', 'SHOW USER KEY PAIRS FOR USER SVC']);
    expect(newKeys(w.dir)).toEqual([]);
    expect(alters(w.sf)).toEqual([]);
  });

  it('--apply rotates slot 1 → slot 2, waits for propagation, and prints progress per step', async () => {
    const w = await world({ emulator: { propagationDelayMs: 1200 } });
    const r = await w.run(['--apply', '--timeout', '20s']);
    expect(r.code, r.stderr).toBe(0);
    clean(r);
    const key = expectRotated(w);
    for (const line of ['✓ Read the keys of SVC', '✓ Wrote ', '✓ Set RSA_PUBLIC_KEY_2 of SVC', '✓ Verified: authenticated as SVC with the new key (after', '✓ Unset RSA_PUBLIC_KEY of SVC', '✓ Confirmed'])
      expect(r.stderr).toContain(line);
    expect(r.stdout).toMatch(/ALTER USER SVC SET RSA_PUBLIC_KEY_2='MII[A-Za-z0-9+/=]+';/);
    expect(r.stdout).toContain('rotated SVC: RSA_PUBLIC_KEY_2 = SHA256:');
    expect(r.stderr).toContain(`private_key_file = "${key}"`);
    // the SET ran once, then the new key was refused while it propagated, then accepted
    expect(alters(w.sf)).toHaveLength(2);
    const verifies = w.sf.requests.filter((q) => q.statement === 'SELECT CURRENT_USER()');
    expect(verifies.length).toBeGreaterThan(1);
    expect(verifies[0]!.authOutcome).toBe('394304');
    expect(verifies.at(-1)!.authOutcome).toBe('ok');
    // the key opens with openssl and matches the slot
    const pub = openssl(['pkey', '-in', key, '-pubout']).toString();
    expect(fingerprintOf(pub)).toBe(w.sf.user('SVC').slots[2]?.fingerprint);
  });

  it('--json --apply gives the outcome document', async () => {
    const w = await world();
    const r = await w.run(['--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    const key = expectRotated(w);
    expect(doc).toMatchObject({ user: 'SVC', applied: true, resumed: false, oldSlot: 1, newSlot: 2, oldFingerprint: w.fp, privateKeyPath: key });
    expect(doc.newFingerprint).toBe(w.sf.user('SVC').slots[2]?.fingerprint);
    expect(doc.steps.map((s: { status: string }) => s.status)).toEqual(['done', 'done', 'done', 'done', 'done', 'skipped', 'done']);
    expect(doc.outcome).toBe('rotated');
    expect(doc.statementsRun).toEqual([expect.stringMatching(/^ALTER USER SVC SET RSA_PUBLIC_KEY_2=/), 'ALTER USER SVC UNSET RSA_PUBLIC_KEY']);
    expect(doc.slots).toMatchObject([{ slot: 1, fingerprint: null }, { slot: 2, fingerprint: doc.newFingerprint }]);
  });

  it('--keep-old leaves the old key; a rerun says it is already done and makes no second key', async () => {
    const w = await world();
    const r = await w.run(['--apply', '--keep-old']);
    expect(r.code, r.stderr).toBe(0);
    expectRotated(w, { keepOld: true });
    expect(r.stderr).toContain('remove it later with: ALTER USER SVC UNSET RSA_PUBLIC_KEY;');
    const again = await w.run(['--apply', '--keep-old']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already rotated');
    expectRotated(w, { keepOld: true });
    expect(alters(w.sf)).toHaveLength(1);
  });

  it('a rerun after a finished rotation with the old key explains that it was rotated out', async () => {
    const w = await world();
    expect((await w.run(['--apply'])).code).toBe(0);
    const key = expectRotated(w);
    const again = await w.run(['--apply']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^sfauth: this key was rotated out on \d{4}-\d\d-\d\d \d\d:\d\d UTC by sfauth rotate; Snowflake no longer accepts it/m);
    expect(again.stderr).toContain(`hint: use the newest key (private_key_file = "${key}"`);
    expect(again.stderr).not.toMatch(/register it/i);
    clean(again);
    expectRotated(w);
  });

  it('the next rotation starts from the new key, stamps a fresh name (-2 on the same day) and removes the key file it retired', async () => {
    const w = await world();
    expect((await w.run(['--apply'])).code).toBe(0);
    const first = expectRotated(w);
    const r = await runCliAsync(['rotate', ...w.args.slice(0, 6), '--private-key', first, '--apply', '--retire-now'], {
      cwd: w.dir,
      env: { HOME: join(w.dir, 'home') },
    });
    expect(r.code, r.stderr).toBe(0);
    // The first rotation's key (written by sfauth, now retired) is gone; the original key was not sfauth's.
    const keys = newKeys(w.dir);
    expect(keys).toHaveLength(1);
    const second = keys[0]!;
    expect(second).toMatch(/rsa_key\.\d{4}-\d{2}-\d{2}-2\.p8$/);
    expect(existsSync(first)).toBe(false);
    expect(existsSync(first.replace(/\.p8$/, '.pub'))).toBe(false);
    expect(existsSync(w.keyPath)).toBe(true);
    expect(r.stderr).toContain('removed the files of the retired key');
    const slots = w.sf.user('SVC').slots;
    expect(slots[2]).toBeNull();
    expect(slots[1]?.fingerprint).toBe(fingerprintOf(readFileSync(second.replace(/\.p8$/, '.pub'), 'utf8')));
    expect(journals(w.dir)).toEqual([]);
    expect(history(w)).toHaveLength(2);
  });

  it('an encrypted current key: the new key reuses its passphrase (opens with openssl)', async () => {
    const w = await world({ encrypted: true });
    const r = await w.run(['--apply']);
    expect(r.code, r.stderr).toBe(0);
    clean(r);
    const key = expectRotated(w);
    expect(readFileSync(key, 'utf8')).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    const pub = openssl(['pkey', '-in', key, '-passin', `file:${join(w.dir, 'pass.txt')}`, '-pubout']).toString();
    expect(fingerprintOf(pub)).toBe(w.sf.user('SVC').slots[2]?.fingerprint);
    expect(r.stdout).toContain("encrypted with the current key's passphrase");
  });

  it('--new-passphrase-file encrypts the new key with another passphrase; --type ec --curve P-384 makes an EC key', async () => {
    const w = await world();
    writeFileSync(join(w.dir, 'new.pass'), 'another secret 7\n');
    const r = await w.run(['--apply', '--type', 'ec', '--curve', 'P-384', '--new-passphrase-file', 'new.pass']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('another secret 7');
    const key = expectRotated(w);
    expect(key).toMatch(/ec_key\.\d{4}-\d{2}-\d{2}\.p8$/);
    const text = openssl(['pkey', '-in', key, '-passin', 'pass:another secret 7', '-noout', '-text']).toString();
    expect(text).toMatch(/384 bit|P-384|secp384r1/);
    expect(w.sf.requests.filter((q) => q.statement === 'SELECT CURRENT_USER()').at(-1)?.jwt?.header.alg).toBe('ES384');
  });

  it('an unencrypted current key gives an unencrypted new key, and the plan says so', async () => {
    const w = await world();
    const r = await w.run(['--apply']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('not encrypted, like the current key');
    const key = expectRotated(w);
    expect(readFileSync(key, 'utf8')).toContain('BEGIN PRIVATE KEY');
  });

  it('--target-user: an admin with a grant rotates another user; verification authenticates as that user', async () => {
    const w = await world();
    const admin = await gen('rsa', { modulusLength: 2048 });
    const adminKey = join(w.dir, 'admin.p8');
    writeFileSync(adminKey, admin.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    w.sf.addUser('ADMIN', { rsaPublicKey: admin.publicKey });
    const adminArgs = ['rotate', '--account', 'myorg-myaccount', '--host', w.sf.url, '--user', 'admin', '--private-key', adminKey, '--target-user', 'SVC'];
    const env = { HOME: join(w.dir, 'home') };

    const refused = await runCliAsync([...adminArgs, '--apply', '--no-encrypt'], { cwd: w.dir, env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^sfauth: Snowflake refused the statement: SQL compilation error: User 'SVC' does not exist or not authorized\./m);
    expect(newKeys(w.dir)).toEqual([]);

    w.sf.grant('ADMIN', 'SVC');
    const noPass = await runCliAsync([...adminArgs], { cwd: w.dir, env });
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toMatch(/^sfauth: a passphrase is needed to encrypt the new key of SVC\nhint: pass --new-passphrase-file PATH, or --no-encrypt/m);

    const r = await runCliAsync([...adminArgs, '--apply', '--no-encrypt'], { cwd: w.dir, env });
    expect(r.code, r.stderr).toBe(0);
    const keys = newKeys(w.dir);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/svc_rsa_key\.\d{4}-\d{2}-\d{2}\.p8$/);
    // The new key is only in the admin's folder: SVC's program still reads the old one, so it stays.
    expect(r.stdout).toContain('awaiting delivery');
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);
    expect(r.stderr).toContain(`deploy svc_rsa_key.`);
    const finish = await runCliAsync([...adminArgs, '--no-encrypt', '--finish', '--apply'], { cwd: w.dir, env });
    expect(finish.code, finish.stderr).toBe(0);
    expectRotated(w);
    const verify = w.sf.requests.filter((q) => q.statement === 'SELECT CURRENT_USER()' && q.authOutcome === 'ok');
    expect(verify.at(-1)?.login).toBe('SVC');
    expect(w.sf.executed.filter((e) => /^ALTER/.test(e.statement)).every((e) => e.login === 'ADMIN')).toBe(true);
    expect(w.sf.user('ADMIN').slots[1]?.fingerprint).toBe(fingerprintOf(admin.publicKey));
  });

  it('--if-older-than: a young key is left alone (exit 0, nothing written), an old or unknown one is rotated', async () => {
    const young = await world({ lastSet1: new Date(Date.now() - 10 * DAY) });
    const r1 = await young.run(['--apply', '--if-older-than', '90d']);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toMatch(/the current key \(slot 1, SHA256:.+\) is 10 days old, younger than 90d: nothing to do/);
    expect(newKeys(young.dir)).toEqual([]);
    expect(alters(young.sf)).toEqual([]);
    const j1 = JSON.parse((await young.run(['--apply', '--if-older-than', '90d', '--json'])).stdout);
    expect(j1).toMatchObject({ due: false, applied: false, currentSlot: 1, currentKeyAgeDays: 10 });

    const old = await world({ lastSet1: new Date(Date.now() - 100 * DAY) });
    const r2 = await old.run(['--apply', '--if-older-than', '90d']);
    expect(r2.code, r2.stderr).toBe(0);
    expectRotated(old);

    const unknown = await world({ lastSet1: null });
    const r3 = await unknown.run(['--apply', '--if-older-than', '90d']);
    expect(r3.code, r3.stderr).toBe(0);
    expectRotated(unknown);

    const bad = await young.run(['--if-older-than', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^sfauth: invalid --if-older-than 'soon'/m);
  });

  it('the current key in neither slot: an empty slot, else the one set longest ago, and it says so', async () => {
    const other = await gen('rsa', { modulusLength: 2048 });
    const third = await gen('rsa', { modulusLength: 2048 });
    const w = await world();
    // slot 1: a key set 200 days ago, slot 2: one set 5 days ago; the local key is in neither,
    // so it authenticates as an admin with a grant
    w.sf.setKey('SVC', 1, other.publicKey, { lastSet: new Date(Date.now() - 200 * DAY) });
    w.sf.setKey('SVC', 2, third.publicKey, { lastSet: new Date(Date.now() - 5 * DAY) });
    w.sf.addUser('OPS', { rsaPublicKey: readFileSync(w.keyPath, 'utf8') });
    w.sf.grant('OPS', 'SVC');
    const args = ['rotate', '--account', 'myorg-myaccount', '--host', w.sf.url, '--user', 'OPS', '--private-key', w.keyPath, '--target-user', 'SVC', '--no-encrypt'];
    const plan = await runCliAsync(args, { cwd: w.dir, env: { HOME: join(w.dir, 'home') } });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('both slots are set, so the new key overwrites slot 1 (set longest ago) and replaces the key in slot 2');
    // Neither key is accounted for here (no journal, not the key in use): overwriting one takes --overwrite-other.
    expect(plan.stdout).toContain('--apply would refuse: RSA_PUBLIC_KEY holds');
    const r = await runCliAsync([...args, '--apply', '--overwrite-other', '--retire-now'], { cwd: w.dir, env: { HOME: join(w.dir, 'home') } });
    expect(r.code, r.stderr).toBe(0);
    const key = newKeys(w.dir)[0]!;
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(fingerprintOf(readFileSync(key.replace(/\.p8$/, '.pub'), 'utf8')));
    expect(w.sf.user('SVC').slots[2]).toBeNull();
  });

  it('usage errors exit 2 before anything happens', async () => {
    const w = await world();
    const r = await w.run(['--no-encrypt', '--new-passphrase-file', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^sfauth: --no-encrypt and --new-passphrase-file contradict each other\n(.|\n)*hint: /m);
    const b = await w.run(['--bits', '1024']);
    expect(b.code).toBe(2);
    writeFileSync(join(w.dir, 'taken.p8'), 'x');
    const o = await w.run(['--apply', '--out', 'taken.p8']);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/^sfauth: refusing to overwrite taken\.p8/m);
    expect(readFileSync(join(w.dir, 'taken.p8'), 'utf8')).toBe('x');
    expect(alters(w.sf)).toEqual([]);
    for (const x of [r, b, o]) clean(x);
  });
});

describe.concurrent('sfauth rotate: crash safety (interrupted, then run again with the same arguments)', { timeout: 60_000 }, () => {
  it('the connection drops after the SET reached the server: the retry is answered from the server, one SET', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'drop-after-execute', match: /\bSET RSA_PUBLIC_KEY/ });
    const r = await w.run(['--apply']);
    expect(r.code, r.stderr).toBe(0);
    expectRotated(w);
    const sets = w.sf.requests.filter((q) => /\bSET RSA_PUBLIC_KEY/.test(q.statement ?? ''));
    expect(sets.map((q) => [q.retry, q.replayed, q.executed])).toEqual([
      [false, false, true],
      [true, true, false],
    ]);
    expect(w.sf.executed.filter((e) => /\bSET RSA_PUBLIC_KEY/.test(e.statement))).toHaveLength(1);
  });

  it('the SET ran but its answer never came within --timeout: exit 3, then a rerun finishes (before --if-older-than)', async () => {
    const w = await world({ lastSet1: new Date(Date.now() - 100 * DAY) });
    w.sf.injectFault({ kind: 'async', polls: 100_000, match: /\bSET RSA_PUBLIC_KEY/ });
    const r = await w.run(['--apply', '--timeout', SHORT, '--if-older-than', '90d']);
    expect(r.code, r.stderr).toBe(3);
    clean(r);
    expect(r.stderr).toMatch(/^sfauth: no (successful )?answer from .* within 6s/m);
    expect(r.stderr).toContain('to finish: run the same command again');
    expect(r.stderr).toMatch(/^hint: run the same command again to finish this rotation/m);
    // the server has both keys, the journal stopped before 'set'
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);
    expect(w.sf.user('SVC').slots[2]).not.toBeNull();
    expect(journals(w.dir)[0]).toMatchObject({ step: 'written' });

    // the newest key is now the young new one, yet the unfinished rotation is finished first
    const again = await w.run(['--apply', '--if-older-than', '90d']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('resuming an unfinished rotation');
    expectRotated(w);
    expect(w.sf.executed.filter((e) => /\bSET RSA_PUBLIC_KEY/.test(e.statement))).toHaveLength(1);
  });

  it('killed (SIGKILL) right after the SET executed, before its answer: a rerun finishes with one key', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'drop-after-execute', match: /\bSET RSA_PUBLIC_KEY/ });
    const p = w.spawn(['--apply']);
    await until(() => w.sf.executed.some((e) => /\bSET RSA_PUBLIC_KEY/.test(e.statement)));
    p.kill();
    await p.done;
    expect(newKeys(w.dir)).toHaveLength(1);
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);

    const again = await w.run(['--apply']);
    expect(again.code, again.stderr).toBe(0);
    expectRotated(w);
    expect(w.sf.executed.filter((e) => /\bSET RSA_PUBLIC_KEY/.test(e.statement))).toHaveLength(1);
  });

  it('killed after the key was written, before the SET reached the server: a rerun sets that same key', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'hang', match: /\bSET RSA_PUBLIC_KEY/ });
    const p = w.spawn(['--apply']);
    await until(() => w.sf.requests.some((q) => /\bSET RSA_PUBLIC_KEY/.test(q.statement ?? '')));
    p.kill();
    await p.done;
    const written = newKeys(w.dir);
    expect(written).toHaveLength(1);
    expect(alters(w.sf)).toEqual([]);
    expect(journals(w.dir)[0]).toMatchObject({ step: 'written' });
    const planned = journals(w.dir)[0]!.newFingerprint;

    // a plan-only rerun shows what is left and changes nothing
    const plan = await w.run([]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('resuming an unfinished rotation');
    expect(alters(w.sf)).toEqual([]);

    const again = await w.run(['--apply']);
    expect(again.code, again.stderr).toBe(0);
    expect(expectRotated(w)).toBe(written[0]);
    expect(w.sf.user('SVC').slots[2]?.fingerprint).toBe(planned);
  });

  it('the verification fails (key still propagating at the deadline): exit 1, old slot kept, a rerun finishes', async () => {
    const w = await world({ emulator: { propagationDelayMs: 10_000 } });
    const r = await w.run(['--apply', '--timeout', SHORT]);
    expect(r.code, r.stderr).toBe(1);
    clean(r);
    expect(r.stderr).toMatch(/^sfauth: the new key could not be verified within 6s: Snowflake refused it \d+ times/m);
    expect(r.stderr).toContain('the old key stays in RSA_PUBLIC_KEY: no one is locked out');
    expect(r.stderr).toContain('to undo:   ALTER USER SVC UNSET RSA_PUBLIC_KEY_2;');
    expect(r.stderr).toMatch(/^hint: rerun the same command to finish, or undo with ALTER USER SVC UNSET RSA_PUBLIC_KEY_2;/m);
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);
    expect(w.sf.user('SVC').slots[2]).not.toBeNull();
    expect(journals(w.dir)[0]).toMatchObject({ step: 'registered' });

    await until(() => w.sf.user('SVC').slots[2]!.usableAt.getTime() <= Date.now());
    const again = await w.run(['--apply', '--timeout', '10s']);
    expect(again.code, again.stderr).toBe(0);
    expectRotated(w);
    expect(w.sf.executed.filter((e) => /\bSET RSA_PUBLIC_KEY/.test(e.statement))).toHaveLength(1);
  });

  it('the new key is refused (fail-auth on the verification): exit 1 with --json, old slot kept, a rerun finishes', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'fail-auth', code: '394304', match: /CURRENT_USER/, times: 100_000 });
    const r = await w.run(['--apply', '--timeout', SHORT, '--json']);
    expect(r.code, r.stderr).toBe(1);
    clean(r);
    const doc = JSON.parse(r.stdout);
    expect(doc.steps.map((s: { status: string }) => s.status)).toEqual(['done', 'done', 'done', 'done', 'failed', 'planned', 'planned']);
    const err = JSON.parse(r.stderr.trim().split('\n').at(-1)!).error;
    expect(err).toMatchObject({ code: 'ERR_ROTATION_UNVERIFIED', data: { newSlot: 2, oldSlot: 1, step: 'verify' } });
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);

    w.sf.reset(); // the fault is gone
    const again = await w.run(['--apply']);
    expect(again.code, again.stderr).toBe(0);
    expectRotated(w);
  });

  it('killed while the verification hangs: a rerun finishes', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'hang', match: /CURRENT_USER/ });
    const p = w.spawn(['--apply']);
    await until(() => w.sf.requests.some((q) => q.statement === 'SELECT CURRENT_USER()'));
    p.kill();
    await p.done;
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);
    expect(journals(w.dir)[0]).toMatchObject({ step: 'registered' });
    const again = await w.run(['--apply']);
    expect(again.code, again.stderr).toBe(0);
    expectRotated(w);
  });

  it('the UNSET keeps failing (503) until --timeout: exit 3 with both keys working, a rerun finishes', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'status', status: 503, match: /UNSET/, times: 100_000 });
    const r = await w.run(['--apply', '--timeout', SHORT]);
    expect(r.code, r.stderr).toBe(3);
    clean(r);
    expect(r.stderr).toContain('the new key in RSA_PUBLIC_KEY_2 authenticated a moment ago: no one is locked out');
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);
    expect(journals(w.dir)[0]).toMatchObject({ step: 'verified' });

    w.sf.reset();
    const again = await w.run(['--apply']);
    expect(again.code, again.stderr).toBe(0);
    expectRotated(w);
  });

  it('the UNSET ran but its answer was lost: the rerun is refused with the old key, goes on with the new one', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'async', polls: 100_000, match: /UNSET/ });
    const r = await w.run(['--apply', '--timeout', SHORT]);
    expect(r.code, r.stderr).toBe(3);
    expect(w.sf.user('SVC').slots[1]).toBeNull();
    expect(journals(w.dir)[0]).toMatchObject({ step: 'verified' });

    const again = await w.run(['--apply', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const doc = JSON.parse(again.stdout);
    expect(doc).toMatchObject({ resumed: true, applied: true });
    expect(doc.notes.join(' ')).toContain('continued with the new key');
    expect(doc.steps.find((s: { name: string }) => s.name === 'unset').status).toBe('already-done');
    expectRotated(w);
  });

  it('killed while the UNSET hangs: a rerun finishes', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'hang', match: /UNSET/ });
    const p = w.spawn(['--apply']);
    await until(() => w.sf.requests.some((q) => /UNSET/.test(q.statement ?? '')));
    p.kill();
    await p.done;
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);
    const again = await w.run(['--apply']);
    expect(again.code, again.stderr).toBe(0);
    expectRotated(w);
  });

  it("a journal left by sfauth 0.1 (version 1) after its SET resumes under this version: verified, unset, recorded as version 2", async () => {
    const w = await world();
    const plan = JSON.parse((await w.run(['--json'])).stdout);
    const next = await gen('rsa', { modulusLength: 2048 });
    writeFileSync(plan.privateKeyPath, next.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(
      plan.journalPath,
      JSON.stringify({ ...journalFixture({ oldFingerprint: w.fp, newPublicKey: next.publicKey, privateKeyPath: plan.privateKeyPath }), step: 'set' }),
      { mode: 0o600 },
    );
    w.sf.setKey('SVC', 2, next.publicKey);
    const r = await w.run(['--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ resumed: true, kind: 'slot', newSlot: 2, oldSlot: 1 });
    expect(doc.steps.map((s: { status: string }) => s.status)).toEqual(['done', 'already-done', 'already-done', 'already-done', 'done', 'skipped', 'done']);
    expect(expectRotated(w)).toBe(plan.privateKeyPath);
    expect(alters(w.sf)).toEqual(['ALTER USER SVC UNSET RSA_PUBLIC_KEY']);
  });

  it('killed while writing is never left without its journal: a journal alone is completed under the same name', async () => {
    const w = await world();
    // What a kill between the journal and the key file leaves: a journal whose key does not exist.
    const plan = JSON.parse((await w.run(['--json'])).stdout);
    // A journal as sfauth writes it: its public key is the one its fingerprint names.
    const planned = (await gen('rsa', { modulusLength: 2048 })).publicKey;
    writeFileSync(
      plan.journalPath,
      JSON.stringify(journalFixture({ oldFingerprint: w.fp, newPublicKey: planned, privateKeyPath: plan.privateKeyPath })),
      { mode: 0o600 },
    );
    const r = await w.run(['--apply']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('was never completed; a key is made again under the same name');
    expect(expectRotated(w)).toBe(plan.privateKeyPath);
  });
});
