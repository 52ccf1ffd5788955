/**
 * `sfauth connections` (issue 27): every connection with its file, default, account, user, auth and
 * key file; the warnings the Snowflake CLI does not give; `--test` against the emulator.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_TRACE, runCliAsync, tempDir } from '../support/cli.js';
import { startEmulator } from '../support/emulator.js';

const tmp = tempDir('sfauth-connections-');
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers) await c();
  tmp.cleanup();
});

async function world() {
  const sf = await startEmulator();
  closers.push(() => sf.close());
  const home = join(tmp.dir, `home-${closers.length}`);
  const sfHome = join(home, '.snowflake');
  mkdirSync(sfHome, { recursive: true, mode: 0o700 });
  const key = (name: string, mode = 0o600) => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(home, `${name}.p8`), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode });
    return pair.publicKey;
  };
  sf.addUser('SVC_LOADER', { rsaPublicKey: key('loader') });
  key('stranger'); // registered nowhere
  key('open', 0o644);
  const conn = (name: string, user: string, file: string) => `[${name}]\naccount = "myorg-myaccount"\nuser = "${user}"\nhost = "${sf.url}"\nprivate_key_file = "${join(home, file)}"\n`;
  writeFileSync(
    join(sfHome, 'connections.toml'),
    ['default_connection_name = "loader"', conn('loader', 'SVC_LOADER', 'loader.p8'), conn('stranger', 'SVC_LOADER', 'stranger.p8'), conn('open', 'SVC_OPEN', 'open.p8'), conn('gone', 'SVC_LOADER', 'missing.p8'), '[human]\naccount = "myorg-myaccount"\nuser = "ALICE"\nauthenticator = "externalbrowser"\n'].join('\n'),
    { mode: 0o600 },
  );
  writeFileSync(join(sfHome, 'config.toml'), 'default_connection_name = "loader"\n', { mode: 0o600 });
  return { sf, home, sfHome };
}

interface Doc {
  default: string | null;
  connections: Array<{ name: string; file: string | null; default: boolean; account: string | null; user: string | null; auth: string; keyFile: string | null; problems: string[]; test?: { ok: boolean; user?: string; error?: { code: string } } }>;
  warnings: string[];
}

describe.concurrent('sfauth connections', () => {
  it('lists every connection with its facts and the warnings; --json', async () => {
    const w = await world();
    const r = await runCliAsync(['connections', '--json'], { cwd: w.home, env: { HOME: w.home } });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc.default).toBe('loader');
    expect(doc.connections.map((c) => [c.name, c.default, c.auth])).toEqual([
      ['loader', true, 'key pair'],
      ['stranger', false, 'key pair'],
      ['open', false, 'key pair'],
      ['gone', false, 'key pair'],
      ['human', false, 'externalbrowser (not for sfauth)'],
    ]);
    expect(doc.connections[0]).toMatchObject({ file: join(w.sfHome, 'connections.toml'), account: 'myorg-myaccount', user: 'SVC_LOADER', keyFile: join(w.home, 'loader.p8'), problems: [] });
    expect(doc.connections.find((c) => c.name === 'open')!.problems).toEqual([expect.stringMatching(/open\.p8 is readable by others \(mode 0644\).*chmod 600/)]);
    expect(doc.connections.find((c) => c.name === 'gone')!.problems).toEqual([expect.stringMatching(/missing\.p8 cannot be read \(ENOENT\)/)]);
    expect(doc.warnings).toEqual([expect.stringMatching(/default_connection_name in .*connections\.toml is ignored/)]);
  });

  it('the table; --test authenticates each (exit 1 when one fails, doctor named)', async () => {
    const w = await world();
    const r = await runCliAsync(['connections', '--test', '--timeout', '10s'], { cwd: w.home, env: { HOME: w.home } });
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^NAME +DEFAULT +ACCOUNT +USER +AUTH +KEY FILE +TEST$/m);
    expect(r.stdout).toMatch(/^loader +yes +myorg-myaccount +SVC_LOADER +key pair +loader\.p8 +ok \(SVC_LOADER, PUBLIC\)$/m);
    expect(r.stdout).toMatch(/^stranger .* failed: authentication refused/m);
    expect(r.stdout).toMatch(/^human .* failed: not testable: externalbrowser \(not for sfauth\)$/m);
    expect(r.stderr).toMatch(/^warning: open: its key file .*open\.p8 is readable by others/m);
    expect(r.stderr).toMatch(/^sfauth: 4 of 5 connections failed the test: stranger, open, gone, human$/m);
    expect(r.stderr).toMatch(/^hint: sfauth doctor -c stranger says why$/m);
  });

  it('a SNOWFLAKE_HOME that does not exist is named; no connections at all says how to make one', async () => {
    const w = await world();
    const r = await runCliAsync(['connections'], { cwd: w.home, env: { HOME: w.home, SNOWFLAKE_HOME: join(w.home, 'nowhere') } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^warning: SNOWFLAKE_HOME names .*nowhere, which does not exist; the Snowflake CLI and sfauth read .* instead$/m);
    expect(r.stderr).toMatch(/no connections in .*; sfauth init writes one/);
  });
});
