/**
 * Flags + the connection + the environment → one resolved connection, with where each value came
 * from (DESIGN.md §4), exactly as the Snowflake CLI resolves it (snowflake-cli
 * `_app/snow_connector.py` `connect_to_snowflake`, `api/config.py` `get_config_section`):
 *
 * - which connection: `-c NAME`, else `SNOWFLAKE_DEFAULT_CONNECTION_NAME` (set to "" is an error, as
 *   in `snow`), else config.toml's `default_connection_name`, else `default`; a name that no file
 *   defines is an error, also when `SNOWFLAKE_CONNECTIONS_<NAME>_*` variables exist for it;
 * - per setting: flag > the connection (its file's keys, each overridden by
 *   `SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>`, NAME upper-cased as written) > the generic
 *   `SNOWFLAKE_<KEY>` variables, which only fill what the connection leaves out;
 * - the private key: a key file (flag, connection or SNOWFLAKE_PRIVATE_KEY_FILE/_PATH) over
 *   `private_key_raw`, wherever the raw key comes from; of `private_key_file` and its alias
 *   `private_key_path` in one connection, the later wins; relative paths are relative to the current
 *   folder;
 * - the passphrase: `--passphrase-file`, then PRIVATE_KEY_PASSPHRASE (set to "" means an empty
 *   passphrase, an error for an encrypted key, as in `snow`), then the connection's.
 *
 * Where sfauth is more lenient than `snow` it can never pick another account, user or key (README
 * "Connections and environment"). Secrets never go into origins, warnings or errors.
 */
import { resolve } from 'node:path';
import { KEY_FILE_CAP, readInputFile, SECRET_FILE_CAP } from '../io/files.js';
import { passphraseFromInputs, type Passphrase } from '../io/load-key.js';
import { UsageError } from '../errors.js';
import {
  envValue,
  expandHome,
  loadSnowflakeConfig,
  permissionProblem,
  resolvePath,
  snowflakeHome,
  type ConfigFile,
  type ConnectionKey,
  type Env,
  type SnowflakeConfig,
} from './files.js';

export interface ConnectionFlags {
  connection?: string;
  account?: string;
  user?: string;
  privateKey?: string;
  privateKeyFile?: string;
  privateKeyPath?: string;
  passphraseFile?: string;
  tokenFile?: string;
  tokenType?: string;
  host?: string;
  role?: string;
  warehouse?: string;
}

export type Source = 'flag' | 'env' | 'connection';

export type OriginField =
  | 'connection'
  | 'account'
  | 'user'
  | 'host'
  | 'role'
  | 'warehouse'
  | 'authenticator'
  | 'privateKey'
  | 'passphrase'
  | 'token'
  | 'tokenType';

export type PrivateKeySource =
  | { kind: 'file'; path: string; origin: string }
  | { kind: 'stdin'; origin: string }
  /** `original`: the text as given, before `\n` escapes were undone (doctor judges the form). */
  | { kind: 'raw'; pem: string; origin: string; original?: string };

export interface ResolvedConnection {
  /** The connection used, if any. */
  name?: string;
  /** The file that defines it (absent for one from SNOWFLAKE_CONNECTIONS). */
  configFile?: string;
  /** The config files whose content was used (the connection's, config.toml for the default name). */
  files: string[];
  account?: string;
  user?: string;
  host?: string;
  role?: string;
  warehouse?: string;
  /** Upper-cased: SNOWFLAKE_JWT | OAUTH | PROGRAMMATIC_ACCESS_TOKEN | … */
  authenticator?: string;
  privateKey?: PrivateKeySource;
  passphrase?: Passphrase;
  token?: { value: string; origin: string };
  tokenType?: 'oauth' | 'pat';
  /** Where each value came from, for messages: '--account', 'SNOWFLAKE_ACCOUNT', 'connections.toml [loader]'. */
  origins: Partial<Record<OriginField, string>>;
  /** For the caller to print on stderr. */
  warnings: string[];
}

