/**
 * `npm run emulator` (scripts/emulator.mjs → test/support/serve-emulator.ts): the emulator by hand,
 * seeded from a users file, answering the built sfauth, stopped by SIGINT.
 */
import { afterAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCliAsync, tempDir } from '../support/cli.js';

const tmp = tempDir('sfauth-emulator-script-');
afterAll(() => tmp.cleanup());

it('serves the seeded users until Ctrl-C; sfauth status and rotate work against it', { timeout: 60_000 }, async () => {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = join(tmp.dir, 'rsa_key.p8');
  writeFileSync(key, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(tmp.dir, 'rsa_key.pub'), pair.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(tmp.dir, 'users.json'), JSON.stringify([{ name: 'SVC_LOADER', publicKeyFile: 'rsa_key.pub', role: 'LOADER' }]));

  const child = spawn(process.execPath, [join(ROOT, 'scripts/emulator.mjs'), '--users', join(tmp.dir, 'users.json'), '--account', 'myorg-demo'], {
    cwd: tmp.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const first = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      text += d;
      if (text.includes('\n')) resolve(text.split('\n')[0]!);
    });
    child.on('exit', (code) => reject(new Error(`emulator exited ${code}: ${stderr}`)));
  });
  try {
    const { url, account } = JSON.parse(first) as { url: string; account: string };
    expect(account).toBe('MYORG-DEMO');
    expect(stderr).toContain(`users: SVC_LOADER`);
    const args = ['--account', 'myorg-demo', '--host', url, '--user', 'svc_loader', '--private-key', key];
    const status = await runCliAsync(['status', ...args, '--json'], { cwd: tmp.dir, env: { HOME: tmp.dir, SNOWFLAKE_HOME: tmp.dir } });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ user: 'SVC_LOADER', keyInUse: { slot: 1 } });
    const rotate = await runCliAsync(['rotate', ...args, '--apply', '--no-encrypt', '--json'], { cwd: tmp.dir, env: { HOME: tmp.dir, SNOWFLAKE_HOME: tmp.dir } });
    expect(rotate.code, rotate.stderr).toBe(0);
    expect(JSON.parse(rotate.stdout)).toMatchObject({ applied: true, newSlot: 2 });
  } finally {
    child.kill('SIGINT');
  }
  expect(await exited).toBe(0);
});
