import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireValue, resolveConnection, snowflakeHome, type ConnectionFlags } from '../../src/config/index.js';
import { sfauthErrorOf, sfauthRejectionOf } from '../support/errors.js';

let root: string; // temp root
let sfHome: string; // SNOWFLAKE_HOME
let home: string; // fake user home
let cwd: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sfauth-config-'));
  sfHome = join(root, 'sf');
  home = join(root, 'home');
  cwd = join(root, 'work');
  await Promise.all([mkdir(sfHome), mkdir(home), mkdir(cwd)]);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function put(path: string, text: string, mode = 0o600): Promise<string> {
  await writeFile(path, text, { mode });
  await chmod(path, mode);
  return path;
}

function resolveWith(flags: ConnectionFlags = {}, env: Record<string, string | undefined> = {}) {
  return resolveConnection(flags, { SNOWFLAKE_HOME: sfHome, ...env }, { cwd, homeDir: home });
}

describe('snowflakeHome (folder rule)', () => {
  it('uses $SNOWFLAKE_HOME when set (with ~ expanded)', () => {
    expect(snowflakeHome({ SNOWFLAKE_HOME: '/x/y' }, '/h', () => true)).toBe('/x/y');
    expect(snowflakeHome({ SNOWFLAKE_HOME: '~/sf' }, '/h', () => true)).toBe(join('/h', 'sf'));
  });
  it('uses ~/.snowflake when it exists', () => {
    const seen: string[] = [];
    const got = snowflakeHome({}, '/h', (p) => (seen.push(p), p === join('/h', '.snowflake')));
    expect(got).toBe(join('/h', '.snowflake'));
    expect(seen).toEqual([join('/h', '.snowflake')]);
  });
  it('falls back to ~/.config/snowflake', () => {
    expect(snowflakeHome({ SNOWFLAKE_HOME: '' }, '/h', () => false)).toBe(join('/h', '.config', 'snowflake'));
  });
  it('resolveConnection follows the rule with a real home folder', async () => {
    await mkdir(join(home, '.snowflake'));
    await put(join(home, '.snowflake', 'connections.toml'), '[default]\naccount = "from-dot-snowflake"\n');
    const conn = await resolveConnection({}, {}, { cwd, homeDir: home });
    expect(conn.account).toBe('from-dot-snowflake');
    expect(conn.name).toBe('default');
  });
});

