/**
 * The account-wide reader of `sfauth audit` (DESIGN.md §3 v3 "Audit", "SQL API at scale").
 *
 * `live`: SHOW USERS (paged with LIMIT 10000 FROM '<last>', each page's partitions followed by the
 * client), then per user DESC USER + SHOW USER KEY PAIRS + SHOW USER PATS together, `concurrency`
 * users at a time through the fleet's scheduler and rate-limit gate. A statement the server does not
 * know is a feature it lacks; a user the role may not read is kept, marked unreadable.
 * `account-usage`: SNOWFLAKE.ACCOUNT_USAGE.USERS and .CREDENTIALS, one query each, up to two hours old.
 */
import type { CommandContext } from '../context.js';
import { CheckFailedError, ServiceError, isSfauthError } from '../errors.js';
import { likeMatcher } from '../core/audit/like.js';
import { shardOf, type Shard } from '../core/shard.js';
import type { AuditCredential, AuditUser } from '../core/audit/model.js';
import { quoteLiteral } from '../core/sql.js';
import { readUserKeys } from '../keys/read.js';
import type { SnowflakeClient, StatementResult } from '../snowflake/client.js';
import { showPats as readPats } from '../snowflake/pats.js';
import { eachAtMost } from '../snowflake/pool.js';
import { Throttle } from '../snowflake/throttle.js';
import { parseSnowflakeTimestamp } from '../snowflake/users.js';

export type UserType = 'service' | 'person' | 'all';

export interface ReadRequest {
  client: SnowflakeClient;
  ctx: CommandContext;
  /** `--users`: a SHOW USERS LIKE pattern, sent as a string literal. */
  pattern?: string;
  type: UserType;
  /** `--shard K/N`: only this slice of the users. */
  shard?: Shard;
  concurrency: number;
  /** Each user's reads must fit in this (as each fleet user's rotation does). */
  timeoutMs: number;
  onUser?: (done: number, total: number) => void;
}

export interface AuditRead {
  users: AuditUser[];
  /** Pages of SHOW USERS read (live). */
  pages?: number;
}

/** SHOW USERS pages this long; a full page means there may be more (DESIGN.md §3 "SQL API at scale"). */
export const SHOW_USERS_PAGE = 10000;

export async function readLive(req: ReadRequest): Promise<AuditRead> {
  const listed: AuditUser[] = [];
  let from: string | undefined;
  let pages = 0;
  for (;;) {
    const sql = `SHOW USERS${req.pattern !== undefined ? ` LIKE ${quoteLiteral(req.pattern)}` : ''} LIMIT ${SHOW_USERS_PAGE}${from !== undefined ? ` FROM ${quoteLiteral(from)}` : ''}`;
    const page = usersOf(await req.client.execute(sql), 'SHOW USERS');
    pages++;
    listed.push(...page);
    if (page.length < SHOW_USERS_PAGE) break;
    from = page[page.length - 1]!.name;
  }
  const users = listed.filter((u) => typeMatches(u, req.type) && inMyShard(u, req.shard));
  const throttle = new Throttle(req.ctx.now);
  let done = 0;
  const read = await eachAtMost(users, req.concurrency, async (user) => {
    const client = req.client.forFleet(req.ctx.now() + req.timeoutMs, throttle, throttle.pausedMs());
    return readOne(client, user);
  }, () => req.onUser?.(++done, users.length));
  return { users: read, pages };
}

