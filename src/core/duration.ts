/**
 * Durations as users type them: `90s`, `10m`, `1h`, `90d`, `2w`, combinations like `1h30m`, or
 * plain seconds.
 */
import { UsageError } from '../errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds in a duration; `what` names the flag in the error. */
export function parseDuration(value: string, what = 'duration'): number {
  const text = value.trim().toLowerCase();
  let seconds: number | undefined;
  if (/^\d+$/.test(text)) seconds = Number(text);
  else if (/^(\d+[smhdw])+$/.test(text)) {
    seconds = 0;
    for (const m of text.matchAll(/(\d+)([smhdw])/g)) seconds += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  }
  if (seconds === undefined || !Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new UsageError('ERR_DURATION_INVALID', `invalid ${what} '${value}'`, {
      hint: 'use a positive duration like 90s, 10m, 1h, 90d, or plain seconds',
    });
  }
  return seconds;
}

/** "41 days", "52m", "3h 5m": for humans. */
export function formatDuration(seconds: number): string {
  const s = Math.abs(Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`;
  const days = Math.floor(s / 86400);
  return `${days} day${days === 1 ? '' : 's'}`;
}
