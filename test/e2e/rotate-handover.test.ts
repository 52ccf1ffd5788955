/**
 * The hand-over step of `sfauth rotate` end to end (run `npm run build` first): `--store-cmd` gets the
 * verified new key on stdin before the old key is retired, a key from SNOWFLAKE_PRIVATE_KEY_RAW is
 * rotated with no file left behind, a failing or killed store command keeps both keys registered and a
 * rerun (with or without the journal) ends with one working key whose private key is in the store,
 * and `--update-connection` changes the one line of the Snowflake CLI config.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, STACK_TRACE, openssl, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';
import { fingerprintOf, journals, spawnKillable, until } from '../support/rotation.js';

const gen = promisify(generateKeyPair);
const STORE_OK = 'cat > "$STORE/key.p8" && env | grep ^SFAUTH_ > "$STORE/env" && echo "stored $SFAUTH_NEW_FINGERPRINT"';

interface World {
  sf: Emulator;
  dir: string;
  work: string;
  store: string;
  fp: string;
  pem: string;
  env: Record<string, string>;
  run(extra: string[], opts?: { env?: Record<string, string> }): Promise<CliResult>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(cleanups.map((c) => c()));
});
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
});

/** SVC authenticates with a key that exists only in SNOWFLAKE_PRIVATE_KEY_RAW (a CI secret); it is in slot 1, or the pair CI_KEY. */
async function world(opts: { pair?: boolean } = {}): Promise<World> {
  const sf = await startEmulator();
  const { dir, cleanup } = tempDir('sfauth-handover-');
  const [work, home, tmp, store] = ['work', 'home', 'tmp', 'store'].map((d) => join(dir, d)) as [string, string, string, string];
  for (const d of [work, home, tmp, store]) mkdirSync(d);
  const pair = await gen('rsa', { modulusLength: 2048 });
  const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  sf.addUser('SVC', opts.pair ? {} : { rsaPublicKey: pair.publicKey });
  if (opts.pair) sf.addKeyPair('SVC', 'CI_KEY', pair.publicKey);
  const env = { HOME: home, TMPDIR: tmp, STORE: store, SNOWFLAKE_ACCOUNT: 'myorg-myaccount', SNOWFLAKE_USER: 'SVC', SNOWFLAKE_HOST: sf.url, SNOWFLAKE_PRIVATE_KEY_RAW: pem };
  cleanups.push(async () => {
    await sf.close();
    cleanup();
  });
  return {
    sf,
    dir,
    work,
    store,
    pem,
    fp: fingerprintOf(pair.publicKey),
    env,
    run: (extra, o) => runCliAsync(['rotate', ...extra], { cwd: work, env: { ...env, ...o?.env }, timeoutMs: 40_000 }),
  };
}

/** Every file under `dir` that holds a private key. */
function privateKeyFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /PRIVATE KEY/.test(readFileSync(p, 'latin1'))) found.push(p);
    }
  };
  walk(dir);
  return found;
}

/** The one working registered key is the one in the store. */
function expectKeyInStore(w: World): string {
  const stored = readFileSync(join(w.store, 'key.p8'), 'utf8');
  const fp = fingerprintOf(openssl(['pkey', '-pubout'], { input: stored }).toString());
  const slots = Object.values(w.sf.user('SVC').slots).filter(Boolean).map((s) => s!.fingerprint);
  const pairs = w.sf.keyPairs('SVC').filter((p) => p.status === 'ACTIVE' && !p.rotatedTo).map((p) => p.fingerprint);
  expect([...slots, ...pairs]).toEqual([fp]);
  return fp;
}

/** Runs rotate with a store command that never finishes, and SIGKILLs sfauth once the store has begun. */
async function killedInStore(w: World, storeCmd: string): Promise<void> {
  const p = spawnKillable(['rotate', '--apply', '--store-cmd', `${storeCmd}; touch "$STORE/started"; sleep 5`], w.work, w.env);
  await until(() => existsSync(join(w.store, 'started')));
  p.kill();
  await p.done;
}

/** A new CI runner: nothing of the last one's HOME (journals, keys, locks) is there. */
function newRunner(w: World): void {
  rmSync(join(w.dir, 'home'), { recursive: true });
  mkdirSync(join(w.dir, 'home'));
}

const alters = (sf: Emulator) => sf.executed.filter((e) => /^ALTER USER/.test(e.statement)).map((e) => e.statement);

function clean(r: CliResult, w: World): void {
  const all = r.stdout + r.stderr;
  expect(all).not.toMatch(/PRIVATE KEY/);
  expect(all).not.toMatch(STACK_TRACE);
  expect(all).not.toContain(w.pem.split('\n')[1]);
}

