/**
 * SQL text for the statements sfauth runs or prints. Nothing is ever pasted unescaped
 * (DESIGN.md §3 "Identifiers"): plain identifiers stay as typed, anything else is double-quoted with
 * `"` doubled; string literals double `'` and, because Snowflake treats `\` as an escape inside
 * single-quoted strings, double `\` too.
 * See https://docs.snowflake.com/en/sql-reference/identifiers-syntax
 */
import { UsageError } from '../errors.js';

export type Slot = 1 | 2;

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/** A name typed as a quoted identifier (`"svc_lower"`, inner quotes doubled): Snowflake's exact form. */
const QUOTED_IDENTIFIER = /^"(?:[^"]|"")+"$/;

export function quoteIdentifier(name: string): string {
  if (name === '') throw new UsageError('ERR_USAGE', 'a user name cannot be empty', { hint: 'pass --user NAME' });
  if (PLAIN_IDENTIFIER.test(name)) return name;
  // Already quoted as Snowflake writes it (a user created as "svc_lower"): passed on as typed.
  if (QUOTED_IDENTIFIER.test(name)) return name;
  return '"' + name.replace(/"/g, '""') + '"';
}

/** The exact name inside a quoted identifier (`"svc_lower"` → `svc_lower`), or null when it is not one. */
export function unquotedIdentifier(name: string): string | null {
  return QUOTED_IDENTIFIER.test(name) ? name.slice(1, -1).replace(/""/g, '"') : null;
}

export function quoteLiteral(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "''") + "'";
}

/** `RSA_PUBLIC_KEY` for slot 1, `RSA_PUBLIC_KEY_2` for slot 2. */
export function slotProperty(slot: Slot): 'RSA_PUBLIC_KEY' | 'RSA_PUBLIC_KEY_2' {
  return slot === 2 ? 'RSA_PUBLIC_KEY_2' : 'RSA_PUBLIC_KEY';
}

export function parseSlot(value: string | number | undefined): Slot {
  const s = String(value ?? '1').trim();
  if (s === '1') return 1;
  if (s === '2') return 2;
  throw new UsageError('ERR_USAGE', `invalid slot '${value}'`, { hint: 'use --slot 1 (RSA_PUBLIC_KEY) or --slot 2 (RSA_PUBLIC_KEY_2)' });
}

export function setPublicKeySql(user: string, slot: Slot, publicKeyBody: string): string {
  return `ALTER USER ${quoteIdentifier(user)} SET ${slotProperty(slot)}=${quoteLiteral(publicKeyBody)}`;
}

export function unsetPublicKeySql(user: string, slot: Slot): string {
  return `ALTER USER ${quoteIdentifier(user)} UNSET ${slotProperty(slot)}`;
}

export function describeUserSql(user: string): string {
  return `DESC USER ${quoteIdentifier(user)}`;
}