export interface ResolveOptions {
  cwd: string;
  homeDir: string;
  /** Existence test for the folder rule (default fs.existsSync). */
  exists?: (p: string) => boolean;
  /** Default process.platform (folder rule, permission check). */
  platform?: NodeJS.Platform;
}

/** What `origins` says came from where; `sourceOf` maps it back to flag / env / connection. */
export function sourceOf(origin: string): Source {
  if (origin.startsWith('-')) return 'flag';
  if (/^[A-Z][A-Z0-9_]*$/.test(origin) && !origin.startsWith('SNOWFLAKE_CONNECTIONS_')) return 'env';
  return 'connection';
}

export interface ConnectionReport {
  name: string | null;
  files: string[];
  sources: Partial<Record<Exclude<OriginField, 'connection'>, string>>;
}

/** What `--json` says about the connection: its name, the files used, and where each setting came from. */
export function connectionReport(conn: ResolvedConnection): ConnectionReport {
  const { connection: _named, ...sources } = conn.origins;
  return { name: conn.name ?? null, files: conn.files, sources };
}

const SOURCE_WORDS: Record<Exclude<OriginField, 'connection'>, string> = {
  account: 'account',
  user: 'user',
  host: 'host',
  role: 'role',
  warehouse: 'warehouse',
  authenticator: 'authenticator',
  privateKey: 'private key',
  passphrase: 'passphrase',
  token: 'token',
  tokenType: 'token type',
};

/** `account connections.toml [dev]; user SNOWFLAKE_USER; …` for human output. */
export function describeSources(report: ConnectionReport): string {
  return Object.entries(report.sources)
    .map(([field, origin]) => `${SOURCE_WORDS[field as keyof typeof SOURCE_WORDS]} ${origin}`)
    .join('; ');
}

// ---------------------------------------------------------------------------------------------
// The connection: its file's keys in order, each overridden by SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>.

interface LayerValue {
  value: string;
  /** Label for messages, never the value. */
  origin: string;
}

/** Keys in the order `snow` merges them: a file key keeps its place when overridden, new ones go last. */
type Layer = Map<ConnectionKey, LayerValue>;

function buildLayer(name: string, config: SnowflakeConfig, env: Env): Layer | undefined {
  const found = config.connections.get(name);
  if (!found) return undefined;
  const layer: Layer = new Map();
  for (const [key, value] of found.entries) {
    layer.delete(key); // a repeated key: the later one, at its place
    layer.set(key, { value, origin: found.label });
  }
  if (found.overridable) {
    // snow takes every variable with this exact prefix (the name upper-cased, nothing replaced).
    const prefix = `SNOWFLAKE_CONNECTIONS_${name.toUpperCase()}_`;
    for (const [varName, value] of Object.entries(env)) {
      if (value === undefined || !varName.startsWith(prefix)) continue;
      const key = varName.slice(prefix.length).toLowerCase() as ConnectionKey;
      if (!KNOWN.has(key)) continue;
      layer.set(key, { value, origin: varName });
    }
  }
  return layer;
}

const KNOWN: ReadonlySet<string> = new Set<ConnectionKey>([
  'account', 'user', 'username', 'host', 'role', 'warehouse', 'authenticator', 'private_key_file', 'private_key_path',
  'private_key_raw', 'private_key_file_pwd', 'private_key_passphrase', 'token', 'token_file_path',
]);

