/**
 * The journal of a rotation: what `sfauth rotate` wrote down before its first change on the server,
 * and the last state it reached (DESIGN.md §3 "Rotation", crash safety). It holds no secrets: the
 * target, fingerprints, the new public key, paths and the step.
 *
 * Version 2 (sfauth 0.2) names what the new key replaces as a `target` (a legacy slot, a named key
 * pair, or a migration from a slot to a pair). Version 1 (sfauth 0.1: legacy slots only) is read and
 * upgraded, so a rotation interrupted under 0.1 resumes under 0.2. Pure: text in, journal out.
 */
import type { Slot } from './sql.js';
import { normalizeUserName } from './rotation-plan.js';

/**
 * The states of a rotation, in order (src/rotate/engine.ts moves between them). Each is recorded once
 * it took effect; a rerun starts from the recorded state and re-reads the server to see how far the
 * next one got. `awaiting-delivery` is where a run stops when the new key has not reached every place
 * the old one is read from: both keys stay registered until `--finish` (or a delivery that covers them).
 */
export const ROTATION_STATES = ['written', 'registered', 'verified', 'handed-over', 'awaiting-delivery', 'retired', 'complete'] as const;
export type RotationState = (typeof ROTATION_STATES)[number];

/** Where the new key goes and what it replaces. */
export type RotationTarget =
  /** Legacy: SET the new key into `newSlot`, UNSET `oldSlot` at the end (unless --keep-old). */
  | { kind: 'slot'; newSlot: Slot; oldSlot: Slot | null; replacesFingerprint: string | null }
  /** Named: ROTATE KEY PAIR `name`; the old key lives on as `<name>_ROTATED_<ms>` for `graceHours` (0: disabled once verified). */
  | { kind: 'pair'; name: string; graceHours: number; roleRestriction: string | null }
  /**
   * Migration from a legacy slot to a named pair: ADD KEY PAIR `name` (or, when a pair of that name is
   * already there with a key nobody holds, ROTATE it), then UNSET `fromSlot` unless --keep-old.
   */
  | {
      kind: 'migrate';
      name: string;
      fromSlot: Slot | null;
      via: 'add' | 'rotate';
      /** With `via: 'rotate'`: the key the pair held when the rotation was planned. */
      pairFingerprint?: string | null;
      roleRestriction: string | null;
      daysToExpiry: number | null;
      comment: string | null;
    };

export type PassphraseSource = 'current-key' | '--new-passphrase-file' | 'prompt' | 'none';

export interface RotationJournal {
  version: 2;
  kind: 'sfauth-rotate';
  /** JWT form of the account (upper-case). */
  account: string;
  /** The target user as given. */
  targetUser: string;
  /** `normalizeUserName(targetUser)`, for matching. */
  targetKey: string;
  /** LOGIN_NAME the new key authenticates as. */
  loginName: string;
  /** The authenticating user rotates its own key. */
  self: boolean;
  target: RotationTarget;
  /** The key the new one replaces (null: none was registered). */
  oldFingerprint: string | null;
  newFingerprint: string;
  /** Base64 SPKI body of the new public key (public, so the .pub and the SQL can be rebuilt). */
  newPublicKey: string;
  privateKeyPath: string;
  publicKeyPath: string;
  keyType: 'rsa' | 'ec';
  bits?: number;
  curve?: string;
  encrypted: boolean;
  /** Where the new key's passphrase came from (never the passphrase). */
  passphraseSource: PassphraseSource;
  /** Fingerprint of the key that authenticated when the rotation began (null for a token). */
  authFingerprint: string | null;
  createdAt: string;
  updatedAt: string;
  step: RotationState;
  completedAt?: string;
  /** Where the hand-over delivered the new key, in words (no secrets): `--store-cmd`, `connection 'x' (file)`, a path. */
  deliveredTo?: string[];
  /** `--in-place`: the file the old key was read from, which now holds the new key. */
  inPlacePath?: string;
}

const FP = /^SHA256:[A-Za-z0-9+/]+=*$/;
const PASSPHRASE_SOURCES = ['current-key', '--new-passphrase-file', 'prompt', 'none'];
/** sfauth 0.1's step names, as the states they are now. */
const V1_STEPS: Record<string, RotationState> = { written: 'written', set: 'registered', verified: 'verified', unset: 'retired', complete: 'complete' };

type Raw = Record<string, unknown>;
const isSlot = (x: unknown): x is Slot => x === 1 || x === 2;
const optionalText = (x: unknown): x is string | null => x === null || typeof x === 'string';
const isFingerprint = (x: unknown): x is string => typeof x === 'string' && FP.test(x);

