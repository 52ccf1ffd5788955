/**
 * `sfauth test-connection`: authenticate with a key pair, an OAuth token or a programmatic access
 * token, run `SELECT CURRENT_ACCOUNT(), CURRENT_USER(), CURRENT_ROLE()` and report who we are.
 */
import type { CommandContext } from '../context.js';
import { ServiceError } from '../errors.js';
import { openSession, warnIfUserIgnored, type SessionFlags } from '../snowflake/session.js';
import { connectionReport, describeSources, type ConnectionReport } from '../config/index.js';

export interface TestConnectionOptions extends SessionFlags {
  json?: boolean;
}

export interface TestConnectionResult {
  account: string | null;
  user: string | null;
  role: string | null;
  host: string;
  authMethod: string;
  fingerprint?: string;
  roundTripMs: number;
  connection: ConnectionReport;
}

export const WHOAMI_SQL = 'SELECT CURRENT_ACCOUNT(), CURRENT_USER(), CURRENT_ROLE()';

export async function run(options: TestConnectionOptions, ctx: CommandContext): Promise<number> {
  const session = await openSession(options, ctx);
  warnIfUserIgnored(session, ctx);
  const host = new URL(session.baseUrl).host;
  const step = await ctx.progress.step(`Connecting to ${host}`, { quiet: true });
  const started = ctx.now();
  let row: (string | null)[];
  try {
    const result = await session.client.execute(WHOAMI_SQL);
    row = result.rows[0] ?? [];
    if (row.length < 3) {
      throw new ServiceError('ERR_BAD_RESPONSE', `unexpected answer from ${host}: the context query returned no row`, { hint: 'check --host' });
    }
    step.succeed(`Connected to ${host}`);
  } catch (err) {
    step.fail(`Could not connect to ${host}`);
    throw err;
  }
  const result: TestConnectionResult = {
    account: row[0] ?? null,
    user: row[1] ?? null,
    role: row[2] ?? null,
    host,
    authMethod: session.identity.authMethod,
    ...(session.identity.fingerprint ? { fingerprint: session.identity.fingerprint } : {}),
    roundTripMs: ctx.now() - started,
    connection: connectionReport(session.connection),
  };

  if (ctx.out.json) {
    ctx.out.document(result);
    return 0;
  }
  const s = ctx.out.style;
  ctx.out.info(`${s.green('✓')} authenticated as ${result.user ?? '(unknown user)'} on ${result.account ?? host}`);
  const rows: [string, string][] = [
    ['account', result.account ?? '(none)'],
    ['user', result.user ?? '(none)'],
    ['role', result.role ?? '(none)'],
    ['host', host],
    ['auth', result.authMethod],
    ...(result.fingerprint ? [['fingerprint', result.fingerprint] as [string, string]] : []),
    ['round trip', `${result.roundTripMs} ms`],
    ['connection', session.connection.name ? `${session.connection.name} (${session.connection.origins.connection})` : '(none: flags and environment)'],
    ['sources', describeSources(result.connection)],
  ];
  for (const [k, v] of rows) ctx.out.line(`${k.padEnd(11)} ${v}`);
  return 0;
}
