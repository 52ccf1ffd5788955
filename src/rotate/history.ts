/**
 * The rotation history (DESIGN.md §3 "History and advice", §7 "What a rotation leaves behind"): one
 * JSON line per completed rotation in `<state folder>/history.jsonl` (0600 in a 0700 folder), so that
 * the journal of a finished rotation can go while its facts stay: which key replaced which, when, and
 * where the new key went. No secret is ever written here: fingerprints, paths and words.
 *
 * It answers three questions:
 *   - "was this key rotated out by sfauth?" (a refused key gets "rotated out on DATE", never "register it");
 *   - "which key replaced it, and which replaced that?" (the chain A → B → C, to the newest key);
 *   - "which old private key files may go once the server no longer accepts their key?" (housekeeping).
 */
import { timeText } from '../core/time-text.js';
import { appendFileSync, lstatSync, writeFileSync, renameSync } from 'node:fs';
import { readOwnFileNoFollow } from '../io/files.js';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../context.js';
import { sameFingerprint } from '../core/fingerprint.js';
import { normalizeUserName } from '../core/rotation-plan.js';
import { ensurePrivateFolder, stateDir } from './lock.js';
import { CheckFailedError, type SfauthError } from '../errors.js';

export interface HistoryEntry {
  /** When the rotation completed (ISO). */
  at: string;
  /** JWT form of the account. */
  account: string;
  user: string;
  /** `normalizeUserName(user)`, for matching. */
  userKey: string;
  /** `RSA_PUBLIC_KEY_2`, `key pair CI_KEY`. */
  place: string;
  oldFingerprint: string | null;
  newFingerprint: string;
  /** Where the new key went, in words: `--store-cmd`, `connection 'loader' (~/.snowflake/connections.toml)`, `/path/rsa_key.p8`. */
  deliveredTo: string[];
  /** Where the new private key file is (null: handed over, no file kept). */
  privateKeyPath: string | null;
  /**
   * Private key files of the old key that sfauth wrote or replaced, still on disk because the server
   * may still accept that key (a named pair's grace period); removed once it does not.
   */
  oldKeyFiles: string[];
  /** When the old key stopped (or stops) working: ISO, or `grace` while a rotated-out pair lives. */
  oldKeyEnds: string | null;
}

const NAME = 'history.jsonl';
/** Past this the file keeps its newer half: the chains that matter are recent. */
const MAX_BYTES = 512 * 1024;

export function historyPath(env: Env, homeDir: string): string {
  return join(stateDir(env, homeDir), NAME);
}

/** Appends one completed rotation (the folder is made private first). */
export function appendHistory(env: Env, homeDir: string, entry: HistoryEntry): void {
  ensurePrivateFolder(stateDir(env, homeDir), 'state folder');
  const path = historyPath(env, homeDir);
  const line = JSON.stringify(entry) + '\n';
  try {
    const st = lstatSync(path);
    if (st.size + line.length > MAX_BYTES) {
      const all = readEntries(path);
      const keep = all.slice(-Math.floor(all.length / 2));
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, keep.map((e) => JSON.stringify(e) + '\n').join(''), { mode: 0o600 });
      renameSync(tmp, path);
    }
  } catch {
    // no history yet
  }
  appendFileSync(path, line, { mode: 0o600 });
}

/** Rewrites the history with `update` applied to each entry (housekeeping marks files removed). */
export function rewriteHistory(env: Env, homeDir: string, update: (e: HistoryEntry) => HistoryEntry): void {
  const path = historyPath(env, homeDir);
  const entries = readEntries(path);
  if (!entries.length) return;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, entries.map((e) => JSON.stringify(update(e)) + '\n').join(''), { mode: 0o600 });
  renameSync(tmp, path);
}

/** Every entry of the history (an untrusted or damaged file reads as empty; damaged lines are skipped). */
export function readHistory(env: Env, homeDir: string): HistoryEntry[] {
  return readEntries(historyPath(env, homeDir));
}

function readEntries(path: string): HistoryEntry[] {
  let text: string;
  try {
    // Only a file of ours that nobody else can write steers advice and deletions (DESIGN.md §7).
    text = readOwnFileNoFollow(path, 'rotation history', 4 * MAX_BYTES).toString('utf8');
  } catch {
    return [];
  }
  const out: HistoryEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as HistoryEntry;
      if (typeof v.newFingerprint === 'string' && typeof v.account === 'string' && typeof v.userKey === 'string' && typeof v.at === 'string') {
        out.push({ ...v, deliveredTo: Array.isArray(v.deliveredTo) ? v.deliveredTo : [], oldKeyFiles: Array.isArray(v.oldKeyFiles) ? v.oldKeyFiles : [] });
      }
    } catch {
      // a torn last line (a crash mid-append): skipped
    }
  }
  return out;
}

