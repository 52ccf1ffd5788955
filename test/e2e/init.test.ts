/**
 * `sfauth init` (issue 27) end to end against the emulator: with an admin connection, with --wait
 * (the test registers the key a few seconds later), a wait that times out and the rerun that only
 * waits, the idempotent rerun, --force, --service-user, the plan, and the interactive set-up on a
 * pseudo-terminal (answering the prompts; Ctrl-C writes nothing).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BIN, STACK_TRACE, baseEnv, runCliAsync, tempDir } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';
import { runCliInPty } from '../support/audit.js';

const tmp = tempDir('sfauth-init-');
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers) await c();
  tmp.cleanup();
});

const admin = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** An emulator with ADMIN (may manage everyone) and SVC_NEW (no key yet, a password); a home whose connections.toml has the admin. */
async function world(): Promise<{ sf: Emulator; home: string; file: string; env: Record<string, string> }> {
  const sf = await startEmulator();
  closers.push(() => sf.close());
  sf.addUser('ADMIN', { rsaPublicKey: admin.publicKey });
  sf.grant('ADMIN', '*');
  sf.addUser('SVC_NEW', { hasPassword: true, type: 'PERSON' });
  const home = join(tmp.dir, `home-${closers.length}`);
  mkdirSync(join(home, '.snowflake'), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, 'admin.p8'), admin.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const file = join(home, '.snowflake', 'connections.toml');
  writeFileSync(file, `# my connections\n[admin]\naccount = "myorg-myaccount"  # the admin\nuser = "ADMIN"\nhost = "${sf.url}"\nprivate_key_file = "${join(home, 'admin.p8')}"\n`, { mode: 0o600 });
  return { sf, home, file, env: { HOME: home } };
}

const base = (sf: Emulator, ...more: string[]) => ['init', '--connection-name', 'loader', '--account', 'myorg-myaccount', '--user', 'SVC_NEW', '--host', sf.url, ...more];

