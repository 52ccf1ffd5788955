/**
 * Parity with the Snowflake CLI (DESIGN.md §4): one row per setup → the connection, account, user and
 * key `snow` resolves (its code: snowflake-cli `_app/snow_connector.py` and `api/config.py`, the
 * Python connector's `sf_dirs.py` and `config_manager.py`). The first rows are the ones sfauth 0.1
 * got wrong; the rest are setups both always agreed on, kept so they stay agreed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { resolveConnection, type ConnectionFlags } from '../../src/config/index.js';
import { isSfauthError } from '../../src/errors.js';

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

const PEM = '-----BEGIN PRIVATE KEY-----\\nRAW\\n-----END PRIVATE KEY-----';

interface Row {
  setup: string;
  /** Files relative to the fake home (`~`); `{cwd}` is the current folder. Mode 0600 unless given. */
  files?: Record<string, string | { text: string; mode: number }>;
  env?: Record<string, string>;
  flags?: ConnectionFlags;
  platform?: NodeJS.Platform;
  /** What snow resolves; key: a path relative to home (`{cwd}/…` for the current folder) or `raw`. */
  expect: { connection?: string | null; account?: string; user?: string; key?: string } | { error: string };
}

const PROD = '[prod]\naccount = "prod-acct"\nuser = "PROD_USER"\nprivate_key_file = "/keys/prod.p8"\n';