/** The entries of one user of one account, oldest first. */
export function entriesOf(history: readonly HistoryEntry[], account: string, user: string): HistoryEntry[] {
  const acct = account.toUpperCase();
  const key = normalizeUserName(user);
  return history.filter((e) => e.account === acct && e.userKey === key);
}

export interface RotatedOut {
  /** The rotation that replaced the key. */
  entry: HistoryEntry;
  /** The rotations after it, in order: the last one's new key is the newest known. */
  chain: HistoryEntry[];
  newest: HistoryEntry;
}

/**
 * Was `fingerprint` rotated out by sfauth for this user? Follows the chain A → B → C to the newest key.
 * Any account or user when they are unknown (a refused token names both, a bare key names neither).
 */
export function rotatedOut(history: readonly HistoryEntry[], fingerprint: string, who?: { account?: string; user?: string }): RotatedOut | null {
  const mine = history.filter(
    (e) => (!who?.account || e.account === accountKey(who.account)) && (!who?.user || e.userKey === normalizeUserName(who.user)),
  );
  const first = [...mine].reverse().find((e) => sameFingerprint(e.oldFingerprint, fingerprint));
  if (!first) return null;
  const chain = [first];
  const seen = new Set([first.newFingerprint]);
  for (let cur = first; ; ) {
    const next = mine.find((e) => e !== cur && sameFingerprint(e.oldFingerprint, cur.newFingerprint) && e.userKey === cur.userKey && !seen.has(e.newFingerprint));
    if (!next) break;
    seen.add(next.newFingerprint);
    chain.push(next);
    cur = next;
  }
  return { entry: first, chain: chain.slice(1), newest: chain[chain.length - 1]! };
}

function accountKey(account: string): string {
  return account.split('.')[0]!.toUpperCase();
}

/** Words for a refused key that sfauth rotated out: the message's tail and the hint. */
export function rotatedOutWords(r: RotatedOut, display: (p: string) => string = (p) => p): { message: string; hint: string; details: string[] } {
  const when = timeText(r.entry.at);
  const n = r.newest;
  const where = n.deliveredTo.length ? n.deliveredTo.join(', ') : n.privateKeyPath ? display(n.privateKeyPath) : 'not recorded';
  const details = [
    `rotated out on ${when} by sfauth rotate (${r.entry.place} of ${r.entry.user} got ${r.entry.newFingerprint})`,
    ...r.chain.map((e) => `then rotated again on ${e.at.replace(/T(\d\d:\d\d).*$/, ' $1 UTC')}: ${e.oldFingerprint} → ${e.newFingerprint}`),
    `the newest key is ${n.newFingerprint}, delivered to ${where}`,
  ];
  const hint =
    n.privateKeyPath && !n.deliveredTo.some((d) => d === '--store-cmd')
      ? `use the newest key (private_key_file = "${n.privateKeyPath}", or --private-key); do not register the old one again`
      : `use the newest key from where it was delivered (${where}); do not register the old one again`;
  return { message: `this key was rotated out on ${when} by sfauth rotate; Snowflake no longer accepts it`, hint, details };
}

/**
 * A refusal because the key is not registered (394304) of a key that sfauth rotated out: say so and
 * point at the newest key, instead of the generic hint (which would suggest registering it again).
 */
export function adviseRefusal(err: SfauthError, env: Env, homeDir: string = env.HOME || homedir()): SfauthError {
  const data = err.data as { code?: string; fingerprint?: string; account?: string } | undefined;
  if (err.code !== 'ERR_AUTH_REFUSED' || data?.code !== '394304' || !data.fingerprint) return err;
  let found: RotatedOut | null;
  try {
    found = rotatedOut(readHistory(env, homeDir), data.fingerprint, data.account ? { account: data.account } : undefined);
  } catch {
    return err;
  }
  if (!found) return err;
  const words = rotatedOutWords(found);
  return new CheckFailedError(err.code, `${err.message}: ${words.message}`, { details: [...err.details, ...words.details], hint: words.hint, data: { ...(err.data as object), rotatedOutOn: found.entry.at, newestFingerprint: found.newest.newFingerprint } });
}
