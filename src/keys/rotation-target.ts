/**
 * A rotation's target over the registered keys (DESIGN.md §3 "Rotation"), for the three kinds behind
 * one interface: a legacy slot, a named key pair, a migration from a slot to a pair.
 *   - plan:    `chooseTarget` decides what the new key replaces, or refuses before any statement;
 *   - apply:   `registerStatement` / `retireSteps` are the statements of one step;
 *   - observe: `observe` and `confirmProblem` say, from a fresh read, whether a step took effect.
 * No I/O: the keys as read, the fingerprints and the flags in; decisions and SQL out.
 */
import { timeText } from '../core/time-text.js';
import { CheckFailedError, UsageError } from '../errors.js';
import { sameFingerprint } from '../core/fingerprint.js';
import { addKeyPairSql, removeKeyPairSql, rotateKeyPairSql, ROTATED_PAIR_NAME, setKeyPairDisabledSql } from '../core/key-pair-sql.js';
import { chooseSlots, type SlotView } from '../core/rotation-plan.js';
import type { RotationTarget } from '../core/rotation-journal.js';
import { setPublicKeySql, slotProperty, unsetPublicKeySql, type Slot } from '../core/sql.js';
import { isActive, type PairKey, type RegisteredKey, type SlotKey } from './types.js';

/** Snowflake's default number of key pairs per user, rotated-out ones included. */
export const KEY_PAIR_LIMIT = 10;
/** Snowflake's default grace period of ROTATE KEY PAIR, in hours. */
export const DEFAULT_GRACE_HOURS = 24;

/** What one read of the user shows: both slots (empty ones too) and every listed pair. */
export interface KeysView {
  slots: readonly (SlotView & { lastSetTimeText?: string | null })[];
  pairs: readonly PairKey[];
  namedPairsAvailable: boolean;
}

/** The fingerprints a rotation is about. */
export interface RotationKeys {
  newFingerprint: string;
  /** The key the new one replaces. */
  oldFingerprint: string | null;
  /** The key this command authenticates with (for a named pair recovered without a journal it differs from the old one). */
  heldFingerprint: string | null;
}

// ---------------------------------------------------------------------------------------------
// Names.

/** How messages name the place of the new key: `RSA_PUBLIC_KEY_2`, `key pair CI_KEY`. */
export function placeOf(t: RotationTarget): string {
  return t.kind === 'slot' ? slotProperty(t.newSlot) : `key pair ${t.name}`;
}

/** How messages name the old key's place, or null when there was none. */
export function oldPlaceOf(t: RotationTarget): string | null {
  if (t.kind === 'slot') return t.oldSlot === null ? null : slotProperty(t.oldSlot);
  if (t.kind === 'pair') return `key pair ${t.name}_ROTATED_<ms>`;
  return t.fromSlot === null ? null : slotProperty(t.fromSlot);
}

/** The role a key of this target must ask for to authenticate (a role-restricted pair). */
export function roleOf(t: RotationTarget): string | null {
  return t.kind === 'slot' ? null : t.roleRestriction;
}

// ---------------------------------------------------------------------------------------------
// Plan.

export interface TargetRequest {
  view: KeysView;
  /** The key this command authenticates with, when it is the target's own (self-rotation). */
  localFingerprint: string | null;
  /** `--key-pair NAME` as stored (pairNameOf). */
  keyPair?: string;
  /** `--grace` in hours; undefined when not given. */
  graceHours?: number;
  /** keygen's `--role-restriction/--expires-in/--comment`, for a pair that a migration creates. */
  newPair?: { roleRestriction?: string; daysToExpiry?: number; comment?: string };
  keepOld: boolean;
  now: number;
}

