/**
 * `sfauth status`: every key registered on a user, legacy slots (DESC USER) and named key pairs (SHOW
 * USER KEY PAIRS; rotated-out ones until they expire), with fingerprint, status, set or created time
 * and age, expiry, role restriction, comment, last use, and which one the local key matches.
 * `--max-age` and `--expiring-within` turn it into a monitoring check (exit 1). The key in use is the
 * active key holding the connection's private key; else (an admin looking at another user, or a
 * token) the most recently set or created active key.
 */
import type { CommandContext } from '../context.js';
import { CheckFailedError, isSfauthError, UsageError } from '../errors.js';
import { connectionReport, requireValue } from '../config/index.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { sameFingerprint } from '../core/fingerprint.js';
import { ageDays, ageSeconds, isOlderThan } from '../core/rotation-plan.js';
import { pendingJournal } from '../core/rotation-journal.js';
import { slotProperty, type Slot } from '../core/sql.js';
import { displayPath } from '../io/paths.js';
import { layoutTable } from '../ui/table.js';
import { timeText } from '../core/time-text.js';
import { inGitHubActions, summaryToGitHub } from '../ci/github-reports.js';
import { markdownTable } from '../core/github-output.js';
import { markdownCell } from '../core/audit/formats.js';
import { homeDirOf, openSession, type Session, type SessionFlags } from '../snowflake/session.js';
import { keyStateFolder } from '../rotate/lock.js';
import { accountForJwt } from '../core/account.js';
import { findJournals, type FoundJournal } from '../rotate/journal.js';
import { defaultKeyDir } from '../rotate/new-key.js';
import { readKeysShowingProgress } from './read-keys.js';
import { expiringWithin, keyInUse, type KeyInUseReason } from '../keys/in-use.js';
import { credentialLabel, isActive, keyLabel, patIsActive, setTimeOf, type PatToken, type RegisteredKey, type UserCredential } from '../keys/types.js';
import { showPats, type PatListing } from '../snowflake/pats.js';

export interface StatusOptions extends SessionFlags {
  targetUser?: string;
  maxAge?: string;
  expiringWithin?: string;
  json?: boolean;
  wide?: boolean;
}

interface KeyReportBase {
  fingerprint: string;
  status: 'ACTIVE' | 'EXPIRED' | 'DISABLED';
  ageDays: number | null;
  matchesLocalKey: boolean;
  inUse: boolean;
}

/** What every key reports (a slot has none of a pair's extras: they are null). */
interface KeyExtras {
  expiresAt: string | null;
  roleRestriction: string | null;
  comment: string | null;
  lastUsedOn: string | null;
  rotatedTo: string | null;
}

export type KeyReport =
  | (KeyReportBase & KeyExtras & { kind: 'slot'; name: string; slot: Slot; property: string; setAt: string | null })
  | (KeyReportBase & KeyExtras & { kind: 'pair'; name: string; createdOn: string | null; createdBy: string | null })
  /** A programmatic access token: no fingerprint (Snowflake keeps no public part of it). */
  | (Omit<KeyReportBase, 'fingerprint'> & KeyExtras & { kind: 'pat'; fingerprint: null; name: string; createdOn: string | null; createdBy: string | null });

export interface StatusResult {
  user: string;
  account: string | null;
  loginName: string | null;
  localKey: { fingerprint: string; path?: string } | null;
  /** Every registered key: the set legacy slots, then the named pairs. */
  keys: KeyReport[];
  emptySlots: Slot[];
  namedKeyPairs: { available: boolean; reason?: string };
  /** Whether the server lists programmatic access tokens (SHOW USER PATS). */
  pats: { available: boolean; reason?: string };
  keyInUse: { kind: 'slot' | 'pair' | null; slot?: Slot; name?: string; fingerprint: string | null; reason: KeyInUseReason; ageDays: number | null };
  maxAge?: { limit: string; ok: boolean };
  expiringWithin?: { limit: string; ok: boolean; keys: string[] };
  /** An unfinished `sfauth rotate` of this user, found where rotate keeps its journal. */
  unfinishedRotation?: { journal: string; step: string; startedAt: string; newFingerprint: string };
}

