/**
 * `sfauth register --pat NAME`: create a programmatic access token (ADD PROGRAMMATIC ACCESS TOKEN) and
 * send its secret, shown once, to exactly one place (secret.ts). Plan first; every refusal comes
 * before the statement: a PAT session, a name already taken, the 15-token limit, a service user
 * without --role-restriction, a place for the secret that cannot take it. If the secret cannot be
 * delivered, the new token holds a secret nobody has: it is removed again, so a rerun starts clean.
 */
import type { CommandContext } from '../context.js';
import { CheckFailedError, isSfauthError, UsageError } from '../errors.js';
import { connectionReport, requireValue } from '../config/index.js';
import { parseDuration } from '../core/duration.js';
import { pairNameOf, parseExpiresIn } from '../core/key-pair-sql.js';
import { addPatSql, PAT_DEFAULT_DAYS, PAT_MAX_DAYS, parsePatName, removePatSql } from '../core/pat-sql.js';
import { timeText } from '../core/time-text.js';
import { readUserTokens } from '../keys/read.js';
import type { SnowflakeClient, StatementResult } from '../snowflake/client.js';
import { patNamed, showPats } from '../snowflake/pats.js';
import { openSession, type SessionFlags } from '../snowflake/session.js';
import { registerToGitHub } from '../ci/github-reports.js';
import { confirmOrCancel, needsConfirmation, statementsRun } from '../ui/confirm.js';
import { assertBelowLimit, assertNotPatSession, assertRoleRestrictionIfService } from './refusals.js';
import { deliverSecret, destinationOf, destinationWords } from './secret.js';

export interface RegisterPatOptions extends SessionFlags {
  pat: string;
  targetUser?: string;
  roleRestriction?: string;
  expiresIn?: string;
  comment?: string;
  storeCmd?: string;
  out?: string;
  apply?: boolean;
  yes?: boolean;
  json?: boolean;
}

/** The token's one-time answer: its stored name and secret (ADD and ROTATE answer these columns, §8.1–8.2). */
export function secretOf(result: StatementResult, what: string): { name: string | null; secret: string; rotatedTokenName: string | null } {
  const col = (n: string) => result.columns.findIndex((c) => c.toLowerCase() === n);
  const row = result.rows[0];
  const secretAt = col('token_secret');
  const secret = row && secretAt >= 0 ? row[secretAt] : null;
  if (!secret) {
    throw new CheckFailedError('ERR_BAD_RESPONSE', `Snowflake ran ${what} but its answer holds no token_secret (columns: ${result.columns.slice(0, 10).join(', ')})`, {
      hint: 'the secret is shown only in that answer; check the token with sfauth status and rotate it to get a new secret',
    });
  }
  const at = (n: string) => (row && col(n) >= 0 ? row[col(n)] ?? null : null);
  return { name: at('token_name'), secret, rotatedTokenName: at('rotated_token_name') };
}