export interface TargetChoice {
  target: RotationTarget;
  oldFingerprint: string | null;
  heldFingerprint: string | null;
  /** The registered key the new one replaces (for --if-older-than), or null. */
  oldKey: RegisteredKey | null;
  /** One sentence for the plan. */
  explanation: string;
  notes: string[];
  /**
   * The key held here is the ACTIVE rotated-out pair of a pair whose key it does not hold (a run died
   * between ROTATE and delivery): due whatever --if-older-than says, since the held key is what ages.
   */
  recovery?: boolean;
}

const isRotatedOut = (p: PairKey): boolean => p.rotatedTo !== null || ROTATED_PAIR_NAME.test(p.name);
const livePairs = (view: KeysView): PairKey[] => view.pairs.filter((p) => !isRotatedOut(p));

function slotKeyOf(view: KeysView, slot: Slot | null): SlotKey | null {
  const s = slot === null ? undefined : view.slots.find((x) => x.slot === slot);
  return s?.fingerprint ? { kind: 'slot', slot: s.slot, fingerprint: s.fingerprint, publicKey: null, setAt: s.lastSetTime, setAtText: null } : null;
}

/**
 * Step 2 of DESIGN.md §3 "Rotation": the current key's named pair → a named rotation; its legacy
 * slot → a legacy rotation into the other slot; `--key-pair NAME` from a legacy key whose pair does
 * not exist → a migration. Every refusal happens here, before anything is written or sent.
 */
export function chooseTarget(req: TargetRequest): TargetChoice {
  const { view, localFingerprint: local, now } = req;
  const live = livePairs(view);
  const held = local ? view.pairs.find((p) => sameFingerprint(p.fingerprint, local) && isActive(p, now)) : undefined;
  const heldSlot = local ? view.slots.find((s) => sameFingerprint(s.fingerprint, local)) : undefined;
  let choice: TargetChoice;

  if (req.keyPair !== undefined) {
    if (!view.namedPairsAvailable) {
      throw new CheckFailedError('ERR_KEY_PAIRS_UNAVAILABLE', `this Snowflake account does not know named key pairs, so --key-pair ${req.keyPair} cannot be used`, {
        hint: 'leave --key-pair out to rotate through the legacy slots',
      });
    }
    const pair = live.find((p) => p.name === req.keyPair);
    if (pair && heldSlot && !held) choice = migrationOver(req, pair, heldSlot.slot);
    else if (pair) choice = pairRotation(req, pair, held);
    else choice = migration(req, req.keyPair, held, heldSlot?.slot ?? null);
  } else if (held && !isRotatedOut(held)) {
    choice = pairRotation(req, held, held);
  } else if (held && isRotatedOut(held)) {
    // No journal, yet the key in use is a rotated-out pair whose successor holds a key nobody here
    // has (a run that died with its new key): rotate the pair again before the grace period ends.
    const successor = live.find((p) => p.name === (held.rotatedTo ?? ROTATED_PAIR_NAME.exec(held.name)?.[1]));
    if (!successor) {
      throw new CheckFailedError('ERR_KEY_ROTATED', `the key in use is the rotated-out key pair ${held.name}, and the pair it was rotated to is gone`, {
        hint: 'register a new key with sfauth register before this one expires' + (held.expiresAt ? ` (${timeText(held.expiresAt)})` : ''),
        data: { keyPair: held.name },
      });
    }
    choice = pairRotation(req, successor, held);
    choice.recovery = true;
    choice.notes.push(
      `the key in use is ${held.name}, rotated out of ${successor.name}${held.expiresAt ? ` and expiring ${timeText(held.expiresAt)}` : ''}; ${successor.name} now holds ${successor.fingerprint}, a key no journal here accounts for, so ${successor.name} is rotated again to a key you will hold`,
    );
  } else if (!heldSlot && view.slots.every((s) => s.fingerprint === null) && live.some((p) => isActive(p, now))) {
    const active = live.filter((p) => isActive(p, now));
    if (active.length > 1) {
      throw new UsageError('ERR_KEY_PAIR_AMBIGUOUS', `the target has ${active.length} active key pairs (${active.map((p) => p.name).join(', ')}); say which to rotate`, {
        hint: `pass --key-pair NAME, e.g. --key-pair ${active[0]!.name}`,
        data: { keyPairs: active.map((p) => p.name) },
      });
    }
    choice = pairRotation(req, active[0]!, held);
  } else {
    // A user whose only keys are DISABLED or EXPIRED pairs (cut off after a leak, or lapsed) is never
    // given a fresh legacy key by a scheduled run: that is a decision for a person.
    const cut = live.filter((p) => !isActive(p, now));
    if (!heldSlot && view.slots.every((s) => s.fingerprint === null) && cut.length > 0) {
      const p = cut[0]!;
      throw new CheckFailedError('ERR_KEY_PAIR_NOT_ACTIVE', `the target's only key pairs are not active (${cut.map((x) => `${x.name} ${x.status === 'ACTIVE' ? 'EXPIRED' : x.status}`).join(', ')}); a rotation replaces a working key`, {
        hint: p.status === 'DISABLED' ? `if it was disabled on purpose, leave it; else enable it (sfauth sql --key-pair ${p.name} --enable) or add a new pair with sfauth register` : `add a new pair with sfauth register --key-pair NAME`,
        data: { keyPair: p.name, status: p.status },
      });
    }
    choice = slotRotation(req);
  }
  checkFlagsFit(req, choice.target);
  return choice;
}