const DIFFERED: Row[] = [
  {
    setup: 'default_connection_name at the top of connections.toml is ignored ([default] is used)',
    files: { '.snowflake/connections.toml': 'default_connection_name = "prod"\n[default]\naccount = "dflt"\n' + PROD },
    expect: { connection: 'default', account: 'dflt' },
  },
  {
    setup: 'generic SNOWFLAKE_USER / _ACCOUNT / _PRIVATE_KEY_PATH with -c prod: the connection wins',
    files: { '.snowflake/connections.toml': PROD },
    env: { SNOWFLAKE_USER: 'ENV_USER', SNOWFLAKE_ACCOUNT: 'env-acct', SNOWFLAKE_PRIVATE_KEY_PATH: '/keys/env.p8' },
    flags: { connection: 'prod' },
    expect: { connection: 'prod', account: 'prod-acct', user: 'PROD_USER', key: '/keys/prod.p8' },
  },
  {
    setup: 'SNOWFLAKE_CONNECTIONS_PROD_PRIVATE_KEY_RAW while the file has private_key_file: the key file',
    files: { '.snowflake/connections.toml': PROD },
    env: { SNOWFLAKE_CONNECTIONS_PROD_PRIVATE_KEY_RAW: PEM },
    flags: { connection: 'prod' },
    expect: { connection: 'prod', key: '/keys/prod.p8' },
  },
  {
    setup: 'a relative private_key_file is relative to the current folder',
    files: { '.snowflake/connections.toml': '[prod]\naccount = "a"\nprivate_key_file = "keys/k.p8"\n' },
    flags: { connection: 'prod' },
    expect: { key: '{cwd}/keys/k.p8' },
  },
  {
    setup: 'connections.toml with mode 0644 and no secrets: refused',
    files: { '.snowflake/connections.toml': { text: '[default]\naccount = "a"\n', mode: 0o644 } },
    expect: { error: 'ERR_CONFIG_PERMISSIONS' },
  },
  {
    setup: 'config.toml with mode 0620 (group-writable): refused',
    files: { '.snowflake/config.toml': { text: 'default_connection_name = "x"\n[connections.x]\naccount = "a"\n', mode: 0o620 } },
    expect: { error: 'ERR_CONFIG_PERMISSIONS' },
  },
  {
    setup: 'SNOWFLAKE_HOME set to a missing folder: the default folders (platform folder)',
    files: { '.config/snowflake/connections.toml': '[default]\naccount = "from-config-dir"\n' },
    env: { SNOWFLAKE_HOME: '/nonexistent/sf-home' },
    expect: { connection: 'default', account: 'from-config-dir' },
  },
  {
    setup: 'XDG_CONFIG_HOME set: $XDG_CONFIG_HOME/snowflake',
    files: { 'xdg/snowflake/connections.toml': '[default]\naccount = "from-xdg"\n', '.config/snowflake/connections.toml': '[default]\naccount = "wrong"\n' },
    env: { XDG_CONFIG_HOME: '{home}/xdg' },
    expect: { account: 'from-xdg' },
  },
  {
    setup: 'macOS: ~/Library/Application Support/snowflake',
    files: { 'Library/Application Support/snowflake/connections.toml': '[default]\naccount = "from-macos"\n' },
    platform: 'darwin',
    expect: { account: 'from-macos' },
  },
  {
    setup: 'Windows: %LOCALAPPDATA%\\snowflake',
    files: { 'AppData/Local/snowflake/connections.toml': '[default]\naccount = "from-windows"\n' },
    env: { LOCALAPPDATA: '{home}/AppData/Local' },
    platform: 'win32',
    expect: { account: 'from-windows' },
  },
  {
    setup: 'SNOWFLAKE_CONNECTIONS holding a whole connections.toml: used (over the file)',
    files: { '.snowflake/connections.toml': PROD },
    env: { SNOWFLAKE_CONNECTIONS: '[prod]\naccount = "env-toml-acct"\nuser = "ENV_TOML"\n' },
    flags: { connection: 'prod' },
    expect: { connection: 'prod', account: 'env-toml-acct', user: 'ENV_TOML' },
  },
  {
    setup: 'SNOWFLAKE_CONNECTIONS_MY_CONN_USER for connection my-conn: ignored',
    files: { '.snowflake/connections.toml': '[my-conn]\naccount = "a"\nuser = "FILE_USER"\n' },
    env: { SNOWFLAKE_CONNECTIONS_MY_CONN_USER: 'ENV_USER' },
    flags: { connection: 'my-conn' },
    expect: { connection: 'my-conn', user: 'FILE_USER' },
  },
  {
    setup: 'a connection defined only by SNOWFLAKE_CONNECTIONS_CI_* variables: not configured',
    env: { SNOWFLAKE_CONNECTIONS_CI_ACCOUNT: 'ci-acct', SNOWFLAKE_CONNECTIONS_CI_USER: 'CI' },
    flags: { connection: 'ci' },
    expect: { error: 'ERR_CONNECTION_NOT_FOUND' },
  },
  {
    setup: 'private_key_file then private_key_path in one connection: the later (private_key_path)',
    files: { '.snowflake/connections.toml': '[prod]\naccount = "a"\nprivate_key_file = "/keys/file.p8"\nprivate_key_path = "/keys/path.p8"\n' },
    flags: { connection: 'prod' },
    expect: { key: '/keys/path.p8' },
  },
  {
    setup: 'private_key_path then private_key_file in one connection: the later (private_key_file)',
    files: { '.snowflake/connections.toml': '[prod]\naccount = "a"\nprivate_key_path = "/keys/path.p8"\nprivate_key_file = "/keys/file.p8"\n' },
    flags: { connection: 'prod' },
    expect: { key: '/keys/file.p8' },
  },
  {
    setup: 'SNOWFLAKE_DEFAULT_CONNECTION_NAME="": an error',
    files: { '.snowflake/connections.toml': '[default]\naccount = "a"\n' },
    env: { SNOWFLAKE_DEFAULT_CONNECTION_NAME: '' },
    expect: { error: 'ERR_CONNECTION_NOT_FOUND' },
  },
];

