/**
 * The rotation journal on disk: `<new key>.rotate.json` beside the new private key, mode 0600,
 * written atomically before the first change on the server and updated after every step. It holds
 * no secrets (fingerprints, the public key, paths, slots, the step reached), so an interrupted
 * `sfauth rotate` run again with the same arguments can find "its" key and finish.
 *
 * A journal steers what rotate registers and which files it touches, so on a shared host it is
 * trusted only when nobody else could have written it (DESIGN.md §7 "Other local users"): the current
 * user owns it, nobody else can write it or replace it in its folder, its paths are exactly where this
 * run would put them, and its public key is the one its fingerprint names.
 */
import { createPublicKey } from 'node:crypto';
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fingerprintOf, sameFingerprint } from '../core/fingerprint.js';
import { journalPathFor } from '../core/rotation-plan.js';
import { journalMatches, parseJournal, type RotationJournal, type RotationState } from '../core/rotation-journal.js';
import { UsageError } from '../errors.js';
import { readInputFile, removeStaleTempFiles, writeNewFiles, type NewFile } from '../io/files.js';
import { publicKeyPathFor } from '../commands/keygen.js';

export interface FoundJournal {
  path: string;
  journal: RotationJournal;
}

export interface JournalScan {
  found: FoundJournal[];
  /** Why journals that looked like ours were not trusted (for warnings; no secrets). */
  ignored: string[];
}

const S_ISVTX = 0o1000;
const myUid = (): number | undefined => process.getuid?.();

/** Why a file or folder owned by someone else, or writable by others, cannot be trusted (null: it can). */
function untrusted(st: Stats, what: 'file' | 'folder'): string | null {
  const uid = myUid();
  if (uid === undefined) return null; // Windows: no POSIX owners
  if (what === 'file') {
    if (st.isSymbolicLink()) return 'it is a symbolic link';
    if (!st.isFile()) return 'it is not a regular file';
    if (st.uid !== uid) return `it belongs to uid ${st.uid}, not to you`;
    if (st.mode & 0o022) return `it is writable by ${st.mode & 0o002 ? 'others' : 'its group'}`;
    return null;
  }
  // The owner of a folder can replace any file in it; others with write access can too, unless the
  // folder is sticky (as /tmp is), where only a file's owner may rename or remove it.
  if (st.uid !== uid && st.uid !== 0) return `its folder belongs to uid ${st.uid}`;
  if (st.mode & 0o022 && !(st.mode & S_ISVTX)) return `its folder is writable by ${st.mode & 0o002 ? 'others' : 'its group'}`;
  return null;
}

/** Checks a file that a journal points to (the new private key) before it is read or relied on. */
export function assertTrustedFile(path: string, what: string): void {
  let st: Stats;
  let dir: Stats;
  try {
    st = lstatSync(path);
    dir = lstatSync(dirname(path));
  } catch {
    return; // missing: the caller handles that
  }
  const why = untrusted(st, 'file') ?? untrusted(dir, 'folder');
  if (why) {
    throw new UsageError('ERR_FILE_UNTRUSTED', `refusing to use ${what} ${path}: ${why}`, {
      hint: 'another user could have written it; check the file, then chmod go-w it (and its folder), or move the rotation to a folder only you can write',
      data: { path },
    });
  }
}

/** The base64 SPKI body's own fingerprint, or null when it is not a public key. */
function bodyFingerprint(body: string): string | null {
  try {
    return fingerprintOf(createPublicKey({ key: Buffer.from(body, 'base64'), format: 'der', type: 'spki' }));
  } catch {
    return null;
  }
}

export interface JournalFilter {
  /** JWT form of the account. */
  account: string;
  /** Only this user's journals; absent: every user's of the account (a fleet's one scan). */
  targetUser?: string;
  /** The fingerprint of the key this run authenticates with, when it rotates its own key. */
  selfFingerprint?: string | null;
}

/** Every trustworthy journal in `dir` for this account and user; dead writers' temp files are removed. */
export async function findJournals(dir: string, filter: JournalFilter): Promise<JournalScan> {
  const scan: JournalScan = { found: [], ignored: [] };
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.rotate.json') && !n.startsWith('.'));
  } catch {
    return scan;
  }
  removeStaleTempFiles(dir);
  if (names.length === 0) return scan;
  const folderProblem = untrusted(lstatSync(dir), 'folder');
  for (const name of names) {
    const path = join(dir, name);
    let st: Stats;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    const problem = folderProblem ?? untrusted(st, 'file');
    let journal: RotationJournal | null = null;
    try {
      if (!problem) journal = parseJournal((await readInputFile(path, 'rotation journal')).toString('utf8'));
    } catch {
      journal = null;
    }
    if (problem) {
      scan.ignored.push(`ignoring the rotation journal ${path}: ${problem}`);
      continue;
    }
    if (!journal || (filter.targetUser !== undefined ? !journalMatches(journal, filter.account, filter.targetUser) : journal.account !== filter.account.toUpperCase())) continue;
    const incoherent = incoherence(path, journal, filter);
    if (incoherent) {
      scan.ignored.push(`ignoring the rotation journal ${path}: ${incoherent}`);
      continue;
    }
    scan.found.push({ path, journal });
  }
  return scan;
}

/** A journal must describe itself: paths where this run would put them, a public key matching its fingerprint. */
function incoherence(path: string, j: RotationJournal, filter: JournalFilter): string | null {
  if (journalPathFor(j.privateKeyPath) !== path) return `it names a key outside its own place (${basename(j.privateKeyPath)})`;
  if (j.publicKeyPath !== publicKeyPathFor(j.privateKeyPath)) return 'it names a public key file that is not beside its private key';
  if (!sameFingerprint(bodyFingerprint(j.newPublicKey), j.newFingerprint)) return 'its public key does not match its fingerprint';
  const self = filter.selfFingerprint;
  if (self && j.self && ![j.authFingerprint, j.oldFingerprint, j.newFingerprint].some((fp) => sameFingerprint(fp, self))) {
    return 'it belongs to a rotation of another key';
  }
  return null;
}

export function journalFile(path: string, journal: RotationJournal): NewFile {
  return { path, data: JSON.stringify(journal, null, 2) + '\n', mode: 0o600 };
}

/**
 * Rewrites the journal atomically (temp file + rename) with the step reached. Not fsynced: the state
 * it records is a hint, since a rerun re-reads the server to see which steps took effect; what must
 * survive a power loss (the new key and the first journal, before any server change) is written durably.
 */
export function updateJournal(path: string, journal: RotationJournal, step: RotationState, nowMs: number): RotationJournal {
  const at = new Date(nowMs).toISOString();
  const next: RotationJournal = { ...journal, step, updatedAt: at, ...(step === 'complete' ? { completedAt: at } : {}) };
  writeNewFiles([journalFile(path, next)], { overwrite: true, durable: false });
  return next;
}
