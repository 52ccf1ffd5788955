/**
 * `SHOW USER KEY PAIRS FOR USER <u>` read into named key pairs (Snowflake, July 2026). Columns are
 * found by name, case-insensitively; the fingerprint is normalised to `SHA256:<base64>` whether or not
 * the server prefixes it; times are read as the SQL API sends timestamps (epoch seconds) or as text;
 * rows named PUBLIC_KEY_1 / PUBLIC_KEY_2, if a server lists the legacy slots there, are left out (the
 * slots come from DESC USER). A server that does not know the statement answers `unavailable`.
 * See https://docs.snowflake.com/sql-reference/sql/show-user-key-pairs
 */
import { CheckFailedError, ServiceError, isSfauthError } from '../errors.js';
import { RESERVED_PAIR_NAMES, ROTATED_PAIR_NAME, showKeyPairsSql } from '../core/key-pair-sql.js';
import type { PairKey, PairStatus } from '../keys/types.js';
import type { SnowflakeClient } from './client.js';
import { parseSnowflakeTimestamp } from './users.js';

export type KeyPairListing = { available: true; pairs: PairKey[] } | { available: false; why: string };

const STATUSES: ReadonlySet<string> = new Set(['ACTIVE', 'EXPIRED', 'DISABLED']);

/** Lists a user's named key pairs, or says the server has none to list. */
export async function showKeyPairs(client: SnowflakeClient, user: string): Promise<KeyPairListing> {
  let result;
  try {
    result = await client.execute(showKeyPairsSql(user));
  } catch (err) {
    if (isSfauthError(err) && err instanceof CheckFailedError && err.code === 'ERR_STATEMENT_FAILED' && unknownStatement(err)) {
      return { available: false, why: err.message.replace(/^Snowflake refused the statement: /, '') };
    }
    throw err;
  }
  const lower = result.columns.map((c) => c.toLowerCase());
  const col = (name: string, required = false): number => {
    const i = lower.indexOf(name);
    if (i < 0 && required) {
      throw new ServiceError('ERR_BAD_RESPONSE', `SHOW USER KEY PAIRS answered without a ${name} column (columns: ${result.columns.join(', ')})`, {
        hint: 'this Snowflake answer is not in a shape sfauth knows; please report it',
      });
    }
    return i;
  };
  const [name, fp, status, role, comment, created, createdBy, lastUsed, expires, rotatedTo] = [
    col('name', true),
    col('fingerprint', true),
    col('status', true),
    col('role_scope'),
    col('comment'),
    col('created_on'),
    col('created_by'),
    col('last_used_on'),
    col('expires_at'),
    col('rotated_to'),
  ];
  const cell = (row: (string | null)[], i: number): string | null => {
    if (i < 0) return null;
    const v = row[i];
    return v === null || v === undefined || v.trim() === '' || v.trim().toLowerCase() === 'null' ? null : v;
  };
  const pairs: PairKey[] = [];
  for (const row of result.rows) {
    const pairName = cell(row, name);
    const fingerprint = cell(row, fp);
    if (!pairName || !fingerprint) continue;
    if (RESERVED_PAIR_NAMES.has(pairName.toUpperCase())) continue; // a legacy slot, read from DESC USER
    const rawStatus = (cell(row, status) ?? '').toUpperCase();
    const rotated = cell(row, rotatedTo) ?? ROTATED_PAIR_NAME.exec(pairName)?.[1] ?? null;
    pairs.push({
      kind: 'pair',
      name: pairName,
      fingerprint: fingerprint.startsWith('SHA256:') ? fingerprint : `SHA256:${fingerprint}`,
      status: (STATUSES.has(rawStatus) ? rawStatus : 'DISABLED') as PairStatus,
      statusText: rawStatus,
      roleScope: cell(row, role),
      comment: cell(row, comment),
      createdOn: parseSnowflakeTimestamp(cell(row, created)),
      createdBy: cell(row, createdBy),
      lastUsedOn: parseSnowflakeTimestamp(cell(row, lastUsed)),
      expiresAt: parseSnowflakeTimestamp(cell(row, expires)),
      rotatedTo: rotated,
    });
  }
  return { available: true, pairs };
}

/** A server from before named key pairs: the statement is a syntax error or an unknown feature. */
export function unknownStatement(err: CheckFailedError): boolean {
  const code = (err.data as { code?: string } | undefined)?.code;
  return code === '001003' || code === '000002' || /syntax error|unsupported feature|not supported/i.test(err.message);
}
