/**
 * The human surface (issue 24, DESIGN.md §1 v3 "Human output"): `sfauth` alone prints the help; the
 * spinner's end marks are one glyph (✓/✗) and follow NO_COLOR like every other line; tables fit the
 * terminal (fingerprints shortened, `--wide` and pipes keep them whole), statuses are coloured on a
 * terminal only, one time format; help groups its options with --apply at the top; a bare number
 * means the flag's own unit.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCliAsync, tempDir } from '../support/cli.js';
import { startEmulator } from '../support/emulator.js';
import { runCliInPty } from '../support/audit.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe('sfauth alone', () => {
  it.concurrent.each([[[]], [['--no-color']]])('sfauth %j prints the help on stdout, exit 0', async (args) => {
    const r = await runCliAsync(args as string[]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: sfauth/m);
    for (const command of ['keygen', 'rotate', 'doctor', 'status']) expect(r.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
  });
});

/** An emulator with SVC (an EC key in `k.p8`) and the arguments of `command` as SVC. */
async function oneUser(command: string): Promise<{ dir: string; args: string[] }> {
  const sf = await startEmulator();
  const { dir, cleanup } = tempDir(`sfauth-${command}-`);
  cleanups.push(async () => {
    await sf.close();
    cleanup();
  });
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'k.p8'), k.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  sf.addUser('SVC', { rsaPublicKey: k.publicKey });
  return { dir, args: [command, '--account', 'myorg-myaccount', '--host', sf.url, '--user', 'SVC', '--private-key', join(dir, 'k.p8')] };
}

describe('the spinner on a terminal', () => {
  it('ends with ✓, green only when colour is on (NO_COLOR turns it off)', async () => {
    const { dir, args } = await oneUser('status');
    const plain = await runCliInPty(args, { cwd: dir, env: { HOME: dir, NO_COLOR: '1' }, steps: [], columns: 100 });
    expect(plain.code, plain.output).toBe(0);
    expect(plain.output).toMatch(/✓ Reading the keys of SVC/);
    expect(plain.raw).not.toMatch(/\u001b\[3\dm✓/);
    expect(plain.raw).not.toContain('✔');
    const coloured = await runCliInPty(args, { cwd: dir, env: { HOME: dir, NO_COLOR: undefined }, steps: [], columns: 100 });
    expect(coloured.code, coloured.output).toBe(0);
    expect(coloured.raw).toMatch(/\u001b\[32m✓\u001b\[39m Reading the keys of SVC/);
    expect(coloured.raw).not.toContain('✔');
  });
});

describe('passphrase prompts', () => {
  it('opening a key asks "Passphrase to unlock"; a wrong one is a ✗ line; after three typed tries the hint is about typing', async () => {
    const { dir, cleanup } = tempDir('sfauth-unlock-');
    cleanups.push(cleanup);
    const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'enc.p8'), k.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'right one' }), { mode: 0o600 });
    const r = await runCliInPty(['fingerprint', 'enc.p8'], {
      cwd: dir,
      env: { HOME: dir },
      steps: [
        { waitFor: /Passphrase to unlock enc\.p8/, send: 'wrong 1\r' },
        { waitFor: /Wrong passphrase for enc\.p8; type it again/, send: 'wrong 2\r' },
        { waitFor: /Wrong passphrase for enc\.p8; type it again/, send: 'wrong 3\r' },
      ],
    });
    expect(r.code, r.output).toBe(2);
    expect(r.output).toMatch(/^✗ Wrong passphrase for enc\.p8; type it again$/m);
    expect(r.output).toMatch(/sfauth: the passphrase typed did not open enc\.p8 \(3 tries\)/);
    expect(r.output).toMatch(/hint: check the keyboard layout and Caps Lock/);
    expect(r.output).not.toMatch(/--passphrase-file|PRIVATE_KEY_PASSPHRASE|✓ Wrong/);
  });
});

