/**
 * `sfauth pg-token`: fetch a 15-minute Snowflake Postgres access token (the Postgres password) with
 * any credential `test-connection` accepts, by running
 * `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('<instance>', '<pg user>')` (DESIGN.md §3).
 * The token is the one secret this command prints, and only on stdout: never on stderr, in errors
 * or in progress text.
 */
import type { CommandContext } from '../context.js';
import { CheckFailedError, ServiceError, UsageError, isSfauthError } from '../errors.js';
import { openSession, warnIfUserIgnored, type SessionFlags } from '../snowflake/session.js';
import { connectionReport } from '../config/index.js';
import type { StatementResult } from '../snowflake/client.js';
import { parsePgTokenFormat, pgPasswordLine, pgTokenExpiry, pgTokenSql } from '../core/pg-token-sql.js';

export interface PgTokenOptions extends SessionFlags {
  instance?: string;
  pgUser?: string;
  format?: string;
  json?: boolean;
}

export interface PgTokenResult {
  token: string;
  instance: string;
  pgUser: string;
  expiresAt: string;
}

const INSTANCE_HINT =
  'the role in use (--role) needs OWNERSHIP or USAGE on the Postgres instance; an unquoted --instance is case-insensitive, a case-sensitive name goes in double quotes (--instance \'"Reporting_server"\')';
const ROLE_HINT =
  'the Postgres user is case-sensitive and must exist on the instance, mapped to a Snowflake user; the instance needs AUTHENTICATION_AUTHORITY = POSTGRES_OR_SNOWFLAKE';

export async function run(options: PgTokenOptions, ctx: CommandContext): Promise<number> {
  if (options.instance === undefined) {
    throw new UsageError('ERR_USAGE', 'missing --instance', {
      hint: "pass --instance NAME, the Snowflake Postgres instance (double-quote a case-sensitive name: --instance '\"Reporting_server\"')",
    });
  }
  if (options.pgUser === undefined) {
    throw new UsageError('ERR_USAGE', 'missing --pg-user', { hint: 'pass --pg-user NAME, the Postgres user to log in as (case-sensitive)' });
  }
  const format = parsePgTokenFormat(options.format, options.json);
  const instance = options.instance;
  const pgUser = options.pgUser;
  const statement = pgTokenSql(instance, pgUser);

  const session = await openSession(options, ctx);
  warnIfUserIgnored(session, ctx);
  const host = new URL(session.baseUrl).host;
  const what = `a Postgres token for ${pgUser} on ${instance}`;
  const step = await ctx.progress.step(`Requesting ${what} from ${host}`, { quiet: true });
  let token: string;
  let issuedAt: number;
  try {
    const result = await session.client.execute(statement);
    issuedAt = ctx.now();
    token = tokenOf(result, host);
    step.succeed(`Received ${what}`);
  } catch (err) {
    step.fail(`Could not get ${what}`);
    throw withPgHint(err);
  }

  switch (format) {
    case 'json': {
      const doc: PgTokenResult = { token, instance, pgUser, expiresAt: pgTokenExpiry(issuedAt) };
      ctx.out.document({ ...doc, connection: connectionReport(session.connection) });
      break;
    }
    case 'env':
      ctx.out.line(pgPasswordLine(token));
      break;
    default:
      ctx.out.line(token);
  }
  return 0;
}

/** The token cell, or exit 3 for an answer that holds none (without ever echoing the value). */
function tokenOf(result: StatementResult, host: string): string {
  const bad = (why: string) =>
    new ServiceError('ERR_BAD_RESPONSE', `unexpected answer from ${host}: GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER ${why}`, {
      hint: 'try again; if it persists, check --host / the account identifier (a proxy or the wrong host may be answering)',
    });
  const row = result.rows[0];
  if (!row || row.length === 0) throw bad('returned no row');
  const cell = row[0];
  if (cell === null || cell === undefined) throw bad('returned NULL instead of a token');
  if (cell === '') throw bad('returned an empty token');
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we refuse
  if (/[\s\u0000-\u001f\u007f]/.test(cell)) throw bad(`returned something that is not a token (${cell.length} characters, with whitespace or control characters)`);
  return cell;
}

/** A refused statement keeps the server's message and gains a Postgres-specific hint. */
function withPgHint(err: unknown): unknown {
  if (!isSfauthError(err) || err.code !== 'ERR_STATEMENT_FAILED') return err;
  const code = typeof err.data?.code === 'string' ? err.data.code : undefined;
  let hint: string;
  if (code === '002140' || /unknown function/i.test(err.message)) {
    hint = 'this account does not offer GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER; Snowflake Postgres may not be available in its region or edition';
  } else if (/postgres role|postgres user/i.test(err.message)) {
    hint = `${ROLE_HINT}; ${INSTANCE_HINT}`;
  } else {
    hint = `${INSTANCE_HINT}; ${ROLE_HINT}`;
  }
  return new CheckFailedError(err.code, err.message, { hint, details: err.details, data: err.data, cause: err });
}
