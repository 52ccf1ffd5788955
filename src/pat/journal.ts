/**
 * A PAT rotation's journal on disk: `<state>/pats/<account>/<user>/<token>.rotate.json`, 0600, in
 * folders only this user can write. It steers which token objects a rerun removes, so it is trusted
 * only when nobody else could have written it (DESIGN.md §7): a journal that is not this user's own
 * file, only they can write, stops the run instead of being followed.
 */
import { lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { parsePatJournal, patJournalMatches, type PatJournal } from '../core/pat-journal.js';
import type { RotationState } from '../core/rotation-journal.js';
import { fileSafeName, userFileName } from '../core/rotation-plan.js';
import { writeNewFiles } from '../io/files.js';
import { ensurePrivateFolder, stateDir } from '../rotate/lock.js';
import { homeDirOf } from '../snowflake/session.js';

export function patJournalPath(ctx: CommandContext, account: string, user: string, name: string): string {
  return join(stateDir(ctx.env, homeDirOf(ctx)), 'pats', fileSafeName(account), userFileName(user), `${userFileName(name)}.rotate.json`);
}

/** The folders on the way, made 0700 (and checked) before the journal is first written. */
export function preparePatJournalFolder(ctx: CommandContext, path: string): void {
  const base = join(stateDir(ctx.env, homeDirOf(ctx)), 'pats');
  ensurePrivateFolder(stateDir(ctx.env, homeDirOf(ctx)), 'state folder');
  ensurePrivateFolder(base, 'token journal folder');
  const parts = path.slice(base.length + 1).split('/').slice(0, -1);
  let dir = base;
  for (const p of parts) ensurePrivateFolder((dir = join(dir, p)), 'token journal folder');
}

/** The unfinished rotation's journal of this token, or null; throws when a file there is not to be trusted. */
export function readPatJournal(path: string, account: string, user: string, name: string): PatJournal | null {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return null;
  }
  const uid = process.getuid?.();
  const why = st.isSymbolicLink() ? 'it is a symbolic link' : !st.isFile() ? 'it is not a regular file' : uid !== undefined && st.uid !== uid ? `it belongs to uid ${st.uid}` : st.mode & 0o022 ? 'others can write it' : null;
  const journal = why ? null : parsePatJournal(readFileSync(path, 'utf8'));
  if (why || !journal || !patJournalMatches(journal, account, user, name)) {
    throw new UsageError('ERR_FILE_UNTRUSTED', `refusing the token rotation journal ${path}: ${why ?? 'it is damaged or belongs to another rotation'}`, {
      hint: 'it says which token objects a rerun removes; check it, and delete it if nobody is rotating this token',
      data: { path },
    });
  }
  return journal;
}

export function writePatJournal(path: string, journal: PatJournal, durable: boolean): void {
  writeNewFiles([{ path, data: JSON.stringify(journal, null, 2) + '\n', mode: 0o600 }], { overwrite: true, durable });
}

export function updatePatJournal(path: string, journal: PatJournal, patch: Partial<PatJournal> & { step?: RotationState }, nowMs: number): PatJournal {
  const next = { ...journal, ...patch, updatedAt: new Date(nowMs).toISOString() };
  writePatJournal(path, next, true);
  return next;
}

export function removePatJournal(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}
