/**
 * The pure decisions of `sfauth status` and `sfauth rotate` about legacy slots (DESIGN.md §3
 * "Rotation"): which slot holds the key in use, which slot a new key goes into, whether a key is due,
 * and how the new key file is named (the journal: rotation-journal.ts). No I/O: slots and times in, decisions out.
 */
import { createHash } from 'node:crypto';
import { basename, dirname, extname, join } from 'node:path';
import { sameFingerprint } from './fingerprint.js';
import { unquotedIdentifier, type Slot } from './sql.js';

/** What `DESC USER` says about one slot (the shape of `KeySlot` in src/snowflake/users.ts). */
export interface SlotView {
  slot: Slot;
  fingerprint: string | null;
  lastSetTime: Date | null;
}

export const otherSlot = (slot: Slot): Slot => (slot === 1 ? 2 : 1);

function isSet(s: SlotView): boolean {
  return s.fingerprint !== null;
}

/** The slot holding this fingerprint (the newer one if both do), or null. */
export function slotHolding(slots: readonly SlotView[], fingerprint: string | null | undefined): Slot | null {
  const holding = slots.filter((s) => sameFingerprint(s.fingerprint, fingerprint));
  if (holding.length === 0) return null;
  return newest(holding)?.slot ?? holding[0]!.slot;
}

/** The most recently set of these slots; a slot whose set time is unknown loses to a known one. */
function newest(slots: readonly SlotView[]): SlotView | undefined {
  const set = slots.filter(isSet);
  const known = set.filter((s) => s.lastSetTime !== null).sort((a, b) => b.lastSetTime!.getTime() - a.lastSetTime!.getTime());
  return known[0] ?? set[0];
}

/** The slot set longest ago; unknown set times count as the oldest (an unknown age is treated as due). */
function oldest(slots: readonly SlotView[]): SlotView | undefined {
  const set = slots.filter(isSet);
  const unknown = set.find((s) => s.lastSetTime === null);
  if (unknown) return unknown;
  return [...set].sort((a, b) => a.lastSetTime!.getTime() - b.lastSetTime!.getTime())[0];
}

export type SlotChoiceReason = 'local-key' | 'empty-slot' | 'oldest-slot' | 'no-keys';

export interface SlotChoice {
  /** Where the new key goes. */
  newSlot: Slot;
  /** The slot whose key the new one replaces (unset at the end unless --keep-old); null when none is set. */
  oldSlot: Slot | null;
  reason: SlotChoiceReason;
  /** One sentence for the plan. */
  explanation: string;
}

/**
 * Step 2 of DESIGN.md §3 "Rotation": the slot holding the current key stays, the other one gets the
 * new key. When the current key is in neither slot: an empty slot, else the one set longest ago.
 */
export function chooseSlots(slots: readonly SlotView[], localFingerprint?: string | null): SlotChoice {
  const byNumber = (n: Slot) => slots.find((s) => s.slot === n) ?? { slot: n, fingerprint: null, lastSetTime: null };
  const s1 = byNumber(1);
  const s2 = byNumber(2);
  const local = slotHolding([s1, s2], localFingerprint);
  if (local !== null) {
    const both = sameFingerprint(s1.fingerprint, localFingerprint) && sameFingerprint(s2.fingerprint, localFingerprint);
    return {
      newSlot: otherSlot(local),
      oldSlot: local,
      reason: 'local-key',
      explanation: both
        ? `the current key is in both slots; slot ${local} (the newer) is kept until the new key works, slot ${otherSlot(local)} gets the new key`
        : `the current key is in slot ${local}; the new key goes into slot ${otherSlot(local)}`,
    };
  }
  const set = [s1, s2].filter(isSet);
  const where = localFingerprint ? 'the current key is in neither slot' : 'no local key of this user was given';
  if (set.length === 0) {
    return { newSlot: 1, oldSlot: null, reason: 'no-keys', explanation: `${where} and both slots are empty; the new key goes into slot 1` };
  }
  if (set.length === 1) {
    const empty = otherSlot(set[0]!.slot);
    return {
      newSlot: empty,
      oldSlot: set[0]!.slot,
      reason: 'empty-slot',
      explanation: `${where}; the new key goes into the empty slot ${empty} and replaces the key in slot ${set[0]!.slot}`,
    };
  }
  const old = oldest(set)!;
  return {
    newSlot: old.slot,
    oldSlot: otherSlot(old.slot),
    reason: 'oldest-slot',
    explanation: `${where}; both slots are set, so the new key overwrites slot ${old.slot} (set ${old.lastSetTime ? 'longest ago' : 'at an unknown time'}) and replaces the key in slot ${otherSlot(old.slot)}`,
  };
}