/** "41 days", "3h 5m", or "unknown". */
export function ageText(key: { lastSetTime: Date | null }, nowMs: number): string {
  const s = ageSeconds(key.lastSetTime, nowMs);
  return s === null ? 'unknown' : formatDuration(s);
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const shortTime = timeText;
/** An active key that expires within this is shown yellow ("expiring"). */
const EXPIRING_SOON_SECONDS = 14 * 86400;

function expiresText(key: UserCredential, nowMs: number): string {
  if (key.kind === 'slot' || key.expiresAt === null) return '-';
  const left = (key.expiresAt.getTime() - nowMs) / 1000;
  return left <= 0 ? `expired ${shortTime(key.expiresAt)}` : `in ${formatDuration(left)}`;
}

export async function run(options: StatusOptions, ctx: CommandContext): Promise<number> {
  const maxAgeSeconds = options.maxAge !== undefined ? parseDuration(options.maxAge, '--max-age') : undefined;
  const expiringSeconds = options.expiringWithin !== undefined ? parseDuration(options.expiringWithin, '--expiring-within') : undefined;
  const session = await openSession(options, ctx);
  const target = options.targetUser ?? userOrHint(session.connection);
  const localFingerprint = session.key ? session.identity.fingerprint : undefined;

  // The PATs are read beside the keys: one more statement in the same round trip.
  // A listing that fails (privileges) does not hide the keys: the tokens are reported unavailable.
  const patRead: Promise<PatListing> = showPats(session.client, target).catch((err: unknown) => {
    if (!isSfauthError(err)) throw err;
    return { available: false, why: err.message };
  });
  const read = await readKeysShowingProgress(ctx, session.client, target);
  const patListing = await patRead;
  const { description: desc, keys } = read;
  const pats = patListing.available ? patListing.pats : [];

  const now = ctx.now();
  const inUse = keyInUse(keys, localFingerprint, now);
  const inUseKey = inUse.key;
  const result: StatusResult = {
    user: desc.name ?? target,
    account: session.identity.account ?? null,
    loginName: desc.loginName,
    localKey: localFingerprint ? { fingerprint: localFingerprint, ...(session.key?.path ? { path: session.key.path } : {}) } : null,
    // "In use" only when known: the key this command holds. Another user's program is not seen from here.
    keys: [...keys.map((k) => report(k, now, localFingerprint, k === inUseKey && inUse.reason === 'local-key')), ...pats.map((t) => patReport(t, now))],
    emptySlots: desc.slots.filter((s) => s.fingerprint === null).map((s) => s.slot),
    namedKeyPairs: read.namedPairs.available ? { available: true } : { available: false, reason: read.namedPairs.why },
    pats: patListing.available ? { available: true } : { available: false, reason: patListing.why },
    keyInUse: {
      kind: inUseKey?.kind ?? null,
      ...(inUseKey?.kind === 'slot' ? { slot: inUseKey.slot } : inUseKey?.kind === 'pair' ? { name: inUseKey.name } : {}),
      fingerprint: inUseKey?.fingerprint ?? null,
      reason: inUse.reason,
      ageDays: inUseKey ? ageDays(setTimeOf(inUseKey), now) : null,
    },
  };
  const pending = await unfinishedRotation(session, target, ctx);
  if (pending) {
    result.unfinishedRotation = { journal: pending.path, step: pending.journal.step, startedAt: pending.journal.createdAt, newFingerprint: pending.journal.newFingerprint };
  }
  const tooOld = maxAgeSeconds !== undefined && (!inUseKey || isOlderThan(setTimeOf(inUseKey), maxAgeSeconds, now));
  if (maxAgeSeconds !== undefined) result.maxAge = { limit: options.maxAge!, ok: !tooOld };
  const expiring: Array<UserCredential> = expiringSeconds !== undefined ? [...expiringWithin(keys, expiringSeconds, now), ...patsExpiringWithin(pats, expiringSeconds, now)] : [];
  if (expiringSeconds !== undefined) result.expiringWithin = { limit: options.expiringWithin!, ok: expiring.length === 0, keys: expiring.map(credentialLabel) };

  const out = ctx.out;
  if (out.json) {
    out.document({ ...result, connection: connectionReport(session.connection) });
  } else {
    printKeys(ctx, result, keys, pats, desc.loginName, inUseKey, localFingerprint, now, options.wide === true);
    const where = session.key?.path ? displayPath(session.key.path, ctx.cwd) : session.key?.label;
    if (localFingerprint && inUse.reason !== 'local-key') {
      out.info(out.style.dim(`the local key${where ? ` (${where})` : ''} ${localFingerprint} is none of the active keys`));
    }
    if (inUse.reason === 'newest' && inUseKey) {
      out.info(
        out.style.dim(
          `which key ${result.user}'s program uses is not known from here${keys.some((k) => k.kind === 'pair' && k.lastUsedOn) ? ' (see "last used")' : ''}; ` +
            `--max-age and --expiring-within judge the most recently set, ${keyLabel(inUseKey)}`,
        ),
      );
    }
    if (!read.namedPairs.available) out.info(out.style.dim(`named key pairs: not available on this server (${read.namedPairs.why}); showing the legacy slots`));
  }
  if (inGitHubActions(ctx.env)) {
    summaryToGitHub(
      ctx,
      [
        `### sfauth status: ${markdownCell(result.user)}${result.account ? ` (${markdownCell(result.account)})` : ''}`,
        '',
        markdownTable(['key', 'fingerprint', 'status', 'set', 'expires', 'local key'], result.keys.map((k) => [k.kind === 'slot' ? `slot ${k.slot}` : `${k.kind} ${k.name}`, k.fingerprint ?? '-', k.status, k.kind === 'slot' ? (k.setAt ? timeText(k.setAt) : 'unknown') : k.createdOn ? timeText(k.createdOn) : 'unknown', k.expiresAt ? timeText(k.expiresAt) : '-', k.inUse ? 'in use' : k.matchesLocalKey ? 'matches' : '-'])),
      ].join('\n'),
    );
  }
  if (pending && !out.json) {
    out.warn(
      pending.journal.step === 'awaiting-delivery'
        ? `a rotation of ${target} awaits delivery (begun ${timeText(pending.journal.createdAt)}): both keys are registered, the new key ${pending.journal.newFingerprint} is ${displayPath(pending.journal.privateKeyPath, ctx.cwd)}; ` +
            `deploy it, then run the same sfauth rotate command with --finish --apply to retire the old key`
        : `an unfinished rotation of ${target} (begun ${timeText(pending.journal.createdAt)}, last step: ${pending.journal.step}, new key ${pending.journal.newFingerprint}); ` +
            `run the same sfauth rotate command again to finish it (journal ${displayPath(pending.path, ctx.cwd)})`,
    );
  }

  const rotateHint = `rotate it: sfauth rotate${options.connection ? ` -c ${options.connection}` : ''}${options.targetUser ? ` --target-user ${options.targetUser}` : ''}${
    inUseKey?.kind === 'pair' ? ` --key-pair ${inUseKey.name}` : ''
  } --apply`;
  // Only the key this command holds is known to be in use; otherwise say what is judged.
  const theKey = inUse.reason === 'local-key' ? 'the key in use' : 'the most recently set key';
  if (maxAgeSeconds !== undefined) {
    const limit = formatDuration(maxAgeSeconds);
    if (tooOld) {
      const set = inUseKey ? setTimeOf(inUseKey) : null;
      const what = !inUseKey
        ? `${result.user} has no active registered key`
        : set === null
          ? `${theKey} (${keyLabel(inUseKey)}) was set at an unknown time`
          : `${theKey} (${keyLabel(inUseKey)}) is ${ageText({ lastSetTime: set }, now)} old, more than ${limit}`;
      throw new CheckFailedError('ERR_KEY_TOO_OLD', what, {
        details: inUseKey ? [`fingerprint ${inUseKey.fingerprint}`] : [],
        hint: rotateHint,
        data: { ...keyRef(inUseKey), ageDays: result.keyInUse.ageDays, maxAge: options.maxAge },
      });
    }
    if (!out.json) out.success(`${theKey} (${keyLabel(inUseKey!)}) is ${ageText({ lastSetTime: setTimeOf(inUseKey!) }, now)} old, within ${limit}`);
  }
  if (expiringSeconds !== undefined) {
    const limit = formatDuration(expiringSeconds);
    if (expiring.length > 0) {
      const lines = expiring.map((k) => `${credentialLabel(k)}${k === inUseKey && inUse.reason === 'local-key' ? ' (in use)' : ''}: ${expiresText(k, now)} (${timeText((k as { expiresAt: Date }).expiresAt)})`);
      const first = expiring.includes(inUseKey!) ? inUseKey! : expiring[0]!;
      const rotateFirst = `sfauth rotate${options.connection ? ` -c ${options.connection}` : ''}${options.targetUser ? ` --target-user ${options.targetUser}` : ''}`;
      throw new CheckFailedError('ERR_KEY_EXPIRING', `${first === inUseKey ? `${theKey} (${credentialLabel(first)})` : credentialLabel(first)} expires ${expiresText(first, now)}, within ${limit}${expiring.length > 1 ? ` (and ${expiring.length - 1} more)` : ''}`, {
        details: lines,
        hint: first.kind === 'pair' ? `rotate it before then: ${rotateFirst} --key-pair ${first.name} --apply` : first.kind === 'pat' ? `rotate it before then: ${rotateFirst} --pat ${first.name} --apply` : rotateHint,
        data: { keys: expiring.map((k) => ({ ...keyRef(k), expiresAt: iso((k as { expiresAt: Date | null }).expiresAt), inUse: k === inUseKey })), expiringWithin: options.expiringWithin },
      });
    }
    if (!out.json) out.success(`no active key${pats.length ? ' or token' : ''} expires within ${limit}`);
  }
  return 0;
}

function keyRef(key: UserCredential | null): Record<string, unknown> {
  if (!key) return { key: null };
  return key.kind === 'slot' ? { kind: 'slot', slot: key.slot } : { kind: key.kind, name: key.name };
}


/** Active tokens (not rotated-out objects, which are meant to end) expiring within `seconds`. */
function patsExpiringWithin(pats: readonly PatToken[], seconds: number, nowMs: number): PatToken[] {
  return pats.filter((t) => !t.rotatedTo && patIsActive(t, nowMs) && t.expiresAt !== null && t.expiresAt.getTime() - nowMs <= seconds * 1000);
}

function patReport(t: PatToken, now: number): KeyReport {
  return {
    kind: 'pat',
    name: t.name,
    fingerprint: null,
    status: t.status,
    ageDays: ageDays(t.createdOn, now),
    matchesLocalKey: false,
    inUse: false,
    createdOn: iso(t.createdOn),
    createdBy: t.createdBy,
    expiresAt: iso(t.expiresAt),
    roleRestriction: t.roleRestriction,
    comment: t.comment,
    lastUsedOn: null,
    rotatedTo: t.rotatedTo,
  };
}

function report(k: RegisteredKey, now: number, local: string | undefined, inUse: boolean): KeyReport {
  const base = {
    fingerprint: k.fingerprint,
    status: k.kind === 'slot' ? ('ACTIVE' as const) : k.status,
    ageDays: ageDays(setTimeOf(k), now),
    matchesLocalKey: sameFingerprint(k.fingerprint, local),
    inUse,
  };
  if (k.kind === 'slot') {
    const property = slotProperty(k.slot);
    const none = { expiresAt: null, roleRestriction: null, comment: null, lastUsedOn: null, rotatedTo: null };
    return { kind: 'slot', name: property, slot: k.slot, property, setAt: k.setAt ? k.setAt.toISOString() : k.setAtText, ...base, ...none };
  }
  return {
    kind: 'pair',
    name: k.name,
    createdOn: iso(k.createdOn),
    createdBy: k.createdBy,
    expiresAt: iso(k.expiresAt),
    roleRestriction: k.roleScope,
    comment: k.comment,
    lastUsedOn: iso(k.lastUsedOn),
    rotatedTo: k.rotatedTo,
    ...base,
  };
}

function printKeys(
  ctx: CommandContext,
  result: StatusResult,
  keys: RegisteredKey[],
  pats: PatToken[],
  loginName: string | null,
  inUseKey: RegisteredKey | null,
  local: string | undefined,
  now: number,
  wide: boolean,
): void {
  const out = ctx.out;
  out.line(`user ${result.user}${loginName && loginName !== result.user ? ` (login ${loginName})` : ''}`);
  const rows = [['KEY', 'FINGERPRINT', 'STATUS', 'SET', 'AGE', 'EXPIRES', 'LOCAL KEY']];
  const slotRow = (slot: Slot) => {
    const k = keys.find((x) => x.kind === 'slot' && x.slot === slot);
    if (!k) return rows.push([`slot ${slot}`, '(empty)', '-', '-', '-', '-', '-']);
    const s = k as Extract<RegisteredKey, { kind: 'slot' }>;
    rows.push([`slot ${slot}`, s.fingerprint, 'active', s.setAt ? timeText(s.setAt) : (s.setAtText ?? 'unknown'), ageText({ lastSetTime: s.setAt }, now), '-', localText(k)]);
  };
  const localText = (k: RegisteredKey) => (!local ? '-' : sameFingerprint(k.fingerprint, local) ? (k === inUseKey ? 'matches (in use)' : 'matches') : 'no');
  slotRow(1);
  slotRow(2);
  const notes: string[] = [];
  for (const k of keys) {
    if (k.kind !== 'pair') continue;
    const status = isActive(k, now) ? 'active' : k.status === 'ACTIVE' ? 'expired' : k.status.toLowerCase();
    rows.push([`pair ${k.name}`, k.fingerprint, status, k.createdOn ? shortTime(k.createdOn) : 'unknown', ageText({ lastSetTime: k.createdOn }, now), expiresText(k, now), localText(k)]);
    const extra = [
      k.rotatedTo ? `rotated out, replaced by ${k.rotatedTo}` : '',
      k.roleScope ? `role restriction ${k.roleScope}` : '',
      k.comment ? `comment ${JSON.stringify(k.comment)}` : '',
      k.lastUsedOn ? `last used ${shortTime(k.lastUsedOn)}` : '',
    ].filter(Boolean);
    if (extra.length) notes.push(`  ${k.name}: ${extra.join('; ')}`);
  }
  const soon = new Set<string>();
  for (const k of keys) if (k.kind === 'pair' && isActive(k, now) && k.expiresAt && k.expiresAt.getTime() - now < EXPIRING_SOON_SECONDS * 1000) soon.add(`pair ${k.name}`);
  for (const t of pats) {
    const status = patIsActive(t, now) ? 'active' : t.status === 'ACTIVE' ? 'expired' : t.status.toLowerCase();
    rows.push([`pat ${t.name}`, '-', status, t.createdOn ? shortTime(t.createdOn) : 'unknown', ageText({ lastSetTime: t.createdOn }, now), expiresText(t, now), '-']);
    if (patIsActive(t, now) && t.expiresAt && t.expiresAt.getTime() - now < EXPIRING_SOON_SECONDS * 1000) soon.add(`pat ${t.name}`);
    const extra = [t.rotatedTo ? `rotated out of ${t.rotatedTo}: the prior secret, until it expires` : '', t.roleRestriction ? `role restriction ${t.roleRestriction}` : '', t.comment ? `comment ${JSON.stringify(t.comment)}` : ''].filter(Boolean);
    if (extra.length) notes.push(`  ${t.name}: ${extra.join('; ')}`);
  }
  const st = out.dataStyle;
  const expiringSoon = new Set(rows.map((r, i) => (soon.has(r[0]!) ? i : -1)));
  const paint = (text: string, row: number, column: number) => {
    if (row === 0) return st.bold(text);
    if (column !== 2) return text;
    if (text === 'active') return expiringSoon.has(row) ? st.yellow(text) : st.green(text);
    return text === '-' ? text : st.red(text);
  };
  for (const line of layoutTable(rows, { width: out.tableWidth(wide), fingerprintColumns: [1], droppable: [3], paint })) out.line(line);
  for (const line of notes) out.line(line);
}

/**
 * The journal of an unfinished rotation where rotate would keep it: beside the key in use (else the
 * current folder), or in sfauth's state folder where `--store-cmd` keeps a key until it is handed over.
 */
async function unfinishedRotation(session: Session, target: string, ctx: CommandContext): Promise<FoundJournal | undefined> {
  const account = session.connection.account;
  if (!account) return undefined;
  const filter = { account: accountForJwt(account), targetUser: target };
  const found: FoundJournal[] = [];
  for (const dir of [defaultKeyDir(ctx, session.key), keyStateFolder(ctx.env, homeDirOf(ctx), filter.account, target)]) {
    const scan = await findJournals(dir, filter);
    for (const why of scan.ignored) ctx.out.warn(why);
    found.push(...scan.found);
  }
  const pending = pendingJournal(found.map((f) => f.journal));
  return found.find((f) => f.journal === pending);
}

function userOrHint(connection: Parameters<typeof requireValue>[0]): string {
  if (connection.user) return connection.user;
  try {
    return requireValue(connection, 'user');
  } catch (err) {
    throw new UsageError('ERR_MISSING_USER', 'missing user: name the user whose keys to show', {
      hint: 'pass --target-user NAME (or --user / SNOWFLAKE_USER for the authenticating user)',
      cause: err,
    });
  }
}