async function readOne(client: SnowflakeClient, user: AuditUser): Promise<AuditUser> {
  const who = exactIdentifier(user.name);
  const [keys, pats] = await Promise.allSettled([readUserKeys(client, who), showPats(client, who)]);
  if (keys.status === 'rejected') {
    if (pats.status === 'rejected') void pats.reason;
    return unreadable(user, keys.reason);
  }
  if (pats.status === 'rejected') return unreadable(user, pats.reason);
  const credentials: AuditCredential[] = keys.value.keys.map((k) =>
    k.kind === 'slot'
      ? { kind: 'slot', name: k.slot === 2 ? 'RSA_PUBLIC_KEY_2' : 'RSA_PUBLIC_KEY', fingerprint: k.fingerprint, status: 'ACTIVE', createdOn: k.setAt, expiresAt: null, lastUsedOn: null, lastUseKnown: false, roleRestriction: null, rotatedTo: null }
      : { kind: 'pair', name: k.name, fingerprint: k.fingerprint, status: k.status, createdOn: k.createdOn, expiresAt: k.expiresAt, lastUsedOn: k.lastUsedOn, lastUseKnown: true, roleRestriction: k.roleScope, rotatedTo: k.rotatedTo },
  );
  const loginName = keys.value.description.loginName ?? user.loginName;
  return { ...user, loginName, credentials: [...credentials, ...(pats.value ?? [])], features: { namedPairs: keys.value.namedPairs.available, pats: pats.value !== null } };
}

function unreadable(user: AuditUser, err: unknown): AuditUser {
  if (!isSfauthError(err)) throw err;
  return { ...user, unreadable: { code: err.code, message: err.message } };
}

/** SHOW USER PATS FOR USER, or null when the server does not know the statement. */
async function showPats(client: SnowflakeClient, who: string): Promise<AuditCredential[] | null> {
  const listing = await readPats(client, who);
  if (!listing.available) return null;
  return listing.pats.map((t) => ({
    kind: 'pat' as const,
    name: t.name,
    fingerprint: null,
    status: t.statusText || 'ACTIVE',
    createdOn: t.createdOn,
    expiresAt: t.expiresAt,
    lastUsedOn: null,
    // SHOW USER PATS has no last-use column: only ACCOUNT_USAGE.CREDENTIALS knows.
    lastUseKnown: false,
    roleRestriction: t.roleRestriction,
    rotatedTo: t.rotatedTo,
  }));
}

/** `--source account-usage`: two queries, every row; `--users` and `--type` applied here. */
export async function readAccountUsage(req: ReadRequest): Promise<AuditRead> {
  const [usersResult, credsResult] = await Promise.all([
    req.client.execute('SELECT NAME, LOGIN_NAME, TYPE, DISABLED, HAS_PASSWORD, HAS_MFA, HAS_RSA_PUBLIC_KEY, HAS_PAT, LAST_SUCCESS_LOGIN, CREATED_ON FROM SNOWFLAKE.ACCOUNT_USAGE.USERS WHERE DELETED_ON IS NULL'),
    req.client.execute('SELECT USER_NAME, NAME, TYPE, STATUS, ADDITIONAL_DETAILS, CREATED_ON, LAST_USED_ON, EXPIRATION_DATE FROM SNOWFLAKE.ACCOUNT_USAGE.CREDENTIALS'),
  ]);
  const matches = req.pattern !== undefined ? likeMatcher(req.pattern) : () => true;
  const users = usersOf(usersResult, 'ACCOUNT_USAGE.USERS').filter((u) => matches(u.name) && typeMatches(u, req.type) && inMyShard(u, req.shard));
  const byName = new Map(users.map((u) => [u.name, u]));
  for (const u of users) {
    // The view says only that a legacy key is set: not which slot, not since when.
    if (u.hasRsaPublicKey) u.credentials.push({ kind: 'slot', name: 'RSA_PUBLIC_KEY', fingerprint: null, status: 'ACTIVE', createdOn: null, expiresAt: null, lastUsedOn: null, lastUseKnown: false, roleRestriction: null, rotatedTo: null });
  }
  const col = columns(credsResult, 'ACCOUNT_USAGE.CREDENTIALS', ['user_name', 'name', 'type']);
  for (const row of credsResult.rows) {
    const user = byName.get(col.text(row, 'user_name') ?? '');
    const type = (col.text(row, 'type') ?? '').toUpperCase();
    if (!user || (type !== 'KEYPAIR' && type !== 'PAT')) continue;
    const details = detailsOf(col.text(row, 'additional_details'));
    const restriction = Array.isArray(details.ROLE_RESTRICTION) ? details.ROLE_RESTRICTION.filter((r): r is string => typeof r === 'string').join(', ') : typeof details.ROLE_RESTRICTION === 'string' ? details.ROLE_RESTRICTION : '';
    user.credentials.push({
      kind: type === 'PAT' ? 'pat' : 'pair',
      name: col.text(row, 'name') ?? '?',
      fingerprint: typeof details.PUBLIC_KEY_FP === 'string' ? fingerprintText(details.PUBLIC_KEY_FP) : null,
      status: (col.text(row, 'status') ?? 'ACTIVE').toUpperCase(),
      createdOn: col.time(row, 'created_on'),
      expiresAt: col.time(row, 'expiration_date'),
      lastUsedOn: col.time(row, 'last_used_on'),
      lastUseKnown: true,
      roleRestriction: restriction || null,
      rotatedTo: typeof details.ROTATED_TO === 'string' && details.ROTATED_TO !== '' ? details.ROTATED_TO : null,
    });
  }
  return { users: users.map(({ hasRsaPublicKey: _, ...u }) => u) };
}

