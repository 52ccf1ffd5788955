/**
 * `sfauth rotate` of named key pairs end to end against the local emulator (run `npm run build`
 * first): a named rotation (ROTATE KEY PAIR with its grace period, `--grace 0` retiring the old key
 * only after the new one is verified), a migration from a legacy slot (ADD, verify, UNSET), the role
 * restriction used when verifying, the 10-key limit checked before anything is sent, the refusals,
 * and crash safety: SIGKILL before and after the ROTATE/ADD reached the server, during verification
 * and during retirement, then a rerun that finishes with exactly one new key; and without a journal
 * (a CI runner gone) a rerun that never locks anyone out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, STACK_TRACE, openssl, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { fingerprintOf, journals, newKeys, spawnKillable, until } from '../support/rotation.js';
import { startEmulator, type Emulator, type EmulatorOptions, type KeyPairInit } from '../support/emulator.js';

const gen = promisify(generateKeyPair);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface World {
  sf: Emulator;
  dir: string;
  keyPath: string;
  fp: string;
  env: Record<string, string>;
  run(extra: string[], opts?: { timeoutMs?: number }): Promise<CliResult>;
  spawn(extra: string[]): { done: Promise<CliResult>; kill(): void };
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(cleanups.map((c) => c()));
});
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
});

/**
 * User SVC (role LOADER granted) whose key `rsa_key.p8` is the named pair CI_KEY (or, with
 * `inSlot`, the legacy slot 1); the command authenticates as SVC with that key.
 */
