/**
 * Everything registered on a user, in one read: DESC USER for the legacy slots (and NAME /
 * LOGIN_NAME), SHOW USER KEY PAIRS for the named pairs (a server without them gives the slots alone).
 */
import type { SnowflakeClient } from '../snowflake/client.js';
import { showKeyPairs } from '../snowflake/key-pairs.js';
import { showPats, type PatListing } from '../snowflake/pats.js';
import { describeUser, type UserDescription } from '../snowflake/users.js';
import { sameFingerprint } from '../core/fingerprint.js';
import { slotProperty } from '../core/sql.js';
import type { KeysView } from './rotation-target.js';
import { isActive, type PairKey, type RegisteredKey, type SlotKey } from './types.js';

export interface UserKeys {
  description: UserDescription;
  /** The set slots, then the named pairs in the server's order. */
  keys: RegisteredKey[];
  namedPairs: { available: true } | { available: false; why: string };
}

export function slotKeys(description: UserDescription): SlotKey[] {
  return description.slots.flatMap((s) =>
    s.fingerprint === null ? [] : [{ kind: 'slot' as const, slot: s.slot, fingerprint: s.fingerprint, publicKey: s.publicKey, setAt: s.lastSetTime, setAtText: s.lastSetTimeText }],
  );
}

export async function readUserKeys(client: SnowflakeClient, user: string): Promise<UserKeys> {
  // Neither read depends on the other: both go out together, over the pooled keep-alive connections,
  // so a read of the keys is one round trip (DESIGN.md §3, issue 29). When both fail, the DESC's
  // error is the one reported (it names the user's problem first: privileges, existence).
  const [desc, list] = await Promise.allSettled([describeUser(client, user), showKeyPairs(client, user)]);
  if (desc.status === 'rejected') {
    if (list.status === 'rejected') void list.reason; // handled: the DESC's error is reported
    throw desc.reason;
  }
  if (list.status === 'rejected') throw list.reason;
  const description = desc.value;
  const listing = list.value;
  return {
    description,
    keys: [...slotKeys(description), ...(listing.available ? listing.pairs : [])],
    namedPairs: listing.available ? { available: true } : { available: false, why: listing.why },
  };
}

/** The read as the rotation model sees it: both slots (empty ones too) and every listed pair. */
export function viewOf(read: UserKeys): KeysView {
  return {
    slots: read.description.slots,
    pairs: read.keys.filter((k): k is PairKey => k.kind === 'pair'),
    namedPairsAvailable: read.namedPairs.available,
  };
}

/** One line about every key: `slot 1 SHA256:…, slot 2 empty, pair CI_KEY SHA256:… (ACTIVE)`. */
export function keysSummary(view: KeysView): string {
  return [
    ...view.slots.map((s) => `slot ${s.slot} ${s.fingerprint ?? 'empty'}`),
    ...view.pairs.map((p) => `pair ${p.name} ${p.fingerprint} (${p.rotatedTo ? 'rotated out' : p.status})`),
  ].join(', ');
}

/** Where a key is registered now, as messages name it, or null. */
export function placeHolding(view: KeysView, fingerprint: string | null, nowMs: number): string | null {
  if (!fingerprint) return null;
  const slot = view.slots.find((s) => sameFingerprint(s.fingerprint, fingerprint));
  if (slot) return slotProperty(slot.slot);
  const pair = view.pairs.find((p) => isActive(p, nowMs) && sameFingerprint(p.fingerprint, fingerprint));
  return pair ? `key pair ${pair.name}` : null;
}

/** A key of the read that changes when any registered key does (for "changed since the plan"). */
export function viewKey(view: KeysView): string {
  return [
    ...view.slots.map((s) => (s.fingerprint ?? '').replace(/^SHA256:/, '')),
    ...view.pairs.filter((p) => !p.rotatedTo).map((p) => `${p.name}=${p.fingerprint.replace(/^SHA256:/, '')}:${p.status}`),
  ].join('|');
}

/**
 * Is the user read here the one this command authenticates as? Decided as Snowflake decides it
 * (DESIGN.md §7 v3 "Who is who"): the JWT names the LOGIN_NAME (compared without case), so a target
 * typed as its NAME (`admin.ops@corp`) is the same user as a connection's `ADMIN.OPS@CORP`. (The same
 * public key registered on another user is that user's registration: retiring it there leaves this
 * command's own untouched.)
 */
export function isAuthenticatingUser(read: UserKeys, target: string, auth: { user?: string }): boolean {
  const login = read.description.loginName ?? read.description.name ?? target;
  return Boolean(auth.user && login.toUpperCase() === auth.user.toUpperCase());
}

/** A user's description (TYPE, NAME, LOGIN_NAME) and PATs, read together: one round trip. */
export async function readUserTokens(client: SnowflakeClient, user: string): Promise<{ description: UserDescription; pats: PatListing }> {
  const [desc, list] = await Promise.allSettled([describeUser(client, user), showPats(client, user)]);
  if (desc.status === 'rejected') {
    if (list.status === 'rejected') void list.reason;
    throw desc.reason;
  }
  if (list.status === 'rejected') throw list.reason;
  return { description: desc.value, pats: list.value };
}
