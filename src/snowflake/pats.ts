/**
 * `SHOW USER PROGRAMMATIC ACCESS TOKENS FOR USER <u>` read into PatTokens. Columns are found by
 * name (named-key-pairs.md §8.5: `rotated_to` is optional and the bypass column has two spellings);
 * times are read as the SQL API sends them. A server that does not know the statement answers
 * `unavailable`, as for named key pairs.
 * See https://docs.snowflake.com/en/sql-reference/sql/show-user-programmatic-access-tokens
 */
import { CheckFailedError, ServiceError, isSfauthError } from '../errors.js';
import { ROTATED_PAIR_NAME } from '../core/key-pair-sql.js';
import { showPatsSql } from '../core/pat-sql.js';
import type { PairStatus, PatToken } from '../keys/types.js';
import type { SnowflakeClient } from './client.js';
import { unknownStatement } from './key-pairs.js';
import { parseSnowflakeTimestamp } from './users.js';

export type PatListing = { available: true; pats: PatToken[] } | { available: false; why: string };

const STATUSES: ReadonlySet<string> = new Set(['ACTIVE', 'EXPIRED', 'DISABLED']);

export async function showPats(client: SnowflakeClient, user: string): Promise<PatListing> {
  let result;
  try {
    result = await client.execute(showPatsSql(user));
  } catch (err) {
    if (isSfauthError(err) && err instanceof CheckFailedError && err.code === 'ERR_STATEMENT_FAILED' && unknownStatement(err)) {
      return { available: false, why: err.message.replace(/^Snowflake refused the statement: /, '') };
    }
    throw err;
  }
  const lower = result.columns.map((c) => c.toLowerCase());
  for (const required of ['name', 'status']) {
    if (!lower.includes(required)) {
      throw new ServiceError('ERR_BAD_RESPONSE', `SHOW USER PROGRAMMATIC ACCESS TOKENS answered without a ${required} column (columns: ${result.columns.slice(0, 20).join(', ')})`, {
        hint: 'this Snowflake answer is not in a shape sfauth knows; please report it',
      });
    }
  }
  const cell = (row: (string | null)[], name: string): string | null => {
    const i = lower.indexOf(name);
    const v = i < 0 ? null : row[i];
    return v === null || v === undefined || v.trim() === '' || v.trim().toLowerCase() === 'null' ? null : v;
  };
  const pats: PatToken[] = [];
  for (const row of result.rows) {
    const name = cell(row, 'name');
    if (!name) continue;
    const statusText = (cell(row, 'status') ?? '').toUpperCase();
    pats.push({
      kind: 'pat',
      name,
      status: (STATUSES.has(statusText) ? statusText : 'DISABLED') as PairStatus,
      statusText,
      roleRestriction: cell(row, 'role_restriction'),
      comment: cell(row, 'comment'),
      createdOn: parseSnowflakeTimestamp(cell(row, 'created_on')),
      createdBy: cell(row, 'created_by'),
      expiresAt: parseSnowflakeTimestamp(cell(row, 'expires_at')),
      rotatedTo: cell(row, 'rotated_to') ?? ROTATED_PAIR_NAME.exec(name)?.[1] ?? null,
    });
  }
  return { available: true, pats };
}

/** The token named `name` (as stored), or undefined. */
export function patNamed(pats: readonly PatToken[], name: string): PatToken | undefined {
  return pats.find((t) => t.name === name);
}

/** The rotated-out objects of `name`, oldest first (by the epoch ms in their name, then creation). */
export function rotatedOutOf(pats: readonly PatToken[], name: string): PatToken[] {
  const ms = (t: PatToken) => Number(ROTATED_PAIR_NAME.exec(t.name)?.[2] ?? t.createdOn?.getTime() ?? 0);
  return pats.filter((t) => t.rotatedTo === name && t.name !== name).sort((a, b) => ms(a) - ms(b));
}
