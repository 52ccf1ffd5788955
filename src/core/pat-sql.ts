/**
 * SQL for programmatic access tokens (PATs): ADD / ROTATE / MODIFY … SET DISABLED / REMOVE
 * PROGRAMMATIC ACCESS TOKEN and SHOW USER PROGRAMMATIC ACCESS TOKENS. Token names follow identifier
 * rules as key pair names do (a plain name is stored upper-case, anything else is quoted and kept
 * exactly), so a hostile name can never end the statement.
 * See https://docs.snowflake.com/en/sql-reference/sql/alter-user-add-programmatic-access-token,
 * https://docs.snowflake.com/en/sql-reference/sql/alter-user-rotate-programmatic-access-token and
 * ../shared/named-key-pairs.md §8.
 */
import { UsageError } from '../errors.js';
import { pairIdentifier, pairNameOf, ROTATED_PAIR_NAME } from './key-pair-sql.js';
import { quoteIdentifier, quoteLiteral } from './sql.js';

/** Tokens per user, rotated-out and disabled ones included, expired ones not (§8.1 Limits). */
export const PAT_LIMIT = 15;
/** DAYS_TO_EXPIRY when none is given, and its most (§8.1). */
export const PAT_DEFAULT_DAYS = 15;
export const PAT_MAX_DAYS = 365;

export interface AddPatOptions {
  roleRestriction?: string;
  daysToExpiry?: number;
  comment?: string;
}

/** `--pat NAME`, checked: not empty, not a rotated-out object's name (those can only be removed). */
export function parsePatName(input: string, flag = '--pat', allowRotatedOut = false): string {
  const name = pairNameOf(input);
  if (name === '') throw new UsageError('ERR_USAGE', `${flag} is empty`, { hint: `give ${flag} the token's name, e.g. ${flag} BI_TOKEN` });
  if (/[\x00-\x1f\x7f]/.test(name)) throw new UsageError('ERR_USAGE', `${flag} holds control characters`, { hint: 'a token name is letters, digits and underscores' });
  if (name.length > 255) throw new UsageError('ERR_USAGE', `${flag} is longer than 255 characters`, { hint: 'Snowflake identifiers are at most 255 characters' });
  if (!allowRotatedOut && ROTATED_PAIR_NAME.test(name)) {
    throw new UsageError('ERR_USAGE', `${name} is a rotated-out token object: its secret ends with its grace period`, {
      hint: `name the token itself (${ROTATED_PAIR_NAME.exec(name)![1]}), or remove the rotated-out object with sfauth revoke --pat ${name}`,
    });
  }
  return name;
}

export function showPatsSql(user: string): string {
  return `SHOW USER PROGRAMMATIC ACCESS TOKENS FOR USER ${quoteIdentifier(user)}`;
}

export function addPatSql(user: string, name: string, options: AddPatOptions = {}): string {
  return [
    `ALTER USER ${quoteIdentifier(user)} ADD PROGRAMMATIC ACCESS TOKEN ${pairIdentifier(name)}`,
    options.roleRestriction !== undefined ? ` ROLE_RESTRICTION=${quoteLiteral(options.roleRestriction)}` : '',
    options.daysToExpiry !== undefined ? ` DAYS_TO_EXPIRY=${options.daysToExpiry}` : '',
    options.comment !== undefined ? ` COMMENT=${quoteLiteral(options.comment)}` : '',
  ].join('');
}

/** `graceHours`: EXPIRE_ROTATED_TOKEN_AFTER_HOURS (0 to the hours the current secret has left). */
export function rotatePatSql(user: string, name: string, graceHours: number): string {
  return `ALTER USER ${quoteIdentifier(user)} ROTATE PROGRAMMATIC ACCESS TOKEN ${pairIdentifier(name)} EXPIRE_ROTATED_TOKEN_AFTER_HOURS=${graceHours}`;
}

export function setPatDisabledSql(user: string, name: string, disabled: boolean): string {
  return `ALTER USER ${quoteIdentifier(user)} MODIFY PROGRAMMATIC ACCESS TOKEN ${pairIdentifier(name)} SET DISABLED = ${disabled ? 'TRUE' : 'FALSE'}`;
}

/** With `ifExists`: a rerun that finds it gone already succeeds (the inner IF EXISTS, §8.4). */
export function removePatSql(user: string, name: string, ifExists = false): string {
  return `ALTER USER ${quoteIdentifier(user)} REMOVE PROGRAMMATIC ACCESS TOKEN ${ifExists ? 'IF EXISTS ' : ''}${pairIdentifier(name)}`;
}

/**
 * The grace a ROTATE can ask for: Snowflake takes 0 up to the hours the current secret has left
 * (§8.2), so a token close to its expiry gets what it has. At least 1 h when it has that long: the
 * program keeps a working secret until the new one is delivered.
 */
export function rotateGraceHours(wantedHours: number, expiresAt: Date | null, nowMs: number): number {
  if (!expiresAt) return wantedHours;
  const left = Math.max(0, Math.floor((expiresAt.getTime() - nowMs) / 3_600_000));
  return Math.min(wantedHours, left);
}
