/**
 * `--shard K/N` (DESIGN.md §3 "Fleet", "Audit"): the K-th of N deterministic slices of a list of
 * users, so a CI matrix or a Kubernetes indexed job (`--shard $((JOB_COMPLETION_INDEX+1))/N`) spreads
 * a fleet or an audit over machines. A user's slice depends on its name alone (FNV-1a of the name as
 * Snowflake resolves it), so the N slices cover every user exactly once whatever the list's order,
 * and a user keeps its slice as others come and go.
 */
import { UsageError } from '../errors.js';
import { normalizeUserName } from './rotation-plan.js';

export interface Shard {
  index: number;
  count: number;
}

export function parseShard(value: string): Shard {
  const m = /^\s*(\d{1,4})\s*\/\s*(\d{1,4})\s*$/.exec(value);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new UsageError('ERR_USAGE', `invalid --shard '${value}'`, {
      hint: 'K/N with 1 ≤ K ≤ N, e.g. --shard 2/4 (in a matrix: --shard ${{ matrix.shard }}/4; in an indexed job: --shard $((JOB_COMPLETION_INDEX+1))/4)',
    });
  }
  return { index, count };
}

/** The slice (1…count) a user belongs to. */
export function shardOf(user: string, count: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(normalizeUserName(user), 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash % count) + 1;
}

export function inShard(users: readonly string[], shard: Shard | undefined): string[] {
  return shard ? users.filter((u) => shardOf(u, shard.count) === shard.index) : [...users];
}
