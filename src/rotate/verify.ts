/**
 * Step 5 of a rotation: prove the new key works by authenticating with it (a second client, its own
 * JWT) and running `SELECT CURRENT_USER()`. A freshly set key can take a moment to propagate, and
 * until then Snowflake refuses it, so refusals are retried with growing pauses until the command's
 * deadline. Anything else (network, 5xx after the client's own retries) ends the attempt at once.
 */
import { isSfauthError, type SfauthError } from '../errors.js';
import type { SnowflakeClient } from '../snowflake/client.js';

export const VERIFY_SQL = 'SELECT CURRENT_USER()';

export interface VerifyOptions {
  now(): number;
  deadline: number;
  sleep?(ms: number): Promise<void>;
  /** Called before each pause, with the attempt number that failed. */
  onRetry?(attempt: number, error: SfauthError): void;
}

export type VerifyOutcome =
  | { ok: true; user: string | null; attempts: number }
  | { ok: false; attempts: number; lastError: SfauthError };

/** Pause after the n-th refusal: 0.4 s, 0.6 s, 0.9 s … up to 4 s. */
export function verifyPause(attempt: number): number {
  return Math.min(4000, Math.round(400 * 1.5 ** (attempt - 1)));
}

export async function verifyNewKey(client: SnowflakeClient, options: VerifyOptions): Promise<VerifyOutcome> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await client.execute(VERIFY_SQL);
      return { ok: true, user: result.rows[0]?.[0] ?? null, attempts: attempt };
    } catch (err) {
      if (!isSfauthError(err) || err.code !== 'ERR_AUTH_REFUSED') throw err;
      const pause = verifyPause(attempt);
      if (options.deadline - options.now() <= pause + 250) return { ok: false, attempts: attempt, lastError: err };
      options.onRetry?.(attempt, err);
      await sleep(pause);
    }
  }
}
