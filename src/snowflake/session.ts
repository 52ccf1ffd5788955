/**
 * From flags + env + connections.toml to a ready client: resolves the connection, loads the key or
 * token, derives the host, and records what went into the credential for error messages.
 */
import { homedir } from 'node:os';
import type { Throttle } from './throttle.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { resolveConnection, requireValue, sourceOf, type ConnectionFlags, type ResolvedConnection } from '../config/index.js';
import { accountForJwt } from '../core/account.js';
import { parseDuration } from '../core/duration.js';
import { fingerprintOf } from '../core/fingerprint.js';
import { loadKey, type LoadedKey } from '../io/load-key.js';
import { resolveBaseUrl } from './base-url.js';
import { SnowflakeClient, type Credential, type Identity } from './client.js';
import { HttpTransport, type Transport } from './http.js';

export interface SessionFlags extends ConnectionFlags {
  timeout?: string;
}

export interface Session {
  client: SnowflakeClient;
  connection: ResolvedConnection;
  identity: Identity;
  baseUrl: string;
  /** The key pair in use, when authenticating with one. */
  key?: LoadedKey;
  deadline: number;
  timeoutLabel: string;
}

export function homeDirOf(ctx: Pick<CommandContext, 'env'>): string {
  return ctx.env.HOME || homedir();
}

/** Resolves the connection (printing its warnings) without touching the network. */
export async function resolveFromContext(flags: ConnectionFlags, ctx: CommandContext): Promise<ResolvedConnection> {
  const connection = await resolveConnection(flags, ctx.env, { cwd: ctx.cwd, homeDir: homeDirOf(ctx) });
  for (const w of connection.warnings) ctx.out.warn(w);
  return connection;
}

/** As settings rank (DESIGN.md §4): a flag, then the connection, then the generic variables. */
const SOURCE_RANK = { flag: 3, connection: 2, env: 1 } as const;

/**
 * Token or key pair? The one whose source ranks higher (flag > connection > env) wins; on a tie the
 * connection's `authenticator` decides, else the key pair. `--token-type` alone counts as asking for a
 * token.
 */
function useToken(conn: ResolvedConnection, flags: ConnectionFlags): boolean {
  if (!conn.token) return false;
  if (!conn.privateKey) return true;
  const tokenRank = Math.max(SOURCE_RANK[sourceOf(conn.token.origin)], flags.tokenType ? SOURCE_RANK.flag : 0);
  const keyRank = SOURCE_RANK[sourceOf(conn.privateKey.origin)];
  if (tokenRank === SOURCE_RANK.flag && keyRank === SOURCE_RANK.flag) {
    throw new UsageError('ERR_USAGE', `both a key pair (${conn.privateKey.origin}) and a token (${sourceOf(conn.token.origin) === 'flag' ? conn.token.origin : '--token-type'}) were given`, {
      hint: 'authenticate with one: --private-key, or --token-file with --token-type',
    });
  }
  if (tokenRank !== keyRank) return tokenRank > keyRank;
  return conn.authenticator === 'OAUTH' || conn.authenticator === 'PROGRAMMATIC_ACCESS_TOKEN';
}

export interface ClientParams {
  baseUrl: string;
  credential: Credential;
  identity: Identity;
  deadline: number;
  timeoutLabel: string;
  role?: string;
  warehouse?: string;
  throttle?: Throttle;
  pausedBase?: number;
}

/** One transport (one keep-alive pool, one proxy reading) per command, shared by all its clients. */
const transports = new WeakMap<CommandContext, Transport>();

export function transportOf(ctx: CommandContext): Transport {
  if (ctx.transport) return ctx.transport;
  let transport = transports.get(ctx);
  if (!transport) transports.set(ctx, (transport = new HttpTransport(ctx.env)));
  return transport;
}

export function makeClient(params: ClientParams, ctx: CommandContext): SnowflakeClient {
  return new SnowflakeClient({ ...params, transport: transportOf(ctx), now: ctx.now, warn: (m) => ctx.out.warn(m) });
}

/** The key-pair credential and identity for a loaded private key. */
export function keyPairCredential(key: LoadedKey, account: string, user: string): { credential: Credential; identity: Identity } {
  const fingerprint = fingerprintOf(key.publicKey);
  return {
    credential: { kind: 'keypair', privateKey: key.privateKey!, account, user, fingerprint },
    identity: { account: accountForJwt(account), user: user.toUpperCase(), fingerprint, authMethod: `key pair (${key.alg})` },
  };
}