type ListedUser = AuditUser & { hasRsaPublicKey?: boolean };

/** SHOW USERS or ACCOUNT_USAGE.USERS rows, by column name (any may be missing on an older server). */
function usersOf(result: StatementResult, what: string): ListedUser[] {
  const col = columns(result, what, ['name']);
  return result.rows.map((row) => ({
    name: col.text(row, 'name')!,
    loginName: col.text(row, 'login_name'),
    type: col.text(row, 'type')?.toUpperCase() ?? null,
    disabled: col.bool(row, 'disabled'),
    hasPassword: col.bool(row, 'has_password'),
    hasMfa: col.bool(row, 'has_mfa'),
    lastSuccessLogin: col.time(row, 'last_success_login'),
    hasRsaPublicKey: col.bool(row, 'has_rsa_public_key') ?? false,
    credentials: [],
    features: { namedPairs: true, pats: true },
  }));
}

/** Sharded by the name as an identifier, so a user is in the same slice here and in rotate --targets. */
function inMyShard(u: AuditUser, shard: Shard | undefined): boolean {
  return !shard || shardOf(exactIdentifier(u.name), shard.count) === shard.index;
}

function typeMatches(u: AuditUser, type: UserType): boolean {
  if (type === 'all') return true;
  const service = u.type === 'SERVICE' || u.type === 'LEGACY_SERVICE';
  return type === 'service' ? service : !service;
}

function columns(result: StatementResult, what: string, required: string[]) {
  const lower = result.columns.map((c) => c.toLowerCase());
  for (const name of required) {
    if (!lower.includes(name)) {
      throw new ServiceError('ERR_BAD_RESPONSE', `${what} answered without a ${name} column (columns: ${result.columns.slice(0, 20).join(', ')})`, {
        hint: 'this Snowflake answer is not in a shape sfauth knows; please report it',
      });
    }
  }
  const text = (row: (string | null)[], name: string): string | null => {
    const i = lower.indexOf(name);
    const v = i < 0 ? null : row[i];
    return v === null || v === undefined || v.trim() === '' || v.trim().toLowerCase() === 'null' ? null : v;
  };
  return {
    text,
    bool: (row: (string | null)[], name: string): boolean | null => {
      const v = text(row, name)?.toLowerCase();
      return v === 'true' ? true : v === 'false' ? false : null;
    },
    time: (row: (string | null)[], name: string): Date | null => parseSnowflakeTimestamp(text(row, name)),
  };
}

function detailsOf(text: string | null): Record<string, unknown> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function fingerprintText(fp: string): string {
  return fp.startsWith('SHA256:') ? fp : `SHA256:${fp}`;
}

/** The exact name SHOW USERS gave, as an identifier that names that user and no other. */
export function exactIdentifier(name: string): string {
  return /^[A-Z_][A-Z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