describe('tables on a terminal', () => {
  async function statusWorld() {
    const sf = await startEmulator();
    const { dir, cleanup } = tempDir('sfauth-table-');
    cleanups.push(async () => {
      await sf.close();
      cleanup();
    });
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'k.p8'), k.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    sf.addUser('SVC', { rsaPublicKey: k.publicKey });
    const soon = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const off = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    sf.addKeyPair('SVC', 'SOON', soon.publicKey, { expiresAt: new Date(Date.now() + 3 * 86_400_000) });
    sf.addKeyPair('SVC', 'OFF', off.publicKey, { disabled: true });
    const args = ['status', '--account', 'myorg-myaccount', '--host', sf.url, '--user', 'SVC', '--private-key', join(dir, 'k.p8')];
    return { dir, args };
  }
  const fullFingerprint = /SHA256:[A-Za-z0-9+/]{43}=/;
  const rows = (output: string) => output.split('\n').filter((l) => /^(KEY|slot|pair) /.test(l));

  it('at 100 and 80 columns every row fits, fingerprints shortened to SHA256:abcdefgh… (at 80 the SET time gives way to the age); --wide keeps them whole', async () => {
    const { dir, args } = await statusWorld();
    const hundred = await runCliInPty(args, { cwd: dir, env: { HOME: dir, NO_COLOR: '1' }, steps: [], columns: 100 });
    expect(hundred.code, hundred.output).toBe(0);
    expect(rows(hundred.output).length).toBe(5);
    for (const line of rows(hundred.output)) expect([...line].length, line).toBeLessThanOrEqual(100);
    expect(hundred.output).toMatch(/^slot 1 +SHA256:[A-Za-z0-9+/]{8}… +active +\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC /m);
    expect(hundred.output).not.toMatch(fullFingerprint);
    const narrow = await runCliInPty(args, { cwd: dir, env: { HOME: dir, NO_COLOR: '1' }, steps: [], columns: 80 });
    expect(narrow.code, narrow.output).toBe(0);
    for (const line of rows(narrow.output)) expect([...line].length, line).toBeLessThanOrEqual(80);
    expect(narrow.output).toMatch(/^KEY +FINGERPRINT +STATUS +AGE +EXPIRES +LOCAL KEY$/m);
    expect(narrow.output).toMatch(/^slot 1 +SHA256:[A-Za-z0-9+/]{8}… +active +\d+s +- +matches \(in use\)$/m);
    const wide = await runCliInPty([...args, '--wide'], { cwd: dir, env: { HOME: dir, NO_COLOR: '1' }, steps: [], columns: 80 });
    expect(wide.code, wide.output).toBe(0);
    expect(wide.output).toMatch(new RegExp(`^slot 1 +${fullFingerprint.source}`, 'm'));
  });

  it('piped, the table is whole and plain (no escape codes), whatever COLUMNS says', async () => {
    const { dir, args } = await statusWorld();
    const r = await runCliAsync(args, { cwd: dir, env: { HOME: dir, COLUMNS: '40', FORCE_COLOR: undefined } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^slot 1 +${fullFingerprint.source} +active`, 'm'));
    expect(r.stdout + r.stderr).not.toMatch(/\u001b\[/);
  });

  it('statuses are coloured on a terminal: active green, expiring yellow, disabled red; NO_COLOR turns it off', async () => {
    const { dir, args } = await statusWorld();
    const coloured = await runCliInPty(args, { cwd: dir, env: { HOME: dir, NO_COLOR: undefined }, steps: [], columns: 200 });
    expect(coloured.code, coloured.output).toBe(0);
    expect(coloured.raw).toMatch(/^slot 1 .*\u001b\[32mactive\u001b\[39m/m);
    expect(coloured.raw).toMatch(/^pair SOON .*\u001b\[33mactive\u001b\[39m/m);
    expect(coloured.raw).toMatch(/^pair OFF .*\u001b\[31mdisabled\u001b\[39m/m);
    const plain = await runCliInPty(args, { cwd: dir, env: { HOME: dir, NO_COLOR: '1' }, steps: [], columns: 200 });
    expect(plain.raw).not.toMatch(/\u001b\[3\dm/);
  });
});

describe('doctor on a terminal', () => {
  it('PASS/WARN/FAIL coloured (green, yellow, red) and a verdict line; plain when piped', async () => {
    const { dir, args } = await oneUser('doctor');
    const r = await runCliInPty(args, { cwd: dir, env: { HOME: dir, NO_COLOR: undefined }, steps: [], columns: 200 });
    expect(r.code, r.output).toBe(0);
    expect(r.raw).toMatch(/\u001b\[32mpass\u001b\[39m  authentication/);
    expect(r.raw).toMatch(/\u001b\[33mWARN\u001b\[39m  private key/); // an EC key: the driver note
    expect(r.output).toMatch(/^1 warning: private key: EC P-256/m);
    const piped = await runCliAsync(args, { cwd: dir, env: { HOME: dir } });
    expect(piped.stdout).toMatch(/^pass  authentication/m);
    expect(piped.stdout + piped.stderr).not.toMatch(/\u001b\[/);
  });
});

describe('help', () => {
  it('rotate --help groups its options, with --apply first', async () => {
    const r = await runCliAsync(['rotate', '--help']);
    expect(r.code).toBe(0);
    const headings = r.stdout.split('\n').filter((l) => /^[A-Z][A-Za-z -]+:$/.test(l));
    expect(headings).toEqual(['Options:', 'Connection:', 'New key:', 'Named key pairs:', 'Programmatic access tokens:', 'Hand-over:', 'Fleet:', 'Output:', 'Examples:']);
    expect(r.stdout.split('Options:\n')[1]!.split('\n')[0]).toMatch(/^ +--apply /);
    for (const command of ['register', 'revoke']) {
      const h = await runCliAsync([command, '--help']);
      expect(h.stdout.split('Options:\n')[1]!.split('\n')[0], command).toMatch(/^ +--apply /);
      expect(h.stdout).toMatch(/^Connection:$/m);
    }
  });
});

describe('a bare number is the flag\'s own unit', () => {
  it('--expires-in 30 is thirty days, --grace 2 is two hours (never seconds)', async () => {
    const { dir, cleanup } = tempDir('sfauth-units-');
    cleanups.push(cleanup);
    const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'k.pub'), k.publicKey.export({ type: 'spki', format: 'pem' }));
    const add = await runCliAsync(['sql', '--user', 'SVC', '--key-pair', 'CI', '--public-key', 'k.pub', '--expires-in', '30'], { cwd: dir });
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/DAYS_TO_EXPIRY=30;/);
    const rot = await runCliAsync(['sql', '--user', 'SVC', '--key-pair', 'CI', '--rotate', '--public-key', 'k.pub', '--grace', '2'], { cwd: dir });
    expect(rot.code, rot.stderr).toBe(0);
    expect(rot.stdout).toMatch(/EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS=2;/);
  });
});

describe('warnings where the Snowflake CLI is silent', () => {
  function setup() {
    const { dir, cleanup } = tempDir('sfauth-warn-');
    cleanups.push(cleanup);
    const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'k.p8'), k.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    return dir;
  }

  it('default_connection_name inside connections.toml: ignored, and said so', async () => {
    const dir = setup();
    writeFileSync(join(dir, 'connections.toml'), `default_connection_name = "loader"\n[loader]\naccount = "myorg-myaccount"\nuser = "SVC"\nprivate_key_file = "${join(dir, 'k.p8')}"\n`, { mode: 0o600 });
    const r = await runCliAsync(['jwt'], { cwd: dir, env: { HOME: dir, SNOWFLAKE_HOME: dir } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^warning: default_connection_name in .*connections\.toml is ignored \(by the Snowflake CLI too\): put it at the top of .*config\.toml, or use -c NAME \/ SNOWFLAKE_DEFAULT_CONNECTION_NAME$/m);
    const named = await runCliAsync(['jwt', '-c', 'loader'], { cwd: dir, env: { HOME: dir, SNOWFLAKE_HOME: dir } });
    expect(named.code, named.stderr).toBe(0);
    expect(named.stderr.match(/default_connection_name/g)?.length).toBe(1);
  });

  it('a SNOWFLAKE_HOME that does not exist: a warning, and the hint does not say "set SNOWFLAKE_HOME"', async () => {
    const dir = setup();
    const r = await runCliAsync(['jwt', '-c', 'loader'], { cwd: dir, env: { HOME: dir, SNOWFLAKE_HOME: join(dir, 'no-such-folder') } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hint: SNOWFLAKE_HOME names .*no-such-folder, which does not exist: fix the variable/m);
    expect(r.stderr).not.toMatch(/point SNOWFLAKE_HOME/);
    // flags alone take nothing from a config folder: nothing to say
    const flagsOnly = await runCliAsync(['jwt', '--account', 'myorg-myaccount', '--user', 'SVC', '--private-key', 'k.p8'], { cwd: dir, env: { HOME: dir, SNOWFLAKE_HOME: join(dir, 'no-such-folder') } });
    expect(flagsOnly.code).toBe(0);
    expect(flagsOnly.stderr).toBe('');
    // a connection found in the folder the Snowflake CLI falls back to (the platform folder): named
    mkdirSync(join(dir, '.config', 'snowflake'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, '.config', 'snowflake', 'connections.toml'), `[loader]\naccount = "myorg-myaccount"\nuser = "SVC"\nprivate_key_file = "${join(dir, 'k.p8')}"\n`, { mode: 0o600 });
    const fallback = await runCliAsync(['jwt', '-c', 'loader'], { cwd: dir, env: { HOME: dir, XDG_CONFIG_HOME: undefined, SNOWFLAKE_HOME: join(dir, 'no-such-folder') } });
    expect(fallback.code, fallback.stderr).toBe(0);
    expect(fallback.stderr).toMatch(/^warning: SNOWFLAKE_HOME names .*no-such-folder, which does not exist; connection 'loader' was read from .*\.config\/snowflake instead, as the Snowflake CLI does$/m);
  });

  it('an unencrypted private key others can read: a warning (as ssh), the token still printed; at 0600 nothing', async () => {
    const dir = setup();
    const args = ['jwt', '--account', 'myorg-myaccount', '--user', 'SVC', '--private-key', 'k.p8'];
    const quiet = await runCliAsync(args, { cwd: dir, env: { HOME: dir } });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    chmodSync(join(dir, 'k.p8'), 0o644);
    const open = await runCliAsync(args, { cwd: dir, env: { HOME: dir } });
    expect(open.code).toBe(0);
    expect(open.stdout).toMatch(/^eyJ/);
    expect(open.stderr).toMatch(/^warning: .*k\.p8 is not encrypted and others can read it \(mode 0644\): chmod 600 .*k\.p8$/m);
  });
});
