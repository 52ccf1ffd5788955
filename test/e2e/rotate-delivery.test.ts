/**
 * Who keeps working during a rotation (DESIGN.md §3 "Rotation" steps 6–7, v3), end to end against
 * the emulator (run `npm run build` first). The invariant is the program's: the place it reads its key
 * from holds a registered key at every instant. So:
 *   - a self-rotation through a connection points the connection at the new key by default, and only
 *     then retires the old one; `test-connection -c NAME` passes after;
 *   - `--in-place` replaces the very file the old key was read from;
 *   - anything that leaves the program reading the old key (an admin's folder, a fleet's --out-dir,
 *     `--no-update-connection`, a path without --in-place) stops at `awaiting-delivery` with both keys
 *     registered, and `--finish` retires the old key later;
 *   - a completed rotation leaves no journal, a history line, and no private key file of a key it
 *     retired (unless --keep-old-key-file); a key it rotated out is named as such when refused;
 *   - on a terminal `--apply` asks first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey, generateKeyPair } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawn } from 'node:child_process';
import { BIN, ROOT, STACK_TRACE, baseEnv, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';
import { fingerprintOf, journals, spawnKillable, until } from '../support/rotation.js';
import { runCliInPty } from '../support/audit.js';

const gen = promisify(generateKeyPair);

interface World {
  sf: Emulator;
  dir: string;
  /** The working folder; the service's key is rsa_key.p8 here. */
  work: string;
  keyPath: string;
  fp: string;
  sfHome: string;
  env: Record<string, string>;
  /** `--account … --host …` for runs without a connection. */
  direct: string[];
  cli(args: string[], extra?: Record<string, string>): Promise<CliResult>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(cleanups.map((c) => c()));
});
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
});

/** SVC (key in slot 1, or the pair CI_KEY) behind connection [loader]; ADMIN (granted on SVC) behind [admin]. */
async function world(opts: { pair?: boolean } = {}): Promise<World> {
  const sf = await startEmulator();
  const { dir, cleanup } = tempDir('sfauth-delivery-');
  const [work, home, sfHome, store] = ['work', 'home', 'sf', 'store'].map((d) => join(dir, d)) as [string, string, string, string];
  for (const d of [work, home, sfHome, store]) mkdirSync(d, { mode: 0o700 });
  const svc = await gen('rsa', { modulusLength: 2048 });
  const admin = await gen('ec', { namedCurve: 'P-256' });
  const keyPath = join(work, 'rsa_key.p8');
  writeFileSync(keyPath, svc.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(work, 'admin.p8'), admin.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  if (opts.pair) {
    sf.addUser('SVC', {});
    sf.addKeyPair('SVC', 'CI_KEY', svc.publicKey);
  } else {
    sf.addUser('SVC', { rsaPublicKey: svc.publicKey });
  }
  sf.addUser('ADMIN', { rsaPublicKey: admin.publicKey });
  sf.grant('ADMIN', 'SVC');
  const toml = [
    '# written by hand',
    '[loader]',
    'account = "myorg-myaccount"',
    'user = "SVC"',
    `host = "${sf.url}"`,
    `private_key_file = "${keyPath}"`,
    '',
    '[admin]',
    'account = "myorg-myaccount"',
    'user = "ADMIN"',
    `host = "${sf.url}"`,
    `private_key_file = "${join(work, 'admin.p8')}"`,
    '',
  ].join('\n');
  writeFileSync(join(sfHome, 'connections.toml'), toml, { mode: 0o600 });
  const env = { HOME: home, SNOWFLAKE_HOME: sfHome, STORE: store };
  cleanups.push(async () => {
    await sf.close();
    cleanup();
  });
  return {
    sf,
    dir,
    work,
    keyPath,
    fp: fingerprintOf(svc.publicKey),
    sfHome,
    env,
    direct: ['--account', 'myorg-myaccount', '--host', sf.url, '--user', 'SVC'],
    cli: (args, extra) => runCliAsync(args, { cwd: work, env: { ...env, ...extra }, timeoutMs: 40_000 }),
  };
}

const slotFps = (w: World) => [1, 2].map((n) => w.sf.user('SVC').slots[n as 1 | 2]?.fingerprint ?? null);
const alters = (w: World) => w.sf.executed.filter((e) => /^ALTER USER/.test(e.statement)).map((e) => e.statement);
const historyOf = (w: World) => {
  const p = join(w.dir, 'home', '.local', 'state', 'sfauth', 'history.jsonl');
  return existsSync(p) ? readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
};
const datedKeys = (dir: string) => readdirSync(dir).filter((f) => /\.\d{4}-\d{2}-\d{2}(-\d+)?\.p8$/.test(f));
const pubFp = (path: string) => fingerprintOf(readFileSync(path.replace(/\.p8$/, '.pub'), 'utf8'));
/** The fingerprint of an unencrypted private key file. */
const keyFp = (path: string) => fingerprintOf(createPublicKey(readFileSync(path)));

function clean(r: CliResult): void {
  expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY-----/);
  expect(r.stdout + r.stderr).not.toMatch(STACK_TRACE);
}

