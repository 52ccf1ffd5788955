/**
 * `npm run emulator` (scripts/emulator.mjs → test/support/serve-emulator.ts): the emulator by hand,
 * seeded from a users file, answering the built sfauth, stopped by SIGINT.
 */
import { afterAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
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

function emulator(args: string[]): { exited: Promise<{ code: number | null; stdout: string; stderr: string }>; firstLine: Promise<string>; kill(): void } {
  const child = spawn(process.execPath, [join(ROOT, 'scripts/emulator.mjs'), ...args], { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      if (stdout.includes('\n')) resolve(stdout.split('\n')[0]!);
    });
    child.on('exit', (code) => reject(new Error(`emulator exited ${code}: ${stderr}`)));
  });
  firstLine.catch(() => {});
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { exited, firstLine, kill: () => child.kill('SIGINT') };
}

it('--help prints the usage (exit 0); an unknown option and a port in use are one line each (exit 2), never a stack trace', { timeout: 60_000 }, async () => {
  const help = await emulator(['--help']).exited;
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^usage: npm run emulator -- \[options\]$/m);
  expect(help.stdout).toMatch(/--clock-offset SECONDS/);
  const unknown = await emulator(['--prot', '1']).exited;
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/^emulator: Unknown option '--prot'.* \(npm run emulator -- --help\)\n$/);
  const first = emulator([]);
  const { url } = JSON.parse(await first.firstLine) as { url: string };
  try {
    const busy = await emulator(['--port', new URL(url).port]).exited;
    expect(busy.code).toBe(2);
    expect(busy.stderr).toBe(`emulator: port ${new URL(url).port} is in use: pick another with --port, or leave it out for any free one\n`);
  } finally {
    first.kill();
  }
  await first.exited;
});

it('a users file seeds named key pairs (disabled, expiring), latency and a clock offset', { timeout: 60_000 }, async () => {
  const make = (name: string) => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(tmp.dir, `${name}.p8`), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(tmp.dir, `${name}.pub`), pair.publicKey.export({ type: 'spki', format: 'pem' }));
  };
  for (const name of ['svc', 'ci', 'off', 'soon']) make(name);
  writeFileSync(
    join(tmp.dir, 'seeded.json'),
    JSON.stringify({
      latencyMs: 20,
      clockOffsetSeconds: -7200,
      users: [{ name: 'SVC', publicKeyFile: 'svc.pub', keyPairs: [{ name: 'CI', publicKeyFile: 'ci.pub', comment: 'for CI', daysToExpiry: 90 }, { name: 'OFF', publicKeyFile: 'off.pub', disabled: true }, { name: 'SOON', publicKeyFile: 'soon.pub', expiresInHours: 6 }] }],
    }),
  );
  const e = emulator(['--users', join(tmp.dir, 'seeded.json')]);
  try {
    const { url } = JSON.parse(await e.firstLine) as { url: string };
    const args = ['--account', 'myorg-myaccount', '--host', url, '--user', 'svc', '--private-key', join(tmp.dir, 'ci.p8')];
    // the server's clock is 2 h behind: sfauth's token looks issued in the future, and doctor says so
    const doctor = await runCliAsync(['doctor', ...args, '--json'], { cwd: tmp.dir, env: { HOME: tmp.dir } });
    const checks = (JSON.parse(doctor.stdout) as { checks: { id: string; status: string; evidence: string }[] }).checks;
    expect(checks.find((c) => c.id === 'clock')).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/ahead of Snowflake's/) });
  } finally {
    e.kill();
  }
  await e.exited;
  const synced = JSON.parse(readFileSync(join(tmp.dir, 'seeded.json'), 'utf8')) as { clockOffsetSeconds: number };
  synced.clockOffsetSeconds = 0;
  writeFileSync(join(tmp.dir, 'seeded.json'), JSON.stringify(synced));
  const again = emulator(['--users', join(tmp.dir, 'seeded.json')]);
  try {
    const { url } = JSON.parse(await again.firstLine) as { url: string };
    const status = await runCliAsync(['status', '--account', 'myorg-myaccount', '--host', url, '--user', 'svc', '--private-key', join(tmp.dir, 'ci.p8'), '--json'], { cwd: tmp.dir, env: { HOME: tmp.dir } });
    expect(status.code, status.stderr).toBe(0);
    const keys = (JSON.parse(status.stdout) as { keys: { name: string; status: string; comment: string | null; expiresAt: string | null }[] }).keys;
    expect(keys.map((k) => [k.name, k.status])).toEqual([['RSA_PUBLIC_KEY', 'ACTIVE'], ['CI', 'ACTIVE'], ['OFF', 'DISABLED'], ['SOON', 'ACTIVE']]);
    expect(keys.find((k) => k.name === 'CI')!.comment).toBe('for CI');
    const soon = Date.parse(keys.find((k) => k.name === 'SOON')!.expiresAt!) - Date.now();
    expect(soon).toBeGreaterThan(5 * 3_600_000);
    expect(soon).toBeLessThan(7 * 3_600_000);
    // the seeded latency: no answer comes sooner (a lower bound only, so a slow machine cannot fail it)
    const tc = await runCliAsync(['test-connection', '--account', 'myorg-myaccount', '--host', url, '--user', 'svc', '--private-key', join(tmp.dir, 'ci.p8'), '--json'], { cwd: tmp.dir, env: { HOME: tmp.dir } });
    expect(tc.code, tc.stderr).toBe(0);
    expect((JSON.parse(tc.stdout) as { roundTripMs: number }).roundTripMs).toBeGreaterThanOrEqual(20);
  } finally {
    again.kill();
  }
  await again.exited;
});
