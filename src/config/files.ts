/**
 * The Snowflake CLI's configuration files (DESIGN.md §4): where they live, how they are read, and
 * which connections they define. Only node:fs / node:path at load time; the TOML parser is imported
 * when a file actually exists.
 */
import { closeSync, constants as fsConstants, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { KEY_FILE_CAP } from '../io/files.js';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

export type Env = Record<string, string | undefined>;

/** An environment value, with the empty string counting as unset. */
export function envValue(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** `~` and `~/…` → the home folder; anything else unchanged. */
export function expandHome(path: string, homeDir: string): string {
  if (path === '~') return homeDir;
  if (path.startsWith('~/') || (process.platform === 'win32' && path.startsWith('~\\'))) {
    return join(homeDir, path.slice(2));
  }
  return path;
}

/** `~` expanded, then made absolute against `base`. */
export function resolvePath(path: string, base: string, homeDir: string): string {
  const expanded = expandHome(path, homeDir);
  return isAbsolute(expanded) ? resolve(expanded) : resolve(base, expanded);
}

/**
 * The Snowflake CLI's folder: `$SNOWFLAKE_HOME` if set (with `~` expanded; a relative value stays
 * relative, the caller resolves it against its cwd), else `~/.snowflake` if it exists, else
 * `~/.config/snowflake`.
 */
export function snowflakeHome(env: Env, homeDir: string, exists: (p: string) => boolean = existsSync): string {
  const fromEnv = envValue(env, 'SNOWFLAKE_HOME');
  if (fromEnv !== undefined) return expandHome(fromEnv, homeDir);
  const dotSnowflake = join(homeDir, '.snowflake');
  if (exists(dotSnowflake)) return dotSnowflake;
  return join(homeDir, '.config', 'snowflake');
}

/** Connection keys sfauth reads (others are ignored). */
export const CONNECTION_KEYS = [
  'account',
  'user',
  'username',
  'host',
  'role',
  'warehouse',
  'authenticator',
  'private_key_file',
  'private_key_path',
  'private_key_raw',
  'private_key_file_pwd',
  'private_key_passphrase',
  'token',
  'token_file_path',
] as const;
export type ConnectionKey = (typeof CONNECTION_KEYS)[number];

/** Keys whose presence makes a file "hold secrets" (for the permissions warning). */
const SECRET_KEYS = new Set(['private_key_raw', 'private_key_file_pwd', 'private_key_passphrase', 'token', 'password']);

export interface FileConnection {
  name: string;
  /** Absolute path of the file that defines it. */
  file: string;
  /** For messages: `connections.toml [name]` or `config.toml [connections.name]`. */
  label: string;
  /** Known keys only, as strings. */
  values: Partial<Record<ConnectionKey, string>>;
}

export interface SnowflakeConfig {
  /** The folder searched (absolute). */
  home: string;
  connectionsFile: string;
  configFile: string;
  /** The files that exist and were read. */
  filesRead: string[];
  /** The file the connections come from (connections.toml if it exists, else config.toml), if any. */
  connectionsSource?: string;
  connections: Map<string, FileConnection>;
  defaultConnectionName?: { value: string; origin: string };
  warnings: string[];
}

type TomlTable = Record<string, unknown>;

function isTable(value: unknown): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * Synchronous on purpose: the first async fs call starts libuv's thread pool, a measurable part of
 * `sfauth jwt`'s start-up (DESIGN.md §6), and there is nothing to overlap with here.
 */
async function readIfExists(path: string): Promise<{ text: string; mode: number } | undefined> {
  let fd: number;
  try {
    // Non-blocking: a FIFO planted under a config name must not hang the open.
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new UsageError('ERR_FILE_UNREADABLE', `cannot read ${path}: ${code ?? String(err)}`, {
      hint: 'check the permissions of the Snowflake CLI config files',
      data: { path },
    });
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) {
      throw new UsageError('ERR_FILE_UNREADABLE', `cannot read ${path}: it is a directory`, {
        hint: 'the Snowflake CLI config (connections.toml, config.toml) must be a file',
        data: { path },
      });
    }
    if (!stat.isFile() || stat.size > KEY_FILE_CAP) {
      throw new UsageError('ERR_FILE_UNREADABLE', `cannot read ${path}: ${stat.isFile() ? `larger than ${KEY_FILE_CAP / 1024} KiB` : 'not a regular file'}`, {
        hint: 'the Snowflake CLI config (connections.toml, config.toml) must be a small regular file',
        data: { path },
      });
    }
    return { text: readFileSync(fd, 'utf8'), mode: stat.mode };
  } finally {
    closeSync(fd);
  }
}

async function parseToml(path: string, text: string): Promise<TomlTable> {
  const toml = await import('smol-toml');
  try {
    return toml.parse(text) as TomlTable;
  } catch (err) {
    const e = err as { line?: unknown; column?: unknown; message?: unknown };
    const line = typeof e.line === 'number' ? e.line : undefined;
    const column = typeof e.column === 'number' ? e.column : undefined;
    // First line of the parser's message only: the rest is a code excerpt that may hold secrets.
    const reason = String(e.message ?? 'parse error')
      .split('\n')[0]!
      .replace(/^Invalid TOML document:\s*/i, '');
    const at = line === undefined ? '' : ` at line ${line}${column === undefined ? '' : `, column ${column}`}`;
    throw new UsageError('ERR_CONFIG_INVALID', `invalid TOML in ${path}${at}: ${reason}`, {
      hint: 'fix the file (the Snowflake CLI reads it too), or point SNOWFLAKE_HOME elsewhere',
      data: { file: path, line, column },
    });
  }
}

function holdsSecrets(value: unknown, depth = 0): boolean {
  if (!isTable(value) || depth > 4) return false;
  for (const [key, inner] of Object.entries(value)) {
    if (SECRET_KEYS.has(key) && inner !== undefined && inner !== '') return true;
    if (holdsSecrets(inner, depth + 1)) return true;
  }
  return false;
}

function permissionWarning(path: string, mode: number): string | undefined {
  if (process.platform === 'win32') return undefined;
  const loose = mode & 0o077;
  if (loose === 0) return undefined;
  const who = mode & 0o007 ? 'others' : 'its group';
  const how = loose & 0o044 ? 'readable' : 'writable';
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  return `${basename(path)} is ${how} by ${who} (mode ${octal}) and holds secrets; run chmod 0600 ${path}`;
}

function toConnection(name: string, table: TomlTable, file: string, label: string): FileConnection {
  const values: Partial<Record<ConnectionKey, string>> = {};
  for (const key of CONNECTION_KEYS) {
    const raw = table[key];
    if (raw === undefined) continue;
    if (typeof raw === 'string') values[key] = raw;
    else if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') values[key] = String(raw);
    else {
      throw new UsageError('ERR_CONFIG_INVALID', `invalid value for ${key} in ${label} of ${file}: expected a string`, {
        hint: `write it as a quoted TOML string, e.g. ${key} = "…"`,
        data: { file, connection: name, key },
      });
    }
  }
  return { name, file, label, values };
}

/**
 * Reads `connections.toml` and `config.toml` from `home` (absolute). Missing folder or files are not
 * an error. If `connections.toml` exists, `config.toml`'s connections are ignored; its
 * `default_connection_name` still applies (and wins over one in connections.toml).
 */
export async function loadSnowflakeConfig(home: string): Promise<SnowflakeConfig> {
  const connectionsFile = join(home, 'connections.toml');
  const configFile = join(home, 'config.toml');
  const result: SnowflakeConfig = {
    home,
    connectionsFile,
    configFile,
    filesRead: [],
    connections: new Map(),
    warnings: [],
  };

  const [connRaw, confRaw] = await Promise.all([readIfExists(connectionsFile), readIfExists(configFile)]);
  const connDoc = connRaw ? await parseToml(connectionsFile, connRaw.text) : undefined;
  const confDoc = confRaw ? await parseToml(configFile, confRaw.text) : undefined;

  for (const [path, raw, doc] of [
    [connectionsFile, connRaw, connDoc],
    [configFile, confRaw, confDoc],
  ] as const) {
    if (!raw || !doc) continue;
    result.filesRead.push(path);
    if (holdsSecrets(doc)) {
      const warning = permissionWarning(path, raw.mode);
      if (warning) result.warnings.push(warning);
    }
  }

  if (connDoc) {
    result.connectionsSource = connectionsFile;
    for (const [name, value] of Object.entries(connDoc)) {
      if (!isTable(value)) continue;
      result.connections.set(name, toConnection(name, value, connectionsFile, `connections.toml [${name}]`));
    }
  } else if (confDoc) {
    result.connectionsSource = configFile;
    const section = confDoc['connections'];
    if (section !== undefined && !isTable(section)) {
      throw new UsageError('ERR_CONFIG_INVALID', `invalid ${configFile}: 'connections' must be a table`, {
        hint: 'define each connection as a table: [connections.NAME]',
        data: { file: configFile },
      });
    }
    for (const [name, value] of Object.entries(section ?? {})) {
      if (!isTable(value)) continue;
      result.connections.set(name, toConnection(name, value, configFile, `config.toml [connections.${name}]`));
    }
  }

  const fromConfig = confDoc?.['default_connection_name'];
  const fromConnections = connDoc?.['default_connection_name'];
  if (typeof fromConfig === 'string' && fromConfig !== '') {
    result.defaultConnectionName = { value: fromConfig, origin: `default_connection_name in ${configFile}` };
  } else if (typeof fromConnections === 'string' && fromConnections !== '') {
    result.defaultConnectionName = { value: fromConnections, origin: `default_connection_name in ${connectionsFile}` };
  }
  return result;
}

/** The folder a file-relative path is resolved against. */
export function configDir(file: string): string {
  return dirname(file);
}