describe('which connection', () => {
  it('no config files and no -c is fine (flags/env only)', async () => {
    const conn = await resolveWith({ account: 'a1' }, { SNOWFLAKE_USER: 'u1' });
    expect(conn).toMatchObject({ account: 'a1', user: 'u1', warnings: [] });
    expect(conn.name).toBeUndefined();
    expect(conn.origins).toMatchObject({ account: '--account', user: 'SNOWFLAKE_USER' });
  });

  it('connections.toml wins over config.toml connections', async () => {
    await put(join(sfHome, 'connections.toml'), '[main]\naccount = "from-connections"\n');
    await put(
      join(sfHome, 'config.toml'),
      'default_connection_name = "main"\n[connections.main]\naccount = "from-config"\n[connections.other]\naccount = "o"\n',
    );
    const conn = await resolveWith();
    expect(conn.name).toBe('main');
    expect(conn.account).toBe('from-connections');
    expect(conn.configFile).toBe(join(sfHome, 'connections.toml'));
    expect(conn.origins.account).toBe('connections.toml [main]');
    // config.toml's connections are ignored entirely
    const err = await sfauthRejectionOf(resolveWith({ connection: 'other' }));
    expect(err.code).toBe('ERR_CONNECTION_NOT_FOUND');
  });

  it('reads [connections.name] from config.toml when there is no connections.toml', async () => {
    await put(join(sfHome, 'config.toml'), 'default_connection_name = "prod"\n[connections.prod]\naccount = "p"\nusername = "legacy"\n');
    const conn = await resolveWith();
    expect(conn).toMatchObject({ name: 'prod', account: 'p', user: 'legacy' });
    expect(conn.origins.account).toBe('config.toml [connections.prod]');
  });

  it('default_connection_name in connections.toml is accepted; config.toml one wins', async () => {
    await put(join(sfHome, 'connections.toml'), 'default_connection_name = "b"\n[a]\naccount = "A"\n[b]\naccount = "B"\n');
    expect((await resolveWith()).account).toBe('B');
    await put(join(sfHome, 'config.toml'), 'default_connection_name = "a"\n');
    expect((await resolveWith()).account).toBe('A');
  });

  it('-c beats SNOWFLAKE_DEFAULT_CONNECTION_NAME beats default_connection_name beats [default]', async () => {
    await put(
      join(sfHome, 'connections.toml'),
      '[default]\naccount = "D"\n[a]\naccount = "A"\n[b]\naccount = "B"\n[c]\naccount = "C"\n',
    );
    expect((await resolveWith()).account).toBe('D');
    await put(join(sfHome, 'config.toml'), 'default_connection_name = "a"\n');
    expect((await resolveWith()).account).toBe('A');
    expect((await resolveWith({}, { SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'b' })).account).toBe('B');
    const conn = await resolveWith({ connection: 'c' }, { SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'b' });
    expect(conn).toMatchObject({ account: 'C', name: 'c' });
    expect(conn.origins.connection).toBe('--connection');
  });

  it('without -c, default name or [default], no connection is used', async () => {
    await put(join(sfHome, 'connections.toml'), '[a]\naccount = "A"\n');
    const conn = await resolveWith();
    expect(conn.name).toBeUndefined();
    expect(conn.account).toBeUndefined();
  });

  it('-c NAME that does not exist lists the names and the file', async () => {
    await put(join(sfHome, 'connections.toml'), '[alpha]\naccount = "A"\n[beta]\naccount = "B"\n');
    const err = await sfauthRejectionOf(resolveWith({ connection: 'gamma' }));
    expect(err.code).toBe('ERR_CONNECTION_NOT_FOUND');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain("'gamma'");
    expect(err.message).toContain('alpha, beta');
    expect(err.message).toContain(join(sfHome, 'connections.toml'));
  });

  it('a missing connection named by SNOWFLAKE_DEFAULT_CONNECTION_NAME is an error too', async () => {
    const err = await sfauthRejectionOf(resolveWith({}, { SNOWFLAKE_DEFAULT_CONNECTION_NAME: 'nope' }));
    expect(err.code).toBe('ERR_CONNECTION_NOT_FOUND');
    expect(err.message).toContain('SNOWFLAKE_DEFAULT_CONNECTION_NAME');
    expect(err.message).toContain('no connections are defined');
  });
});

