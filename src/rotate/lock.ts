/**
 * One rotation of a user at a time (DESIGN.md §3 "Concurrency"): a lock file per account and target
 * user in the user's state folder (`$XDG_STATE_HOME/sfauth/locks`, else `~/.local/state/sfauth/locks`),
 * created exclusively. It records the holder's pid and host; a lock whose holder was on this host and
 * is no longer running is stale (a SIGKILL leaves one behind) and is taken over. The lock only keeps
 * runs on one machine apart: before every change on the server the engine re-reads the keys anyway.
 */
import { createHash, randomBytes } from 'node:crypto';
import { linkSync, lstatSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Env } from '../context.js';
import { CheckFailedError, UsageError } from '../errors.js';
import { onInterrupt } from '../io/cleanup.js';
import { errno, processAlive, removeStaleTempFiles } from '../io/files.js';
import { fileSafeName, normalizeUserName, userFileName } from '../core/rotation-plan.js';

interface LockRecord {
  pid: number;
  host: string;
  startedAt: string;
}

/** The folder for sfauth's own state (locks), created 0700 when missing. */
export function stateDir(env: Env, homeDir: string): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/') ? env.XDG_STATE_HOME : join(homeDir, '.local', 'state');
  return join(base, 'sfauth');
}


function readRecord(path: string): LockRecord | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockRecord>;
    return typeof v.pid === 'number' && typeof v.host === 'string' ? { pid: v.pid, host: v.host, startedAt: String(v.startedAt ?? '') } : null;
  } catch {
    return null;
  }
}

function lockFolder(env: Env, homeDir: string): string {
  return ensurePrivateFolder(join(stateDir(env, homeDir), 'locks'), 'lock folder');
}

/** Where `--store-cmd` without `--out` keeps a new key until it is handed over: sfauth's state folder. */
export function keyStateFolder(env: Env, homeDir: string, account: string, targetUser: string): string {
  return join(stateDir(env, homeDir), 'keys', fileSafeName(account), userFileName(targetUser));
}

/**
 * Folders on the way to a key sfauth writes must not let another user replace what is in them
 * (DESIGN.md §7 v3): `dir` and each folder above it belongs to this user or root, and none is
 * writable by others unless it is sticky (as /tmp is, where only a file's owner may rename it).
 */
export function assertSafeChain(dir: string, what: string): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  for (let d = resolve(dir); ; d = dirname(d)) {
    let st;
    try {
      st = lstatSync(d);
    } catch {
      if (d === dirname(d)) return;
      continue; // not made yet
    }
    const why =
      st.uid !== uid && st.uid !== 0 ? `${d} belongs to uid ${st.uid}` : st.mode & 0o022 && !(st.mode & 0o1000) ? `${d} is writable by ${st.mode & 0o002 ? 'others' : 'its group'}` : null;
    if (why) {
      throw new UsageError('ERR_FILE_UNTRUSTED', `refusing to use the ${what} ${dir}: ${why}, so another user could swap the files in it`, {
        hint: `chmod go-w ${d} (or use a folder only you can write)`,
        data: { path: dir },
      });
    }
    if (d === dirname(d)) return;
  }
}

/** Creates `dir` (0700) if needed and checks that only this user can write it. */
export function ensurePrivateFolder(dir: string, what: string): string {
  assertSafeChain(dirname(dir), what);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UsageError('ERR_OUTPUT_UNWRITABLE', `cannot create the ${what} ${dir}: ${errno(err) ?? (err as Error).message}`, {
      hint: 'set XDG_STATE_HOME (or HOME) to a folder you can write',
    });
  }
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (uid !== undefined && (st.uid !== uid || st.mode & 0o022 || !st.isDirectory())) {
    throw new UsageError('ERR_FILE_UNTRUSTED', `refusing to use the ${what} ${dir}: it is not a folder only you can write`, {
      hint: `chmod 0700 ${dir} (it must belong to you), or set XDG_STATE_HOME to another folder`,
    });
  }
  return dir;
}

export interface RotationLock {
  path: string;
  release(): void;
}

/** Takes the lock for `account` + `targetUser`, or fails with ERR_ROTATION_LOCKED (exit 1). */
export function acquireRotationLock(env: Env, homeDir: string, account: string, targetUser: string, nowMs: number): RotationLock {
  const key = `${account.toUpperCase()}\u0000${normalizeUserName(targetUser)}`;
  const name = `${fileSafeName(account)}.${userFileName(targetUser)}.${createHash('sha256').update(key).digest('hex').slice(0, 12)}.lock`;
  const path = join(lockFolder(env, homeDir), name);
  const record: LockRecord = { pid: process.pid, host: hostname(), startedAt: new Date(nowMs).toISOString() };
  // The lock appears with its record already in it (a temp file linked into place): a kill can never
  // leave an empty lock, which no rule could tell from a live one. Dead writers' temp files go first.
  removeStaleTempFiles(dirname(path));
  const temp = join(dirname(path), `.${name}.sfauth-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(temp, JSON.stringify(record) + '\n', { mode: 0o600 });
  try {
    return linkLock(temp, path, record, targetUser);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // never there
    }
  }
}

const EMPTY_LOCK_STALE_MS = 10_000;

function ageMs(path: string): number {
  try {
    return Date.now() - lstatSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** Links `temp` (the record) into place as the lock; a dead holder's lock on this host is taken over. */
function linkLock(temp: string, path: string, record: LockRecord, targetUser: string): RotationLock {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      linkSync(temp, path); // fails with EEXIST while another run holds it
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
      const held = readRecord(path);
      // Stale: its holder on this host died (SIGKILL, power loss); or it holds no record and is older
      // than any write takes (sfauth 0.2 created the lock empty and wrote it after: a kill between left it so).
      if ((held && held.host === record.host && !processAlive(held.pid)) || (!held && ageMs(path) > EMPTY_LOCK_STALE_MS)) {
        unlinkSync(path);
        continue;
      }
      throw new CheckFailedError('ERR_ROTATION_LOCKED', `another sfauth rotate of ${targetUser} is running${held ? ` (pid ${held.pid} on ${held.host}, since ${held.startedAt})` : ''}`, {
        hint: `wait for it to finish, then run this again; if that process is gone for good, remove ${path}`,
        data: { lock: path, ...(held ? { pid: held.pid, host: held.host } : {}) },
      });
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      forget();
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    };
    const forget = onInterrupt(() => unlinkSync(path));
    return { path, release };
  }
  throw new CheckFailedError('ERR_ROTATION_LOCKED', `could not take the rotation lock ${path}`, { hint: 'run the command again' });
}

/**
 * The same lock, waited for (up to `waitMs`) instead of refused: a short change (`revoke`) queues
 * behind another one of the same user, then reads the keys afresh and decides on what it sees.
 */
export async function waitForRotationLock(env: Env, homeDir: string, account: string, targetUser: string, now: () => number, waitMs = 15_000): Promise<RotationLock> {
  const until = now() + waitMs;
  for (;;) {
    try {
      return acquireRotationLock(env, homeDir, account, targetUser, now());
    } catch (err) {
      if (!(err instanceof CheckFailedError && err.code === 'ERR_ROTATION_LOCKED') || now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