describe.concurrent('sfauth rotate --store-cmd', { timeout: 60_000 }, () => {
  it('a RAW key rotated with --store-cmd: the store gets the verified key before the old one goes, and no private key file is left anywhere', async () => {
    const w = await world();
    const r = await w.run(['--apply', '--json', '--store-cmd', STORE_OK]);
    expect(r.code, r.stderr).toBe(0);
    clean(r, w);
    const fp = expectKeyInStore(w);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ applied: true, newFingerprint: fp, privateKeyRemoved: true, store: { command: 'store-cmd', exitCode: 0, handedOver: true } });
    expect(doc.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'describe:done',
      'choose-slot:done',
      'write-key:done',
      'set:done',
      'verify:done',
      'hand-over:done',
      'unset:done',
    ]);
    // its output went to stderr, never into the JSON on stdout
    expect(r.stderr).toContain(`  store: stored ${fp}`);
    const env = Object.fromEntries(readFileSync(join(w.store, 'env'), 'utf8').trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
    expect(env).toMatchObject({ SFAUTH_ACCOUNT: 'myorg-myaccount', SFAUTH_TARGET_USER: 'SVC', SFAUTH_NEW_FINGERPRINT: fp, SFAUTH_SLOT: '2', SFAUTH_OLD_FINGERPRINT: w.fp });
    expect(fingerprintOf(`-----BEGIN PUBLIC KEY-----\n${env.SFAUTH_NEW_PUBLIC_KEY}\n-----END PUBLIC KEY-----\n`)).toBe(fp);
    // the hand-over came after the verification and before the UNSET
    const verified = w.sf.requests.findIndex((q) => q.statement === 'SELECT CURRENT_USER()' && q.authOutcome === 'ok');
    const unset = w.sf.requests.findIndex((q) => /UNSET/.test(q.statement ?? ''));
    expect(verified).toBeGreaterThan(-1);
    expect(statSync(join(w.store, 'key.p8')).mtimeMs).toBeLessThanOrEqual(Date.now());
    expect(unset).toBeGreaterThan(verified);
    for (const d of [w.work, join(w.dir, 'home'), join(w.dir, 'tmp')]) expect(privateKeyFiles(d)).toEqual([]);
  });

  it('a named pair: SFAUTH_KEY_PAIR names it; without --store-cmd, --out or --keep-old a RAW key is still refused before any call', async () => {
    const w = await world({ pair: true });
    const refused = await w.run(['--apply']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^hint: say where the new private key goes: --store-cmd CMD/m);
    expect(w.sf.requests).toEqual([]);
    const r = await w.run(['--apply', '--store-cmd', STORE_OK]);
    expect(r.code, r.stderr).toBe(0);
    expectKeyInStore(w);
    expect(readFileSync(join(w.store, 'env'), 'utf8')).toContain('SFAUTH_KEY_PAIR=CI_KEY');
    expect(r.stdout).toContain('(handed over by --store-cmd, no file kept)');
  });

  it('a failing store command: exit 1, both keys stay registered; a rerun retries the hand-over, then retires the old key', async () => {
    const w = await world();
    // a store CLI that echoes what it got: the key is not shown
    const r = await w.run(['--apply', '--store-cmd', 'cat >&2; echo "vault: permission denied" >&2; exit 2']);
    expect(r.code).toBe(1);
    clean(r, w);
    expect(r.stderr).toMatch(/^sfauth: the store command exited with 2; the new key was not handed over/m);
    expect(r.stderr).toContain('  store: vault: permission denied');
    expect(r.stderr).toContain('  store: [a private key, not shown]');
    expect(r.stderr).toMatch(/the old key stays in RSA_PUBLIC_KEY: no one is locked out/);
    expect(r.stderr).toMatch(/^hint: fix the store command/m);
    expect(w.sf.user('SVC').slots[1]?.fingerprint).toBe(w.fp);
    expect(w.sf.user('SVC').slots[2]).not.toBeNull();
    expect(journals(join(w.dir, 'home/.local/state/sfauth/keys/myorg-myaccount/svc'))[0]).toMatchObject({ step: 'verified' });
    // status finds the unfinished rotation where --store-cmd keeps it
    const status = await runCliAsync(['status', '--json'], { cwd: w.work, env: w.env });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).unfinishedRotation).toMatchObject({ step: 'verified' });

    const again = await w.run(['--apply', '--store-cmd', STORE_OK]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('resuming an unfinished rotation');
    expectKeyInStore(w);
    expect(alters(w.sf).filter((s) => /\bSET RSA_PUBLIC_KEY/.test(s))).toHaveLength(1);
    for (const d of [w.work, join(w.dir, 'home'), join(w.dir, 'tmp')]) expect(privateKeyFiles(d)).toEqual([]);
  });

  it('killed during the store command: a rerun with the journal hands the same key over and finishes', async () => {
    const w = await world();
    await killedInStore(w, 'cat > "$STORE/partial"');
    const partial = fingerprintOf(openssl(['pkey', '-pubout'], { input: readFileSync(join(w.store, 'partial')) }).toString());
    const again = await w.run(['--apply', '--store-cmd', STORE_OK]);
    expect(again.code, again.stderr).toBe(0);
    expect(expectKeyInStore(w)).toBe(partial);
  });

  it('killed during the store command on a runner that is then gone (no journal): legacy needs --overwrite-other, then ends with the stored key', async () => {
    const w = await world();
    await killedInStore(w, 'cat > /dev/null');
    newRunner(w);
    const orphan = w.sf.user('SVC').slots[2]!.fingerprint;
    const refused = await w.run(['--apply', '--store-cmd', STORE_OK]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`^sfauth: refusing to overwrite RSA_PUBLIC_KEY_2 of SVC: it holds ${orphan.replace(/[+/]/g, '\\$&')}`, 'm'));
    const again = await w.run(['--apply', '--overwrite-other', '--store-cmd', STORE_OK]);
    expect(again.code, again.stderr).toBe(0);
    const fp = expectKeyInStore(w);
    expect(fp).not.toBe(orphan);
  });

  it('a named pair whose runner died between the ROTATE and the hand-over: a new runner (no journal) rotates again automatically', async () => {
    const w = await world({ pair: true });
    await killedInStore(w, 'cat > /dev/null');
    newRunner(w);
    const again = await w.run(['--apply', '--store-cmd', STORE_OK]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/so CI_KEY is rotated again/);
    expectKeyInStore(w);
    // the held key still works out its grace period; the lost key is only a rotated-out pair
    expect(w.sf.keyPairs('SVC').filter((k) => k.rotatedTo === 'CI_KEY').map((k) => k.fingerprint)).toContain(w.fp);
  });
});

