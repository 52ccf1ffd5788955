/**
 * Everything registered on a user, in one read: DESC USER for the legacy slots (and NAME /
 * LOGIN_NAME), SHOW USER KEY PAIRS for the named pairs (a server without them gives the slots alone).
 */
import type { SnowflakeClient } from '../snowflake/client.js';
import { showKeyPairs } from '../snowflake/key-pairs.js';
import { describeUser, type UserDescription } from '../snowflake/users.js';
import type { RegisteredKey, SlotKey } from './types.js';

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
  const description = await describeUser(client, user);
  const listing = await showKeyPairs(client, user);
  return {
    description,
    keys: [...slotKeys(description), ...(listing.available ? listing.pairs : [])],
    namedPairs: listing.available ? { available: true } : { available: false, why: listing.why },
  };
}