function pairRotation(req: TargetRequest, pair: PairKey, held: PairKey | undefined): TargetChoice {
  if (pair.status !== 'ACTIVE' || !isActive(pair, req.now)) {
    throw new CheckFailedError('ERR_KEY_PAIR_NOT_ACTIVE', `key pair ${pair.name} is ${pair.status === 'ACTIVE' ? 'EXPIRED' : pair.status}; a rotation replaces a working key`, {
      hint: pair.status === 'DISABLED' ? `enable it first (sfauth revoke cannot; run: sfauth sql --key-pair ${pair.name} --enable), or add a new pair with sfauth register` : `add a new pair with sfauth register --key-pair NAME, then remove ${pair.name} with sfauth revoke`,
      data: { keyPair: pair.name, status: pair.status },
    });
  }
  checkLimit(req.view, pair.name);
  const graceHours = req.graceHours ?? DEFAULT_GRACE_HOURS;
  const hoursLeft = pair.expiresAt ? Math.floor((pair.expiresAt.getTime() - req.now) / 3_600_000) : null;
  if (hoursLeft !== null && graceHours > hoursLeft && req.graceHours !== undefined) {
    throw new CheckFailedError('ERR_GRACE_TOO_LONG', `key pair ${pair.name} expires in ${hoursLeft} h, so the rotated-out key cannot live --grace ${graceHours} h`, {
      hint: `give --grace at most ${hoursLeft}h`,
      data: { keyPair: pair.name, hoursLeft },
    });
  }
  const notes: string[] = [];
  if (req.keepOld) notes.push('--keep-old has no effect on a named key pair: the old key lives on as the rotated-out pair for the grace period');
  const heldIsOld = held !== undefined && held.name === pair.name;
  return {
    target: { kind: 'pair', name: pair.name, graceHours, roleRestriction: pair.roleScope },
    oldFingerprint: pair.fingerprint,
    heldFingerprint: held ? held.fingerprint : null,
    oldKey: pair,
    explanation:
      `${heldIsOld ? 'the current key is key pair' : 'rotating key pair'} ${pair.name}; ROTATE KEY PAIR gives it the new key and keeps the old one as ${pair.name}_ROTATED_<ms> ` +
      (graceHours === 0 ? 'until the new key is verified, then disables it (--grace 0)' : `for ${graceHours} h (the grace period)`),
    notes,
  };
}

