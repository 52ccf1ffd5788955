/**
 * The rotation journal on disk: `<new key>.rotate.json` beside the new private key, mode 0600,
 * written atomically before the first change on the server and updated after every step. It holds
 * no secrets (fingerprints, the public key, paths, slots, the step reached), so an interrupted
 * `sfauth rotate` run again with the same arguments can find "its" key and finish.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { journalMatches, parseJournal, type JournalStep, type RotationJournal } from '../core/rotation-plan.js';
import { writeNewFiles, type NewFile } from '../io/files.js';

export interface FoundJournal {
  path: string;
  journal: RotationJournal;
}

/** Every journal in `dir` for this account and user (unreadable or foreign files are skipped). */
export function findJournals(dir: string, account: string, targetUser: string): FoundJournal[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const found: FoundJournal[] = [];
  for (const name of names) {
    if (!name.endsWith('.rotate.json') || name.startsWith('.')) continue;
    const path = join(dir, name);
    let journal: RotationJournal | null;
    try {
      journal = parseJournal(readFileSync(path, 'utf8'));
    } catch {
      continue;
    }
    if (journal && journalMatches(journal, account, targetUser)) found.push({ path, journal });
  }
  return found;
}

export function journalFile(path: string, journal: RotationJournal): NewFile {
  return { path, data: JSON.stringify(journal, null, 2) + '\n', mode: 0o600 };
}

/** Rewrites the journal atomically (temp file + rename) with the step reached. */
export function updateJournal(path: string, journal: RotationJournal, step: JournalStep, nowMs: number): RotationJournal {
  const at = new Date(nowMs).toISOString();
  const next: RotationJournal = { ...journal, step, updatedAt: at, ...(step === 'complete' ? { completedAt: at } : {}) };
  writeNewFiles([journalFile(path, next)], { overwrite: true });
  return next;
}