function parseTarget(t: unknown): RotationTarget | null {
  if (!t || typeof t !== 'object') return null;
  const v = t as Raw;
  switch (v.kind) {
    case 'slot':
      if (!isSlot(v.newSlot) || !(v.oldSlot === null || isSlot(v.oldSlot)) || v.newSlot === v.oldSlot) return null;
      if (!(v.replacesFingerprint === null || isFingerprint(v.replacesFingerprint))) return null;
      return { kind: 'slot', newSlot: v.newSlot, oldSlot: v.oldSlot, replacesFingerprint: v.replacesFingerprint };
    case 'pair':
      if (typeof v.name !== 'string' || v.name === '' || !Number.isInteger(v.graceHours) || (v.graceHours as number) < 0 || !optionalText(v.roleRestriction)) return null;
      return { kind: 'pair', name: v.name, graceHours: v.graceHours as number, roleRestriction: v.roleRestriction };
    case 'migrate':
      if (typeof v.name !== 'string' || v.name === '' || !(v.fromSlot === null || isSlot(v.fromSlot)) || (v.via !== 'add' && v.via !== 'rotate')) return null;
      if (!optionalText(v.roleRestriction) || !optionalText(v.comment) || !(v.daysToExpiry === null || Number.isInteger(v.daysToExpiry))) return null;
      if (!(v.pairFingerprint === undefined || v.pairFingerprint === null || isFingerprint(v.pairFingerprint))) return null;
      return {
        kind: 'migrate',
        name: v.name,
        fromSlot: v.fromSlot,
        via: v.via,
        ...(typeof v.pairFingerprint === 'string' ? { pairFingerprint: v.pairFingerprint } : {}),
        roleRestriction: v.roleRestriction,
        daysToExpiry: v.daysToExpiry as number | null,
        comment: v.comment,
      };
    default:
      return null;
  }
}

/** Parses a journal file's text (version 2, or 0.1's version 1 upgraded); null when it is not one of ours or is damaged. */
export function parseJournal(text: string): RotationJournal | null {
  let v: Raw;
  try {
    v = JSON.parse(text) as Raw;
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || v.kind !== 'sfauth-rotate') return null;
  let target: RotationTarget | null;
  let step: RotationState | undefined;
  if (v.version === 1) {
    target = parseTarget({ kind: 'slot', newSlot: v.newSlot, oldSlot: v.oldSlot, replacesFingerprint: v.replacesFingerprint ?? null });
    step = V1_STEPS[v.step as string];
  } else if (v.version === 2) {
    target = parseTarget(v.target);
    step = ROTATION_STATES.includes(v.step as RotationState) ? (v.step as RotationState) : undefined;
  } else {
    return null;
  }
  const str = (k: string) => typeof v[k] === 'string' && (v[k] as string) !== '';
  if (!target || !step) return null;
  if (!['account', 'targetUser', 'targetKey', 'loginName', 'newPublicKey', 'privateKeyPath', 'publicKeyPath', 'createdAt', 'updatedAt'].every(str)) return null;
  if (!isFingerprint(v.newFingerprint) || !(v.oldFingerprint === null || isFingerprint(v.oldFingerprint))) return null;
  if (!(v.authFingerprint === null || typeof v.authFingerprint === 'string')) return null;
  if (v.keyType !== 'rsa' && v.keyType !== 'ec') return null;
  if (typeof v.encrypted !== 'boolean' || typeof v.self !== 'boolean') return null;
  if (!PASSPHRASE_SOURCES.includes(v.passphraseSource as string)) return null;
  const journal: RotationJournal = {
    version: 2,
    kind: 'sfauth-rotate',
    account: v.account as string,
    targetUser: v.targetUser as string,
    targetKey: v.targetKey as string,
    loginName: v.loginName as string,
    self: v.self,
    target,
    oldFingerprint: v.oldFingerprint,
    newFingerprint: v.newFingerprint,
    newPublicKey: v.newPublicKey as string,
    privateKeyPath: v.privateKeyPath as string,
    publicKeyPath: v.publicKeyPath as string,
    keyType: v.keyType,
    ...(typeof v.bits === 'number' ? { bits: v.bits } : {}),
    ...(typeof v.curve === 'string' ? { curve: v.curve } : {}),
    encrypted: v.encrypted,
    passphraseSource: v.passphraseSource as PassphraseSource,
    authFingerprint: v.authFingerprint,
    createdAt: v.createdAt as string,
    updatedAt: v.updatedAt as string,
    step,
    ...(typeof v.completedAt === 'string' ? { completedAt: v.completedAt } : {}),
    ...(Array.isArray(v.deliveredTo) && v.deliveredTo.every((d) => typeof d === 'string') ? { deliveredTo: v.deliveredTo as string[] } : {}),
    ...(typeof v.inPlacePath === 'string' && v.inPlacePath.startsWith('/') ? { inPlacePath: v.inPlacePath } : {}),
  };
  return journal;
}

/** True when the journal belongs to a rotation of this user in this account. */
export function journalMatches(j: RotationJournal, account: string, targetUser: string): boolean {
  return j.account === account.toUpperCase() && j.targetKey === normalizeUserName(targetUser);
}

/** The unfinished rotation to resume: the newest incomplete journal (by creation time). */
export function pendingJournal(journals: readonly RotationJournal[]): RotationJournal | undefined {
  return journals.filter((j) => j.step !== 'complete').sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))[0];
}

/** True once the journal has reached `state` (or gone past it). */
export function reached(j: Pick<RotationJournal, 'step'>, state: RotationState): boolean {
  return ROTATION_STATES.indexOf(j.step) >= ROTATION_STATES.indexOf(state);
}