function migration(req: TargetRequest, name: string, held: PairKey | undefined, heldSlot: Slot | null): TargetChoice {
  const { view } = req;
  if (held) {
    throw new CheckFailedError('ERR_NAMED_PAIR_IN_USE', `the key in use is the named key pair ${held.rotatedTo ?? held.name}, not a legacy slot; --key-pair ${name} would add a second pair beside it`, {
      hint: `rotate that pair: --key-pair ${held.rotatedTo ?? held.name}`,
      data: { keyPair: held.rotatedTo ?? held.name },
    });
  }
  const anyPair = view.pairs.find((p) => p.name === name);
  if (anyPair) {
    throw new CheckFailedError('ERR_KEY_PAIR_NOT_ACTIVE', `key pair ${name} is a rotated-out pair; it cannot be rotated`, { data: { keyPair: name } });
  }
  checkLimit(view, name);
  // The slot being migrated: the one with the key in use, else (an admin) the most recently set one.
  const fromSlot = heldSlot ?? newestSlot(view.slots);
  const old = slotKeyOf(view, fromSlot);
  const p = req.newPair ?? {};
  return {
    target: { kind: 'migrate', name, fromSlot, via: 'add', roleRestriction: p.roleRestriction ?? null, daysToExpiry: p.daysToExpiry ?? null, comment: p.comment ?? null },
    oldFingerprint: old?.fingerprint ?? null,
    heldFingerprint: heldSlot !== null ? (old?.fingerprint ?? null) : null,
    oldKey: old,
    explanation:
      fromSlot === null
        ? `no legacy key to migrate; the new key is added as key pair ${name}`
        : `migrating: the new key is added as key pair ${name}, then the legacy ${slotProperty(fromSlot)} ${req.keepOld ? 'is kept (--keep-old)' : 'is unset once the pair works'}`,
    notes: [],
  };
}

/**
 * `--key-pair NAME` from a legacy slot while NAME already holds a key this command does not (a
 * migration whose run died after the ADD, with its journal): ROTATE the pair to a key it will hold,
 * so the unknown key gets the grace period instead of being removed, then UNSET the slot.
 */
function migrationOver(req: TargetRequest, pair: PairKey, fromSlot: Slot): TargetChoice {
  if (pair.status !== 'ACTIVE' || !isActive(pair, req.now)) return pairRotation(req, pair, undefined);
  checkLimit(req.view, pair.name);
  const old = slotKeyOf(req.view, fromSlot);
  return {
    target: { kind: 'migrate', name: pair.name, fromSlot, via: 'rotate', pairFingerprint: pair.fingerprint, roleRestriction: pair.roleScope, daysToExpiry: null, comment: null },
    oldFingerprint: old?.fingerprint ?? null,
    heldFingerprint: old?.fingerprint ?? null,
    oldKey: old,
    explanation: `migrating: key pair ${pair.name} exists but holds ${pair.fingerprint}, not the key in use (${slotProperty(fromSlot)}); ROTATE KEY PAIR gives it the new key (its old key keeps ${DEFAULT_GRACE_HOURS} h of grace), then the legacy ${slotProperty(fromSlot)} ${req.keepOld ? 'is kept (--keep-old)' : 'is unset once the pair works'}`,
    notes: [`key pair ${pair.name} holds ${pair.fingerprint}, which no journal here accounts for (a migration that died after its ADD?); it is rotated out, not removed`],
  };
}

function slotRotation(req: TargetRequest): TargetChoice {
  const c = chooseSlots(req.view.slots, req.localFingerprint);
  const old = slotKeyOf(req.view, c.oldSlot);
  const replaced = req.view.slots.find((s) => s.slot === c.newSlot)?.fingerprint ?? null;
  const notes: string[] = [];
  if (c.reason !== 'local-key' && req.localFingerprint) notes.push(`the key this command authenticates with (${req.localFingerprint}) is in neither slot`);
  if (c.reason === 'oldest-slot') {
    notes.push(
      `an assumption: which slot the program that uses the key reads is not known from here; sfauth keeps slot ${c.oldSlot} (set most recently) working and overwrites slot ${c.newSlot}; --overwrite-other is the flag that accepts this`,
    );
  }
  return {
    target: { kind: 'slot', newSlot: c.newSlot, oldSlot: c.oldSlot, replacesFingerprint: replaced },
    oldFingerprint: old?.fingerprint ?? null,
    heldFingerprint: c.reason === 'local-key' ? req.localFingerprint : null,
    oldKey: old,
    explanation: c.explanation,
    notes,
  };
}

