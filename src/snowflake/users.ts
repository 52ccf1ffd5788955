/**
 * A user's two key slots, read with `DESC USER` and changed with `ALTER USER … SET/UNSET`
 * (DESIGN.md §3 "Users and key slots"). Columns are found by name, case-insensitively, because
 * Snowflake has shipped both `value` and `property_value`.
 */
import { ServiceError } from '../errors.js';
import { describeUserSql, setPublicKeySql, unsetPublicKeySql, type Slot } from '../core/sql.js';
import type { SnowflakeClient, StatementResult } from './client.js';

export interface KeySlot {
  slot: Slot;
  /** Base64 SPKI body, or null for an empty slot. */
  publicKey: string | null;
  fingerprint: string | null;
  lastSetTime: Date | null;
  /** As Snowflake wrote it, for display when it cannot be parsed. */
  lastSetTimeText: string | null;
}

export interface UserKeys {
  user: string;
  slots: [KeySlot, KeySlot];
}

function emptyToNull(value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  const v = value.trim();
  return v === '' || v.toLowerCase() === 'null' ? null : v;
}

/**
 * Snowflake prints timestamps like `2026-11-23 08:40:00.123 -0800`; ISO strings and epoch seconds
 * are accepted too. Unknown shapes give null (treated as "age unknown").
 */
export function parseSnowflakeTimestamp(text: string | null): Date | null {
  if (!text) return null;
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return new Date(Number(t) * 1000);
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(t);
  if (!m) return null;
  const zone = !m[3] || m[3].toUpperCase() === 'Z' ? 'Z' : m[3].length === 5 ? `${m[3].slice(0, 3)}:${m[3].slice(3)}` : m[3];
  const ms = Date.parse(`${m[1]}T${m[2]}${zone}`);
  return Number.isNaN(ms) ? null : new Date(ms);
}

function column(result: StatementResult, ...names: string[]): number {
  const lower = result.columns.map((c) => c.toLowerCase());
  for (const n of names) {
    const i = lower.indexOf(n);
    if (i >= 0) return i;
  }
  throw new ServiceError('ERR_BAD_RESPONSE', `DESC USER answered without a ${names.join('/')} column (columns: ${result.columns.join(', ')})`, {
    hint: 'this Snowflake answer is not in a shape sfauth knows; please report it',
  });
}

/** Reads both key slots of a user. */
export async function describeUserKeys(client: SnowflakeClient, user: string): Promise<UserKeys> {
  const { user: name, slots } = await describeUser(client, user);
  return { user: name, slots };
}

/** `DESC USER` with the names beside the key slots: `LOGIN_NAME` is what a key-pair JWT must carry. */
export interface UserDescription extends UserKeys {
  /** The user's NAME as Snowflake shows it (null when the row is missing). */
  name: string | null;
  /** The user's LOGIN_NAME (null when the row is missing). */
  loginName: string | null;
  /** TYPE (PERSON, SERVICE, LEGACY_SERVICE, …; null when unset or not shown). */
  type?: string | null;
}

/** Reads both key slots of a user, plus its NAME and LOGIN_NAME. */
export async function describeUser(client: SnowflakeClient, user: string): Promise<UserDescription> {
  const result = await client.execute(describeUserSql(user));
  const p = column(result, 'property');
  const v = column(result, 'value', 'property_value');
  const props = new Map<string, string | null>();
  for (const row of result.rows) {
    const name = row[p];
    if (typeof name === 'string') props.set(name.toUpperCase(), emptyToNull(row[v]));
  }
  const slot = (n: Slot): KeySlot => {
    const prefix = n === 1 ? 'RSA_PUBLIC_KEY' : 'RSA_PUBLIC_KEY_2';
    const publicKey = props.get(prefix) ?? null;
    const lastSetTimeText = props.get(`${prefix}_LAST_SET_TIME`) ?? null;
    return {
      slot: n,
      publicKey,
      fingerprint: props.get(`${prefix}_FP`) ?? null,
      lastSetTime: parseSnowflakeTimestamp(lastSetTimeText),
      lastSetTimeText,
    };
  };
  return { user, slots: [slot(1), slot(2)], name: props.get('NAME') ?? null, loginName: props.get('LOGIN_NAME') ?? null, type: props.get('TYPE')?.toUpperCase() ?? null };
}

export async function setUserKey(client: SnowflakeClient, user: string, slot: Slot, publicKeyBody: string): Promise<void> {
  await client.execute(setPublicKeySql(user, slot, publicKeyBody));
}

export async function unsetUserKey(client: SnowflakeClient, user: string, slot: Slot): Promise<void> {
  await client.execute(unsetPublicKeySql(user, slot));
}