describe('precedence and overrides', () => {
  const toml = `[loader]
account = "file-acct"
user = "file-user"
host = "file.example.com"
role = "FILE_ROLE"
warehouse = "FILE_WH"
authenticator = "snowflake_jwt"
unknown_key = 42
`;

  it('flag > env > connection file, per field', async () => {
    await put(join(sfHome, 'connections.toml'), toml);
    const conn = await resolveWith(
      { connection: 'loader', account: 'flag-acct' },
      { SNOWFLAKE_ACCOUNT: 'env-acct', SNOWFLAKE_USER: 'env-user', SNOWFLAKE_ROLE: 'ENV_ROLE' },
    );
    expect(conn).toMatchObject({
      account: 'flag-acct',
      user: 'env-user',
      role: 'ENV_ROLE',
      host: 'file.example.com',
      warehouse: 'FILE_WH',
      authenticator: 'SNOWFLAKE_JWT',
    });
    expect(conn.origins).toMatchObject({
      account: '--account',
      user: 'SNOWFLAKE_USER',
      role: 'SNOWFLAKE_ROLE',
      host: 'connections.toml [loader]',
      warehouse: 'connections.toml [loader]',
    });
  });

  it('SNOWFLAKE_CONNECTIONS_<NAME>_<KEY> overrides a key of that connection only', async () => {
    await put(join(sfHome, 'connections.toml'), toml + '[other]\naccount = "other"\n');
    const env = { SNOWFLAKE_CONNECTIONS_LOADER_ACCOUNT: 'override-acct', SNOWFLAKE_CONNECTIONS_OTHER_ROLE: 'X' };
    const conn = await resolveWith({ connection: 'loader' }, env);
    expect(conn.account).toBe('override-acct');
    expect(conn.origins.account).toBe('SNOWFLAKE_CONNECTIONS_LOADER_ACCOUNT');
    expect(conn.role).toBe('FILE_ROLE');
    // generic env still beats the per-connection override
    expect((await resolveWith({ connection: 'loader' }, { ...env, SNOWFLAKE_ACCOUNT: 'g' })).account).toBe('g');
  });

  it('SNOWFLAKE_CONNECTIONS_<NAME>_<KEY> can define a connection no file has', async () => {
    const conn = await resolveWith(
      { connection: 'ci' },
      { SNOWFLAKE_CONNECTIONS_CI_ACCOUNT: 'ci-acct', SNOWFLAKE_CONNECTIONS_CI_PRIVATE_KEY_FILE: 'keys/ci.p8' },
    );
    expect(conn.name).toBe('ci');
    expect(conn.configFile).toBeUndefined();
    expect(conn.account).toBe('ci-acct');
    expect(conn.privateKey).toEqual({
      kind: 'file',
      path: join(cwd, 'keys', 'ci.p8'),
      origin: 'SNOWFLAKE_CONNECTIONS_CI_PRIVATE_KEY_FILE',
    });
  });

  it('requireValue names the flag, the variable and -c', async () => {
    const conn = await resolveWith();
    const err = sfauthErrorOf(() => requireValue(conn, 'account'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe('missing account: pass --account or set SNOWFLAKE_ACCOUNT (or use -c NAME)');
    expect(sfauthErrorOf(() => requireValue(conn, 'user')).message).toContain('SNOWFLAKE_USER');
    expect(requireValue({ ...conn, user: 'u' }, 'user')).toBe('u');
  });

  it('an empty flag value is a usage error', async () => {
    const err = await sfauthRejectionOf(resolveWith({ account: '' }));
    expect(err.code).toBe('ERR_USAGE');
    expect(err.message).toContain('--account');
  });
});

describe('private key', () => {
  it('flags: first given, relative to cwd; - is stdin', async () => {
    const a = await resolveWith({ privateKeyFile: 'k.p8', privateKeyPath: 'other.p8' });
    expect(a.privateKey).toEqual({ kind: 'file', path: join(cwd, 'k.p8'), origin: '--private-key-file' });
    const b = await resolveWith({ privateKey: '-' }, { SNOWFLAKE_PRIVATE_KEY_FILE: '/env.p8' });
    expect(b.privateKey).toEqual({ kind: 'stdin', origin: '--private-key' });
    expect(b.origins.privateKey).toBe('--private-key');
  });

  it('order: flag > env FILE > env PATH > env RAW > connection file/path > connection raw', async () => {
    await put(
      join(sfHome, 'connections.toml'),
      '[default]\nprivate_key_raw = "-----BEGIN PRIVATE KEY-----\\nCONN\\n-----END PRIVATE KEY-----"\n' +
        '[withfile]\nprivate_key_path = "keys/p.p8"\nprivate_key_raw = "ignored"\n',
    );
    const env = {
      SNOWFLAKE_PRIVATE_KEY_FILE: 'envfile.p8',
      SNOWFLAKE_PRIVATE_KEY_PATH: 'envpath.p8',
      SNOWFLAKE_PRIVATE_KEY_RAW: 'RAW-PEM',
    };
    expect((await resolveWith({ privateKey: 'f.p8' }, env)).privateKey).toMatchObject({ path: join(cwd, 'f.p8') });
    expect((await resolveWith({}, env)).privateKey).toMatchObject({ path: join(cwd, 'envfile.p8'), origin: 'SNOWFLAKE_PRIVATE_KEY_FILE' });
    const { SNOWFLAKE_PRIVATE_KEY_FILE: _f, ...noFile } = env;
    expect((await resolveWith({}, noFile)).privateKey).toMatchObject({ path: join(cwd, 'envpath.p8') });
    expect((await resolveWith({}, { SNOWFLAKE_PRIVATE_KEY_RAW: 'RAW-PEM' })).privateKey).toEqual({
      kind: 'raw',
      pem: 'RAW-PEM',
      origin: 'SNOWFLAKE_PRIVATE_KEY_RAW',
    });
    const fromConn = await resolveWith();
    expect(fromConn.privateKey).toEqual({
      kind: 'raw',
      pem: '-----BEGIN PRIVATE KEY-----\nCONN\n-----END PRIVATE KEY-----',
      origin: 'connections.toml [default]',
    });
    expect(fromConn.origins.privateKey).toBe('connections.toml [default]');
    expect((await resolveWith({ connection: 'withfile' })).privateKey).toEqual({
      kind: 'file',
      path: join(sfHome, 'keys', 'p.p8'),
      origin: 'connections.toml [withfile]',
    });
  });

  it('config paths: ~ expanded, relative to the config folder; env/flag ~ expanded too', async () => {
    await put(
      join(sfHome, 'connections.toml'),
      '[tilde]\nprivate_key_file = "~/.ssh/sf.p8"\n[rel]\nprivate_key_file = "../keys/k.p8"\n[abs]\nprivate_key_file = "/opt/k.p8"\n',
    );
    expect((await resolveWith({ connection: 'tilde' })).privateKey).toMatchObject({ path: join(home, '.ssh', 'sf.p8') });
    expect((await resolveWith({ connection: 'rel' })).privateKey).toMatchObject({ path: join(root, 'keys', 'k.p8') });
    expect((await resolveWith({ connection: 'abs' })).privateKey).toMatchObject({ path: '/opt/k.p8' });
    expect((await resolveWith({}, { SNOWFLAKE_PRIVATE_KEY_FILE: '~/k.p8' })).privateKey).toMatchObject({
      path: join(home, 'k.p8'),
    });
    expect((await resolveWith({ privateKey: './sub/../k.p8' })).privateKey).toMatchObject({ path: join(cwd, 'k.p8') });
  });
});

describe('passphrase', () => {
  it('--passphrase-file is the bytes of its first line, as openssl -passin file: reads it', async () => {
    await put(join(cwd, 'p1'), 'secret one\n');
    await put(join(cwd, 'p2'), 'secret two\r\n');
    await put(join(cwd, 'p3'), ' spaced \n\nsecond line\n');
    expect((await resolveWith({ passphraseFile: 'p1' })).passphrase).toEqual({ value: Buffer.from('secret one'), origin: '--passphrase-file' });
    expect((await resolveWith({ passphraseFile: 'p2' })).passphrase?.value.toString()).toBe('secret two\r');
    expect((await resolveWith({ passphraseFile: join(cwd, 'p3') })).passphrase?.value.toString()).toBe(' spaced ');
  });

  it('order: file > PRIVATE_KEY_PASSPHRASE > SNOWFLAKE_PRIVATE_KEY_PASSPHRASE > connection pwd > passphrase', async () => {
    await put(
      join(sfHome, 'connections.toml'),
      '[default]\nprivate_key_file_pwd = "conn-pwd"\nprivate_key_passphrase = "conn-pass"\n[b]\nprivate_key_passphrase = "b-pass"\n',
    );
    await put(join(cwd, 'pf'), 'file-pass\n');
    const env = { PRIVATE_KEY_PASSPHRASE: 'env1', SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'env2' };
    expect((await resolveWith({ passphraseFile: 'pf' }, env)).passphrase?.value.toString()).toBe('file-pass');
    expect((await resolveWith({}, env)).passphrase).toEqual({ value: Buffer.from('env1'), origin: 'PRIVATE_KEY_PASSPHRASE' });
    expect((await resolveWith({}, { SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'env2' })).passphrase?.value.toString()).toBe('env2');
    expect((await resolveWith()).passphrase).toEqual({ value: Buffer.from('conn-pwd'), origin: 'connections.toml [default]' });
    expect((await resolveWith({ connection: 'b' })).passphrase?.value.toString()).toBe('b-pass');
  });

  it('a missing --passphrase-file is ERR_FILE_NOT_FOUND naming the path and flag', async () => {
    const err = await sfauthRejectionOf(resolveWith({ passphraseFile: 'nope.txt' }));
    expect(err.code).toBe('ERR_FILE_NOT_FOUND');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('--passphrase-file');
    expect(err.message).toContain(join(cwd, 'nope.txt'));
  });
});

describe('token', () => {
  it('--token-file (trimmed) > SNOWFLAKE_TOKEN > connection token > token_file_path', async () => {
    await put(join(cwd, 'tok'), '  file-token \n');
    await put(join(sfHome, 'pat.txt'), 'path-token\n');
    await put(
      join(sfHome, 'connections.toml'),
      '[default]\ntoken = "conn-token"\ntoken_file_path = "pat.txt"\n[viafile]\ntoken_file_path = "pat.txt"\nauthenticator = "programmatic_access_token"\n',
    );
    const env = { SNOWFLAKE_TOKEN: 'env-token' };
    expect((await resolveWith({ tokenFile: 'tok' }, env)).token).toEqual({ value: 'file-token', origin: '--token-file' });
    expect((await resolveWith({}, env)).token).toEqual({ value: 'env-token', origin: 'SNOWFLAKE_TOKEN' });
    expect((await resolveWith()).token?.value).toBe('conn-token');
    const viaFile = await resolveWith({ connection: 'viafile' });
    expect(viaFile.token?.value).toBe('path-token');
    expect(viaFile.authenticator).toBe('PROGRAMMATIC_ACCESS_TOKEN');
    expect(viaFile.tokenType).toBe('pat');
    expect(viaFile.origins.tokenType).toBe('connections.toml [viafile]');
  });

  it('token type: --token-type, else from authenticator, else undefined', async () => {
    expect((await resolveWith({ tokenType: 'PAT' }, { SNOWFLAKE_TOKEN: 't' })).tokenType).toBe('pat');
    const oauth = await resolveWith({}, { SNOWFLAKE_TOKEN: 't', SNOWFLAKE_AUTHENTICATOR: 'oauth' });
    expect(oauth).toMatchObject({ tokenType: 'oauth', authenticator: 'OAUTH' });
    expect(oauth.origins.tokenType).toBe('SNOWFLAKE_AUTHENTICATOR');
    expect((await resolveWith({ tokenType: 'oauth' }, { SNOWFLAKE_AUTHENTICATOR: 'PROGRAMMATIC_ACCESS_TOKEN' })).tokenType).toBe('oauth');
    const untyped = await resolveWith({}, { SNOWFLAKE_TOKEN: 't' });
    expect(untyped.token?.value).toBe('t');
    expect(untyped.tokenType).toBeUndefined();
  });

  it('bad --token-type, empty token and missing --token-file are usage errors', async () => {
    const bad = await sfauthRejectionOf(resolveWith({ tokenType: 'jwt' }));
    expect(bad.code).toBe('ERR_USAGE');
    expect(bad.exitCode).toBe(2);
    await put(join(cwd, 'empty'), '\n  \n');
    const empty = await sfauthRejectionOf(resolveWith({ tokenFile: 'empty' }));
    expect(empty.exitCode).toBe(2);
    expect(empty.code).toBe('ERR_TOKEN_EMPTY');
    expect((await sfauthRejectionOf(resolveWith({}, { SNOWFLAKE_TOKEN: '  ' }))).code).toBe('ERR_TOKEN_EMPTY');
    const missing = await sfauthRejectionOf(resolveWith({ tokenFile: 'gone' }));
    expect(missing.code).toBe('ERR_FILE_NOT_FOUND');
    expect(missing.message).toContain('--token-file');
    expect(missing.message).toContain(join(cwd, 'gone'));
  });
});

describe('config file checks', () => {
  it('warns when a file with secrets is readable by others, without the secret', async () => {
    const path = await put(join(sfHome, 'connections.toml'), '[default]\naccount = "a"\ntoken = "TOPSECRET-123"\n', 0o644);
    const conn = await resolveWith();
    expect(conn.warnings).toHaveLength(1);
    expect(conn.warnings[0]).toBe(`connections.toml is readable by others (mode 0644) and holds secrets; run chmod 0600 ${path}`);
    expect(JSON.stringify(conn.warnings)).not.toContain('TOPSECRET');
    expect(JSON.stringify(conn.origins)).not.toContain('TOPSECRET');
  });

  it('group-readable counts; 0600 or no secrets means no warning', async () => {
    const path = join(sfHome, 'connections.toml');
    await put(path, '[default]\nprivate_key_file_pwd = "x"\n', 0o640);
    expect((await resolveWith()).warnings[0]).toContain('readable by its group (mode 0640)');
    await put(path, '[default]\nprivate_key_file_pwd = "x"\n', 0o600);
    expect((await resolveWith()).warnings).toEqual([]);
    await put(path, '[default]\naccount = "a"\nprivate_key_file = "k.p8"\n', 0o644);
    expect((await resolveWith()).warnings).toEqual([]);
  });

  it('malformed TOML is ERR_CONFIG_INVALID with the file and line, no code excerpt', async () => {
    const path = await put(join(sfHome, 'connections.toml'), '[default]\naccount = "a"\ntoken = "SECRET\n');
    const err = await sfauthRejectionOf(resolveWith());
    expect(err.code).toBe('ERR_CONFIG_INVALID');
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/line 3\b/);
    expect(err.message).not.toContain('\n');
    expect(err.message).not.toContain('SECRET');
    expect(err.data).toMatchObject({ file: path, line: 3 });
  });

  it('malformed config.toml is reported too', async () => {
    const path = await put(join(sfHome, 'config.toml'), 'default_connection_name = "a"\n[connections.a\n');
    const err = await sfauthRejectionOf(resolveWith());
    expect(err.code).toBe('ERR_CONFIG_INVALID');
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/line 2\b/);
  });
});
