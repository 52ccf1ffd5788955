/**
 * The journal of a PAT rotation (DESIGN.md §3 "Crash safety with a secret shown once"). It never
 * holds the secret: only the token, the step reached, and the names of the token objects the run has
 * to tell apart on a rerun. Snowflake shows the new secret once, in ROTATE's answer, so a run that
 * dies before delivering it has lost it; what the rerun needs is which rotated-out object holds the
 * secret the program still uses (`rotatedTokenName`) and which hold secrets nobody has (`lost`).
 * Pure: text in, journal out.
 */
import { ROTATION_STATES, type RotationState } from './rotation-journal.js';
import { normalizeUserName } from './rotation-plan.js';

export interface PatJournal {
  version: 1;
  kind: 'sfauth-rotate-pat';
  /** JWT form of the account (upper-case). */
  account: string;
  targetUser: string;
  targetKey: string;
  /** The token, as Snowflake stores its name. */
  name: string;
  roleRestriction: string | null;
  /** `--grace` in hours: 0 removes the rotated-out object once the new secret is delivered. */
  graceHours: number;
  /** Where the secret goes: `stdout`, `file`, `store` (never the secret). */
  destination: 'stdout' | 'file' | 'store';
  /** The rotated-out objects of this token when the rotation was planned: none of them is this run's. */
  knownRotated: string[];
  /** The rotated-out object holding the secret the program used before this rotation (null: not rotated yet). */
  rotatedTokenName: string | null;
  /** Rotated-out objects holding secrets this rotation made and lost (a crash, a failed store): removed. */
  lost: string[];
  createdAt: string;
  updatedAt: string;
  step: RotationState;
  /**
   * The store command of a delivery under way (its process group and start time): a run killed there
   * leaves it running with the secret it was given, so the rerun stops it before delivering a newer one.
   */
  storeProcess?: { pid: number; start: string | null } | null;
}

const NAME = (x: unknown): x is string => typeof x === 'string' && x !== '' && x.length <= 300 && !/[\x00-\x1f\x7f]/.test(x);

export function parsePatJournal(text: string): PatJournal | null {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || v.kind !== 'sfauth-rotate-pat' || v.version !== 1) return null;
  if (![v.account, v.targetUser, v.targetKey, v.name, v.createdAt, v.updatedAt].every(NAME)) return null;
  if (!ROTATION_STATES.includes(v.step as RotationState)) return null;
  if (!(v.roleRestriction === null || NAME(v.roleRestriction)) || !(v.rotatedTokenName === null || NAME(v.rotatedTokenName))) return null;
  if (!Number.isInteger(v.graceHours) || (v.graceHours as number) < 0) return null;
  if (!['stdout', 'file', 'store'].includes(v.destination as string)) return null;
  if (!Array.isArray(v.knownRotated) || !v.knownRotated.every(NAME) || !Array.isArray(v.lost) || !v.lost.every(NAME)) return null;
  if (normalizeUserName(v.targetUser as string) !== v.targetKey) return null;
  const sp = v.storeProcess as { pid?: unknown; start?: unknown } | null | undefined;
  if (sp !== undefined && sp !== null && !(Number.isInteger(sp.pid) && (sp.pid as number) > 1 && (sp.start === null || (typeof sp.start === 'string' && /^\d+$/.test(sp.start))))) return null;
  return v as unknown as PatJournal;
}

/** Does the journal belong to this account, user and token? */
export function patJournalMatches(j: PatJournal, account: string, user: string, name: string): boolean {
  return j.account === account.toUpperCase() && j.targetKey === normalizeUserName(user) && j.name === name;
}
