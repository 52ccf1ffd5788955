/**
 * The Snowflake CLI's configuration (DESIGN.md §4), read the way `snow` reads it: which folder, which
 * files, which connections, which default name. What this module returns is what the files say; the
 * precedence between flags, the connection and the environment is src/config/connection.ts's.
 *
 * Sources, from the Snowflake CLI and the Python connector it uses (snowflake-connector-python
 * `sf_dirs.py`, `config_manager.py`; snowflake-cli `api/config.py`):
 * - the folder is `$SNOWFLAKE_HOME` when it is set and exists (set but missing: the platform folder,
 *   not `~/.snowflake`), else `~/.snowflake` when it exists, else the platform's config folder;
 * - `connections.toml` holds top-level `[name]` tables; when it exists, `config.toml`'s
 *   `[connections.*]` are ignored. `SNOWFLAKE_CONNECTIONS`, when set, holds a whole connections.toml
 *   as TOML text and replaces both;
 * - `default_connection_name` counts only at the top of `config.toml` (in connections.toml it would be
 *   a "connection" of that name, and is ignored).
 * Only node:fs / node:path at load time; the TOML parser is imported when there is TOML to read.
 */
import { closeSync, constants as fsConstants, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { KEY_FILE_CAP } from '../io/files.js';
import { isAbsolute, join, resolve } from 'node:path';
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

export interface FolderOptions {
  homeDir: string;
  /** The current folder (a relative SNOWFLAKE_HOME is relative to it). */
  cwd: string;
  /** Default process.platform. */
  platform?: NodeJS.Platform;
  /** Existence test (default fs.existsSync). */
  exists?: (p: string) => boolean;
}

/**
 * The platform's config folder for "snowflake", as Python's platformdirs gives it (with appauthor
 * off): `$XDG_CONFIG_HOME/snowflake` or `~/.config/snowflake` on Linux and the BSDs,
 * `~/Library/Application Support/snowflake` on macOS, `%LOCALAPPDATA%\snowflake` on Windows.
 */
export function platformConfigFolder(env: Env, homeDir: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') return join(homeDir, 'Library', 'Application Support', 'snowflake');
  if (platform === 'win32') return join(env.LOCALAPPDATA?.trim() || join(homeDir, 'AppData', 'Local'), 'snowflake');
  const xdg = env.XDG_CONFIG_HOME?.trim();
  return join(xdg || join(homeDir, '.config'), 'snowflake');
}

/**
 * The Snowflake CLI's folder (absolute): `$SNOWFLAKE_HOME` (`~` expanded; set to "" it is the
 * current folder, as Python's `Path("")` is) if it exists; when unset, `~/.snowflake` if it exists;
 * else the platform folder.
 */
export function snowflakeHome(env: Env, options: FolderOptions): string {
  const exists = options.exists ?? existsSync;
  const candidate = env.SNOWFLAKE_HOME !== undefined ? resolve(options.cwd, expandHome(env.SNOWFLAKE_HOME, options.homeDir)) : join(options.homeDir, '.snowflake');
  if (exists(candidate)) return candidate;
  return resolve(options.cwd, platformConfigFolder(env, options.homeDir, options.platform));
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
const KNOWN_KEYS: ReadonlySet<string> = new Set(CONNECTION_KEYS);

export interface FileConnection {
  name: string;
  /** Absolute path of the file that defines it; undefined when SNOWFLAKE_CONNECTIONS does. */
  file?: string;
  /** For messages: `connections.toml [name]`, `config.toml [connections.name]`, `SNOWFLAKE_CONNECTIONS [name]`. */
  label: string;
  /** Known keys with string values, in the order the TOML has them (the later of two aliases wins). */
  entries: [ConnectionKey, string][];
  /** SNOWFLAKE_CONNECTIONS_<NAME>_<KEY> variables apply (to file connections, not to SNOWFLAKE_CONNECTIONS ones). */
  overridable: boolean;
}

export interface ConfigFile {
  path: string;
  /** st_mode, for the permission check of files whose content is used. */
  mode: number;
}

export interface SnowflakeConfig {
  /** The folder searched (absolute). */
  home: string;
  connectionsFile: string;
  configFile: string;
  /** The files that exist and were parsed. */
  files: ConfigFile[];
  /** Where the connections come from: connections.toml, config.toml, or the SNOWFLAKE_CONNECTIONS variable. */
  connectionsSource?: string;
  connections: Map<string, FileConnection>;
  /** From the top of config.toml. */
  defaultConnectionName?: { value: string; origin: string; file: string };
  /** What the Snowflake CLI passes over in silence and sfauth says once (DESIGN.md §4). */
  warnings: string[];
}

type TomlTable = Record<string, unknown>;

function isTable(value: unknown): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * Synchronous on purpose: the first async fs call starts libuv's thread pool, a measurable part of
 * `sfauth jwt`'s start-up, and there is nothing to overlap with here.
 */
function readIfExists(path: string): { text: string; mode: number } | undefined {
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

async function parseToml(where: string, text: string, fix: string): Promise<TomlTable> {
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
    throw new UsageError('ERR_CONFIG_INVALID', `invalid TOML in ${where}${at}: ${reason}`, {
      hint: fix,
      data: { file: where, line, column },
    });
  }
}

function toConnection(name: string, table: TomlTable, file: string | undefined, label: string, overridable: boolean): FileConnection {
  const entries: [ConnectionKey, string][] = [];
  for (const [key, raw] of Object.entries(table)) {
    if (!KNOWN_KEYS.has(key)) continue;
    if (typeof raw === 'string') entries.push([key as ConnectionKey, raw]);
    else if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') entries.push([key as ConnectionKey, String(raw)]);
    else {
      throw new UsageError('ERR_CONFIG_INVALID', `invalid value for ${key} in ${label}${file ? ` of ${file}` : ''}: expected a string`, {
        hint: `write it as a quoted TOML string, e.g. ${key} = "…"`,
        data: { file, connection: name, key },
      });
    }
  }
  return { name, file, label, entries, overridable };
}

function connectionsOf(doc: TomlTable, file: string | undefined, label: (name: string) => string, overridable: boolean): Map<string, FileConnection> {
  const connections = new Map<string, FileConnection>();
  for (const [name, value] of Object.entries(doc)) {
    if (isTable(value)) connections.set(name, toConnection(name, value, file, label(name), overridable));
  }
  return connections;
}

/**
 * Reads `connections.toml` and `config.toml` from `home` (absolute), and SNOWFLAKE_CONNECTIONS.
 * Missing folder or files are not an error.
 */
export async function loadSnowflakeConfig(home: string, env: Env = {}): Promise<SnowflakeConfig> {
  const connectionsFile = join(home, 'connections.toml');
  const configFile = join(home, 'config.toml');
  const result: SnowflakeConfig = { home, connectionsFile, configFile, files: [], connections: new Map(), warnings: [] };

  const connRaw = readIfExists(connectionsFile);
  const confRaw = readIfExists(configFile);
  const fix = 'fix the file (the Snowflake CLI reads it too), or point SNOWFLAKE_HOME elsewhere';
  const connDoc = connRaw ? await parseToml(connectionsFile, connRaw.text, fix) : undefined;
  const confDoc = confRaw ? await parseToml(configFile, confRaw.text, fix) : undefined;
  if (connRaw) result.files.push({ path: connectionsFile, mode: connRaw.mode });
  if (confRaw) result.files.push({ path: configFile, mode: confRaw.mode });

  const fromEnv = env.SNOWFLAKE_CONNECTIONS;
  if (fromEnv !== undefined) {
    const doc = await parseToml('SNOWFLAKE_CONNECTIONS', fromEnv, 'SNOWFLAKE_CONNECTIONS holds a whole connections.toml: [name] tables of key = "value" lines');
    result.connectionsSource = 'SNOWFLAKE_CONNECTIONS';
    result.connections = connectionsOf(doc, undefined, (name) => `SNOWFLAKE_CONNECTIONS [${name}]`, false);
  } else if (connDoc) {
    result.connectionsSource = connectionsFile;
    result.connections = connectionsOf(connDoc, connectionsFile, (name) => `connections.toml [${name}]`, true);
  } else if (confDoc) {
    result.connectionsSource = configFile;
    const section = confDoc['connections'];
    if (section !== undefined && !isTable(section)) {
      throw new UsageError('ERR_CONFIG_INVALID', `invalid ${configFile}: 'connections' must be a table`, {
        hint: 'define each connection as a table: [connections.NAME]',
        data: { file: configFile },
      });
    }
    result.connections = connectionsOf(section ?? {}, configFile, (name) => `config.toml [connections.${name}]`, true);
  }

  const misplaced = connDoc?.['default_connection_name'];
  if (misplaced !== undefined && !isTable(misplaced)) {
    result.warnings.push(
      `default_connection_name in ${connectionsFile} is ignored (by the Snowflake CLI too): put it at the top of ${configFile}, or use -c NAME / SNOWFLAKE_DEFAULT_CONNECTION_NAME`,
    );
  }
  const named = confDoc?.['default_connection_name'];
  if (typeof named === 'string') {
    result.defaultConnectionName = { value: named, origin: `default_connection_name in ${configFile}`, file: configFile };
  }
  return result;
}

/** A config file (or the CLI's folder) that others can read or write: refused, as `snow` refuses it. */
export function permissionProblem(file: ConfigFile, env: Env, platform: NodeJS.Platform = process.platform): { refuse?: UsageError; warning?: string } {
  if (platform === 'win32') return {};
  const writable = (file.mode & 0o022) !== 0;
  const readable = (file.mode & 0o044) !== 0;
  if (!writable && !readable) return {};
  const octal = (file.mode & 0o777).toString(8).padStart(4, '0');
  const who = (file.mode & (writable ? 0o002 : 0o004)) !== 0 ? 'others' : 'its group';
  const how = writable ? 'writable' : 'readable';
  const message = `${file.path} is ${how} by ${who} (mode ${octal}); the Snowflake CLI refuses such a config file, and so does sfauth`;
  // As `snow`: SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION (or the SPCS-injected name) lets a
  // readable file through with a warning; a writable one is always refused.
  if (!writable && skipReadableCheck(env)) return { warning: `${file.path} is readable by ${who} (mode ${octal}); allowed by SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION` };
  return {
    refuse: new UsageError('ERR_CONFIG_PERMISSIONS', message, {
      hint: `run chmod 0600 ${file.path}`,
      data: { file: file.path, mode: octal },
    }),
  };
}

function skipReadableCheck(env: Env): boolean {
  for (const name of ['SF_SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION', 'SKIP_TOKEN_FILE_PERMISSIONS_VERIFICATION']) {
    const value = env[name];
    if (value === undefined) continue;
    return ['true', '1', 'yes', 'y', 'on'].includes(value.trim().toLowerCase());
  }
  return false;
}
