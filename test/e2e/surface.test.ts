/**
 * The human surface (issue 24, in progress): `sfauth` alone prints the help; the spinner's end
 * marks are one glyph (✓/✗) and follow NO_COLOR like every other line.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
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

describe('the spinner on a terminal', () => {
  it('ends with ✓, green only when colour is on (NO_COLOR turns it off)', async () => {
    const sf = await startEmulator();
    const { dir, cleanup } = tempDir('sfauth-surface-');
    cleanups.push(async () => {
      await sf.close();
      cleanup();
    });
    const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'k.p8'), k.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    sf.addUser('SVC', { rsaPublicKey: k.publicKey });
    const args = ['status', '--account', 'myorg-myaccount', '--host', sf.url, '--user', 'SVC', '--private-key', join(dir, 'k.p8')];
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
