/**
 * Named key pairs in the emulator (Snowflake, July 2026; facts and open questions in
 * named-key-pairs.md): ADD / ROTATE / MODIFY … SET / REMOVE KEY PAIR and SHOW USER KEY PAIRS.
 *
 * Documented rules enforced here: `PUBLIC_KEY_1` / `PUBLIC_KEY_2` are reserved; a public key is unique
 * among the user's active keys (legacy slots included); at most `limit` (10) pairs, rotated-out ones
 * included; `DAYS_TO_EXPIRY` ≥ 1; `ROLE_RESTRICTION` must be a granted role; ROTATE keeps the name on
 * the new key and renames the old one `<NAME>_ROTATED_<epoch_ms>` (`rotated_to` = NAME), expiring after
 * `EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS` (24; 0 = disabled at once; at most the hours the current key
 * has left); a rotated-out pair cannot be rotated and is listed until it expires; comment, role
 * restriction and expiry are inherited. Error codes are the emulator's own (Snowflake documents none):
 * see KEY_PAIR_ERRORS. Unconfirmed points are options (KeyPairRules).
 */
import type { ParsedPublicKey } from './keys.js';

export interface NamedPair {
  name: string;
  key: ParsedPublicKey;
  roleScope: string | null;
  disabled: boolean;
  comment: string | null;
  createdOn: Date;
  createdBy: string;
  lastUsedOn: Date | null;
  /** Server time; null = never. */
  expiresAt: Date | null;
  /** DAYS_TO_EXPIRY as given (inherited by a rotation). */
  daysToExpiry: number | null;
  rotatedTo: string | null;
  /** Real-clock ms from which it authenticates (propagation). */
  usableAt: number;
}

export interface KeyPairRules {
  /** Pairs per user, rotated-out ones included (default 10). */
  limit: number;
  /** ROTATE … AFTER_HOURS = 0: the old pair listed as DISABLED, or not listed at all (unconfirmed). */
  rotatedOutAtZeroGrace: 'disabled' | 'unlisted';
  /** ROTATE: the new key's expiry restarts from DAYS_TO_EXPIRY, or keeps the old time (unconfirmed). */
  rotateExpiry: 'restart' | 'keep';
  /** MODIFY on a rotated-out pair: allowed, or refused like a ROTATE of one (unconfirmed). */
  modifyRotatedOut: 'allowed' | 'refused';
}

export type PairStatus = 'ACTIVE' | 'EXPIRED' | 'DISABLED';

/** DISABLED wins over EXPIRED (as SHOW reports a key that is both). */
export function pairStatus(pair: NamedPair, nowMs: number): PairStatus {
  if (pair.disabled) return 'DISABLED';
  if (pair.expiresAt && pair.expiresAt.getTime() <= nowMs) return 'EXPIRED';
  return 'ACTIVE';
}

/** Rotated-out pairs are listed until they expire (a disabled one at grace 0 stays, see rules). */
export function prunePairs(pairs: NamedPair[], nowMs: number): NamedPair[] {
  return pairs.filter((p) => !(p.rotatedTo !== null && !p.disabled && p.expiresAt && p.expiresAt.getTime() <= nowMs));
}

export const RESERVED_PAIR_NAMES = new Set(['PUBLIC_KEY_1', 'PUBLIC_KEY_2']);
export const ROTATED_NAME = /^(.+)_ROTATED_(\d+)$/;

export class KeyPairError extends Error {
  constructor(
    readonly code: string,
    readonly sqlState: string,
    message: string,
  ) {
    super(message);
  }
}

/** The emulator's answers for refusals Snowflake does not document (codes are the emulator's own). */
export const KEY_PAIR_ERRORS = {
  reserved: (name: string) => new KeyPairError('003530', '42601', `SQL compilation error:\nKey pair name '${name}' is reserved for the legacy RSA_PUBLIC_KEY properties; use ALTER USER … SET/UNSET RSA_PUBLIC_KEY.`),
  exists: (name: string) => new KeyPairError('002002', '42710', `SQL compilation error:\nKey pair '${name}' already exists.`),
  duplicateKey: (holder: string) => new KeyPairError('003531', '22023', `SQL execution error: The public key is already registered for this user (${holder}).`),
  limit: (user: string, limit: number) => new KeyPairError('003532', '54000', `SQL execution error: User '${user}' already has the maximum number of key pairs (${limit}).`),
  roleNotGranted: (role: string, user: string) => new KeyPairError('003533', '42501', `SQL execution error: Role '${role}' is not granted to user '${user}'.`),
  days: () => new KeyPairError('003534', '22023', 'SQL compilation error:\nDAYS_TO_EXPIRY must be 1 or greater.'),
  unknown: (name: string, user: string) => new KeyPairError('003535', '02000', `SQL compilation error:\nKey pair '${name}' does not exist for user '${user}'.`),
  rotatedOut: (name: string) => new KeyPairError('003536', '42601', `SQL compilation error:\nKey pair '${name}' was rotated out and cannot be rotated; rotate the active key pair.`),
  hours: (max: number | null) =>
    new KeyPairError('003537', '22023', `SQL compilation error:\nEXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS must be between 0 and ${max ?? 'the key pair lifetime'}.`),
};