describe.concurrent('rotate: the program that uses the key keeps working', { timeout: 90_000 }, () => {
  it('through a connection: the plan says who is affected and when; --apply points the connection at the new key, then retires the old one', async () => {
    const w = await world();
    const plan = await w.cli(['rotate', '-c', 'loader']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain("the old key is read from connection 'loader'");
    expect(plan.stdout).toMatch(/the new key goes to connection 'loader' \(.*connections\.toml\)/);
    expect(plan.stdout).toContain('the old key stops working at the end of this run, once the new key is delivered');

    const r = await w.cli(['rotate', '-c', 'loader', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    clean(r);
    // No terminal (CI): --apply never asks.
    expect(r.stderr).not.toContain('[y/N]');
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ outcome: 'rotated', connectionUpdate: { name: 'loader', updated: true }, delivery: { covered: true } });
    expect(slotFps(w)).toEqual([null, doc.newFingerprint]);
    expect(readFileSync(join(w.sfHome, 'connections.toml'), 'utf8')).toContain(`private_key_file = "${doc.privateKeyPath}"`);
    const check = await w.cli(['test-connection', '-c', 'loader', '--json']);
    expect(check.code, check.stderr).toBe(0);
    expect(JSON.parse(check.stdout).fingerprint).toBe(doc.newFingerprint);
    // Housekeeping: no journal, one history line (no secret), the new key's files.
    expect(journals(w.work)).toEqual([]);
    const h = historyOf(w);
    expect(h).toHaveLength(1);
    expect(h[0]).toMatchObject({ user: 'SVC', oldFingerprint: w.fp, newFingerprint: doc.newFingerprint, place: 'RSA_PUBLIC_KEY_2' });
    expect((h[0]!.deliveredTo as string[]).join(' ')).toContain("connection 'loader'");
    expect(JSON.stringify(h)).not.toMatch(/PRIVATE KEY|BEGIN/);
  });

  it('--store-cmd with --no-update-connection: the store alone does not cover the connection, so the run awaits delivery; --finish retires later', async () => {
    const w = await world();
    const store = 'cat > "$STORE/key.p8"';
    const r = await w.cli(['rotate', '-c', 'loader', '--store-cmd', store, '--no-update-connection', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ outcome: 'awaiting-delivery', store: { handedOver: true }, delivery: { covered: false } });
    expect(doc.finish).toBe(`sfauth rotate -c loader --store-cmd 'cat > "$STORE/key.p8"' --no-update-connection --finish --apply`);
    // Both keys registered, and the program reading [loader] still authenticates.
    expect(slotFps(w)).toEqual([w.fp, doc.newFingerprint]);
    expect((await w.cli(['test-connection', '-c', 'loader'])).code).toBe(0);
    // With --store-cmd and no file to point at, the new key waits in sfauth's state folder.
    const stateKeys = join(w.dir, 'home', '.local', 'state', 'sfauth', 'keys', 'myorg-myaccount', 'svc');
    expect(journals(stateKeys)[0]).toMatchObject({ step: 'awaiting-delivery' });
    const status = await w.cli(['status', '-c', 'loader']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stderr).toMatch(/a rotation of SVC awaits delivery .*both keys are registered.*--finish --apply/);
    // The same command again (no --finish) changes nothing and says so.
    const again = await w.cli(['rotate', '-c', 'loader', '--store-cmd', store, '--no-update-connection', '--apply']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^awaiting delivery: SVC's RSA_PUBLIC_KEY_2 = /m);
    expect(again.stderr).toContain('--finish --apply');
    expect(slotFps(w)).toEqual([w.fp, doc.newFingerprint]);

    // The printed command, run through sh as a user would paste it.
    const sh = await runShell(doc.finish, w);
    expect(sh.code, sh.stderr).toBe(0);
    expect(slotFps(w)).toEqual([null, doc.newFingerprint]);
    expect(alters(w).filter((s) => /UNSET/.test(s))).toEqual(['ALTER USER SVC UNSET RSA_PUBLIC_KEY']);
    expect(journals(stateKeys)).toEqual([]);
    expect(readdirSync(stateKeys)).toEqual([]);
    // --finish with nothing awaiting: a no-op that says so.
    const none = await runShell(doc.finish, w);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain('no rotation of SVC awaits delivery here: --finish has nothing to do');
    // [loader] still names the old key, which is gone: the refusal says it was rotated out, never "register it".
    const refused = await w.cli(['test-connection', '-c', 'loader']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/this key was rotated out on \d{4}-\d\d-\d\d \d\d:\d\d UTC by sfauth rotate/);
    expect(refused.stderr).toContain(`the newest key is ${doc.newFingerprint}`);
    expect(refused.stderr).not.toMatch(/register it/i);
  });

  it('an admin rotating another user: awaiting delivery with both keys working, then --finish (and the plan says why)', async () => {
    const w = await world();
    const base = ['rotate', '-c', 'admin', '--target-user', 'SVC', '--no-encrypt'];
    const plan = await w.cli(base);
    expect(plan.stdout).toContain('the old key is read from whatever runs as SVC');
    expect(plan.stdout).toContain('the old key stops working only when you run --finish after deploying the new key');
    expect(plan.stdout).toContain('stop here, both keys registered (awaiting delivery)');
    const r = await w.cli([...base, '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.outcome).toBe('awaiting-delivery');
    expect(doc.finish).toBe('sfauth rotate -c admin --target-user SVC --no-encrypt --finish --apply');
    expect(doc.statementsRun).toEqual([expect.stringMatching(/^ALTER USER SVC SET RSA_PUBLIC_KEY_2=/)]);
    // SVC's program, still on its old key, authenticates; so does the new key.
    expect((await w.cli(['test-connection', ...w.direct, '--private-key', w.keyPath])).code).toBe(0);
    expect((await w.cli(['test-connection', ...w.direct, '--private-key', doc.privateKeyPath])).code).toBe(0);
    const done = await w.cli([...base, '--finish', '--apply']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/^rotated SVC: RSA_PUBLIC_KEY_2 = /m);
    expect(done.stderr).toContain('ALTER USER SVC UNSET RSA_PUBLIC_KEY;');
    expect(slotFps(w)).toEqual([null, doc.newFingerprint]);
  });

  it('a path without --in-place awaits delivery; --retire-now says it was deployed', async () => {
    const w = await world();
    const args = ['rotate', ...w.direct, '--private-key', w.keyPath, '--apply'];
    const r = await w.cli(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^awaiting delivery: /m);
    const newFp = slotFps(w)[1]!;
    expect(slotFps(w)).toEqual([w.fp, newFp]);
    const now = await w.cli([...args, '--retire-now']);
    expect(now.code, now.stderr).toBe(0);
    expect(now.stdout).toMatch(/^rotated SVC: RSA_PUBLIC_KEY_2 = /m);
    expect(slotFps(w)).toEqual([null, newFp]);
  });

  it('--in-place: the file the key was read from holds the new key, atomically; nothing else is left behind', async () => {
    const w = await world();
    writeFileSync(w.keyPath.replace(/\.p8$/, '.pub'), 'stale public key');
    const r = await w.cli(['rotate', ...w.direct, '--private-key', w.keyPath, '--in-place', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ outcome: 'rotated', privateKeyPath: w.keyPath, inPlace: { replaced: true } });
    expect(slotFps(w)).toEqual([null, doc.newFingerprint]);
    expect(pubFp(w.keyPath)).toBe(doc.newFingerprint);
    // Only rsa_key.p8 and its .pub: no dated copy, no kept old content, no journal.
    expect(readdirSync(w.work).sort()).toEqual(['admin.p8', 'rsa_key.p8', 'rsa_key.pub']);
    const check = await w.cli(['test-connection', ...w.direct, '--private-key', w.keyPath, '--json']);
    expect(JSON.parse(check.stdout).fingerprint).toBe(doc.newFingerprint);
    // And again: the chain goes on from the same file.
    const again = await w.cli(['rotate', ...w.direct, '--private-key', w.keyPath, '--in-place', '--apply', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(slotFps(w)).toEqual([JSON.parse(again.stdout).newFingerprint, null]);
  });

  it('--in-place refuses, before anything is written or sent, a file others can write, one another user owns, and a link out of its folder', async () => {
    const w = await world();
    const before = readFileSync(w.keyPath);
    const args = ['rotate', ...w.direct, '--in-place', '--apply'];
    chmodSync(w.keyPath, 0o620);
    const writable = await w.cli([...args, '--private-key', w.keyPath]);
    expect(writable.code).toBe(2);
    expect(writable.stderr).toMatch(/^sfauth: --in-place refuses rsa_key\.p8: it is writable by its group/m);
    chmodSync(w.keyPath, 0o600);
    if (process.getuid?.() === 0) {
      const theirs = join(w.work, 'theirs.p8');
      writeFileSync(theirs, before, { mode: 0o600 });
      chownSync(theirs, 65534, 65534);
      const owned = await w.cli([...args, '--private-key', theirs]);
      expect(owned.code).toBe(2);
      expect(owned.stderr).toMatch(/it belongs to uid 65534, not to you/);
    }
    const elsewhere = join(w.dir, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'k.p8'), before, { mode: 0o600 });
    symlinkSync(join(elsewhere, 'k.p8'), join(w.work, 'link.p8'));
    const link = await w.cli([...args, '--private-key', join(w.work, 'link.p8')]);
    expect(link.code).toBe(2);
    expect(link.stderr).toMatch(/it is a link that leaves its folder/);
    const raw = await w.cli([...args], { SNOWFLAKE_PRIVATE_KEY_RAW: before.toString() });
    expect(raw.code).toBe(2);
    expect(raw.stderr).toMatch(/--in-place replaces the file the key in use was read from, and this key came from no file/);
    expect(alters(w)).toEqual([]);
    expect(w.sf.requests.filter((q) => q.statement && !/^SELECT/.test(q.statement))).toEqual([]);
    expect(readFileSync(w.keyPath).equals(before)).toBe(true);
    expect(datedKeys(w.work)).toEqual([]);
  });

  it('A → B → C: a refused old key is named as rotated out, the chain leads to the newest key; the retired key file sfauth wrote goes', async () => {
    const w = await world();
    const first = await w.cli(['rotate', '-c', 'loader', '--apply', '--json']);
    const b = JSON.parse(first.stdout);
    const second = await w.cli(['rotate', '-c', 'loader', '--apply', '--json']);
    expect(second.code, second.stderr).toBe(0);
    const c = JSON.parse(second.stdout);
    // B was sfauth's and no longer works: removed. A (the user's own file) stays.
    expect(existsSync(b.privateKeyPath)).toBe(false);
    expect(c.removedFiles).toContain(b.privateKeyPath);
    expect(existsSync(w.keyPath)).toBe(true);
    for (const cmd of ['rotate', 'test-connection', 'status']) {
      const r = await w.cli([cmd, ...w.direct, '--private-key', w.keyPath, '--apply'].filter((a) => cmd === 'rotate' || a !== '--apply'));
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(1);
      expect(r.stderr, cmd).toMatch(/this key was rotated out on \d{4}-\d\d-\d\d \d\d:\d\d UTC by sfauth rotate/);
      expect(r.stderr, cmd).toContain(`the newest key is ${c.newFingerprint}`);
      expect(r.stderr, cmd).toContain(c.privateKeyPath);
      expect(r.stderr, cmd).not.toMatch(/register it/i);
    }
    // doctor's authentication check says the same, with its fix pointing at the newest key.
    const d = await w.cli(['doctor', ...w.direct, '--private-key', w.keyPath, '--json']);
    const auth = (JSON.parse(d.stdout).checks as Array<{ id: string; fix: string; evidence: string }>).find((x) => x.id === 'auth')!;
    expect(auth.evidence).toMatch(/rotated out on/);
    expect(auth.fix).toContain(c.privateKeyPath);
  });

  it('--keep-old-key-file keeps the retired key file; the plan names the files that will go otherwise', async () => {
    const w = await world();
    const b = JSON.parse((await w.cli(['rotate', '-c', 'loader', '--apply', '--json'])).stdout);
    const plan = await w.cli(['rotate', '-c', 'loader']);
    expect(plan.stdout).toContain(`removed once the old key no longer works: ${b.privateKeyPath.slice(w.work.length + 1)}`);
    const c = await w.cli(['rotate', '-c', 'loader', '--apply', '--keep-old-key-file', '--json']);
    expect(c.code, c.stderr).toBe(0);
    expect(existsSync(b.privateKeyPath)).toBe(true);
    expect(JSON.parse(c.stdout).removedFiles).toEqual([]);
  });

  it('a named pair: the grace period protects the program, so the run completes and says when the old key stops; --grace 0 waits for delivery', async () => {
    const w = await world({ pair: true });
    const args = ['rotate', ...w.direct, '--private-key', w.keyPath];
    const plan = await w.cli(args);
    expect(plan.stdout).toContain('the old key stops working at the end of the grace period, 24 h after the ROTATE');
    const r = await w.cli([...args, '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toBe('rotated');
    expect(w.sf.keyPairs('SVC').filter((p) => p.rotatedTo === 'CI_KEY').map((p) => p.status)).toEqual(['ACTIVE']);
    const key2 = JSON.parse(r.stdout).privateKeyPath as string;
    const fp2 = pubFp(key2);
    const zero = await w.cli(['rotate', ...w.direct, '--private-key', key2, '--grace', '0', '--apply', '--json']);
    expect(zero.code, zero.stderr).toBe(0);
    expect(JSON.parse(zero.stdout).outcome).toBe('awaiting-delivery');
    const out2 = w.sf.keyPairs('SVC').filter((p) => p.rotatedTo === 'CI_KEY' && p.fingerprint === fp2);
    expect(out2.map((p) => p.status)).toEqual(['ACTIVE']);
    const fin = await w.cli(['rotate', ...w.direct, '--private-key', key2, '--grace', '0', '--finish', '--apply']);
    expect(fin.code, fin.stderr).toBe(0);
    expect(w.sf.keyPairs('SVC').filter((p) => p.rotatedTo === 'CI_KEY' && p.fingerprint === fp2).map((p) => p.status)).toEqual(['DISABLED']);
    // key2 was sfauth's and no longer works (disabled): its file went.
    expect(existsSync(key2)).toBe(false);
  });
});

describe.concurrent('rotate: killed between delivery and retirement', { timeout: 90_000 }, () => {
  it('--in-place, killed while the UNSET hangs: the rerun (the file now holds the new key) retires the old one', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'hang', match: /UNSET/ });
    const args = ['rotate', ...w.direct, '--private-key', w.keyPath, '--in-place', '--apply'];
    const p = spawnKillable(args, w.work, w.env);
    await until(() => w.sf.requests.some((q) => /UNSET/.test(q.statement ?? '')));
    p.kill();
    await p.done;
    const newFp = slotFps(w)[1]!;
    // Killed after delivery: the file already holds the new key, the old content is kept beside the journal.
    expect(keyFp(w.keyPath)).toBe(newFp);
    expect(readdirSync(w.work).some((f) => f.endsWith('.replaced'))).toBe(true);
    w.sf.reset();
    const again = await w.cli(args);
    expect(again.code, again.stderr).toBe(0);
    expect(slotFps(w)).toEqual([null, newFp]);
    expect(readdirSync(w.work).sort()).toEqual(['admin.p8', 'rsa_key.p8']);
    expect(w.sf.executed.filter((e) => /SET RSA_PUBLIC_KEY/.test(e.statement) && !/UNSET/.test(e.statement))).toHaveLength(0);
  });

  it('the connection updated, killed while the UNSET hangs: the same command finishes with the new key', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'hang', match: /UNSET/ });
    const p = spawnKillable(['rotate', '-c', 'loader', '--apply'], w.work, w.env);
    await until(() => w.sf.requests.some((q) => /UNSET/.test(q.statement ?? '')));
    p.kill();
    await p.done;
    const newFp = slotFps(w)[1]!;
    expect(readFileSync(join(w.sfHome, 'connections.toml'), 'utf8')).not.toContain(`"${w.keyPath}"`);
    w.sf.reset();
    const again = await w.cli(['rotate', '-c', 'loader', '--apply']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('resuming an unfinished rotation');
    expect(slotFps(w)).toEqual([null, newFp]);
    expect(journals(w.work)).toEqual([]);
  });

  it('killed during --finish: the rerun of --finish completes', async () => {
    const w = await world();
    const base = ['rotate', '-c', 'admin', '--target-user', 'SVC', '--no-encrypt'];
    expect((await w.cli([...base, '--apply'])).code).toBe(0);
    w.sf.injectFault({ kind: 'hang', match: /UNSET/ });
    const p = spawnKillable([...base, '--finish', '--apply'], w.work, w.env);
    await until(() => w.sf.requests.some((q) => /UNSET/.test(q.statement ?? '')));
    p.kill();
    await p.done;
    w.sf.reset();
    const again = await w.cli([...base, '--finish', '--apply']);
    expect(again.code, again.stderr).toBe(0);
    expect(slotFps(w)[0]).toBeNull();
  });
});

describe.concurrent('rotate --targets: awaiting delivery, --finish, --restart', { timeout: 90_000 }, () => {
  it('a fleet into --out-dir awaits delivery for every user; --targets FILE --finish retires them all', async () => {
    const w = await world();
    const users = ['SVC_A', 'SVC_B'];
    const before = new Map<string, string>();
    for (const u of users) {
      const k = await gen('ec', { namedCurve: 'P-256' });
      w.sf.addUser(u, { rsaPublicKey: k.publicKey });
      w.sf.grant('ADMIN', u);
      before.set(u, fingerprintOf(k.publicKey));
    }
    writeFileSync(join(w.work, 'users.txt'), users.join('\n') + '\n');
    mkdirSync(join(w.work, 'keys'), { mode: 0o700 });
    const base = ['rotate', '-c', 'admin', '--targets', 'users.txt', '--out-dir', 'keys', '--no-encrypt'];
    const r = await w.cli([...base, '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Array<{ outcome: string }>).map((x) => x.outcome)).toEqual(['awaiting-delivery', 'awaiting-delivery']);
    for (const u of users) expect(w.sf.user(u).slots[1]?.fingerprint).toBe(before.get(u));
    const human = await w.cli([...base, '--apply']);
    expect(human.stderr).toContain('2 users await delivery: their old keys keep working');
    expect(human.stderr).toContain('sfauth rotate -c admin --targets users.txt --out-dir keys --no-encrypt --finish --apply');
    const fin = await w.cli([...base, '--finish', '--apply', '--json']);
    expect(fin.code, fin.stderr).toBe(0);
    expect((JSON.parse(fin.stdout) as Array<{ outcome: string }>).map((x) => x.outcome)).toEqual(['rotated', 'rotated']);
    for (const u of users) expect(w.sf.user(u).slots[1]).toBeNull();
    expect(readdirSync(join(w.work, 'keys')).filter((f) => f.endsWith('.rotate.json'))).toEqual([]);
  });

  it('--restart forgets an unfinished fleet run: finished users are rotated again instead of skipped', async () => {
    const w = await world();
    for (const u of ['SVC_A', 'SVC_B']) {
      w.sf.addUser(u, { rsaPublicKey: (await gen('ec', { namedCurve: 'P-256' })).publicKey });
      if (u === 'SVC_A') w.sf.grant('ADMIN', u);
    }
    writeFileSync(join(w.work, 'users.txt'), 'SVC_A\nSVC_B\n');
    const base = ['rotate', '-c', 'admin', '--targets', 'users.txt', '--no-encrypt', '--store-cmd', 'cat > /dev/null', '--apply', '--json'];
    const first = await w.cli(base);
    expect(first.code).toBe(1); // SVC_B: no grant
    const resumed = await w.cli(base);
    expect((JSON.parse(resumed.stdout) as Array<{ outcome: string }>).map((x) => x.outcome)).toEqual(['skipped', 'failed']);
    const restarted = await w.cli([...base, '--restart']);
    expect((JSON.parse(restarted.stdout) as Array<{ outcome: string }>).map((x) => x.outcome)).toEqual(['rotated', 'failed']);
  });
});

describe('--apply asks on a terminal', { timeout: 90_000 }, () => {
  it('rotate: n changes nothing (exit 1, ERR_CANCELLED); y proceeds; --yes never asks', async () => {
    const w = await world();
    const args = ['rotate', '-c', 'loader', '--apply'];
    const no = await runCliInPty(args, { cwd: w.work, env: w.env, steps: [{ waitFor: /Apply the rotation of SVC's key\? \[y\/N\]/, send: 'n\r' }], timeoutMs: 60_000 });
    expect(no.code, no.output).toBe(1);
    expect(no.output).toContain('cancelled: nothing was changed');
    expect(no.output).toContain('Rotation plan for SVC');
    expect(alters(w)).toEqual([]);
    expect(datedKeys(w.work)).toEqual([]);
    const empty = await runCliInPty(args, { cwd: w.work, env: w.env, steps: [{ waitFor: /\[y\/N\]/, send: '\r' }], timeoutMs: 60_000 });
    expect(empty.code, empty.output).toBe(1);
    expect(alters(w)).toEqual([]);
    const yes = await runCliInPty(args, { cwd: w.work, env: w.env, steps: [{ waitFor: /\[y\/N\]/, send: 'y\r' }], timeoutMs: 60_000 });
    expect(yes.code, yes.output).toBe(0);
    expect(yes.output).toMatch(/rotated SVC: RSA_PUBLIC_KEY_2 = /);
    expect(yes.output).toContain('statements run:');
    const flag = await runCliInPty([...args, '--yes'], { cwd: w.work, env: w.env, steps: [], timeoutMs: 60_000 });
    expect(flag.code, flag.output).toBe(0);
    expect(flag.output).not.toContain('[y/N]');
  });

  it('register and revoke: n changes nothing, y applies and lists the statement', async () => {
    const w = await world();
    const extra = await gen('rsa', { modulusLength: 2048 });
    writeFileSync(join(w.work, 'extra.pub'), extra.publicKey.export({ type: 'spki', format: 'pem' }));
    const reg = ['register', '-c', 'admin', '--target-user', 'SVC', '--public-key', 'extra.pub', '--apply'];
    const no = await runCliInPty(reg, { cwd: w.work, env: w.env, steps: [{ waitFor: /\[y\/N\]/, send: 'n\r' }], timeoutMs: 60_000 });
    expect(no.code, no.output).toBe(1);
    expect(slotFps(w)).toEqual([w.fp, null]);
    const yes = await runCliInPty(reg, { cwd: w.work, env: w.env, steps: [{ waitFor: /Apply: register the key as slot 2/, send: 'y\r' }], timeoutMs: 60_000 });
    expect(yes.code, yes.output).toBe(0);
    expect(yes.output).toMatch(/statements run:\s+ALTER USER SVC SET RSA_PUBLIC_KEY_2=/);
    const rev = ['revoke', '-c', 'admin', '--target-user', 'SVC', '--slot', '2', '--apply'];
    const keep = await runCliInPty(rev, { cwd: w.work, env: w.env, steps: [{ waitFor: /Apply: remove slot 2/, send: 'no\r' }], timeoutMs: 60_000 });
    expect(keep.code, keep.output).toBe(1);
    expect(slotFps(w)[1]).not.toBeNull();
    const gone = await runCliInPty(rev, { cwd: w.work, env: w.env, steps: [{ waitFor: /\[y\/N\]/, send: 'yes\r' }], timeoutMs: 60_000 });
    expect(gone.code, gone.output).toBe(0);
    expect(gone.output).toContain('ALTER USER SVC UNSET RSA_PUBLIC_KEY_2;');
    expect(slotFps(w)[1]).toBeNull();
  });
});

/** Runs a printed command line with sh, as a user would paste it (`sfauth` → the built binary). */
function runShell(line: string, w: World): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', line.replace(/^sfauth /, `"${process.execPath}" "${BIN}" `)], { cwd: w.work, env: baseEnv(w.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.stdin.end();
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