async function world(opts: { emulator?: EmulatorOptions; pair?: KeyPairInit | false; inSlot?: boolean; role?: string } = {}): Promise<World> {
  const sf = await startEmulator(opts.emulator);
  const { dir, cleanup } = tempDir('sfauth-rotate-named-');
  mkdirSync(join(dir, 'home'));
  const pair = await gen('rsa', { modulusLength: 2048 });
  const keyPath = join(dir, 'rsa_key.p8');
  writeFileSync(keyPath, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  sf.addUser('SVC', { ...(opts.inSlot ? { rsaPublicKey: pair.publicKey } : {}), role: 'PUBLIC', roles: ['LOADER'] });
  if (!opts.inSlot && opts.pair !== false) sf.addKeyPair('SVC', 'CI_KEY', pair.publicKey, opts.pair ?? {});
  // --retire-now: these cases exercise the engine's retire step (--grace 0, a migration's UNSET) as
  // after a deployment by hand; test/e2e/rotate-delivery.test.ts covers the run without it.
  const args = ['--account', 'myorg-myaccount', '--host', sf.url, '--user', 'SVC', '--private-key', keyPath, ...(opts.role ? ['--role', opts.role] : []), '--retire-now'];
  const env = { HOME: join(dir, 'home'), SNOWFLAKE_HOME: join(dir, 'home', 'sf') };
  cleanups.push(async () => {
    await sf.close();
    cleanup();
  });
  return {
    sf,
    dir,
    keyPath,
    fp: fingerprintOf(pair.publicKey),
    env,
    run: (extra, o) => runCliAsync(['rotate', ...args, ...extra], { cwd: dir, env, timeoutMs: o?.timeoutMs ?? 40_000 }),
    spawn: (extra) => spawnKillable(['rotate', ...args, ...extra], dir, env),
  };
}



const statements = (sf: Emulator, re: RegExp) => sf.executed.filter((e) => re.test(e.statement));
const alters = (sf: Emulator) => statements(sf, /^ALTER USER/i).map((e) => e.statement);


/** Runs `rotate <extra>` and SIGKILLs it once a statement matching `re` ran but before its answer arrived. */
async function killedAfterExecuting(w: World, extra: string[], re: RegExp): Promise<void> {
  w.sf.injectFault({ kind: 'drop-after-execute', match: re });
  const p = w.spawn(extra);
  await until(() => statements(w.sf, re).length > 0);
  p.kill();
  await p.done;
}

/** What a CI runner that is gone leaves: none of the rotation's files. */
function loseRunnerFiles(w: World): void {
  for (const f of readdirSync(w.dir)) if (/\d{4}-\d{2}-\d{2}/.test(f)) rmSync(join(w.dir, f));
}

function clean(r: CliResult): void {
  const all = r.stdout + r.stderr;
  expect(all).not.toMatch(/PRIVATE KEY/);
  expect(all).not.toMatch(STACK_TRACE);
}

function lastError(r: CliResult): { code: string; message: string; hint?: string; details?: string[]; data?: Record<string, unknown> } {
  return JSON.parse(r.stderr.trim().split('\n').at(-1)!).error;
}

/** The named rotation finished: one new key, CI_KEY holds it, the old key is the rotated-out pair (or disabled / gone). */
function expectPairRotated(w: World, opts: { old?: 'active' | 'disabled' | 'gone' } = {}): string {
  const keys = newKeys(w.dir);
  expect(keys).toHaveLength(1);
  expect(statSync(keys[0]!).mode & 0o777).toBe(0o600);
  const newFp = fingerprintOf(readFileSync(keys[0]!.replace(/\.p8$/, '.pub'), 'utf8'));
  const pairs = w.sf.keyPairs('SVC');
  expect(pairs.find((p) => p.name === 'CI_KEY')).toMatchObject({ fingerprint: newFp, status: 'ACTIVE', rotatedTo: null });
  const rotated = pairs.filter((p) => p.rotatedTo === 'CI_KEY' && p.fingerprint === w.fp);
  if ((opts.old ?? 'active') === 'gone') expect(rotated).toEqual([]);
  else expect(rotated.map((p) => p.status)).toEqual([opts.old === 'disabled' ? 'DISABLED' : 'ACTIVE']);
  // A completed rotation leaves no journal; the history has it.
  expect(journals(w.dir)).toEqual([]);
  const history = readFileSync(join(w.dir, 'home', '.local', 'state', 'sfauth', 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(history.at(-1)).toMatchObject({ newFingerprint: newFp, oldFingerprint: w.fp, place: 'key pair CI_KEY' });
  return keys[0]!;
}

describe.concurrent('sfauth rotate: a named key pair', { timeout: 60_000 }, () => {
  it('without --apply: the plan rotates the pair in use, with no EXPIRE clause (Snowflake 24 h default), and writes nothing', async () => {
    const w = await world();
    const before = readdirSync(w.dir).sort();
    const r = await w.run([]);
    expect(r.code, r.stderr).toBe(0);
    clean(r);
    expect(r.stdout).toContain('the current key is key pair CI_KEY; ROTATE KEY PAIR gives it the new key and keeps the old one as CI_KEY_ROTATED_<ms> for 24 h');
    expect(r.stdout).toContain("ALTER USER SVC ROTATE KEY PAIR CI_KEY PUBLIC_KEY='<public key of the new key, made at --apply>';");
    expect(r.stdout).not.toContain('EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS');
    expect(r.stdout).toMatch(/pair {4}CI_KEY +SHA256:\S+ +ACTIVE.*matches the local key/);
    expect(readdirSync(w.dir).sort()).toEqual(before);
    expect(alters(w.sf)).toEqual([]);

    const j = await w.run(['--json']);
    const doc = JSON.parse(j.stdout);
    expect(doc).toMatchObject({ kind: 'pair', keyPair: 'CI_KEY', graceHours: 24, oldFingerprint: w.fp, newSlot: null, applied: false });
    expect(doc.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'describe:done',
      'choose-key-pair:done',
      'write-key:planned',
      'rotate:planned',
      'verify:planned',
      'hand-over:planned',
      'retire:planned',
    ]);
    expect(doc.keyPairs).toMatchObject([{ name: 'CI_KEY', fingerprint: w.fp, status: 'ACTIVE' }]);
  });

  it('--apply: ROTATE, verify with the pair\'s role restriction, the old key lives on as the rotated-out pair for 24 h', async () => {
    const w = await world({ pair: { roleRestriction: 'LOADER' }, role: 'LOADER' });
    const r = await w.run(['--apply']);
    expect(r.code, r.stderr).toBe(0);
    clean(r);
    const key = expectPairRotated(w);
    expect(alters(w.sf)).toEqual([expect.stringMatching(/^ALTER USER SVC ROTATE KEY PAIR CI_KEY PUBLIC_KEY='MII[^']+'$/)]);
    const verifies = w.sf.requests.filter((q) => q.statement === 'SELECT CURRENT_USER()' && q.authOutcome === 'ok');
    expect(verifies.at(-1)?.jwt?.payload.iss).toContain(fingerprintOf(readFileSync(key.replace(/\.p8$/, '.pub'), 'utf8')));
    expect((verifies.at(-1)?.body as { role?: string }).role).toBe('LOADER');
    const rotatedOut = w.sf.keyPairs('SVC').find((p) => p.rotatedTo === 'CI_KEY')!;
    expect(rotatedOut.roleScope).toBe('LOADER');
    expect(Math.abs(rotatedOut.expiresAt!.getTime() - (Date.now() + 24 * HOUR))).toBeLessThan(10 * 60_000);
    expect(r.stdout).toMatch(new RegExp(`rotated SVC: key pair CI_KEY = SHA256:\\S+ \\(rsa_key\\.\\d{4}-\\d{2}-\\d{2}\\.p8\\); the old key works until \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2} UTC as ${rotatedOut.name}`));
    expect(r.stderr).toContain('✓ Rotated key pair CI_KEY of SVC to SHA256:');
    expect(r.stderr).toContain('✓ Verified: authenticated as SVC with the new key');
    expect(r.stderr).toContain('it authenticates only with role LOADER');
    const pub = openssl(['pkey', '-in', key, '-pubout']).toString();
    expect(fingerprintOf(pub)).toBe(w.sf.keyPairs('SVC').find((p) => p.name === 'CI_KEY')?.fingerprint);

    // A rerun with the old key (still working for the grace period) finds the finished rotation.
    const again = await w.run(['--apply']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('this key was already rotated on');
    expect(alters(w.sf)).toHaveLength(1);
  });

  it('--grace 2h sends 2; --grace 0 sends 1 and disables the rotated-out pair only after the new key is verified', async () => {
    const two = await world();
    const r2 = await two.run(['--apply', '--grace', '2h', '--json']);
    expect(r2.code, r2.stderr).toBe(0);
    expect(alters(two.sf)).toEqual([expect.stringMatching(/ROTATE KEY PAIR CI_KEY PUBLIC_KEY='[^']+' EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS=2$/)]);
    expect(JSON.parse(r2.stdout)).toMatchObject({ kind: 'pair', graceHours: 2, applied: true });
    expectPairRotated(two);

    const zero = await world();
    const r0 = await zero.run(['--apply', '--grace', '0']);
    expect(r0.code, r0.stderr).toBe(0);
    clean(r0);
    expectPairRotated(zero, { old: 'disabled' });
    const sent = alters(zero.sf);
    expect(sent[0]).toMatch(/EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS=1$/);
    expect(sent[1]).toMatch(/^ALTER USER SVC MODIFY KEY PAIR CI_KEY_ROTATED_\d+ SET DISABLED = TRUE$/);
    // verification came between the ROTATE and the MODIFY
    const order = zero.sf.executed.map((e) => (/ROTATE KEY PAIR/.test(e.statement) ? 'rotate' : /MODIFY KEY PAIR/.test(e.statement) ? 'modify' : e.statement === 'SELECT CURRENT_USER()' ? 'verify' : null)).filter(Boolean);
    expect(order).toEqual(['rotate', 'verify', 'modify']);
    expect(r0.stdout).toMatch(/the old key \(CI_KEY_ROTATED_\d+\) was disabled \(--grace 0\)/);
  });

  it('--grace 0 on a server that refuses MODIFY of a rotated-out pair: REMOVE instead', async () => {
    const w = await world({ emulator: { modifyRotatedOut: 'refused' } });
    const r = await w.run(['--apply', '--grace', '0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expectPairRotated(w, { old: 'gone' });
    expect(alters(w.sf).at(-1)).toMatch(/^ALTER USER SVC REMOVE KEY PAIR CI_KEY_ROTATED_\d+$/);
    expect(w.sf.requests.some((q) => /MODIFY KEY PAIR CI_KEY_ROTATED_/.test(q.statement ?? '') && q.status === 422)).toBe(true);
    const doc = JSON.parse(r.stdout);
    expect(doc.steps[6]).toMatchObject({ name: 'retire', status: 'done' });
    expect(doc.steps[6].sql[0]).toMatch(/REMOVE KEY PAIR CI_KEY_ROTATED_\d+$/);
  });

  it('an admin rotates the only pair of another user: verified as that user with its role restriction', async () => {
    const w = await world({ pair: { roleRestriction: 'LOADER' } });
    const admin = await gen('ec', { namedCurve: 'P-256' });
    writeFileSync(join(w.dir, 'admin.p8'), admin.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    w.sf.addUser('ADMIN', { rsaPublicKey: admin.publicKey });
    w.sf.grant('ADMIN', 'SVC');
    const args = ['rotate', '--account', 'myorg-myaccount', '--host', w.sf.url, '--user', 'ADMIN', '--private-key', 'admin.p8', '--target-user', 'SVC', '--no-encrypt', '--apply'];
    const r = await runCliAsync(args, { cwd: w.dir, env: w.env });
    expect(r.code, r.stderr).toBe(0);
    const keys = newKeys(w.dir);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/svc_rsa_key\.\d{4}-\d{2}-\d{2}\.p8$/);
    const ok = w.sf.requests.filter((q) => q.statement === 'SELECT CURRENT_USER()' && q.authOutcome === 'ok').at(-1)!;
    expect(ok.login).toBe('SVC');
    expect((ok.body as { role?: string }).role).toBe('LOADER');
    expect(statements(w.sf, /^ALTER/).every((e) => e.login === 'ADMIN')).toBe(true);

    // Two active pairs and no slot: which one is not guessed.
    w.sf.addKeyPair('SVC', 'OTHER_KEY', (await gen('rsa', { modulusLength: 2048 })).publicKey);
    const amb = await runCliAsync([...args, '--json'], { cwd: w.dir, env: w.env });
    expect(amb.code).toBe(2);
    expect(lastError(amb)).toMatchObject({ code: 'ERR_KEY_PAIR_AMBIGUOUS', data: { keyPairs: ['CI_KEY', 'OTHER_KEY'] } });
    expect(lastError(amb).hint).toContain('--key-pair');
  });

  it('--if-older-than judges the pair by created_on: a young pair is left alone, an old one is rotated', async () => {
    const young = await world({ pair: { createdOn: new Date(Date.now() - 10 * DAY) } });
    const r1 = await young.run(['--apply', '--if-older-than', '90d']);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toMatch(/the current key \(key pair CI_KEY, SHA256:.+\) is 10 days old, younger than 90d: nothing to do/);
    expect(newKeys(young.dir)).toEqual([]);
    const j = JSON.parse((await young.run(['--apply', '--if-older-than', '90d', '--json'])).stdout);
    expect(j).toMatchObject({ due: false, kind: 'pair', currentKeyPair: 'CI_KEY', currentKeyAgeDays: 10 });

    const old = await world({ pair: { createdOn: new Date(Date.now() - 100 * DAY) } });
    const r2 = await old.run(['--apply', '--if-older-than', '90d']);
    expect(r2.code, r2.stderr).toBe(0);
    expectPairRotated(old);
  });

  it.each([
    ['fingerprints without SHA256:', { showFingerprint: 'bare' }],
    ['legacy slots listed as PUBLIC_KEY_1/2', { showLegacySlots: true }],
    ['times as text', { showTimeFormat: 'text' }],
    ['the new key keeps the old expiry', { rotateExpiry: 'keep' }],
  ] as const)('works whichever way the unconfirmed points fall: %s', async (_, emulator) => {
    const w = await world({ emulator: emulator as EmulatorOptions, pair: { daysToExpiry: 30 } });
    const r = await w.run(['--apply', '--grace', '0']);
    expect(r.code, r.stderr).toBe(0);
    expectPairRotated(w, { old: 'disabled' });
    expect(alters(w.sf)).toHaveLength(2);
  });
});

describe.concurrent('sfauth rotate: migration from a legacy slot to a named pair', { timeout: 60_000 }, () => {
  it('--key-pair NAME where none exists: ADD (with role restriction, expiry, comment), verify with the role, UNSET the slot', async () => {
    const w = await world({ inSlot: true });
    const plan = await w.run(['--key-pair', 'ci_key', '--role-restriction', 'loader', '--expires-in', '90d', '--comment', "it's CI"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('migrating: the new key is added as key pair CI_KEY, then the legacy RSA_PUBLIC_KEY is unset once the pair works');
    expect(plan.stdout).toContain("ALTER USER SVC ADD KEY PAIR CI_KEY PUBLIC_KEY='<public key of the new key, made at --apply>' ROLE_RESTRICTION='loader' DAYS_TO_EXPIRY=90 COMMENT='it''s CI';");
    expect(plan.stdout).toContain('ALTER USER SVC UNSET RSA_PUBLIC_KEY;');
    expect(alters(w.sf)).toEqual([]);

    const r = await w.run(['--apply', '--key-pair', 'ci_key', '--role-restriction', 'loader', '--expires-in', '90d', '--comment', "it's CI", '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ kind: 'migrate', keyPair: 'CI_KEY', oldSlot: 1, newSlot: null, roleRestriction: 'loader', applied: true });
    expect(doc.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'describe:done',
      'choose-key-pair:done',
      'write-key:done',
      'add:done',
      'verify:done',
      'hand-over:skipped',
      'unset:done',
    ]);
    const newFp = doc.newFingerprint as string;
    expect(w.sf.keyPairs('SVC')).toMatchObject([{ name: 'CI_KEY', fingerprint: newFp, roleScope: 'LOADER', comment: "it's CI", status: 'ACTIVE' }]);
    expect(w.sf.keyPairs('SVC')[0]!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 89 * DAY);
    expect(w.sf.user('SVC').slots[1]).toBeNull();
    const ok = w.sf.requests.filter((q) => q.statement === 'SELECT CURRENT_USER()' && q.authOutcome === 'ok').at(-1)!;
    expect((ok.body as { role?: string }).role).toBe('loader');
    expect(journals(w.dir)).toEqual([]);
  });

  it('--keep-old keeps the legacy slot; the human report says so', async () => {
    const w = await world({ inSlot: true });
    const r = await w.run(['--apply', '--key-pair', 'CI_KEY', '--keep-old']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/migrated SVC: key pair CI_KEY = SHA256:\S+ \(rsa_key\.\S+\.p8\); RSA_PUBLIC_KEY kept \(--keep-old\)/);
    expect(r.stderr).toContain('remove it later with: ALTER USER SVC UNSET RSA_PUBLIC_KEY;');
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);
    expect(w.sf.keyPairs('SVC')).toHaveLength(1);
    expect(alters(w.sf)).toHaveLength(1);
  });
});

describe.concurrent('sfauth rotate: named refusals happen before any statement', { timeout: 60_000 }, () => {
  it('the 10-key limit, counting rotated-out pairs, names what counts and when the first expires', async () => {
    const w = await world();
    for (let i = 0; i < 7; i++) w.sf.addKeyPair('SVC', `OLD_${i}`, (await gen('ec', { namedCurve: 'P-256' })).publicKey);
    const soon = new Date(Date.now() + 5 * HOUR);
    w.sf.addKeyPair('SVC', `CI_KEY_ROTATED_${Date.now() - HOUR}`, (await gen('ec', { namedCurve: 'P-256' })).publicKey, { rotatedTo: 'CI_KEY', expiresAt: soon });
    w.sf.addKeyPair('SVC', 'OFF', (await gen('ec', { namedCurve: 'P-256' })).publicKey, { disabled: true });
    const r = await w.run(['--apply', '--json']);
    expect(r.code).toBe(1);
    const err = lastError(r);
    expect(err).toMatchObject({ code: 'ERR_KEY_PAIR_LIMIT', data: { keyPair: 'CI_KEY', count: 10, limit: 10 } });
    expect(err.details!.join('\n')).toContain('counted: 8 active, 1 rotated out (until they expire), 1 expired or disabled');
    expect(err.hint).toContain(`run again after ${soon.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
    expect(alters(w.sf)).toEqual([]);
    expect(newKeys(w.dir)).toEqual([]);
  });

  it('flags that do not fit the rotation exit 2; a disabled pair or a server without named pairs exits 1', async () => {
    const legacy = await world({ inSlot: true });
    const g = await legacy.run(['--apply', '--grace', '2h']);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/^sfauth: --grace applies to a named key pair rotation; this one uses the legacy slot RSA_PUBLIC_KEY_2/m);
    const named = await world();
    const rr = await named.run(['--apply', '--role-restriction', 'LOADER', '--key-pair', 'CI_KEY']);
    expect(rr.code).toBe(2);
    expect(rr.stderr).toContain("ROTATE KEY PAIR keeps CI_KEY's role restriction, expiry and comment");
    const bad = await named.run(['--grace', '90m']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--grace must be whole hours/);
    const reserved = await named.run(['--key-pair', 'PUBLIC_KEY_1']);
    expect(reserved.code).toBe(2);

    const off = await world({ pair: false });
    off.sf.addKeyPair('SVC', 'CI_KEY', readFileSync(off.keyPath, 'utf8'), { disabled: true });
    off.sf.setKey('SVC', 1, readFileSync(off.keyPath, 'utf8'));
    const d = await off.run(['--apply', '--key-pair', 'CI_KEY', '--json']);
    expect(d.code).toBe(1);
    expect(lastError(d)).toMatchObject({ code: 'ERR_KEY_PAIR_NOT_ACTIVE', data: { keyPair: 'CI_KEY', status: 'DISABLED' } });

    const old = await world({ inSlot: true, emulator: { namedKeyPairs: false } });
    const o = await old.run(['--apply', '--key-pair', 'CI_KEY']);
    expect(o.code).toBe(1);
    expect(o.stderr).toMatch(/^sfauth: this Snowflake account does not know named key pairs/m);
    // ... but a legacy rotation there is untouched by the pairs it cannot list
    const ok = await old.run(['--apply']);
    expect(ok.code, ok.stderr).toBe(0);
    for (const w of [legacy, named, off, old]) expect(alters(w.sf).filter((s) => /KEY PAIR/.test(s))).toEqual([]);
  });
});

describe.concurrent('sfauth rotate: named and migration crash safety', { timeout: 90_000 }, () => {
  it('killed after the key was written, before the ROTATE reached the server: a rerun rotates to that same key', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'hang', match: /ROTATE KEY PAIR/ });
    const p = w.spawn(['--apply']);
    await until(() => w.sf.requests.some((q) => /ROTATE KEY PAIR/.test(q.statement ?? '')));
    p.kill();
    await p.done;
    const written = newKeys(w.dir);
    expect(written).toHaveLength(1);
    expect(alters(w.sf)).toEqual([]);
    expect(journals(w.dir)[0]).toMatchObject({ step: 'written' });
    w.sf.reset();
    const again = await w.run(['--apply']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('resuming an unfinished rotation');
    expect(expectPairRotated(w)).toBe(written[0]);
    expect(statements(w.sf, /ROTATE KEY PAIR/)).toHaveLength(1);
  });

  it('killed right after the ROTATE executed, before its answer: the rerun sees it took effect and does not rotate twice', async () => {
    const w = await world();
    await killedAfterExecuting(w, ['--apply'], /ROTATE KEY PAIR/);
    expect(newKeys(w.dir)).toHaveLength(1);
    const again = await w.run(['--apply', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const doc = JSON.parse(again.stdout);
    expect(doc).toMatchObject({ resumed: true, applied: true });
    expect(doc.steps.find((s: { name: string }) => s.name === 'rotate').status).toBe('already-done');
    expectPairRotated(w);
    expect(statements(w.sf, /ROTATE KEY PAIR/)).toHaveLength(1);
  });

  it('killed during the verification: a rerun verifies and finishes', async () => {
    const w = await world({ pair: { roleRestriction: 'LOADER' }, role: 'LOADER' });
    w.sf.injectFault({ kind: 'hang', match: /CURRENT_USER/ });
    const p = w.spawn(['--apply', '--grace', '0']);
    await until(() => w.sf.requests.some((q) => q.statement === 'SELECT CURRENT_USER()'));
    p.kill();
    await p.done;
    expect(journals(w.dir)[0]).toMatchObject({ step: 'registered' });
    // the old key still works: it was never disabled before the new one was verified
    expect(w.sf.keyPairs('SVC').find((p) => p.rotatedTo === 'CI_KEY')?.status).toBe('ACTIVE');
    w.sf.reset();
    const again = await w.run(['--apply', '--grace', '0']);
    expect(again.code, again.stderr).toBe(0);
    expectPairRotated(w, { old: 'disabled' });
    expect(statements(w.sf, /ROTATE KEY PAIR/)).toHaveLength(0);
  });

  it('killed during the retirement (--grace 0): the rerun, with the old key, finishes the MODIFY', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'hang', match: /MODIFY KEY PAIR/ });
    const p = w.spawn(['--apply', '--grace', '0']);
    await until(() => w.sf.requests.some((q) => /MODIFY KEY PAIR/.test(q.statement ?? '')));
    p.kill();
    await p.done;
    expect(journals(w.dir)[0]).toMatchObject({ step: 'verified' });
    w.sf.reset();
    const again = await w.run(['--apply', '--grace', '0']);
    expect(again.code, again.stderr).toBe(0);
    expectPairRotated(w, { old: 'disabled' });
  });

  it('the MODIFY ran but its answer was lost: the rerun is refused with the old key, goes on with the new one', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'async', polls: 100_000, match: /MODIFY KEY PAIR/ });
    const r = await w.run(['--apply', '--grace', '0', '--timeout', '6s']);
    expect(r.code, r.stderr).toBe(3);
    clean(r);
    expect(r.stderr).toContain('the new key in key pair CI_KEY authenticated a moment ago: no one is locked out');
    const again = await w.run(['--apply', '--grace', '0', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const doc = JSON.parse(again.stdout);
    expect(doc.notes.join(' ')).toContain('continued with the new key');
    expect(doc.steps.find((s: { name: string }) => s.name === 'retire').status).toBe('already-done');
    expectPairRotated(w, { old: 'disabled' });
  });

  it('migration: killed after the ADD executed, then during the UNSET; each rerun finishes with one new key', async () => {
    const w = await world({ inSlot: true });
    w.sf.injectFault({ kind: 'drop-after-execute', match: /ADD KEY PAIR/ });
    w.sf.injectFault({ kind: 'hang', match: /UNSET/ });
    const p = w.spawn(['--apply', '--key-pair', 'CI_KEY']);
    await until(() => statements(w.sf, /ADD KEY PAIR/).length > 0);
    p.kill();
    await p.done;
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);
    const second = w.spawn(['--apply', '--key-pair', 'CI_KEY']);
    await until(() => w.sf.requests.some((q) => /UNSET/.test(q.statement ?? '')));
    second.kill();
    await second.done;
    expect(journals(w.dir)[0]).toMatchObject({ step: 'verified' });
    w.sf.reset();
    const again = await w.run(['--apply', '--key-pair', 'CI_KEY']);
    expect(again.code, again.stderr).toBe(0);
    const keys = newKeys(w.dir);
    expect(keys).toHaveLength(1);
    const newFp = fingerprintOf(readFileSync(keys[0]!.replace(/\.p8$/, '.pub'), 'utf8'));
    expect(w.sf.keyPairs('SVC')).toMatchObject([{ name: 'CI_KEY', fingerprint: newFp }]);
    expect(w.sf.user('SVC').slots[1]).toBeNull();
    expect(statements(w.sf, /ADD KEY PAIR/)).toHaveLength(0);
    expect(journals(w.dir)).toEqual([]);
  });

  it('migration: killed before the ADD reached the server, then during the verification; the last rerun finishes', async () => {
    const w = await world({ inSlot: true });
    w.sf.injectFault({ kind: 'hang', match: /ADD KEY PAIR/ });
    const first = w.spawn(['--apply', '--key-pair', 'CI_KEY', '--role-restriction', 'LOADER']);
    await until(() => w.sf.requests.some((q) => /ADD KEY PAIR/.test(q.statement ?? '')));
    first.kill();
    await first.done;
    expect(w.sf.keyPairs('SVC')).toEqual([]);
    expect(journals(w.dir)[0]).toMatchObject({ step: 'written', target: { kind: 'migrate', roleRestriction: 'LOADER' } });
    w.sf.reset();
    w.sf.injectFault({ kind: 'hang', match: /CURRENT_USER/ });
    // the rerun takes its pair's properties from the journal, not from flags it may have lost
    const second = w.spawn(['--apply', '--key-pair', 'CI_KEY']);
    await until(() => w.sf.requests.some((q) => q.statement === 'SELECT CURRENT_USER()'));
    second.kill();
    await second.done;
    expect(journals(w.dir)[0]).toMatchObject({ step: 'registered' });
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);
    w.sf.reset();
    const again = await w.run(['--apply', '--key-pair', 'CI_KEY']);
    expect(again.code, again.stderr).toBe(0);
    expect(newKeys(w.dir)).toHaveLength(1);
    expect(w.sf.keyPairs('SVC')).toMatchObject([{ name: 'CI_KEY', roleScope: 'LOADER', status: 'ACTIVE' }]);
    expect(w.sf.user('SVC').slots[1]).toBeNull();
    expect(statements(w.sf, /ADD KEY PAIR/)).toHaveLength(0);
    const ok = w.sf.requests.filter((q) => q.statement === 'SELECT CURRENT_USER()' && q.authOutcome === 'ok').at(-1)!;
    expect((ok.body as { role?: string }).role).toBe('LOADER');
  });

  it('without the journal (a CI runner gone after the ROTATE): the held key is the rotated-out pair, so the pair is rotated again', async () => {
    const w = await world();
    await killedAfterExecuting(w, ['--apply'], /ROTATE KEY PAIR/);
    const orphan = w.sf.keyPairs('SVC').find((k) => k.name === 'CI_KEY')!.fingerprint;
    loseRunnerFiles(w);
    w.sf.reset();
    const r = await w.run(['--apply']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/the key in use is CI_KEY_ROTATED_\d+, rotated out of CI_KEY.*so CI_KEY is rotated again/);
    const keys = newKeys(w.dir);
    expect(keys).toHaveLength(1);
    const newFp = fingerprintOf(readFileSync(keys[0]!.replace(/\.p8$/, '.pub'), 'utf8'));
    const pairs = w.sf.keyPairs('SVC');
    expect(pairs.find((k) => k.name === 'CI_KEY')?.fingerprint).toBe(newFp);
    // the orphan got the grace period, the held key still works until its own expiry
    expect(pairs.filter((k) => k.rotatedTo === 'CI_KEY').map((k) => [k.fingerprint, k.status]).sort()).toEqual([[orphan, 'ACTIVE'], [w.fp, 'ACTIVE']].sort());
  });

  it('without the journal after a migration ADD: the pair is rotated to a key held here, then the slot is unset', async () => {
    const w = await world({ inSlot: true });
    await killedAfterExecuting(w, ['--apply', '--key-pair', 'CI_KEY'], /ADD KEY PAIR/);
    loseRunnerFiles(w);
    w.sf.reset();
    const r = await w.run(['--apply', '--key-pair', 'CI_KEY']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('which no journal here accounts for');
    const newFp = fingerprintOf(readFileSync(newKeys(w.dir)[0]!.replace(/\.p8$/, '.pub'), 'utf8'));
    expect(w.sf.keyPairs('SVC').find((k) => k.name === 'CI_KEY')?.fingerprint).toBe(newFp);
    expect(w.sf.user('SVC').slots[1]).toBeNull();
    expect(alters(w.sf).map((s) => s.replace(/'[^']*'/, "'…'"))).toEqual(["ALTER USER SVC ROTATE KEY PAIR CI_KEY PUBLIC_KEY='…'", 'ALTER USER SVC UNSET RSA_PUBLIC_KEY']);
  });
});