const AGREED: Row[] = [
  { setup: '-c prod picks [prod]', files: { '.snowflake/connections.toml': PROD }, flags: { connection: 'prod' }, expect: { connection: 'prod', account: 'prod-acct', user: 'PROD_USER', key: '/keys/prod.p8' } },
  { setup: 'no -c: [default]', files: { '.snowflake/connections.toml': '[default]\naccount = "d"\n' + PROD }, expect: { connection: 'default', account: 'd' } },
  {
    setup: "config.toml's default_connection_name",
    files: { '.snowflake/connections.toml': PROD + '[default]\naccount = "d"\n', '.snowflake/config.toml': 'default_connection_name = "prod"\n' },
    expect: { connection: 'prod', account: 'prod-acct' },
  },
  {
    setup: 'SNOWFLAKE_DEFAULT_CONNECTION_NAME beats default_connection_name',
    files: { '.snowflake/connections.toml': PROD + '[dev]\naccount = "dev-acct"\n', '.snowflake/config.toml': 'default_connection_name = "prod"\n' },
    env: { SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'dev' },
    expect: { connection: 'dev', account: 'dev-acct' },
  },
  {
    setup: '-c beats SNOWFLAKE_DEFAULT_CONNECTION_NAME',
    files: { '.snowflake/connections.toml': PROD + '[dev]\naccount = "dev-acct"\n' },
    env: { SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'dev' },
    flags: { connection: 'prod' },
    expect: { connection: 'prod', account: 'prod-acct' },
  },
  {
    setup: "connections.toml present: config.toml's connections ignored",
    files: { '.snowflake/connections.toml': PROD, '.snowflake/config.toml': '[connections.only_in_config]\naccount = "c"\n' },
    flags: { connection: 'only_in_config' },
    expect: { error: 'ERR_CONNECTION_NOT_FOUND' },
  },
  {
    setup: 'no connections.toml: config.toml [connections.x]',
    files: { '.snowflake/config.toml': '[connections.x]\naccount = "from-config"\nuser = "X"\n' },
    flags: { connection: 'x' },
    expect: { connection: 'x', account: 'from-config', user: 'X' },
  },
  {
    setup: 'SNOWFLAKE_CONNECTIONS_PROD_ACCOUNT overrides the file',
    files: { '.snowflake/connections.toml': PROD },
    env: { SNOWFLAKE_CONNECTIONS_PROD_ACCOUNT: 'override-acct' },
    flags: { connection: 'prod' },
    expect: { account: 'override-acct', user: 'PROD_USER' },
  },
  {
    setup: 'SNOWFLAKE_CONNECTIONS_PROD_PRIVATE_KEY_FILE overrides the file key',
    files: { '.snowflake/connections.toml': PROD },
    env: { SNOWFLAKE_CONNECTIONS_PROD_PRIVATE_KEY_FILE: '/keys/override.p8' },
    flags: { connection: 'prod' },
    expect: { key: '/keys/override.p8' },
  },
  {
    setup: '--account beats the connection and the variables',
    files: { '.snowflake/connections.toml': PROD },
    env: { SNOWFLAKE_ACCOUNT: 'env', SNOWFLAKE_CONNECTIONS_PROD_ACCOUNT: 'conn-env' },
    flags: { connection: 'prod', account: 'flag-acct' },
    expect: { account: 'flag-acct' },
  },
  {
    setup: '--private-key beats the connection key',
    files: { '.snowflake/connections.toml': PROD },
    flags: { connection: 'prod', privateKey: '/keys/flag.p8' },
    expect: { key: '/keys/flag.p8' },
  },
  {
    setup: 'generic SNOWFLAKE_USER fills a connection without user',
    files: { '.snowflake/connections.toml': '[prod]\naccount = "a"\n' },
    env: { SNOWFLAKE_USER: 'ENV_USER' },
    flags: { connection: 'prod' },
    expect: { user: 'ENV_USER' },
  },
  {
    setup: 'generic SNOWFLAKE_PRIVATE_KEY_FILE fills a connection without key',
    files: { '.snowflake/connections.toml': '[prod]\naccount = "a"\n' },
    env: { SNOWFLAKE_PRIVATE_KEY_FILE: '/keys/env.p8' },
    flags: { connection: 'prod' },
    expect: { key: '/keys/env.p8' },
  },
  {
    setup: 'no connection at all: the variables alone',
    env: { SNOWFLAKE_ACCOUNT: 'env-acct', SNOWFLAKE_USER: 'ENV', SNOWFLAKE_PRIVATE_KEY_RAW: PEM },
    expect: { connection: null, account: 'env-acct', user: 'ENV', key: 'raw' },
  },
  {
    setup: 'a key file from the variables beats a raw key from the connection',
    files: { '.snowflake/connections.toml': `[prod]\naccount = "a"\nprivate_key_raw = "${PEM}"\n` },
    env: { SNOWFLAKE_PRIVATE_KEY_FILE: '/keys/env.p8' },
    flags: { connection: 'prod' },
    expect: { key: '/keys/env.p8' },
  },
  { setup: 'private_key_raw alone', files: { '.snowflake/connections.toml': `[prod]\naccount = "a"\nprivate_key_raw = "${PEM}"\n` }, flags: { connection: 'prod' }, expect: { key: 'raw' } },
  { setup: 'private_key_path alone', files: { '.snowflake/connections.toml': '[prod]\naccount = "a"\nprivate_key_path = "/keys/p.p8"\n' }, flags: { connection: 'prod' }, expect: { key: '/keys/p.p8' } },
  {
    setup: 'SNOWFLAKE_HOME that exists is the folder',
    files: { 'sfhome/connections.toml': '[default]\naccount = "from-sf-home"\n', '.snowflake/connections.toml': '[default]\naccount = "wrong"\n' },
    env: { SNOWFLAKE_HOME: '{home}/sfhome' },
    expect: { account: 'from-sf-home' },
  },
  {
    setup: '~/.snowflake beats the platform folder',
    files: { '.snowflake/connections.toml': '[default]\naccount = "dot"\n', '.config/snowflake/connections.toml': '[default]\naccount = "wrong"\n' },
    expect: { account: 'dot' },
  },
  { setup: '~/.config/snowflake when nothing else exists (Linux)', files: { '.config/snowflake/connections.toml': '[default]\naccount = "cfg"\n' }, expect: { account: 'cfg' } },
  { setup: '-c NAME nobody defines: an error', files: { '.snowflake/connections.toml': PROD }, flags: { connection: 'nope' }, expect: { error: 'ERR_CONNECTION_NOT_FOUND' } },
  {
    setup: 'default_connection_name naming a missing connection: an error',
    files: { '.snowflake/connections.toml': PROD, '.snowflake/config.toml': 'default_connection_name = "gone"\n' },
    expect: { error: 'ERR_CONNECTION_NOT_FOUND' },
  },
  {
    setup: 'SNOWFLAKE_CONNECTIONS_PROD_USER overrides user',
    files: { '.snowflake/connections.toml': PROD },
    env: { SNOWFLAKE_CONNECTIONS_PROD_USER: 'OVERRIDE' },
    flags: { connection: 'prod' },
    expect: { user: 'OVERRIDE' },
  },
];

