/**
 * Snowflake Postgres access tokens (DESIGN.md §3 "Snowflake Postgres tokens"), the pure parts:
 * the statement `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('<instance>', '<pg user>')`, the
 * token's lifetime, and the `PGPASSWORD=…` line of `--format env`.
 *
 * Both arguments are SQL string literals (never pasted: `'` and `\` are escaped by quoteLiteral).
 * The instance name is case-insensitive for Snowflake unless the user double-quotes it
 * (`"Reporting_server"`), in which case the double quotes travel inside the literal
 * (`'"Reporting_server"'`); otherwise it is passed exactly as typed. The Postgres user is
 * case-sensitive and always passed as typed.
 * See https://docs.snowflake.com/en/sql-reference/functions/generate_postgres_access_token_for_user
 */
import { UsageError } from '../errors.js';
import { quoteLiteral } from './sql.js';

/** Tokens from GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER live 15 minutes. */
export const PG_TOKEN_LIFETIME_SECONDS = 15 * 60;

export const PG_TOKEN_FORMATS = ['token', 'env', 'json'] as const;
export type PgTokenFormat = (typeof PG_TOKEN_FORMATS)[number];

/** Checks `--instance`: not empty, and a leading `"` must be closed (and vice versa). */
export function checkInstanceName(instance: string): void {
  if (instance.trim() === '') {
    throw new UsageError('ERR_USAGE', 'the instance name cannot be empty', { hint: 'pass --instance NAME (the Snowflake Postgres instance)' });
  }
  const opens = instance.startsWith('"');
  const closes = instance.length >= 2 && instance.endsWith('"');
  if (opens !== closes || instance === '""') {
    throw new UsageError('ERR_USAGE', `the instance name ${JSON.stringify(instance)} has an unbalanced double quote`, {
      hint: `write a case-sensitive name in double quotes, e.g. --instance '"Reporting_server"', or leave the quotes out for a case-insensitive one`,
    });
  }
}

export function checkPgUser(pgUser: string): void {
  if (pgUser === '') {
    throw new UsageError('ERR_USAGE', 'the Postgres user cannot be empty', { hint: 'pass --pg-user NAME (case-sensitive)' });
  }
}

/** True when the instance was given double-quoted, i.e. case-sensitive. */
export function isCaseSensitiveInstance(instance: string): boolean {
  return instance.length >= 2 && instance.startsWith('"') && instance.endsWith('"');
}

/** `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('<instance>', '<pg user>')`, both as string literals. */
export function pgTokenSql(instance: string, pgUser: string): string {
  checkInstanceName(instance);
  checkPgUser(pgUser);
  return `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER(${quoteLiteral(instance)}, ${quoteLiteral(pgUser)})`;
}

/** `--format`, defaulting to `token`; `--json` means `json` and conflicts with another format. */
export function parsePgTokenFormat(format: string | undefined, json: boolean | undefined): PgTokenFormat {
  const value = format ?? 'token';
  if (!(PG_TOKEN_FORMATS as readonly string[]).includes(value)) {
    throw new UsageError('ERR_USAGE', `invalid --format '${value}'`, { hint: 'use --format token, env or json' });
  }
  // `token` is also commander's default, so `--json` alone arrives as format `token`.
  if (json && value === 'env') {
    throw new UsageError('ERR_USAGE', `--json conflicts with --format ${value}`, { hint: 'use one of them: --json is the same as --format json' });
  }
  return json ? 'json' : (value as PgTokenFormat);
}

/** Characters a POSIX shell takes literally in a word. */
const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** A shell word for `value`: as is when every character is safe, else single-quoted (`'` → `'\''`). */
export function shellQuote(value: string): string {
  if (SHELL_SAFE.test(value)) return value;
  return "'" + value.replace(/'/g, `'\\''`) + "'";
}

/** The `--format env` line: `PGPASSWORD=<token>`, ready for `eval` / `export`. */
export function pgPasswordLine(token: string): string {
  return `PGPASSWORD=${shellQuote(token)}`;
}

/** An ISO time `PG_TOKEN_LIFETIME_SECONDS` after `issuedAtMs`. */
export function pgTokenExpiry(issuedAtMs: number): string {
  return new Date(issuedAtMs + PG_TOKEN_LIFETIME_SECONDS * 1000).toISOString();
}
