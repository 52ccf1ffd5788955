/**
 * What `register/rotate/revoke --pat` refuse before any statement (DESIGN.md §3 "Programmatic access
 * tokens"; named-key-pairs.md §8): a session that authenticated with a PAT (Snowflake does not let it
 * manage PATs), a user at the 15-token limit, and a service user's token without a role restriction.
 */
import { UsageError, CheckFailedError } from '../errors.js';
import { PAT_LIMIT } from '../core/pat-sql.js';
import { timeText } from '../core/time-text.js';
import { patCounts, type PatToken } from '../keys/types.js';
import type { Session } from '../snowflake/session.js';

/** A PAT session cannot MODIFY, ROTATE or REMOVE PATs (§8.6); sfauth refuses ADD there too, for one rule. */
export function assertNotPatSession(session: Session, verb: string): void {
  if (session.key || session.connection.tokenType !== 'pat') return;
  throw new UsageError('ERR_PAT_SESSION', `this command authenticates with a programmatic access token, and Snowflake does not let a token's session ${verb} tokens`, {
    hint: 'authenticate with a key pair: the user\'s own (--private-key, or a connection with private_key_file), or an admin\'s connection with --target-user',
  });
}

/** Refused at the limit: the rotated-out objects that could go are named (removing one ends its secret). */
export function assertBelowLimit(user: string, pats: readonly PatToken[], nowMs: number, adding: string): void {
  const counted = pats.filter((t) => patCounts(t, nowMs));
  if (counted.length < PAT_LIMIT) return;
  const rotated = counted.filter((t) => t.rotatedTo);
  throw new CheckFailedError('ERR_PAT_LIMIT', `${user} has ${counted.length} programmatic access tokens, Snowflake's limit; ${adding} would need one more`, {
    details: [
      ...rotated.map((t) => `${t.name}: rotated out of ${t.rotatedTo}, its secret works until ${t.expiresAt ? timeText(t.expiresAt) : 'it expires'}`),
      ...(rotated.length === 0 ? ['no rotated-out token objects: every counted token is in its own right'] : []),
    ],
    hint: rotated.length
      ? `remove a rotated-out object nothing uses any more: sfauth revoke --target-user ${user} --pat ${rotated[0]!.name} --apply (or wait for its grace to end)`
      : `remove a token you no longer need: sfauth revoke --target-user ${user} --pat NAME --apply`,
    data: { count: counted.length, limit: PAT_LIMIT, rotatedOut: rotated.map((t) => t.name) },
  });
}

/** SERVICE and LEGACY_SERVICE users need a role restriction by default (§8.1 ROLE_RESTRICTION). */
export function assertRoleRestrictionIfService(user: string, type: string | null | undefined, roleRestriction: string | undefined): void {
  if (roleRestriction !== undefined || (type !== 'SERVICE' && type !== 'LEGACY_SERVICE')) return;
  throw new UsageError('ERR_PAT_ROLE_REQUIRED', `${user} is a ${type} user: Snowflake requires a role restriction for its programmatic access tokens`, {
    hint: 'pass --role-restriction ROLE (a role granted to the user; the token\'s sessions run as that role only)',
  });
}
