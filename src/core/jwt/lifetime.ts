/**
 * `--lifetime`: how long a key-pair JWT may live (Snowflake honours at most one hour).
 */
import { UsageError } from '../../errors.js';
import { parseDuration } from '../duration.js';
import { MAX_LIFETIME_SECONDS } from './algorithms.js';

/** `--lifetime` → seconds: a duration (90s, 10m, 1h, plain seconds) of at most one hour. */
export function parseLifetime(value: string, flag = '--lifetime'): number {
  const seconds = parseDuration(value, flag);
  if (seconds > MAX_LIFETIME_SECONDS) {
    throw new UsageError('ERR_LIFETIME_TOO_LONG', `${flag} ${value} is longer than Snowflake allows (1h)`, {
      hint: 'Snowflake never honours a key-pair JWT past one hour; use --lifetime 1h or less and mint a new token when it runs out',
    });
  }
  return seconds;
}
