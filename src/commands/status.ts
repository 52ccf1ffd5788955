/**
 * `sfauth status`: a user's two key slots from `DESC USER` (fingerprint, when set, age) and which
 * one the local key matches; `--max-age` turns it into a monitoring check (exit 1 when the key in
 * use is older). The key in use is the slot holding the connection's private key; when the local
 * key is in neither slot (an admin looking at another user, or a token), the most recently set slot.
 */
import type { CommandContext } from '../context.js';
import { CheckFailedError, UsageError } from '../errors.js';
import { connectionReport, requireValue } from '../config/index.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { sameFingerprint } from '../core/fingerprint.js';
import { ageDays, ageSeconds, isOlderThan, keyInUse, pendingJournal, type KeyInUseReason } from '../core/rotation-plan.js';
import { slotProperty, type Slot } from '../core/sql.js';
import { displayPath } from '../io/paths.js';
import { openSession, type Session, type SessionFlags } from '../snowflake/session.js';
import { accountForJwt } from '../core/account.js';
import { findJournals, type FoundJournal } from '../rotate/journal.js';
import { defaultKeyDir } from '../rotate/new-key.js';
import { describeUser, type KeySlot } from '../snowflake/users.js';

export interface StatusOptions extends SessionFlags {
  targetUser?: string;
  maxAge?: string;
  json?: boolean;
}

export interface StatusSlot {
  slot: Slot;
  property: string;
  fingerprint: string | null;
  /** ISO 8601 when Snowflake's text could be read, else the text as shown; null for an empty slot or an unknown time. */
  lastSetTime: string | null;
  ageDays: number | null;
  matchesLocalKey: boolean;
}

export interface StatusResult {
  user: string;
  loginName: string | null;
  localKey: { fingerprint: string; path?: string } | null;
  slots: StatusSlot[];
  keyInUse: { slot: Slot | null; reason: KeyInUseReason; ageDays: number | null };
  maxAge?: { limit: string; ok: boolean };
  /** An unfinished `sfauth rotate` of this user, found where rotate keeps its journal. */
  unfinishedRotation?: { journal: string; step: string; startedAt: string; newFingerprint: string };
}

/** "41 days", "3h 5m", or "unknown". */
export function ageText(slot: Pick<KeySlot, 'lastSetTime'>, nowMs: number): string {
  const s = ageSeconds(slot.lastSetTime, nowMs);
  return s === null ? 'unknown' : formatDuration(s);
}

