/**
 * SQL for Snowflake's named key pairs (July 2026): ADD / ROTATE / MODIFY … SET DISABLED / REMOVE KEY
 * PAIR and SHOW USER KEY PAIRS. Names follow identifier rules (a plain name is upper-cased by
 * Snowflake, anything else is quoted and kept exactly); `PUBLIC_KEY_1` / `PUBLIC_KEY_2` are reserved for
 * the legacy slots and never used here.
 * See https://docs.snowflake.com/sql-reference/sql/alter-user-add-key-pair and
 * https://docs.snowflake.com/sql-reference/sql/show-user-key-pairs
 */
import { UsageError } from '../errors.js';
import { quoteIdentifier, quoteLiteral } from './sql.js';

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;
export const RESERVED_PAIR_NAMES: ReadonlySet<string> = new Set(['PUBLIC_KEY_1', 'PUBLIC_KEY_2']);
/** `<NAME>_ROTATED_<epoch_ms>`: a pair rotated out by ROTATE KEY PAIR. */
export const ROTATED_PAIR_NAME = /^(.+)_ROTATED_(\d{10,})$/;

/** The name as Snowflake stores it: a plain identifier upper-cased, a quoted one (or any other) exact. */
export function pairNameOf(input: string): string {
  const name = input.trim();
  if (name.length >= 2 && name.startsWith('"') && name.endsWith('"')) return name.slice(1, -1).replace(/""/g, '"');
  return PLAIN_IDENTIFIER.test(name) ? name.toUpperCase() : name;
}

/** `--key-pair NAME`, checked: not empty, not reserved, not a rotated-out name. */
export function parseKeyPairName(input: string, flag = '--key-pair'): string {
  const name = pairNameOf(input);
  if (name === '') throw new UsageError('ERR_USAGE', `${flag} is empty`, { hint: `give ${flag} the key pair's name, e.g. ${flag} CI_KEY` });
  if (RESERVED_PAIR_NAMES.has(name.toUpperCase())) {
    throw new UsageError('ERR_KEY_PAIR_NAME', `${name} is reserved for the legacy key slots`, {
      hint: `use --slot ${name.endsWith('2') ? 2 : 1} for RSA_PUBLIC_KEY${name.endsWith('2') ? '_2' : ''}, or another name for a named key pair`,
    });
  }
  if (ROTATED_PAIR_NAME.test(name)) {
    throw new UsageError('ERR_KEY_PAIR_NAME', `${name} is a rotated-out key pair; it cannot be changed, only left to expire`, {
      hint: `name the active key pair instead (${ROTATED_PAIR_NAME.exec(name)![1]})`,
    });
  }
  return name;
}

/** A stored name as SQL: plain when Snowflake stores the plain form that way (upper case), else quoted. */
export function pairIdentifier(name: string): string {
  return PLAIN_IDENTIFIER.test(name) && name === name.toUpperCase() ? name : '"' + name.replace(/"/g, '""') + '"';
}

export interface AddKeyPairOptions {
  roleRestriction?: string;
  daysToExpiry?: number;
  comment?: string;
}

export function showKeyPairsSql(user: string): string {
  return `SHOW USER KEY PAIRS FOR USER ${quoteIdentifier(user)}`;
}

export function addKeyPairSql(user: string, name: string, publicKeyBody: string, options: AddKeyPairOptions = {}): string {
  return [
    `ALTER USER ${quoteIdentifier(user)} ADD KEY PAIR ${pairIdentifier(name)} PUBLIC_KEY=${quoteLiteral(publicKeyBody)}`,
    options.roleRestriction !== undefined ? ` ROLE_RESTRICTION=${quoteLiteral(options.roleRestriction)}` : '',
    options.daysToExpiry !== undefined ? ` DAYS_TO_EXPIRY=${options.daysToExpiry}` : '',
    options.comment !== undefined ? ` COMMENT=${quoteLiteral(options.comment)}` : '',
  ].join('');
}

/** `graceHours` undefined: Snowflake's default (24 h). */
export function rotateKeyPairSql(user: string, name: string, publicKeyBody: string, graceHours?: number): string {
  return `ALTER USER ${quoteIdentifier(user)} ROTATE KEY PAIR ${pairIdentifier(name)} PUBLIC_KEY=${quoteLiteral(publicKeyBody)}${
    graceHours === undefined ? '' : ` EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS=${graceHours}`
  }`;
}

export function setKeyPairDisabledSql(user: string, name: string, disabled: boolean): string {
  return `ALTER USER ${quoteIdentifier(user)} MODIFY KEY PAIR ${pairIdentifier(name)} SET DISABLED = ${disabled ? 'TRUE' : 'FALSE'}`;
}

export function removeKeyPairSql(user: string, name: string): string {
  return `ALTER USER ${quoteIdentifier(user)} REMOVE KEY PAIR ${pairIdentifier(name)}`;
}

/** `--expires-in`: whole days, at least one (DAYS_TO_EXPIRY ≥ 1). */
export function daysToExpiryOf(seconds: number, flag = '--expires-in'): number {
  if (seconds < 86400 || seconds % 86400 !== 0) {
    throw new UsageError('ERR_USAGE', `${flag} must be whole days, at least 1d`, { hint: `Snowflake counts a key pair's expiry in days: ${flag} 90d` });
  }
  return seconds / 86400;
}

/** `--grace`: whole hours, 0 allowed (0 = retire the old key at once). */
export function graceHoursOf(seconds: number, flag = '--grace'): number {
  if (seconds % 3600 !== 0) {
    throw new UsageError('ERR_USAGE', `${flag} must be whole hours (0 allowed)`, { hint: `Snowflake counts the grace period in hours: ${flag} 24h, ${flag} 2d, ${flag} 0` });
  }
  return seconds / 3600;
}

/**
 * `--grace DURATION`: `0` (any unit) retires the old key at once; otherwise whole hours. A bare
 * number is hours, the unit of EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS (`--grace 2` is two hours, never
 * two seconds).
 */
export function parseGrace(value: string, parse: (value: string, what: string) => number, flag = '--grace'): number {
  if (/^\s*0+[smhdw]?\s*$/i.test(value)) return 0;
  return graceHoursOf(parse(bareIn(value, 'h'), flag), flag);
}

/**
 * `--expires-in DAYS`: a bare number is days, the unit of DAYS_TO_EXPIRY (`--expires-in 30` is thirty
 * days); `90d`, `2w` work too.
 */
export function parseExpiresIn(value: string, parse: (value: string, what: string) => number, flag = '--expires-in'): number {
  return daysToExpiryOf(parse(bareIn(value, 'd'), flag), flag);
}

/** A bare number given the flag's own unit. */
function bareIn(value: string, unit: 'h' | 'd'): string {
  return /^\s*\d+\s*$/.test(value) ? `${value.trim()}${unit}` : value;
}