/** Seconds since a key was set, or null when unknown. */
export function ageSeconds(lastSetTime: Date | null, nowMs: number): number | null {
  return lastSetTime === null ? null : Math.max(0, (nowMs - lastSetTime.getTime()) / 1000);
}

/** Whole days since a key was set, or null when unknown. */
export function ageDays(lastSetTime: Date | null, nowMs: number): number | null {
  const s = ageSeconds(lastSetTime, nowMs);
  return s === null ? null : Math.floor(s / 86400);
}

/** A key is due (older than the threshold) when its age is unknown or at least `thresholdSeconds`. */
export function isOlderThan(lastSetTime: Date | null, thresholdSeconds: number, nowMs: number): boolean {
  const age = ageSeconds(lastSetTime, nowMs);
  return age === null || age >= thresholdSeconds;
}

/** `YYYY-MM-DD` (UTC) for file names. */
export function dateStamp(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 10);
}

const STAMP = /\.\d{4}-\d{2}-\d{2}(?:-\d+)?$/;

/**
 * The dated name of a new key beside `currentPath`: `rsa_key.p8` → `rsa_key.2026-11-23.p8`, and for
 * `n > 1` `rsa_key.2026-11-23-2.p8`. A previous stamp is replaced, not stacked; a name without an
 * extension gets `.p8`. When the key type changes and the name is one of Snowflake's default names
 * (`rsa_key` / `ec_key`), the default name of the new type is used.
 */
export function datedKeyPath(currentPath: string, date: string, n = 1, newType?: 'rsa' | 'ec'): string {
  const base = basename(currentPath);
  let ext = extname(base);
  if (STAMP.test(ext)) ext = '';
  let stem = (ext ? base.slice(0, -ext.length) : base).replace(STAMP, '');
  if (newType && (stem === 'rsa_key' || stem === 'ec_key')) stem = `${newType}_key`;
  return join(dirname(currentPath), `${stem}.${date}${n > 1 ? `-${n}` : ''}${ext || '.p8'}`);
}

/** The journal of a rotation sits beside the new private key. */
export function journalPathFor(privateKeyPath: string): string {
  return privateKeyPath + '.rotate.json';
}

/**
 * A user name as Snowflake resolves it: a plain identifier is upper-cased, a quoted one
 * (`"svc_lower"`) is its exact inside, anything else is exact.
 */
export function normalizeUserName(name: string): string {
  const exact = unquotedIdentifier(name);
  if (exact !== null) return exact;
  return /^[A-Za-z_][A-Za-z0-9_$]*$/.test(name) ? name.toUpperCase() : name;
}

/** A user name usable in a file name: `SVC_LOADER` → `svc_loader`. */
export function fileSafeName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_.-]+/g, '_').replace(/^[._]+/, '') || 'user';
}

/**
 * A user's own file name: `SVC_LOADER` → `svc_loader`; a name that does not survive that unchanged
 * (quoted, lower case, spaces, `+`…) gets a short hash of the name as Snowflake resolves it, so users
 * whose names reduce alike (`"svc x"`, `SVC_X`, `svc+x`) never share a key file or a state folder.
 */
export function userFileName(name: string): string {
  const safe = fileSafeName(name);
  const resolved = normalizeUserName(name);
  if (resolved === safe.toUpperCase()) return safe;
  return `${safe}-${createHash('sha256').update(resolved).digest('hex').slice(0, 8)}`;
}

/**
 * Before a SET: writing `slot` must not remove the only registered key (DESIGN.md §3: at no point may
 * both slots be without a working key). Returns a reason to refuse, or null when it is safe.
 */
export function unsafeSet(slots: readonly SlotView[], slot: Slot, authFingerprint?: string | null): string | null {
  const target = slots.find((s) => s.slot === slot);
  const other = slots.find((s) => s.slot === otherSlot(slot));
  if (!target?.fingerprint) return null;
  if (authFingerprint && sameFingerprint(target.fingerprint, authFingerprint) && !sameFingerprint(other?.fingerprint, authFingerprint)) {
    return `slot ${slot} holds the key this command authenticates with`;
  }
  if (!other?.fingerprint) return `slot ${slot} holds the only registered key`;
  return null;
}