describe.concurrent('sfauth rotate --update-connection', { timeout: 60_000 }, () => {
  it('points the connection at the new key: one line changes, comments, layout and mode stay; the connection then works', async () => {
    const w = await world();
    const sfHome = join(w.dir, 'sf');
    mkdirSync(sfHome);
    const key = join(w.work, 'rsa_key.p8');
    writeFileSync(key, w.pem, { mode: 0o600 });
    const text = [
      '# service connections',
      '[loader]   # the loader',
      'account = "myorg-myaccount"',
      'user = "SVC"',
      `host = "${w.sf.url}"`,
      `private_key_file = "${key}"   # rotated by sfauth`,
      '',
      '[other]',
      'account = "elsewhere"',
      '',
    ].join('\n');
    writeFileSync(join(sfHome, 'connections.toml'), text);
    chmodSync(join(sfHome, 'connections.toml'), 0o600);
    const env = { SNOWFLAKE_HOME: sfHome, SNOWFLAKE_PRIVATE_KEY_RAW: '', SNOWFLAKE_HOST: '', SNOWFLAKE_ACCOUNT: '', SNOWFLAKE_USER: '' };
    const r = await w.run(['-c', 'loader', '--apply', '--update-connection', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.connectionUpdate).toMatchObject({ name: 'loader', key: 'private_key_file', previous: key, updated: true });
    const after = readFileSync(join(sfHome, 'connections.toml'), 'utf8');
    expect(after).toBe(text.replace(`"${key}"`, `"${doc.privateKeyPath}"`));
    expect(statSync(join(sfHome, 'connections.toml')).mode & 0o777).toBe(0o600);
    const check = await runCliAsync(['test-connection', '-c', 'loader', '--json'], { cwd: w.work, env: { ...w.env, ...env } });
    expect(check.code, check.stderr).toBe(0);
    expect(JSON.parse(check.stdout).fingerprint).toBe(doc.newFingerprint);

    // a connection without a key line cannot be updated: exit 2 before any call
    writeFileSync(join(sfHome, 'connections.toml'), `[raw]\naccount = "myorg-myaccount"\nuser = "SVC"\nhost = "${w.sf.url}"\n`, { mode: 0o600 });
    w.sf.reset();
    const no = await w.run(['-c', 'raw', '--apply', '--update-connection', '--store-cmd', STORE_OK], { env: { SNOWFLAKE_HOME: sfHome, SNOWFLAKE_HOST: '', SNOWFLAKE_ACCOUNT: '', SNOWFLAKE_USER: '' } });
    expect(no.code).toBe(2);
    expect(no.stderr).toMatch(/^sfauth: cannot update \[raw\] in .*connections\.toml: the connection has no private_key_file/m);
    expect(w.sf.requests).toEqual([]);
  });
});