describe.concurrent('sfauth init', () => {
  it('with an admin connection: key, connection (comments kept), registration confirmed, test; the rerun does nothing', async () => {
    const w = await world();
    const plan = await runCliAsync(base(w.sf, '--admin-connection', 'admin', '--no-encrypt'), { cwd: w.home, env: w.env });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/^Set up connection 'loader' for SVC_NEW on myorg-myaccount:$/m);
    expect(existsSync(join(w.home, '.snowflake', 'keys'))).toBe(false);
    const r = await runCliAsync(base(w.sf, '--admin-connection', 'admin', '--no-encrypt', '--apply', '--json'), { cwd: w.home, env: w.env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(STACK_TRACE);
    const doc = JSON.parse(r.stdout);
    const keyPath = join(w.home, '.snowflake', 'keys', 'loader_rsa_key.p8');
    expect(doc).toMatchObject({ connection: { name: 'loader', file: w.file }, account: 'myorg-myaccount', user: 'SVC_NEW', key: { path: keyPath, encrypted: false }, registration: 'applied', slot: 1, tested: true });
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    expect(w.sf.user('SVC_NEW').slots[1]!.fingerprint).toBe(doc.key.fingerprint);
    const text = readFileSync(w.file, 'utf8');
    expect(text.startsWith('# my connections\n[admin]\naccount = "myorg-myaccount"  # the admin\n')).toBe(true);
    expect(text).toContain(`\n[loader]\naccount = "myorg-myaccount"\nuser = "SVC_NEW"\nauthenticator = "SNOWFLAKE_JWT"\nprivate_key_file = "${keyPath}"\nhost = "${w.sf.url}"\n`);
    expect(text).not.toMatch(/pwd|passphrase/);
    const tc = await runCliAsync(['test-connection', '-c', 'loader', '--json'], { cwd: w.home, env: w.env });
    expect(tc.code, tc.stderr).toBe(0);
    const again = await runCliAsync(base(w.sf, '--admin-connection', 'admin', '--no-encrypt', '--apply'), { cwd: w.home, env: w.env });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^connection 'loader' already works \(authenticated as SVC_NEW\): nothing to do$/m);
    expect(readFileSync(w.file, 'utf8')).toBe(text);
  });

  it('--service-user: once the key works, no password and TYPE = SERVICE; an encrypted key takes its passphrase from the environment', async () => {
    const w = await world();
    const r = await runCliAsync(base(w.sf, '--admin-connection', 'admin', '--service-user', '--apply'), { cwd: w.home, env: { ...w.env, PRIVATE_KEY_PASSPHRASE: 'init-pass-1' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/✓ SVC_NEW is a service user now: no password, TYPE = SERVICE/);
    expect(w.sf.user('SVC_NEW')).toMatchObject({ type: 'SERVICE', hasPassword: false });
    expect(readFileSync(join(w.home, '.snowflake', 'keys', 'loader_rsa_key.p8'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect(r.stdout + r.stderr).not.toContain('init-pass-1');
  });

  it('an existing connection that does not work is refused without --force, replaced with it', async () => {
    const w = await world();
    writeFileSync(w.file, readFileSync(w.file, 'utf8') + `\n[loader]\naccount = "myorg-myaccount"\nuser = "SVC_NEW"\nhost = "${w.sf.url}"\nprivate_key_file = "${join(w.home, 'nothing.p8')}"\n`);
    const refused = await runCliAsync(base(w.sf, '--admin-connection', 'admin', '--no-encrypt', '--apply'), { cwd: w.home, env: w.env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^sfauth: connection 'loader' already exists in .*connections\.toml and does not work as it is$/m);
    expect(refused.stderr).toMatch(/--force/);
    const forced = await runCliAsync(base(w.sf, '--admin-connection', 'admin', '--no-encrypt', '--apply', '--force'), { cwd: w.home, env: w.env });
    expect(forced.code, forced.stderr).toBe(0);
    const text = readFileSync(w.file, 'utf8');
    expect(text.match(/^\[loader\]$/gm)).toHaveLength(1);
    expect(text).not.toContain('nothing.p8');
  });

  it('--wait: prints the SQL and waits; the key registered a few seconds later ends the wait', async () => {
    const w = await world();
    const child = spawn(process.execPath, [BIN, ...base(w.sf, '--no-encrypt', '--wait', '60s', '--apply')], { cwd: w.home, env: baseEnv(w.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const done = new Promise<number | null>((resolve) => child.on('close', resolve));
    const keyPath = join(w.home, '.snowflake', 'keys', 'loader_rsa_key.p8');
    for (let i = 0; i < 400 && !/ALTER USER SVC_NEW SET RSA_PUBLIC_KEY='/.test(stdout); i++) await new Promise((r) => setTimeout(r, 50));
    expect(stdout).toMatch(/^ALTER USER SVC_NEW SET RSA_PUBLIC_KEY='MII[^']+';$/m);
    await new Promise((r) => setTimeout(r, 2000));
    w.sf.setKey('SVC_NEW', 1, createPublicKey(readFileSync(keyPath, 'utf8')));
    expect(await done, stderr).toBe(0);
    expect(stderr).toMatch(/The key works/);
    expect(stdout).toMatch(/^connection 'loader' is ready: SVC_NEW on myorg-myaccount/m);
  });

  it('a wait that ends without success: exit 1 with the SQL again, key and entry kept; the rerun only waits', async () => {
    const w = await world();
    const r = await runCliAsync(base(w.sf, '--no-encrypt', '--wait', '2s', '--apply'), { cwd: w.home, env: w.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sfauth: the key did not start working within 2s$/m);
    expect(r.stderr).toMatch(/^ {2}ALTER USER SVC_NEW SET RSA_PUBLIC_KEY='MII/m);
    const keyPath = join(w.home, '.snowflake', 'keys', 'loader_rsa_key.p8');
    const key = readFileSync(keyPath, 'utf8');
    expect(readFileSync(w.file, 'utf8')).toContain('[loader]');
    w.sf.setKey('SVC_NEW', 1, createPublicKey(key));
    const rerun = await runCliAsync(base(w.sf, '--no-encrypt', '--wait', '30s', '--apply', '--json'), { cwd: w.home, env: w.env });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(readFileSync(keyPath, 'utf8')).toBe(key);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ registration: 'done', alreadyDone: true });
  });

  it('a connections.toml others can write, a link out of its folder, or invalid TOML: refused, nothing written', async () => {
    for (const spoil of ['writable', 'link', 'invalid'] as const) {
      const w = await world();
      if (spoil === 'writable') chmodSync(w.file, 0o666);
      if (spoil === 'invalid') writeFileSync(w.file, '[admin\n', { mode: 0o600 });
      if (spoil === 'link') {
        const outside = join(w.home, 'elsewhere.toml');
        writeFileSync(outside, readFileSync(w.file), { mode: 0o600 });
        rmSync(w.file);
        symlinkSync(outside, w.file);
      }
      const before = readFileSync(w.file, 'utf8');
      const r = await runCliAsync(base(w.sf, '--admin-connection', 'admin', '--no-encrypt', '--apply'), { cwd: w.home, env: w.env });
      expect(r.code, `${spoil}: ${r.stderr}`).toBe(2);
      expect(r.stderr).not.toMatch(STACK_TRACE);
      expect(r.stderr).toMatch(/^hint: /m);
      expect(readFileSync(w.file, 'utf8')).toBe(before);
      expect(w.sf.user('SVC_NEW').slots[1], spoil).toBeNull();
      expect(existsSync(join(w.home, '.snowflake', 'keys')), spoil).toBe(false);
    }
  });

  it('a key at --key-out that others can write is never registered', async () => {
    const w = await world();
    const planted = join(w.home, 'planted.p8');
    writeFileSync(planted, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    chmodSync(planted, 0o666);
    const r = await runCliAsync(base(w.sf, '--admin-connection', 'admin', '--key-out', planted, '--apply'), { cwd: w.home, env: w.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^sfauth: refusing to use planted\.p8: others can write it$/m);
    expect(w.sf.user('SVC_NEW').slots[1]).toBeNull();
  });

  it('in CI a missing value is a usage error naming its flag and variable', async () => {
    const w = await world();
    const r = await runCliAsync(['init', '--connection-name', 'x', '--user', 'SVC_NEW'], { cwd: w.home, env: w.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('sfauth: missing account\nhint: pass --account or set SNOWFLAKE_ACCOUNT\n');
  });

  it('interactive: asks for what is missing, shows the plan, asks to apply, asks the new passphrase twice', async () => {
    const w = await world();
    const r = await runCliInPty(['init', '--host', w.sf.url, '--admin-connection', 'admin', '--apply'], {
      cwd: w.home,
      env: w.env,
      timeoutMs: 40_000,
      steps: [
        { waitFor: /Account identifier/, send: 'myorg-myaccount\r' },
        { waitFor: /User \(its LOGIN_NAME\)/, send: 'SVC_NEW\r' },
        { waitFor: /Name of the connection to write/, send: '\r' },
        { waitFor: /\[y\/N\]/, send: 'y\r' },
        { waitFor: /New passphrase for/, send: 'typed-pass-1\r' },
        { waitFor: /Repeat the new passphrase/, send: 'typed-pass-1\r' },
      ],
    });
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/Set up connection 'svc_new' for SVC_NEW on myorg-myaccount:/);
    expect(r.output).toMatch(/Connection 'svc_new' works: authenticated as SVC_NEW/);
    expect(readFileSync(w.file, 'utf8')).toMatch(/^\[svc_new\]$/m);
    expect(r.output).not.toContain('typed-pass-1');
  });

  it('interactive, no admin given: chooses the registering connection from those in the file', async () => {
    const w = await world();
    const r = await runCliInPty(['init', '--account', 'myorg-myaccount', '--user', 'SVC_NEW', '--connection-name', 'loader', '--host', w.sf.url, '--no-encrypt', '--apply', '--yes'], {
      cwd: w.home,
      env: w.env,
      timeoutMs: 40_000,
      steps: [{ waitFor: /Register the key with/, send: '\r' }],
    });
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/connection admin/);
    expect(r.output).toMatch(/Registered SHA256:\S+ as SVC_NEW's RSA_PUBLIC_KEY \(with connection 'admin'\)/);
    expect(w.sf.user('SVC_NEW').slots[1]).not.toBeNull();
  });

  it('Ctrl-C at a prompt: exit 130, nothing written', async () => {
    const w = await world();
    const before = readFileSync(w.file, 'utf8');
    const r = await runCliInPty(['init', '--host', w.sf.url, '--apply'], { cwd: w.home, env: w.env, steps: [{ waitFor: /Account identifier/, send: '\x03' }] });
    expect(r.code).toBe(130);
    expect(readFileSync(w.file, 'utf8')).toBe(before);
    expect(existsSync(join(w.home, '.snowflake', 'keys'))).toBe(false);
  });
});