function newestSlot(slots: readonly SlotView[]): Slot | null {
  const set = slots.filter((s) => s.fingerprint !== null);
  const sorted = [...set].sort((a, b) => (b.lastSetTime?.getTime() ?? -Infinity) - (a.lastSetTime?.getTime() ?? -Infinity));
  return sorted[0]?.slot ?? null;
}

/** The flags that only one kind of rotation uses are refused with the others (exit 2, before anything). */
function checkFlagsFit(req: TargetRequest, t: RotationTarget): void {
  if (req.graceHours !== undefined && t.kind !== 'pair') {
    throw new UsageError('ERR_USAGE', `--grace applies to a named key pair rotation; this one ${t.kind === 'slot' ? `uses the legacy slot ${slotProperty(t.newSlot)}` : `adds key pair ${t.name}`}`, {
      hint: t.kind === 'slot' ? 'leave --grace out (the old slot is unset once the new key works; --keep-old keeps it)' : 'leave --grace out (the legacy slot is unset once the pair works)',
    });
  }
  const p = req.newPair ?? {};
  if ((p.roleRestriction !== undefined || p.daysToExpiry !== undefined || p.comment !== undefined) && !(t.kind === 'migrate' && t.via === 'add')) {
    throw new UsageError('ERR_USAGE', '--role-restriction, --expires-in and --comment apply only when --key-pair creates a new pair', {
      hint: t.kind === 'pair' ? `ROTATE KEY PAIR keeps ${t.name}'s role restriction, expiry and comment` : 'add --key-pair NAME to move this user to a named key pair',
    });
  }
}

/**
 * ROTATE and ADD each add one listed pair; rotated-out pairs count until they expire, and so (to be
 * safe: unconfirmed) do EXPIRED and DISABLED ones (named-key-pairs.md "Limits").
 */
function checkLimit(view: KeysView, name: string): void {
  if (view.pairs.length + 1 <= KEY_PAIR_LIMIT) return;
  const rotated = view.pairs.filter(isRotatedOut);
  const inactive = view.pairs.filter((p) => !isRotatedOut(p) && p.status !== 'ACTIVE');
  const next = rotated.filter((p) => p.expiresAt).sort((a, b) => a.expiresAt!.getTime() - b.expiresAt!.getTime())[0];
  throw new CheckFailedError('ERR_KEY_PAIR_LIMIT', `the user has ${view.pairs.length} key pairs, Snowflake's limit of ${KEY_PAIR_LIMIT}; key pair ${name} needs one more`, {
    details: [
      `counted: ${view.pairs.length - rotated.length - inactive.length} active, ${rotated.length} rotated out (until they expire), ${inactive.length} expired or disabled`,
      ...rotated.map((p) => `  ${p.name} expires ${p.expiresAt ? timeText(p.expiresAt) : 'at an unknown time'}`),
      ...inactive.map((p) => `  ${p.name} is ${p.status}`),
    ],
    hint: next
      ? `run again after ${timeText(next.expiresAt!)} (when ${next.name} expires), or remove an unused pair with sfauth revoke --key-pair NAME --apply`
      : 'remove an unused pair with sfauth revoke --key-pair NAME --apply',
    data: { keyPair: name, count: view.pairs.length, limit: KEY_PAIR_LIMIT },
  });
}

// ---------------------------------------------------------------------------------------------
// Apply: the statements of one step.

/** The grace sent with ROTATE: none for Snowflake's 24 h default, never 0 (--grace 0 disables the old key after verification). */
export function serverGraceHours(graceHours: number): number | undefined {
  if (graceHours === DEFAULT_GRACE_HOURS) return undefined;
  return graceHours === 0 ? 1 : graceHours;
}

