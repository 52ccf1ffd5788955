/**
 * A user created quoted in lower case (`CREATE USER "svc_lower"`) is named the way Snowflake's SQL
 * names it, `"svc_lower"`, by --target-user and in a targets file (issue 24, wrong fact 4): without the
 * quotes the name means SVC_LOWER, another user.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCliAsync, tempDir } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';
import { parseTargets } from '../../src/core/targets.js';
import { normalizeUserName } from '../../src/core/rotation-plan.js';
import { quoteIdentifier } from '../../src/core/sql.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(cleanups.map((c) => c()));
});

const pub = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;

async function world(): Promise<{ sf: Emulator; dir: string; admin: string[]; env: Record<string, string> }> {
  const sf = await startEmulator();
  const { dir, cleanup } = tempDir('sfauth-quoted-');
  cleanups.push(async () => {
    await sf.close();
    cleanup();
  });
  mkdirSync(join(dir, 'home'));
  const a = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'admin.p8'), a.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  sf.addUser('"svc_lower"', { rsaPublicKey: pub() });
  sf.addUser('ADMIN', { rsaPublicKey: a.publicKey });
  sf.grant('ADMIN', '"svc_lower"');
  return { sf, dir, admin: ['--account', 'myorg-myaccount', '--host', sf.url, '--user', 'ADMIN', '--private-key', join(dir, 'admin.p8')], env: { HOME: join(dir, 'home') } };
}

describe('quoted lower-case user names', () => {
  it('read as Snowflake reads them: "svc_lower" is exact, svc_lower is SVC_LOWER', () => {
    expect(normalizeUserName('"svc_lower"')).toBe('svc_lower');
    expect(normalizeUserName('svc_lower')).toBe('SVC_LOWER');
    expect(quoteIdentifier('"svc_lower"')).toBe('"svc_lower"');
    expect(quoteIdentifier('svc x')).toBe('"svc x"');
    // Two different users in one targets file; a quoted upper-case name is the plain one.
    expect(parseTargets('"svc_lower"\nSVC_LOWER\n"svc x"\n', 'targets')).toEqual(['"svc_lower"', 'SVC_LOWER', 'svc x']);
    expect(() => parseTargets('"SVC_A"\nsvc_a\n', 'targets')).toThrow(/repeats svc_a/);
  });

  it.concurrent('--target-user \'"svc_lower"\' and a targets file line "svc_lower" reach that user', async () => {
    const w = await world();
    const status = await runCliAsync(['status', ...w.admin, '--target-user', '"svc_lower"', '--json'], { cwd: w.dir, env: w.env });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).user).toBe('svc_lower');
    const r = await runCliAsync(['rotate', ...w.admin, '--target-user', '"svc_lower"', '--no-encrypt', '--store-cmd', 'cat > /dev/null', '--apply', '--json'], { cwd: w.dir, env: w.env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toBe('rotated');
    expect(w.sf.executed.some((e) => e.statement.startsWith('ALTER USER "svc_lower" SET RSA_PUBLIC_KEY_2'))).toBe(true);
    writeFileSync(join(w.dir, 'users.txt'), '"svc_lower"\n');
    const fleet = await runCliAsync(['rotate', ...w.admin, '--targets', 'users.txt', '--no-encrypt', '--store-cmd', 'cat > /dev/null', '--apply', '--json'], { cwd: w.dir, env: w.env });
    expect(fleet.code, fleet.stderr).toBe(0);
    expect(JSON.parse(fleet.stdout)[0]).toMatchObject({ user: '"svc_lower"', outcome: 'rotated' });
  });
});
