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
  const at = (exists: (p: string) => boolean, platform: NodeJS.Platform = 'linux') => ({ homeDir: '/h', cwd: '/w', exists, platform });
  it('uses $SNOWFLAKE_HOME when set and it exists (with ~ expanded; relative to the current folder)', () => {
    expect(snowflakeHome({ SNOWFLAKE_HOME: '/x/y' }, at(() => true))).toBe('/x/y');
    expect(snowflakeHome({ SNOWFLAKE_HOME: '~/sf' }, at(() => true))).toBe(join('/h', 'sf'));
    expect(snowflakeHome({ SNOWFLAKE_HOME: 'rel' }, at(() => true))).toBe(join('/w', 'rel'));
    expect(snowflakeHome({ SNOWFLAKE_HOME: '' }, at(() => true))).toBe('/w'); // Python's Path("") is "."
  });
  it('uses ~/.snowflake when SNOWFLAKE_HOME is unset and it exists', () => {
    const seen: string[] = [];
    const got = snowflakeHome({}, at((p) => (seen.push(p), p === join('/h', '.snowflake'))));
    expect(got).toBe(join('/h', '.snowflake'));
    expect(seen).toEqual([join('/h', '.snowflake')]);
  });
  it('falls back to the platform folder (never to ~/.snowflake when SNOWFLAKE_HOME is set but missing)', () => {
    expect(snowflakeHome({ SNOWFLAKE_HOME: '/missing' }, at((p) => p === join('/h', '.snowflake')))).toBe(join('/h', '.config', 'snowflake'));
    expect(snowflakeHome({ XDG_CONFIG_HOME: '/xdg' }, at(() => false))).toBe('/xdg/snowflake');
    expect(snowflakeHome({ XDG_CONFIG_HOME: '  ' }, at(() => false))).toBe(join('/h', '.config', 'snowflake'));
    expect(snowflakeHome({}, at(() => false, 'darwin'))).toBe(join('/h', 'Library', 'Application Support', 'snowflake'));
    expect(snowflakeHome({ LOCALAPPDATA: '/lad' }, at(() => false, 'win32'))).toBe(join('/lad', 'snowflake'));
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

  it('default_connection_name counts only in config.toml (in connections.toml it is ignored)', async () => {
    await put(join(sfHome, 'connections.toml'), 'default_connection_name = "b"\n[a]\naccount = "A"\n[b]\naccount = "B"\n');
    expect((await resolveWith()).name).toBeUndefined();
    await put(join(sfHome, 'config.toml'), 'default_connection_name = "a"\n');
    const conn = await resolveWith();
    expect(conn.account).toBe('A');
    expect(conn.files).toEqual([join(sfHome, 'config.toml'), join(sfHome, 'connections.toml')]);
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

  it('flag > connection > generic variable, per field', async () => {
    await put(join(sfHome, 'connections.toml'), toml);
    const conn = await resolveWith(
      { connection: 'loader', account: 'flag-acct' },
      { SNOWFLAKE_ACCOUNT: 'env-acct', SNOWFLAKE_USER: 'env-user', SNOWFLAKE_ROLE: 'ENV_ROLE' },
    );
    expect(conn).toMatchObject({
      account: 'flag-acct',
      user: 'file-user',
      role: 'FILE_ROLE',
      host: 'file.example.com',
      warehouse: 'FILE_WH',
      authenticator: 'SNOWFLAKE_JWT',
    });
    expect(conn.origins).toMatchObject({
      account: '--account',
      user: 'connections.toml [loader]',
      role: 'connections.toml [loader]',
      host: 'connections.toml [loader]',
      warehouse: 'connections.toml [loader]',
    });
    // the generic variables fill only what the connection leaves out
    await put(join(sfHome, 'connections.toml'), '[loader]\naccount = "file-acct"\n');
    const filled = await resolveWith({ connection: 'loader' }, { SNOWFLAKE_USER: 'env-user', SNOWFLAKE_ACCOUNT: 'env-acct', SNOWFLAKE_ROLE: '' });
    expect(filled).toMatchObject({ account: 'file-acct', user: 'env-user' });
    expect(filled.role).toBeUndefined();
    expect(filled.origins.user).toBe('SNOWFLAKE_USER');
  });

  it('SNOWFLAKE_CONNECTIONS_<NAME>_<KEY> overrides a key of that connection only', async () => {
    await put(join(sfHome, 'connections.toml'), toml + '[other]\naccount = "other"\n');
    const env = { SNOWFLAKE_CONNECTIONS_LOADER_ACCOUNT: 'override-acct', SNOWFLAKE_CONNECTIONS_OTHER_ROLE: 'X' };
    const conn = await resolveWith({ connection: 'loader' }, env);
    expect(conn.account).toBe('override-acct');
    expect(conn.origins.account).toBe('SNOWFLAKE_CONNECTIONS_LOADER_ACCOUNT');
    expect(conn.role).toBe('FILE_ROLE');
    // the per-connection override beats the generic variable
    expect((await resolveWith({ connection: 'loader' }, { ...env, SNOWFLAKE_ACCOUNT: 'g' })).account).toBe('override-acct');
  });

  it('SNOWFLAKE_CONNECTIONS_<NAME>_<KEY> cannot define a connection no file has (as in snow); the hint says so', async () => {
    const err = await sfauthRejectionOf(resolveWith({ connection: 'ci' }, { SNOWFLAKE_CONNECTIONS_CI_ACCOUNT: 'ci-acct' }));
    expect(err.code).toBe('ERR_CONNECTION_NOT_FOUND');
    expect(err.hint).toMatch(/SNOWFLAKE_CONNECTIONS_CI_\* variables only override a connection a file defines/);
  });

  it('SNOWFLAKE_CONNECTIONS (a whole connections.toml) replaces the files; no per-key overrides apply to it', async () => {
    await put(join(sfHome, 'connections.toml'), '[ci]\naccount = "from-file"\n');
    const env = { SNOWFLAKE_CONNECTIONS: '[ci]\naccount = "from-var"\nuser = "CI"\n', SNOWFLAKE_CONNECTIONS_CI_USER: 'IGNORED' };
    const conn = await resolveWith({ connection: 'ci' }, env);
    expect(conn).toMatchObject({ account: 'from-var', user: 'CI' });
    expect(conn.origins.account).toBe('SNOWFLAKE_CONNECTIONS [ci]');
    expect(conn.files).toEqual([]);
    const bad = await sfauthRejectionOf(resolveWith({ connection: 'ci' }, { SNOWFLAKE_CONNECTIONS: '[ci\naccount = "SECRET"' }));
    expect(bad.code).toBe('ERR_CONFIG_INVALID');
    expect(bad.message).toMatch(/^invalid TOML in SNOWFLAKE_CONNECTIONS/);
    expect(bad.message).not.toContain('SECRET');
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

  it('order: flag > connection file/path > env FILE > env PATH > connection raw > env RAW', async () => {
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
    // a key file from the variables beats the connection's raw key
    expect((await resolveWith({}, env)).privateKey).toMatchObject({ path: join(cwd, 'envfile.p8'), origin: 'SNOWFLAKE_PRIVATE_KEY_FILE' });
    const { SNOWFLAKE_PRIVATE_KEY_FILE: _f, ...noFile } = env;
    expect((await resolveWith({}, noFile)).privateKey).toMatchObject({ path: join(cwd, 'envpath.p8') });
    // the connection's raw key beats the variable's
    expect((await resolveWith({}, { SNOWFLAKE_PRIVATE_KEY_RAW: 'RAW-PEM' })).privateKey).toMatchObject({ kind: 'raw', origin: 'connections.toml [default]' });
    expect((await resolveWith({ connection: 'withfile' }, env)).privateKey).toMatchObject({ path: join(cwd, 'keys', 'p.p8') });
    await put(join(sfHome, 'connections.toml'), '[other]\naccount = "x"\n');
    expect((await resolveWith({}, { SNOWFLAKE_PRIVATE_KEY_RAW: 'RAW-PEM' })).privateKey).toEqual({
      kind: 'raw',
      pem: 'RAW-PEM',
      origin: 'SNOWFLAKE_PRIVATE_KEY_RAW',
      original: 'RAW-PEM',
    });
    await put(
      join(sfHome, 'connections.toml'),
      '[default]\nprivate_key_raw = "-----BEGIN PRIVATE KEY-----\\nCONN\\n-----END PRIVATE KEY-----"\n' +
        '[withfile]\nprivate_key_path = "keys/p.p8"\nprivate_key_raw = "ignored"\n',
    );
    const fromConn = await resolveWith();
    expect(fromConn.privateKey).toEqual({
      kind: 'raw',
      pem: '-----BEGIN PRIVATE KEY-----\nCONN\n-----END PRIVATE KEY-----',
      origin: 'connections.toml [default]',
      original: '-----BEGIN PRIVATE KEY-----\nCONN\n-----END PRIVATE KEY-----',
    });
    expect(fromConn.origins.privateKey).toBe('connections.toml [default]');
    expect((await resolveWith({ connection: 'withfile' })).privateKey).toEqual({
      kind: 'file',
      path: join(cwd, 'keys', 'p.p8'),
      origin: 'connections.toml [withfile]',
    });
  });

  it('config paths: ~ expanded, relative to the current folder (as snow opens them); env/flag ~ expanded too', async () => {
    await put(
      join(sfHome, 'connections.toml'),
      '[tilde]\nprivate_key_file = "~/.ssh/sf.p8"\n[rel]\nprivate_key_file = "../keys/k.p8"\n[abs]\nprivate_key_file = "/opt/k.p8"\n',
    );
    expect((await resolveWith({ connection: 'tilde' })).privateKey).toMatchObject({ path: join(home, '.ssh', 'sf.p8') });
    expect((await resolveWith({ connection: 'rel' })).privateKey).toMatchObject({ path: join(root, 'keys', 'k.p8') }); // cwd is root/work
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

  it('order: file > PRIVATE_KEY_PASSPHRASE > SNOWFLAKE_PRIVATE_KEY_PASSPHRASE > the connection (of its two aliases, the later)', async () => {
    await put(
      join(sfHome, 'connections.toml'),
      '[default]\nprivate_key_file_pwd = "conn-pwd"\nprivate_key_passphrase = "conn-pass"\n[b]\nprivate_key_passphrase = "b-pass"\n',
    );
    await put(join(cwd, 'pf'), 'file-pass\n');
    const env = { PRIVATE_KEY_PASSPHRASE: 'env1', SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'env2' };
    expect((await resolveWith({ passphraseFile: 'pf' }, env)).passphrase?.value.toString()).toBe('file-pass');
    expect((await resolveWith({}, env)).passphrase).toEqual({ value: Buffer.from('env1'), origin: 'PRIVATE_KEY_PASSPHRASE' });
    expect((await resolveWith({}, { SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'env2' })).passphrase?.value.toString()).toBe('env2');
    expect((await resolveWith()).passphrase).toEqual({ value: Buffer.from('conn-pass'), origin: 'connections.toml [default]' });
    // set but empty is an (empty) passphrase, not "unset"
    expect((await resolveWith({}, { PRIVATE_KEY_PASSPHRASE: '' })).passphrase).toEqual({ value: Buffer.alloc(0), origin: 'PRIVATE_KEY_PASSPHRASE' });
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
  it('--token-file (trimmed) > connection token > token_file_path > SNOWFLAKE_TOKEN > SNOWFLAKE_TOKEN_FILE_PATH', async () => {
    await put(join(cwd, 'tok'), '  file-token \n');
    await put(join(sfHome, 'pat.txt'), 'path-token\n');
    await put(join(cwd, 'pat.txt'), 'path-token\n');
    await put(
      join(sfHome, 'connections.toml'),
      '[default]\ntoken = "conn-token"\ntoken_file_path = "pat.txt"\n[viafile]\ntoken_file_path = "pat.txt"\nauthenticator = "programmatic_access_token"\n',
    );
    const env = { SNOWFLAKE_TOKEN: 'env-token' };
    expect((await resolveWith({ tokenFile: 'tok' }, env)).token).toEqual({ value: 'file-token', origin: '--token-file' });
    expect((await resolveWith({}, env)).token).toEqual({ value: 'conn-token', origin: 'connections.toml [default]' });
    const viaFile = await resolveWith({ connection: 'viafile' }, env);
    expect(viaFile.token?.value).toBe('path-token');
    expect(viaFile.authenticator).toBe('PROGRAMMATIC_ACCESS_TOKEN');
    expect(viaFile.tokenType).toBe('pat');
    expect(viaFile.origins.tokenType).toBe('connections.toml [viafile]');
    await put(join(sfHome, 'connections.toml'), '[other]\naccount = "x"\n');
    expect((await resolveWith({}, env)).token).toEqual({ value: 'env-token', origin: 'SNOWFLAKE_TOKEN' });
    expect((await resolveWith({}, { SNOWFLAKE_TOKEN_FILE_PATH: join(sfHome, 'pat.txt') })).token).toEqual({ value: 'path-token', origin: 'SNOWFLAKE_TOKEN_FILE_PATH' });
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
    expect((await resolveWith({}, { SNOWFLAKE_TOKEN: '' })).token).toBeUndefined(); // generic variables: empty is unset
    const missing = await sfauthRejectionOf(resolveWith({ tokenFile: 'gone' }));
    expect(missing.code).toBe('ERR_FILE_NOT_FOUND');
    expect(missing.message).toContain('--token-file');
    expect(missing.message).toContain(join(cwd, 'gone'));
  });
});

describe('config file checks', () => {
  it('a used config file that others can read or write is refused (exit 2), without the secret', async () => {
    const path = await put(join(sfHome, 'connections.toml'), '[default]\naccount = "a"\ntoken = "TOPSECRET-123"\n', 0o644);
    const err = await sfauthRejectionOf(resolveWith());
    expect(err.code).toBe('ERR_CONFIG_PERMISSIONS');
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(`${path} is readable by others (mode 0644); the Snowflake CLI refuses such a config file, and so does sfauth`);
    expect(err.hint).toBe(`run chmod 0600 ${path}`);
    expect(JSON.stringify(err)).not.toContain('TOPSECRET');
  });

  it('group-readable or -writable counts, secrets or not; 0600 and 0700 pass', async () => {
    const path = join(sfHome, 'connections.toml');
    for (const [mode, words] of [[0o640, 'readable by its group (mode 0640)'], [0o620, 'writable by its group (mode 0620)'], [0o606, 'writable by others (mode 0606)']] as const) {
      await put(path, '[default]\naccount = "a"\n', mode);
      expect((await sfauthRejectionOf(resolveWith())).message, String(mode)).toContain(words);
    }
    for (const mode of [0o600, 0o400, 0o700]) {
      await put(path, '[default]\naccount = "a"\n', mode);
      expect((await resolveWith()).warnings).toEqual([]);
    }
  });

  it('only files whose content is used are checked', async () => {
    await put(join(sfHome, 'connections.toml'), '[other]\naccount = "a"\n', 0o644);
    const conn = await resolveWith({ account: 'x' });
    expect(conn.name).toBeUndefined();
    expect(conn.files).toEqual([]);
    expect((await sfauthRejectionOf(resolveWith({ connection: 'other' }))).code).toBe('ERR_CONFIG_PERMISSIONS');
  });

  it('SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION lets a readable file through with a warning; writable never', async () => {
    const path = join(sfHome, 'connections.toml');
    await put(path, '[default]\naccount = "a"\n', 0o644);
    const conn = await resolveWith({}, { SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION: 'true' });
    expect(conn.warnings).toEqual([`${path} is readable by others (mode 0644); allowed by SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION`]);
    await put(path, '[default]\naccount = "a"\n', 0o664);
    expect((await sfauthRejectionOf(resolveWith({}, { SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION: 'true' }))).code).toBe('ERR_CONFIG_PERMISSIONS');
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