/** The last of `keys` in the layer's order (aliases: the later one wins, as in `snow`). */
function lastOf(layer: Layer, keys: ConnectionKey[]): LayerValue | undefined {
  let found: LayerValue | undefined;
  for (const [key, value] of layer) if (keys.includes(key)) found = value;
  return found;
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

function flagValue(flags: ConnectionFlags, key: keyof ConnectionFlags, flagName: string): string | undefined {
  const value = flags[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return undefined;
  if (value.trim() === '') {
    throw new UsageError('ERR_USAGE', `${flagName} is empty`, {
      hint: `give ${flagName} a value, or leave it out`,
    });
  }
  return value;
}

/** Reads a secret file named by a flag or a connection (one implementation: src/io/files.ts). */
async function readUserFile(path: string, what: string, via: string): Promise<string> {
  return (await readInputFile(path, what, via, what.includes('token') ? SECRET_FILE_CAP : KEY_FILE_CAP)).toString('utf8');
}

/** A PEM from an environment variable or TOML string may carry literal `\n` sequences. */
function normalizePem(pem: string): string {
  return !pem.includes('\n') && pem.includes('\\n') ? pem.replace(/\\r\\n|\\n/g, '\n') : pem;
}

function emptyToken(origin: string): never {
  throw new UsageError('ERR_TOKEN_EMPTY', `the token from ${origin} is empty`, {
    hint: 'put the OAuth access token or programmatic access token there',
    data: { origin },
  });
}

const FIELD_ENV: Record<'account' | 'user' | 'host' | 'role' | 'warehouse', string> = {
  account: 'SNOWFLAKE_ACCOUNT',
  user: 'SNOWFLAKE_USER',
  host: 'SNOWFLAKE_HOST',
  role: 'SNOWFLAKE_ROLE',
  warehouse: 'SNOWFLAKE_WAREHOUSE',
};

/** flag > connection > generic SNOWFLAKE_<KEY> (non-empty), for a plain setting. */
function pick(
  flag: string | undefined,
  flagName: string,
  layer: Layer,
  keys: ConnectionKey[],
  env: Env,
  envName: string,
): { value: string; origin: string } | undefined {
  if (flag !== undefined) return { value: flag, origin: flagName };
  const fromConnection = lastOf(layer, keys);
  if (fromConnection) return fromConnection;
  const fromEnv = envValue(env, envName);
  return fromEnv === undefined ? undefined : { value: fromEnv, origin: envName };
}

// ---------------------------------------------------------------------------------------------

/**
 * Flags + env + config files → one connection. Throws UsageError for a connection that does not
 * exist (ERR_CONNECTION_NOT_FOUND), malformed TOML (ERR_CONFIG_INVALID), a config file others can
 * read or write (ERR_CONFIG_PERMISSIONS), a missing --passphrase-file / --token-file
 * (ERR_FILE_NOT_FOUND), an empty token (ERR_TOKEN_EMPTY) and a bad --token-type (ERR_USAGE). Missing
 * account/user are not errors here: see `requireValue`.
 */
export async function resolveConnection(flags: ConnectionFlags, env: Env, opts: ResolveOptions): Promise<ResolvedConnection> {
  const { cwd, homeDir } = opts;
  const home = snowflakeHome(env, { homeDir, cwd, exists: opts.exists, platform: opts.platform });
  const config = await loadSnowflakeConfig(home, env);
  const result: ResolvedConnection = { origins: {}, warnings: [...config.warnings], files: [] };
  const missingHome = missingSnowflakeHome(env, home, cwd, homeDir);

  // Which connection.
  let name: string | undefined;
  let nameOrigin: string | undefined;
  const flagConn = flagValue(flags, 'connection', '--connection');
  if (flagConn !== undefined) {
    name = flagConn;
    nameOrigin = '--connection';
  } else if (env.SNOWFLAKE_DEFAULT_CONNECTION_NAME !== undefined) {
    name = env.SNOWFLAKE_DEFAULT_CONNECTION_NAME;
    nameOrigin = 'SNOWFLAKE_DEFAULT_CONNECTION_NAME';
    if (name.trim() === '') {
      throw new UsageError('ERR_CONNECTION_NOT_FOUND', 'SNOWFLAKE_DEFAULT_CONNECTION_NAME is set but empty', {
        hint: 'set it to a connection name, or unset it',
      });
    }
  } else if (config.defaultConnectionName) {
    name = config.defaultConnectionName.value;
    nameOrigin = config.defaultConnectionName.origin;
    usedFile(result, config, config.defaultConnectionName.file);
  } else if (config.connections.has('default')) {
    name = 'default';
    nameOrigin = "the connection named 'default'";
  }

  let layer: Layer = new Map();
  if (name !== undefined) {
    const built = buildLayer(name, config, env);
    if (!built) throw connectionNotFound(name, nameOrigin!, config, env, missingHome);
    layer = built;
    const found = config.connections.get(name)!;
    result.name = name;
    if (found.file) {
      result.configFile = found.file;
      usedFile(result, config, found.file);
    }
    result.origins.connection = nameOrigin!;
    // The connection came from another folder than the one SNOWFLAKE_HOME names: say so, once.
    if (missingHome) result.warnings.push(`SNOWFLAKE_HOME names ${missingHome}, which does not exist; connection '${name}' was read from ${home} instead, as the Snowflake CLI does`);
  }
  checkPermissions(result, config, env, opts.platform);

  // Plain settings.
  for (const field of ['account', 'user', 'host', 'role', 'warehouse'] as const) {
    const got = pick(flagValue(flags, field, `--${field}`), `--${field}`, layer, field === 'user' ? ['user', 'username'] : [field], env, FIELD_ENV[field]);
    if (got && got.value !== '') {
      result[field] = got.value;
      result.origins[field] = got.origin;
    }
  }
  const auth = pick(undefined, '', layer, ['authenticator'], env, 'SNOWFLAKE_AUTHENTICATOR');
  if (auth && auth.value.trim() !== '') {
    result.authenticator = auth.value.trim().toUpperCase();
    result.origins.authenticator = auth.origin;
  }

  result.privateKey = resolvePrivateKey(flags, env, layer, cwd, homeDir);
  if (result.privateKey) result.origins.privateKey = result.privateKey.origin;

  result.passphrase = await resolvePassphrase(flags, env, layer, cwd, homeDir);
  if (result.passphrase) result.origins.passphrase = result.passphrase.origin;

  result.token = await resolveToken(flags, env, layer, cwd, homeDir);
  if (result.token) result.origins.token = result.token.origin;

  const flagType = flagValue(flags, 'tokenType', '--token-type');
  if (flagType !== undefined) {
    const type = flagType.trim().toLowerCase();
    if (type !== 'oauth' && type !== 'pat') {
      throw new UsageError('ERR_USAGE', `--token-type must be oauth or pat, not '${flagType}'`, {
        hint: 'oauth for an OAuth access token, pat for a programmatic access token',
      });
    }
    result.tokenType = type;
    result.origins.tokenType = '--token-type';
  } else if (result.authenticator === 'OAUTH') {
    result.tokenType = 'oauth';
    result.origins.tokenType = result.origins.authenticator!;
  } else if (result.authenticator === 'PROGRAMMATIC_ACCESS_TOKEN') {
    result.tokenType = 'pat';
    result.origins.tokenType = result.origins.authenticator!;
  }

  return result;
}

function usedFile(result: ResolvedConnection, config: SnowflakeConfig, path: string): void {
  if (!result.files.includes(path) && config.files.some((f) => f.path === path)) result.files.push(path);
}

/** The files whose content was used must be the user's alone (exit 2 otherwise), as `snow` requires. */
function checkPermissions(result: ResolvedConnection, config: SnowflakeConfig, env: Env, platform?: NodeJS.Platform): void {
  for (const path of result.files) {
    const file = config.files.find((f) => f.path === path) as ConfigFile;
    const problem = permissionProblem(file, env, platform);
    if (problem.refuse) throw problem.refuse;
    if (problem.warning) result.warnings.push(problem.warning);
  }
}

function resolvePrivateKey(flags: ConnectionFlags, env: Env, layer: Layer, cwd: string, homeDir: string): PrivateKeySource | undefined {
  for (const [key, flagName] of [
    ['privateKey', '--private-key'],
    ['privateKeyFile', '--private-key-file'],
    ['privateKeyPath', '--private-key-path'],
  ] as const) {
    const value = flagValue(flags, key, flagName);
    if (value === undefined) continue;
    if (value === '-') return { kind: 'stdin', origin: flagName };
    return { kind: 'file', path: resolvePath(value, cwd, homeDir), origin: flagName };
  }
  // A key file from the connection, else from the generic variables; only then a raw key.
  const file = lastOf(layer, ['private_key_file', 'private_key_path']);
  if (file) {
    if (file.value.trim() === '') {
      throw new UsageError('ERR_MISSING_PRIVATE_KEY', `the private key file in ${file.origin} is empty`, {
        hint: 'give private_key_file the path of the key (relative paths are from the current folder), or remove the line',
      });
    }
    return { kind: 'file', path: resolvePath(file.value, cwd, homeDir), origin: file.origin };
  }
  for (const varName of ['SNOWFLAKE_PRIVATE_KEY_FILE', 'SNOWFLAKE_PRIVATE_KEY_PATH']) {
    const value = envValue(env, varName);
    if (value !== undefined) return { kind: 'file', path: resolvePath(value, cwd, homeDir), origin: varName };
  }
  const raw = lastOf(layer, ['private_key_raw']);
  if (raw && raw.value !== '') return { kind: 'raw', pem: normalizePem(raw.value), origin: raw.origin, original: raw.value };
  const rawEnv = envValue(env, 'SNOWFLAKE_PRIVATE_KEY_RAW');
  if (rawEnv !== undefined) return { kind: 'raw', pem: normalizePem(rawEnv), origin: 'SNOWFLAKE_PRIVATE_KEY_RAW', original: rawEnv };
  return undefined;
}

async function resolvePassphrase(flags: ConnectionFlags, env: Env, layer: Layer, cwd: string, homeDir: string): Promise<Passphrase | undefined> {
  // --passphrase-file and the two variables mean the same here as for keygen/fingerprint/sql.
  const file = flagValue(flags, 'passphraseFile', '--passphrase-file');
  const given = await passphraseFromInputs(file === undefined ? undefined : resolvePath(file, cwd, homeDir), env, cwd);
  if (given) return given;
  const entry = lastOf(layer, ['private_key_file_pwd', 'private_key_passphrase']);
  if (!entry || entry.value === '') return undefined;
  return { value: Buffer.from(entry.value, 'utf8'), origin: entry.origin };
}

async function resolveToken(flags: ConnectionFlags, env: Env, layer: Layer, cwd: string, homeDir: string): Promise<{ value: string; origin: string } | undefined> {
  const file = flagValue(flags, 'tokenFile', '--token-file');
  if (file !== undefined) {
    const path = resolvePath(file, cwd, homeDir);
    const value = (await readUserFile(path, 'token file', '--token-file')).trim();
    if (value === '') emptyToken(`--token-file ${path}`);
    return { value, origin: '--token-file' };
  }
  // The connection's token, else its token file; then SNOWFLAKE_TOKEN, else SNOWFLAKE_TOKEN_FILE_PATH.
  const candidates: { value: string; origin: string; isFile: boolean }[] = [];
  const token = lastOf(layer, ['token']);
  const tokenFile = lastOf(layer, ['token_file_path']);
  if (token) candidates.push({ ...token, isFile: false });
  if (tokenFile && tokenFile.value.trim() !== '') candidates.push({ ...tokenFile, isFile: true });
  const envToken = envValue(env, 'SNOWFLAKE_TOKEN');
  if (envToken !== undefined) candidates.push({ value: envToken, origin: 'SNOWFLAKE_TOKEN', isFile: false });
  const envFile = envValue(env, 'SNOWFLAKE_TOKEN_FILE_PATH');
  if (envFile !== undefined) candidates.push({ value: envFile, origin: 'SNOWFLAKE_TOKEN_FILE_PATH', isFile: true });
  const chosen = candidates[0];
  if (!chosen) return undefined;
  if (!chosen.isFile) {
    const value = chosen.value.trim();
    if (value === '') emptyToken(chosen.origin === 'SNOWFLAKE_TOKEN' ? 'SNOWFLAKE_TOKEN' : `token in ${chosen.origin}`);
    return { value, origin: chosen.origin };
  }
  const fromEnv = chosen.origin === 'SNOWFLAKE_TOKEN_FILE_PATH';
  const via = fromEnv ? chosen.origin : `token_file_path of ${chosen.origin}`;
  const path = resolvePath(chosen.value, cwd, homeDir);
  const value = (await readUserFile(path, 'token file', via)).trim();
  if (value === '') emptyToken(`${via} (${path})`);
  return { value, origin: fromEnv ? chosen.origin : `${chosen.origin} token_file_path` };
}

/** The folder SNOWFLAKE_HOME names when it does not exist (so another folder was read), else undefined. */
function missingSnowflakeHome(env: Env, home: string, cwd: string, homeDir: string): string | undefined {
  if (env.SNOWFLAKE_HOME === undefined) return undefined;
  const named = resolve(cwd, expandHome(env.SNOWFLAKE_HOME, homeDir));
  return named === home ? undefined : named;
}

function connectionNotFound(name: string, nameOrigin: string, config: SnowflakeConfig, env: Env, missingHome?: string): UsageError {
  const names = [...config.connections.keys()];
  const searched = config.connectionsSource ?? `${config.connectionsFile} or ${config.configFile}`;
  const where = config.connectionsSource ? `in ${searched}` : `(no config file at ${searched})`;
  const via = nameOrigin === '--connection' ? '' : ` (named by ${nameOrigin})`;
  const available = names.length > 0 ? `; connections: ${names.join(', ')}` : '; no connections are defined';
  const onlyEnv = Object.keys(env).some((k) => k.startsWith(`SNOWFLAKE_CONNECTIONS_${name.toUpperCase()}_`) && env[k] !== undefined);
  return new UsageError('ERR_CONNECTION_NOT_FOUND', `connection '${name}' not found ${where}${via}${available}`, {
    hint: onlyEnv
      ? `SNOWFLAKE_CONNECTIONS_${name.toUpperCase()}_* variables only override a connection a file defines (as in the Snowflake CLI); define [${name}] in ${config.connectionsFile}`
      : names.length > 0
        ? `use -c with one of: ${names.join(', ')}`
        : missingHome
          ? `SNOWFLAKE_HOME names ${missingHome}, which does not exist: fix the variable, or create that folder with the connections.toml that defines [${name}]`
          : `define [${name}] in ${config.connectionsFile}, or point SNOWFLAKE_HOME at the folder that holds it`,
    data: { connection: name, file: searched, connections: names },
  });
}

/**
 * The value of `field`, or a UsageError naming the flag and the env var (and -c) that supply it:
 * "missing account: pass --account or set SNOWFLAKE_ACCOUNT (or use -c NAME)".
 */
export function requireValue(conn: ResolvedConnection, field: 'account' | 'user'): string {
  const value = conn[field];
  if (value !== undefined && value !== '') return value;
  const envName = FIELD_ENV[field];
  const message =
    conn.name === undefined
      ? `missing ${field}: pass --${field} or set ${envName} (or use -c NAME)`
      : `missing ${field}: pass --${field}, set ${envName}, or add ${field} to connection '${conn.name}'${
          conn.configFile ? ` in ${conn.configFile}` : ''
        }`;
  return failMissing(field, message, conn);
}

function failMissing(field: 'account' | 'user', message: string, conn: ResolvedConnection): never {
  throw new UsageError(`ERR_MISSING_${field.toUpperCase()}`, message, {
    hint:
      field === 'account'
        ? 'an account identifier looks like myorg-myaccount or xy12345.us-east-2.aws'
        : 'the user is the LOGIN_NAME that authenticates',
    data: { field, connection: conn.name },
  });
}