export async function openSession(flags: SessionFlags, ctx: CommandContext): Promise<Session> {
  const timeoutLabel = flags.timeout ?? '30s';
  const timeoutMs = parseDuration(timeoutLabel, '--timeout') * 1000;
  const connection = await resolveFromContext(flags, ctx);

  let credential: Credential;
  let identity: Identity;
  let key: LoadedKey | undefined;
  if (flags.tokenType && !connection.token) {
    throw new UsageError('ERR_NO_CREDENTIAL', `--token-type ${flags.tokenType} but no token: pass --token-file PATH or set SNOWFLAKE_TOKEN`, {
      hint: 'the token file holds the OAuth access token or programmatic access token alone',
    });
  }
  if (useToken(connection, flags)) {
    const token = connection.token!;
    if (!connection.tokenType) {
      throw new UsageError('ERR_TOKEN_TYPE_REQUIRED', `the token from ${token.origin} needs a type: pass --token-type oauth or --token-type pat`, {
        hint: "oauth for an OAuth access token, pat for a programmatic access token; a connection can say it with authenticator = 'OAUTH' or 'PROGRAMMATIC_ACCESS_TOKEN'",
      });
    }
    if (!/^[\x21-\x7e]+$/.test(token.value)) {
      // An HTTP header cannot carry it; say so without quoting it.
      throw new UsageError('ERR_TOKEN_MALFORMED', `the token from ${token.origin} contains spaces, line breaks or non-ASCII characters`, {
        hint: 'the file or variable must hold the token alone, on one line',
      });
    }
    if (!connection.host) requireValue(connection, 'account');
    credential = { kind: connection.tokenType, token: token.value };
    identity = {
      account: connection.account ? safeJwtAccount(connection.account) : undefined,
      user: connection.user?.toUpperCase(),
      authMethod: connection.tokenType === 'oauth' ? 'OAuth token' : 'programmatic access token',
    };
  } else if (connection.privateKey) {
    const account = requireValue(connection, 'account');
    const user = requireValue(connection, 'user');
    accountForJwt(account); // validate before reading the key
    key = await loadKey(connection.privateKey, {
      passphrase: connection.passphrase,
      prompter: ctx.prompter,
      readStdin: ctx.readStdin,
      requirePrivate: true,
      warn: (text) => ctx.out.warn(text),
    });
    ({ credential, identity } = keyPairCredential(key, account, user));
  } else {
    if (!connection.host) requireValue(connection, 'account');
    throw new UsageError(
      'ERR_NO_CREDENTIAL',
      'no credential: pass --private-key PATH (or set SNOWFLAKE_PRIVATE_KEY_FILE / SNOWFLAKE_PRIVATE_KEY_RAW), or --token-file PATH with --token-type oauth|pat (or set SNOWFLAKE_TOKEN)',
      { hint: 'or name a connection that has private_key_file or token with -c NAME' },
    );
  }

  const baseUrl = resolveBaseUrl(connection.account, connection.host, connection.origins.host);
  // The network deadline starts now: reading files and a passphrase prompt do not eat into it.
  const deadline = ctx.now() + timeoutMs;
  const client = makeClient(
    { baseUrl, credential, identity, deadline, timeoutLabel, role: connection.role, warehouse: connection.warehouse },
    ctx,
  );
  return { client, connection, identity, baseUrl, key, deadline, timeoutLabel };
}

/**
 * For commands where `--user` only says who authenticates (test-connection, pg-token): with a token,
 * Snowflake takes the user from the token, and a silent `--user` would look used. (status and rotate
 * read `--user` as the user to look at, so it means something there.)
 */
export function warnIfUserIgnored(session: Session, ctx: CommandContext): void {
  const { connection } = session;
  if (session.key || connection.origins.user !== '--user') return;
  ctx.out.warn(`--user ${connection.user} is ignored: with ${connection.tokenType === 'oauth' ? 'an OAuth token' : 'a programmatic access token'} Snowflake takes the user from the token`);
}

function safeJwtAccount(account: string): string | undefined {
  try {
    return accountForJwt(account);
  } catch {
    return undefined;
  }
}