/** Step 4: register the new key. */
export function registerStatement(user: string, t: RotationTarget, body: string): string {
  switch (t.kind) {
    case 'slot':
      return setPublicKeySql(user, t.newSlot, body);
    case 'pair':
      return rotateKeyPairSql(user, t.name, body, serverGraceHours(t.graceHours));
    case 'migrate':
      return t.via === 'rotate'
        ? rotateKeyPairSql(user, t.name, body)
        : addKeyPairSql(user, t.name, body, {
            ...(t.roleRestriction !== null ? { roleRestriction: t.roleRestriction } : {}),
            ...(t.daysToExpiry !== null ? { daysToExpiry: t.daysToExpiry } : {}),
            ...(t.comment !== null ? { comment: t.comment } : {}),
          });
  }
}

export interface RetireStep {
  /** What it does, for progress and the report. */
  what: string;
  action: 'unset' | 'disable';
  /** `RSA_PUBLIC_KEY`, `key pair CI_KEY_ROTATED_1764…`. */
  place: string;
  sql: string;
  /** Sent when the server refuses `sql` (a server that cannot MODIFY a rotated-out pair). */
  fallback?: string;
}

/**
 * Step 7: the statements that retire the old key, as of this read. Empty when there is nothing (left)
 * to retire: --keep-old, no old key, a named pair whose grace period ends it, or already done.
 */
export function retireSteps(user: string, t: RotationTarget, view: KeysView, keys: RotationKeys, keepOld: boolean, now: number): RetireStep[] {
  const unsetIfOld = (slot: Slot | null): RetireStep[] => {
    if (slot === null || keepOld || !keys.oldFingerprint) return [];
    const s = view.slots.find((x) => x.slot === slot);
    return sameFingerprint(s?.fingerprint, keys.oldFingerprint) ? [{ what: `remove the old key from ${slotProperty(slot)}`, action: 'unset', place: slotProperty(slot), sql: unsetPublicKeySql(user, slot) }] : [];
  };
  if (t.kind === 'slot') return unsetIfOld(t.oldSlot);
  if (t.kind === 'migrate') return unsetIfOld(t.fromSlot);
  if (t.graceHours !== 0) return [];
  return rotatedOutOld(t.name, view, keys, now).map((p) => ({
    what: `disable the rotated-out pair ${p.name} (--grace 0)`,
    action: 'disable' as const,
    place: `key pair ${p.name}`,
    sql: setKeyPairDisabledSql(user, p.name, true),
    fallback: removeKeyPairSql(user, p.name),
  }));
}

/** The plan's view of step 7 before the ROTATE has named the rotated-out pair. */
export function plannedRetireSql(user: string, t: RotationTarget, keepOld: boolean, hasOld: boolean): string[] {
  if (t.kind === 'pair') return t.graceHours === 0 ? [setKeyPairDisabledSql(user, `${t.name}_ROTATED_<ms>`, true).replace(`"${t.name}_ROTATED_<ms>"`, `${t.name}_ROTATED_<ms>`)] : [];
  const slot = t.kind === 'slot' ? t.oldSlot : t.fromSlot;
  return slot !== null && !keepOld && hasOld ? [unsetPublicKeySql(user, slot)] : [];
}

/** Rotated-out pairs of `name` that still authenticate with the old key (or the key this command holds). */
function rotatedOutOld(name: string, view: KeysView, keys: RotationKeys, now: number): PairKey[] {
  return view.pairs.filter(
    (p) =>
      isRotatedOut(p) &&
      (p.rotatedTo ?? ROTATED_PAIR_NAME.exec(p.name)?.[1]) === name &&
      isActive(p, now) &&
      [keys.oldFingerprint, keys.heldFingerprint].some((fp) => fp && sameFingerprint(p.fingerprint, fp)),
  );
}