/** Columns padded to their widest cell (the last column is not padded). */
export function alignedTable(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

export async function run(options: StatusOptions, ctx: CommandContext): Promise<number> {
  const maxAgeSeconds = options.maxAge !== undefined ? parseDuration(options.maxAge, '--max-age') : undefined;
  const session = await openSession(options, ctx);
  const target = options.targetUser ?? userOrHint(session.connection);
  const localFingerprint = session.key ? session.identity.fingerprint : undefined;

  const step = await ctx.progress.step(`Reading DESC USER ${target}`, { quiet: true });
  let desc;
  try {
    desc = await describeUser(session.client, target);
    step.succeed();
  } catch (err) {
    step.fail(`Could not read DESC USER ${target}`);
    throw err;
  }

  const now = ctx.now();
  const inUse = keyInUse(desc.slots, localFingerprint);
  const inUseSlot = inUse.slot === null ? undefined : desc.slots[inUse.slot - 1]!;
  const result: StatusResult = {
    user: desc.name ?? target,
    loginName: desc.loginName,
    localKey: localFingerprint ? { fingerprint: localFingerprint, ...(session.key?.path ? { path: session.key.path } : {}) } : null,
    slots: desc.slots.map((s) => ({
      slot: s.slot,
      property: slotProperty(s.slot),
      fingerprint: s.fingerprint,
      lastSetTime: s.lastSetTime ? s.lastSetTime.toISOString() : s.lastSetTimeText,
      ageDays: ageDays(s.lastSetTime, now),
      matchesLocalKey: sameFingerprint(s.fingerprint, localFingerprint),
    })),
    keyInUse: { slot: inUse.slot, reason: inUse.reason, ageDays: inUseSlot ? ageDays(inUseSlot.lastSetTime, now) : null },
  };
  const pending = await unfinishedRotation(session, target, ctx);
  if (pending) {
    result.unfinishedRotation = { journal: pending.path, step: pending.journal.step, startedAt: pending.journal.createdAt, newFingerprint: pending.journal.newFingerprint };
  }
  const tooOld = maxAgeSeconds !== undefined && (!inUseSlot || isOlderThan(inUseSlot.lastSetTime, maxAgeSeconds, now));
  if (maxAgeSeconds !== undefined) result.maxAge = { limit: options.maxAge!, ok: !tooOld };

  const out = ctx.out;
  if (out.json) {
    out.document({ ...result, connection: connectionReport(session.connection) });
  } else {
    const rows = [['SLOT', 'PROPERTY', 'FINGERPRINT', 'LAST SET', 'AGE', 'LOCAL KEY']];
    for (const s of desc.slots) {
      const set = s.fingerprint !== null;
      const local = !localFingerprint ? '-' : sameFingerprint(s.fingerprint, localFingerprint) ? 'matches' : 'no';
      rows.push([
        String(s.slot),
        slotProperty(s.slot),
        set ? s.fingerprint! : '(empty)',
        set ? (s.lastSetTimeText ?? 'unknown') : '-',
        set ? ageText(s, now) : '-',
        set ? local + (inUse.slot === s.slot ? ' (in use)' : '') : '-',
      ]);
    }
    out.line(`user ${result.user}${desc.loginName && desc.loginName !== result.user ? ` (login ${desc.loginName})` : ''}`);
    for (const line of alignedTable(rows)) out.line(line);
    const where = session.key?.path ? displayPath(session.key.path, ctx.cwd) : session.key?.label;
    if (localFingerprint && inUse.reason !== 'local-key') {
      out.info(out.style.dim(`the local key${where ? ` (${where})` : ''} ${localFingerprint} is in neither slot`));
    }
    if (inUse.reason === 'newest') out.info(out.style.dim(`key in use: taken to be slot ${inUse.slot}, the most recently set`));
  }
  if (pending && !out.json) {
    out.warn(
      `an unfinished rotation of ${target} (begun ${pending.journal.createdAt}, last step: ${pending.journal.step}, new key ${pending.journal.newFingerprint}); ` +
        `run the same sfauth rotate command again to finish it (journal ${displayPath(pending.path, ctx.cwd)})`,
    );
  }

  if (maxAgeSeconds !== undefined) {
    const limit = formatDuration(maxAgeSeconds);
    if (tooOld) {
      const what = !inUseSlot
        ? `${result.user} has no registered key`
        : inUseSlot.lastSetTime === null
          ? `the key in use (slot ${inUseSlot.slot}) was set at an unknown time`
          : `the key in use (slot ${inUseSlot.slot}) is ${ageText(inUseSlot, now)} old, more than ${limit}`;
      throw new CheckFailedError('ERR_KEY_TOO_OLD', what, {
        details: inUseSlot?.fingerprint ? [`fingerprint ${inUseSlot.fingerprint}`] : [],
        hint: `rotate it: sfauth rotate${options.connection ? ` -c ${options.connection}` : ''}${options.targetUser ? ` --target-user ${options.targetUser}` : ''} --apply`,
        data: { slot: inUseSlot?.slot ?? null, ageDays: result.keyInUse.ageDays, maxAge: options.maxAge },
      });
    }
    if (!out.json) out.success(`the key in use (slot ${inUseSlot!.slot}) is ${ageText(inUseSlot!, now)} old, within ${limit}`);
  }
  return 0;
}

/** The journal of an unfinished rotation where rotate would keep it (beside the key in use, else the current folder). */
async function unfinishedRotation(session: Session, target: string, ctx: CommandContext): Promise<FoundJournal | undefined> {
  const account = session.connection.account;
  if (!account) return undefined;
  const scan = await findJournals(defaultKeyDir(ctx, session.key), { account: accountForJwt(account), targetUser: target });
  for (const why of scan.ignored) ctx.out.warn(why);
  const pending = pendingJournal(scan.found.map((f) => f.journal));
  return scan.found.find((f) => f.journal === pending);
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