export async function registerPat(options: RegisterPatOptions, ctx: CommandContext): Promise<number> {
  const name = parsePatName(options.pat);
  const days = options.expiresIn !== undefined ? parseExpiresIn(options.expiresIn, parseDuration) : undefined;
  if (days !== undefined && days > PAT_MAX_DAYS) throw new UsageError('ERR_USAGE', `--expires-in is at most ${PAT_MAX_DAYS} days for a token`, { hint: `Snowflake's maximum: --expires-in ${PAT_MAX_DAYS}d (an authentication policy may lower it)` });
  const role = options.roleRestriction?.trim();
  if (options.roleRestriction !== undefined && !role) throw new UsageError('ERR_USAGE', '--role-restriction is empty', { hint: 'name a role granted to the user, or leave it out' });
  const dest = destinationOf(options, ctx);

  const session = await openSession(options, ctx);
  assertNotPatSession(session, 'create');
  const target = options.targetUser ?? requireValue(session.connection, 'user');
  const account = requireValue(session.connection, 'account');
  const read = await readUserTokens(session.client, target);
  if (!read.pats.available) throw unavailable(read.pats.why);
  const pats = read.pats.pats;
  const now = ctx.now();
  if (patNamed(pats, name)) {
    throw new CheckFailedError('ERR_PAT_EXISTS', `${target} already has a programmatic access token named ${name}`, {
      hint: `to give it a new secret: sfauth rotate --target-user ${target} --pat ${name} --apply (an interrupted register left a token whose secret nobody holds: rotate it, or revoke it and register again)`,
      data: { pat: name },
    });
  }
  assertBelowLimit(target, pats, now, `adding ${name}`);
  assertRoleRestrictionIfService(target, read.description.type, role);

  const sql = addPatSql(target, name, { ...(role ? { roleRestriction: role } : {}), ...(days !== undefined ? { daysToExpiry: days } : {}), ...(options.comment !== undefined ? { comment: options.comment } : {}) });
  const expectedExpiry = new Date(now + (days ?? PAT_DEFAULT_DAYS) * 86_400_000);
  const planDoc = {
    user: target,
    account: session.identity.account ?? null,
    action: 'add' as const,
    pat: { name, expiresAt: expectedExpiry.toISOString(), roleRestriction: role ? pairNameOf(role) : null },
    destination: dest.kind === 'file' ? 'file' : dest.kind,
    ...(dest.kind === 'file' ? { out: dest.path } : {}),
    sql: sql + ';',
    applied: false,
    confirmed: false,
  };
  // With the secret on stdout, everything else is on stderr: stdout holds the secret alone.
  const say = (text: string) => (options.apply && dest.kind === 'stdout' ? ctx.out.info(text) : ctx.out.line(text));
  const planLines = [`Create programmatic access token ${name} for ${target}${role ? `, restricted to role ${role}` : ''}, expiring ${timeText(expectedExpiry)}; the secret goes to ${destinationWords(dest, ctx.cwd)}:`, `  ${sql};`];
  if (!options.apply) {
    if (ctx.out.json) ctx.out.document({ ...planDoc, connection: connectionReport(session.connection) });
    else {
      planLines.forEach(say);
      ctx.out.info(ctx.out.style.yellow('plan only: nothing was changed. Run again with --apply to carry it out.'));
    }
    return 0;
  }
  if (needsConfirmation(ctx, options)) {
    if (!ctx.out.json) planLines.forEach((l) => ctx.out.info(l));
    await confirmOrCancel(ctx, `Apply: create token ${name} for ${target}?`);
  }

  const step = await ctx.progress.step(`Creating token ${name} for ${target}`);
  let result;
  try {
    result = await session.client.execute(sql);
  } catch (err) {
    step.fail(`Could not create token ${name}`);
    throw err;
  }
  let answer;
  try {
    answer = secretOf(result, 'ADD PROGRAMMATIC ACCESS TOKEN');
  } catch (err) {
    step.fail(`Created token ${name}, but its secret was not in the answer`);
    throw await undoUndelivered(session.client, target, name, sql, err);
  }
  step.succeed(`Created token ${name} for ${target}`);
  // The listing gives the token's expiry as Snowflake set it; failing to read it never costs the secret.
  const after = await showPats(session.client, target).catch(() => undefined);
  const made = after?.available ? patNamed(after.pats, name) : undefined;
  const facts = { account, user: target, name, expiresAt: made?.expiresAt ?? expectedExpiry, roleRestriction: made?.roleRestriction ?? null };
  try {
    await deliverSecret(ctx, dest, answer.secret, facts, { ms: parseDuration(session.timeoutLabel, '--timeout') * 1000, label: session.timeoutLabel });
  } catch (err) {
    throw await undoUndelivered(session.client, target, name, sql, err);
  }
  if (!made) {
    throw new CheckFailedError('ERR_REGISTER_UNCONFIRMED', `Snowflake created the token, but SHOW USER PROGRAMMATIC ACCESS TOKENS ${after ? 'does not list' : 'could not be read to confirm'} ${name} for ${target}`, {
      hint: 'its secret was delivered; run sfauth status to see the tokens as they are now',
    });
  }
  registerToGitHub(ctx, { user: target, key: `token ${name}`, fingerprint: '', applied: true });
  const doc = { ...planDoc, pat: { name, expiresAt: made.expiresAt?.toISOString() ?? null, roleRestriction: made.roleRestriction }, applied: true, confirmed: true, statementsRun: [sql], connection: connectionReport(session.connection) };
  if (ctx.out.json) ctx.out.document(doc);
  else {
    ctx.out.info(`created ${target}: token ${name}${made.roleRestriction ? ` (role ${made.roleRestriction})` : ''}, expires ${made.expiresAt ? timeText(made.expiresAt) : 'never'}; secret sent to ${destinationWords(dest, ctx.cwd)}`);
    statementsRun(ctx, [sql]);
  }
  return 0;
}

/** The secret could not be delivered: the token holds a secret nobody has, so it goes again. */
async function undoUndelivered(client: SnowflakeClient, user: string, name: string, sql: string, err: unknown): Promise<unknown> {
  if (!isSfauthError(err)) return err;
  const remove = removePatSql(user, name, true);
  let removed = false;
  try {
    await client.execute(remove);
    removed = true;
  } catch {
    // reported below
  }
  return new CheckFailedError(err.code, `${err.message}; ${removed ? `token ${name} was removed again (its secret was lost)` : `token ${name} exists with a secret nobody holds`}`, {
    details: err.details,
    hint: removed ? 'fix the place for the secret, then run the same command again' : `remove it (sfauth revoke --target-user ${user} --pat ${name} --apply), fix the place for the secret, then register again`,
    data: { ...(err.data ?? {}), statementsRun: removed ? [sql, remove] : [sql] },
  });
}

export function unavailable(why: string): CheckFailedError {
  return new CheckFailedError('ERR_PATS_UNAVAILABLE', `this server has no programmatic access tokens (${why})`, { hint: 'PATs need a Snowflake account where SHOW USER PROGRAMMATIC ACCESS TOKENS works' });
}
