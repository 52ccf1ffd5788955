/**
 * The keys registered on a user, legacy slots and named key pairs behind one shape (DESIGN.md §3
 * "Keys registered on a user"): authentication picks the key by the fingerprint in the JWT among the
 * legacy slots and the ACTIVE named pairs, so sfauth treats both as one list.
 */
import type { Slot } from '../core/sql.js';

export type PairStatus = 'ACTIVE' | 'EXPIRED' | 'DISABLED';

/** A legacy slot that holds a key (`RSA_PUBLIC_KEY` / `RSA_PUBLIC_KEY_2`). */
export interface SlotKey {
  kind: 'slot';
  slot: Slot;
  fingerprint: string;
  /** Base64 SPKI body as DESC USER shows it. */
  publicKey: string | null;
  setAt: Date | null;
  /** As Snowflake wrote the set time, for display when it cannot be parsed. */
  setAtText: string | null;
}

/** A named key pair as SHOW USER KEY PAIRS lists it (rotated-out ones until they expire). */
export interface PairKey {
  kind: 'pair';
  name: string;
  fingerprint: string;
  status: PairStatus;
  /** The status as the server wrote it (an unknown one is treated as DISABLED). */
  statusText: string;
  roleScope: string | null;
  comment: string | null;
  createdOn: Date | null;
  createdBy: string | null;
  lastUsedOn: Date | null;
  expiresAt: Date | null;
  /** For a rotated-out pair, the pair that replaced it. */
  rotatedTo: string | null;
}

export type RegisteredKey = SlotKey | PairKey;

/** Whether the key can authenticate now: a set slot, or an ACTIVE pair not past its expiry. */
export function isActive(key: RegisteredKey, nowMs: number): boolean {
  if (key.kind === 'slot') return true;
  return key.status === 'ACTIVE' && !(key.expiresAt && key.expiresAt.getTime() <= nowMs);
}

/** When it was set (slot) or created (pair). */
export function setTimeOf(key: RegisteredKey): Date | null {
  return key.kind === 'slot' ? key.setAt : key.createdOn;
}

/** `slot 1`, `key pair CI_KEY`: how messages name a key. */
export function keyLabel(key: RegisteredKey): string {
  return key.kind === 'slot' ? `slot ${key.slot} (RSA_PUBLIC_KEY${key.slot === 2 ? '_2' : ''})` : `key pair ${key.name}`;
}

/**
 * A programmatic access token as SHOW USER PROGRAMMATIC ACCESS TOKENS lists it (named-key-pairs.md
 * §8.5): a name, never a secret (Snowflake shows that once, in ADD's or ROTATE's answer). A
 * rotated-out object (`<NAME>_ROTATED_<ms>`, `rotatedTo` = NAME) holds the prior secret until its
 * grace ends.
 */
export interface PatToken {
  kind: 'pat';
  name: string;
  status: PairStatus;
  statusText: string;
  roleRestriction: string | null;
  comment: string | null;
  createdOn: Date | null;
  createdBy: string | null;
  expiresAt: Date | null;
  rotatedTo: string | null;
}

/** Every programmatic credential of a user: its keys (slots and named pairs) and its tokens. */
export type UserCredential = RegisteredKey | PatToken;

/** `slot 1 (RSA_PUBLIC_KEY)`, `key pair CI_KEY`, `token BI`: how messages name any credential. */
export function credentialLabel(c: UserCredential): string {
  return c.kind === 'pat' ? `token ${c.name}` : keyLabel(c);
}

/** Whether the token's secret authenticates now. */
export function patIsActive(t: PatToken, nowMs: number): boolean {
  return t.status === 'ACTIVE' && !(t.expiresAt && t.expiresAt.getTime() <= nowMs);
}

/** Counted toward the 15-token limit: all but the expired (§8.1 Limits). */
export function patCounts(t: PatToken, nowMs: number): boolean {
  return !(t.status === 'EXPIRED' || (t.expiresAt && t.expiresAt.getTime() <= nowMs));
}