// ---------------------------------------------------------------------------------------------
// Observe: what a fresh read says about each step.

export interface Observation {
  /** The new key is where the target puts it (step 4 took effect). */
  registered: boolean;
  /** A legacy rotation's new key turned up in the other slot (someone moved it): that slot. */
  newInOtherSlot: Slot | null;
  /** The old key still authenticates. */
  oldActive: boolean;
  /** The target's place holds a key that is neither the old nor the new one (another rotation, a person). */
  placeTakenBy: string | null;
}

export function observe(t: RotationTarget, view: KeysView, keys: RotationKeys, now: number): Observation {
  const slotFp = (n: Slot | null) => (n === null ? null : (view.slots.find((s) => s.slot === n)?.fingerprint ?? null));
  if (t.kind === 'slot') {
    const holding = view.slots.filter((s) => sameFingerprint(s.fingerprint, keys.newFingerprint)).map((s) => s.slot);
    return {
      registered: holding.includes(t.newSlot),
      newInOtherSlot: holding.includes(t.newSlot) ? null : (holding[0] ?? null),
      oldActive: Boolean(keys.oldFingerprint && sameFingerprint(slotFp(t.oldSlot), keys.oldFingerprint)),
      placeTakenBy: null,
    };
  }
  const pair = livePairs(view).find((p) => p.name === t.name);
  const registered = Boolean(pair && sameFingerprint(pair.fingerprint, keys.newFingerprint));
  const expectedBefore = t.kind === 'pair' ? keys.oldFingerprint : t.via === 'rotate' ? (t.pairFingerprint ?? null) : null;
  const placeTakenBy = pair && !registered && !(expectedBefore && sameFingerprint(pair.fingerprint, expectedBefore)) ? pair.fingerprint : null;
  const oldActive =
    t.kind === 'pair'
      ? (!registered && Boolean(pair && keys.oldFingerprint && sameFingerprint(pair.fingerprint, keys.oldFingerprint))) || rotatedOutOld(t.name, view, keys, now).length > 0
      : Boolean(keys.oldFingerprint && sameFingerprint(slotFp(t.fromSlot), keys.oldFingerprint));
  return { registered, newInOtherSlot: null, oldActive, placeTakenBy };
}

/** After step 7: null when the read shows the rotation done, else what is off. */
export function confirmProblem(t: RotationTarget, view: KeysView, keys: RotationKeys, keepOld: boolean, now: number): string | null {
  const o = observe(t, view, keys, now);
  if (!o.registered) return `${placeOf(t)} does not hold the new key ${keys.newFingerprint}`;
  if (retireSteps('-', t, view, keys, keepOld, now).length > 0) return `${oldPlaceOf(t) ?? 'the old place'} still holds the old key ${keys.oldFingerprint}`;
  if (t.kind !== 'slot') {
    const pair = livePairs(view).find((p) => p.name === t.name);
    if (pair && !isActive(pair, now)) return `key pair ${t.name} is ${pair.status}`;
  }
  return null;
}

/** The statement that takes the new key off again (an "undo" line), when that leaves a working key. */
export function undoStatement(user: string, t: RotationTarget, o: Observation): string | null {
  if (!o.registered || !o.oldActive) return null;
  if (t.kind === 'slot') return unsetPublicKeySql(user, t.newSlot);
  if (t.kind === 'migrate' && t.via === 'add') return removeKeyPairSql(user, t.name);
  return null; // a ROTATE cannot be taken back: the old key already is the rotated-out pair
}

/** Is this key (a slot or a live pair) where a finished rotation put the new key, and active? */
export function holdsActive(view: KeysView, fingerprint: string, now: number): boolean {
  return view.slots.some((s) => sameFingerprint(s.fingerprint, fingerprint)) || view.pairs.some((p) => !isRotatedOut(p) && isActive(p, now) && sameFingerprint(p.fingerprint, fingerprint));
}

export { isRotatedOut };
