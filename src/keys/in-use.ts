/**
 * Which registered key is "in use" (for `status --max-age`, `--expiring-within` and `rotate
 * --if-older-than`): the active key that holds the local key; when the local key is none of them (an
 * admin looking at another user, or a token), the most recently set or created active key, because
 * after a rotation that is the one clients use.
 */
import { sameFingerprint } from '../core/fingerprint.js';
import { isActive, setTimeOf, type RegisteredKey } from './types.js';

export type KeyInUseReason = 'local-key' | 'newest' | 'none';

export function keyInUse(keys: readonly RegisteredKey[], localFingerprint: string | null | undefined, nowMs: number): { key: RegisteredKey | null; reason: KeyInUseReason } {
  const active = keys.filter((k) => isActive(k, nowMs));
  const local = active.find((k) => sameFingerprint(k.fingerprint, localFingerprint));
  if (local) return { key: local, reason: 'local-key' };
  // Newest first; unknown times last, slots before pairs among equals (stable order otherwise).
  const newest = [...active].sort((a, b) => (setTimeOf(b)?.getTime() ?? -Infinity) - (setTimeOf(a)?.getTime() ?? -Infinity))[0];
  return newest ? { key: newest, reason: 'newest' } : { key: null, reason: 'none' };
}

/** Active keys whose expiry falls within `seconds` from now (or has passed). */
export function expiringWithin(keys: readonly RegisteredKey[], seconds: number, nowMs: number): RegisteredKey[] {
  return keys.filter((k) => k.kind === 'pair' && isActive(k, nowMs) && k.expiresAt !== null && k.expiresAt.getTime() - nowMs <= seconds * 1000);
}
