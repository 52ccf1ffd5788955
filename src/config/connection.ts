/**
 * Flags + environment + the Snowflake CLI's config files → one resolved connection, with where each
 * value came from (DESIGN.md §1 "Options that recur", §4). Precedence per field: flag > env >
 * connection (where `SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>` overrides the file's key of that connection).
 * Secrets (keys, passphrases, tokens) never go into origins, warnings or errors.
 */
import { KEY_FILE_CAP, readInputFile, SECRET_FILE_CAP } from '../io/files.js';
import { passphraseFromInputs, type Passphrase } from '../io/load-key.js';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import {
  CONNECTION_KEYS,
  configDir,
  envValue,
  loadSnowflakeConfig,
  resolvePath,
  snowflakeHome,
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
  | { kind: 'raw'; pem: string; origin: string };

export interface ResolvedConnection {
  /** The connection used, if any. */
  name?: string;
  /** The file that defines it (absent for a connection defined only by environment variables). */
  configFile?: string;
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
  /** Existence test for the `~/.snowflake` rule (default fs.existsSync). */
  exists?: (p: string) => boolean;
}

/** What `origins` says came from where; `sourceOf` maps it back to flag / env / connection. */
export function sourceOf(origin: string): Source {
  if (origin.startsWith('-')) return 'flag';
  if (/^[A-Z][A-Z0-9_]*$/.test(origin) && !origin.startsWith('SNOWFLAKE_CONNECTIONS_')) return 'env';
  return 'connection';
}

// ---------------------------------------------------------------------------------------------
// The connection layer: file values with SNOWFLAKE_CONNECTIONS_<NAME>_<KEY> on top.

interface LayerValue {
  value: string;
  /** Label for messages, never the value. */
  origin: string;
  /** Folder relative paths resolve against. */
  base: string;
  /** True when it came from a SNOWFLAKE_CONNECTIONS_* variable. */
  fromEnv: boolean;
}

type Layer = Partial<Record<ConnectionKey, LayerValue>>;

function envPrefixes(name: string): string[] {
  const upper = name.toUpperCase();
  const sanitized = upper.replace(/[^A-Z0-9_]/g, '_');
  return [...new Set([`SNOWFLAKE_CONNECTIONS_${upper}_`, `SNOWFLAKE_CONNECTIONS_${sanitized}_`])];
}

function envOverrides(name: string, env: Env, cwd: string): Layer {
  const layer: Layer = {};
  for (const key of CONNECTION_KEYS) {
    for (const prefix of envPrefixes(name)) {
      const varName = prefix + key.toUpperCase();
      const value = envValue(env, varName);
      if (value !== undefined) {
        layer[key] = { value, origin: varName, base: cwd, fromEnv: true };
        break;
      }
    }
  }
  return layer;
}

const KEY_SUFFIX = new RegExp(
  `^SNOWFLAKE_CONNECTIONS_(.+)_(${[...CONNECTION_KEYS]
    .map((k) => k.toUpperCase())
    .sort((a, b) => b.length - a.length)
    .join('|')})$`,
);

/** Connections that only the environment defines (names as the variables spell them). */
function envOnlyConnectionNames(env: Env, known: Iterable<string>): string[] {
  const knownUpper = new Set([...known].map((n) => n.toUpperCase()));
  const names = new Set<string>();
  for (const [varName, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    const match = KEY_SUFFIX.exec(varName);
    if (match && !knownUpper.has(match[1]!)) names.add(match[1]!);
  }
  return [...names].sort();
}

function buildLayer(name: string, config: SnowflakeConfig, env: Env, cwd: string): { layer: Layer; inFile: boolean; file?: string } {
  const layer: Layer = {};
  const fileConn = config.connections.get(name);
  if (fileConn) {
    const base = configDir(fileConn.file);
    for (const [key, value] of Object.entries(fileConn.values) as [ConnectionKey, string][]) {
      layer[key] = { value, origin: fileConn.label, base, fromEnv: false };
    }
  }
  const overrides = envOverrides(name, env, cwd);
  Object.assign(layer, overrides);
  return { layer, inFile: fileConn !== undefined, file: fileConn?.file };
}

function hasOverrides(name: string, env: Env, cwd: string): boolean {
  return Object.keys(envOverrides(name, env, cwd)).length > 0;
}

/**
 * The first of `keys` present in the layer, with values from SNOWFLAKE_CONNECTIONS_* variables
 * taking precedence over the file's (so an override of private_key_raw beats the file's
 * private_key_file, as the generic variables do).
 */
function firstOf(layer: Layer, keys: ConnectionKey[]): [ConnectionKey, LayerValue] | undefined {
  for (const wantEnv of [true, false]) {
    for (const key of keys) {
      const entry = layer[key];
      if (entry && entry.fromEnv === wantEnv) return [key, entry];
    }
  }
  return undefined;
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

// ---------------------------------------------------------------------------------------------

/**
 * Flags + env + config files → one connection. Throws UsageError for a named connection that does
 * not exist (ERR_CONNECTION_NOT_FOUND), malformed TOML (ERR_CONFIG_INVALID), a missing
 * --passphrase-file / --token-file (ERR_FILE_NOT_FOUND), an empty token (ERR_TOKEN_EMPTY) and a bad
 * --token-type (ERR_USAGE). Missing account/user are not errors here: see `requireValue`.
 */
export async function resolveConnection(
  flags: ConnectionFlags,
  env: Env,
  opts: ResolveOptions,
): Promise<ResolvedConnection> {
  const { cwd, homeDir } = opts;
  const home = resolve(cwd, snowflakeHome(env, homeDir, opts.exists));
  const config = await loadSnowflakeConfig(home);
  const result: ResolvedConnection = { origins: {}, warnings: [...config.warnings] };

  // Which connection.
  let name: string | undefined;
  let nameOrigin: string | undefined;
  const flagConn = flagValue(flags, 'connection', '--connection');
  if (flagConn !== undefined) {
    name = flagConn;
    nameOrigin = '--connection';
  } else if (envValue(env, 'SNOWFLAKE_DEFAULT_CONNECTION_NAME') !== undefined) {
    name = envValue(env, 'SNOWFLAKE_DEFAULT_CONNECTION_NAME');
    nameOrigin = 'SNOWFLAKE_DEFAULT_CONNECTION_NAME';
  } else if (config.defaultConnectionName) {
    name = config.defaultConnectionName.value;
    nameOrigin = config.defaultConnectionName.origin;
  } else if (config.connections.has('default') || hasOverrides('default', env, cwd)) {
    name = 'default';
    nameOrigin = "the connection named 'default'";
  }

  let layer: Layer = {};
  if (name !== undefined) {
    const built = buildLayer(name, config, env, cwd);
    if (!built.inFile && Object.keys(built.layer).length === 0) {
      throw connectionNotFound(name, nameOrigin!, config, env);
    }
    layer = built.layer;
    result.name = name;
    if (built.file) result.configFile = built.file;
    result.origins.connection = nameOrigin!;
  }

  // Plain fields.
  for (const field of ['account', 'user', 'host', 'role', 'warehouse'] as const) {
    const flag = flagValue(flags, field, `--${field}`);
    if (flag !== undefined) {
      result[field] = flag;
      result.origins[field] = `--${field}`;
      continue;
    }
    const envName = FIELD_ENV[field];
    const fromEnv = envValue(env, envName);
    if (fromEnv !== undefined) {
      result[field] = fromEnv;
      result.origins[field] = envName;
      continue;
    }
    const entry = firstOf(layer, field === 'user' ? ['user', 'username'] : [field]);
    if (entry && entry[1].value !== '') {
      result[field] = entry[1].value;
      result.origins[field] = entry[1].origin;
    }
  }

  // Authenticator (no flag).
  const envAuth = envValue(env, 'SNOWFLAKE_AUTHENTICATOR');
  const connAuth = layer.authenticator && layer.authenticator.value !== '' ? layer.authenticator : undefined;
  if (envAuth !== undefined) {
    result.authenticator = envAuth.trim().toUpperCase();
    result.origins.authenticator = 'SNOWFLAKE_AUTHENTICATOR';
  } else if (connAuth) {
    result.authenticator = connAuth.value.trim().toUpperCase();
    result.origins.authenticator = connAuth.origin;
  }

  // Private key.
  result.privateKey = resolvePrivateKey(flags, env, layer, cwd, homeDir);
  if (result.privateKey) result.origins.privateKey = result.privateKey.origin;

  // Passphrase.
  result.passphrase = await resolvePassphrase(flags, env, layer, cwd, homeDir);
  if (result.passphrase) result.origins.passphrase = result.passphrase.origin;

  // Token and its type.
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

function resolvePrivateKey(
  flags: ConnectionFlags,
  env: Env,
  layer: Layer,
  cwd: string,
  homeDir: string,
): PrivateKeySource | undefined {
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
  for (const varName of ['SNOWFLAKE_PRIVATE_KEY_FILE', 'SNOWFLAKE_PRIVATE_KEY_PATH']) {
    const value = envValue(env, varName);
    if (value !== undefined) return { kind: 'file', path: resolvePath(value, cwd, homeDir), origin: varName };
  }
  const raw = envValue(env, 'SNOWFLAKE_PRIVATE_KEY_RAW');
  if (raw !== undefined) return { kind: 'raw', pem: normalizePem(raw), origin: 'SNOWFLAKE_PRIVATE_KEY_RAW' };

  const entry = firstOf(layer, ['private_key_file', 'private_key_path', 'private_key_raw']);
  if (!entry || entry[1].value === '') return undefined;
  const [key, { value, origin, base }] = entry;
  if (key === 'private_key_raw') return { kind: 'raw', pem: normalizePem(value), origin };
  return { kind: 'file', path: resolvePath(value, base, homeDir), origin };
}

async function resolvePassphrase(
  flags: ConnectionFlags,
  env: Env,
  layer: Layer,
  cwd: string,
  homeDir: string,
): Promise<Passphrase | undefined> {
  // --passphrase-file and the two variables mean the same here as for keygen/fingerprint/sql.
  const file = flagValue(flags, 'passphraseFile', '--passphrase-file');
  const given = await passphraseFromInputs(file === undefined ? undefined : resolvePath(file, cwd, homeDir), env, cwd);
  if (given) return given;
  const entry = firstOf(layer, ['private_key_file_pwd', 'private_key_passphrase']);
  if (!entry || entry[1].value === '') return undefined;
  return { value: Buffer.from(entry[1].value, 'utf8'), origin: entry[1].origin };
}

async function resolveToken(
  flags: ConnectionFlags,
  env: Env,
  layer: Layer,
  cwd: string,
  homeDir: string,
): Promise<{ value: string; origin: string } | undefined> {
  const file = flagValue(flags, 'tokenFile', '--token-file');
  if (file !== undefined) {
    const path = resolvePath(file, cwd, homeDir);
    const value = (await readUserFile(path, 'token file', '--token-file')).trim();
    if (value === '') emptyToken(`--token-file ${path}`);
    return { value, origin: '--token-file' };
  }
  const fromEnv = envValue(env, 'SNOWFLAKE_TOKEN');
  if (fromEnv !== undefined) {
    const value = fromEnv.trim();
    if (value === '') emptyToken('SNOWFLAKE_TOKEN');
    return { value, origin: 'SNOWFLAKE_TOKEN' };
  }
  const entry = firstOf(layer, ['token', 'token_file_path']);
  if (!entry) return undefined;
  const [key, { value: raw, origin, base }] = entry;
  if (key === 'token') {
    const value = raw.trim();
    if (value === '') emptyToken(`token in ${origin}`);
    return { value, origin };
  }
  if (raw.trim() === '') return undefined;
  const path = resolvePath(raw, base, homeDir);
  const value = (await readUserFile(path, 'token file', `token_file_path of ${origin}`)).trim();
  if (value === '') emptyToken(`token_file_path ${path} (${origin})`);
  return { value, origin: `${origin} token_file_path` };
}

function connectionNotFound(name: string, nameOrigin: string, config: SnowflakeConfig, env: Env): UsageError {
  const names = [...config.connections.keys()];
  const envNames = envOnlyConnectionNames(env, names);
  const all = [...names, ...envNames.map((n) => `${n} (environment)`)];
  const searched = config.connectionsSource ?? `${config.connectionsFile} or ${config.configFile}`;
  const where = config.connectionsSource ? `in ${searched}` : `(no config file at ${searched})`;
  const via = nameOrigin === '--connection' ? '' : ` (named by ${nameOrigin})`;
  const available = all.length > 0 ? `; connections: ${all.join(', ')}` : '; no connections are defined';
  return new UsageError('ERR_CONNECTION_NOT_FOUND', `connection '${name}' not found ${where}${via}${available}`, {
    hint:
      all.length > 0
        ? `use -c with one of: ${all.map((n) => n.replace(/ \(environment\)$/, '')).join(', ')}`
        : `define [${name}] in ${config.connectionsFile}, or point SNOWFLAKE_HOME at the folder that holds it`,
    data: { connection: name, file: searched, connections: all },
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