function setUp(row: Row): { home: string; cwd: string; env: Record<string, string> } {
  const root = mkdtempSync(join(tmpdir(), 'sfauth-parity-'));
  roots.push(root);
  const home = join(root, 'home');
  const cwd = join(root, 'work');
  mkdirSync(home, { recursive: true });
  mkdirSync(cwd, { recursive: true });
  for (const [rel, content] of Object.entries(row.files ?? {})) {
    const path = join(home, rel);
    mkdirSync(dirname(path), { recursive: true });
    const { text, mode } = typeof content === 'string' ? { text: content, mode: 0o600 } : content;
    writeFileSync(path, text);
    chmodSync(path, mode);
  }
  const env = Object.fromEntries(Object.entries(row.env ?? {}).map(([k, v]) => [k, v.replace('{home}', home)]));
  return { home, cwd, env };
}

describe.each([
  ['setups sfauth 0.1 resolved differently from snow', DIFFERED],
  ['setups both always agreed on', AGREED],
])('%s', (_title, rows) => {
  it.each(rows.map((r) => [r.setup, r] as const))('%s', async (_setup, row) => {
    const { home, cwd, env } = setUp(row);
    const run = resolveConnection(row.flags ?? {}, env, { cwd, homeDir: home, platform: row.platform });
    if ('error' in row.expect) {
      const err = await run.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSfauthError(err), String(err)).toBe(true);
      expect((err as { code: string }).code).toBe(row.expect.error);
      return;
    }
    const conn = await run;
    const want = row.expect;
    if (want.connection !== undefined) expect(conn.name ?? null).toBe(want.connection);
    if (want.account !== undefined) expect(conn.account).toBe(want.account);
    if (want.user !== undefined) expect(conn.user).toBe(want.user);
    if (want.key === 'raw') expect(conn.privateKey?.kind).toBe('raw');
    else if (want.key !== undefined) expect(conn.privateKey).toMatchObject({ kind: 'file', path: want.key.replace('{cwd}', cwd) });
  });
});

it('the table has a row for each of the 13 differences in the issue and 21+ agreements', () => {
  expect(DIFFERED.length).toBeGreaterThanOrEqual(13);
  expect(AGREED.length).toBeGreaterThanOrEqual(21);
});
