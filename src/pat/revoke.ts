/**
 * `sfauth revoke --pat NAME`: REMOVE a programmatic access token, or MODIFY it (`--disable`, reversible;
 * `--enable` undoes it). Plan first, confirmation on a terminal, then a fresh read confirms it. A
 * rotated-out object (`NAME_ROTATED_<ms>`) can be removed too: that ends its grace early (§8.4).
 * Refused before any statement: a session that authenticated with a PAT (Snowflake does not let it
 * manage tokens), an unknown name, --disable/--enable on a rotated-out object (it can only go).
 */
import type { CommandContext } from '../context.js';
import { CheckFailedError, UsageError } from '../errors.js';
import { connectionReport } from '../config/index.js';
import { parsePatName, removePatSql, setPatDisabledSql } from '../core/pat-sql.js';
import { timeText } from '../core/time-text.js';
import { patIsActive, type PatToken } from '../keys/types.js';
import { patNamed, showPats } from '../snowflake/pats.js';
import type { Session } from '../snowflake/session.js';
import { confirmOrCancel, needsConfirmation, statementsRun } from '../ui/confirm.js';
import { unavailable } from './register.js';
import { assertNotPatSession } from './refusals.js';

export interface RevokePatOptions {
  pat: string;
  disable?: boolean;
  enable?: boolean;
  apply?: boolean;
  yes?: boolean;
  json?: boolean;
}

export async function revokePat(options: RevokePatOptions, ctx: CommandContext, session: Session, target: string): Promise<number> {
  if (options.disable && options.enable) throw new UsageError('ERR_USAGE', '--disable and --enable do not go together', { hint: 'pick one' });
  const name = parsePatName(options.pat, '--pat', true);
  assertNotPatSession(session, options.disable ? 'disable' : options.enable ? 'enable' : 'remove');
  const listing = await showPats(session.client, target);
  if (!listing.available) throw unavailable(listing.why);
  const token = patNamed(listing.pats, name);
  if (!token) {
    throw new CheckFailedError('ERR_PAT_NOT_FOUND', `${target} has no programmatic access token named ${name}`, {
      hint: 'sfauth status lists the tokens with their names',
      details: listing.pats.length ? [`tokens: ${listing.pats.map((t) => t.name).join(', ')}`] : [],
      data: { pat: name },
    });
  }
  if ((options.disable || options.enable) && token.rotatedTo) {
    throw new UsageError('ERR_USAGE', `${name} is a rotated-out token object: it cannot be ${options.disable ? 'disabled' : 'enabled'}, only removed`, { hint: `sfauth revoke --target-user ${target} --pat ${name} --apply ends its secret now` });
  }
  const action = options.disable ? 'disable' : options.enable ? 'enable' : 'remove';
  const sql = action === 'remove' ? removePatSql(target, name) : setPatDisabledSql(target, name, action === 'disable');
  const plan = { user: target, account: session.identity.account ?? null, action, pat: patFacts(token), sql: sql + ';', applied: false, confirmed: false };
  const words = ({ remove: ['Remove', 'remove', 'Removing', 'removed', 'Removed'], disable: ['Disable', 'disable', 'Disabling', 'disabled', 'Disabled'], enable: ['Enable', 'enable', 'Enabling', 'enabled', 'Enabled'] } as const)[action];
  const planLines = [`${words[0]} token ${name} of ${target} (${describe(token, ctx.now())}):`, `  ${sql};`];
  if (!options.apply) {
    if (ctx.out.json) ctx.out.document({ ...plan, connection: connectionReport(session.connection) });
    else {
      planLines.forEach((l) => ctx.out.line(l));
      ctx.out.info(ctx.out.style.yellow('plan only: nothing was changed. Run again with --apply to carry it out.'));
    }
    return 0;
  }
  if (needsConfirmation(ctx, options)) {
    if (!ctx.out.json) planLines.forEach((l) => ctx.out.line(l));
    await confirmOrCancel(ctx, `Apply: ${words[1]} token ${name} of ${target}?`);
  }
  const step = await ctx.progress.step(`${words[2]} token ${name} of ${target}`);
  try {
    await session.client.execute(sql);
    step.succeed(`${words[4]} token ${name} of ${target}`);
  } catch (err) {
    step.fail(`Could not ${words[1]} token ${name} of ${target}`);
    throw err;
  }
  const after = await showPats(session.client, target);
  const still = after.available ? patNamed(after.pats, name) : undefined;
  const confirmed = action === 'remove' ? still === undefined : action === 'disable' ? still?.status === 'DISABLED' : still !== undefined && still.status !== 'DISABLED';
  if (!confirmed) {
    throw new CheckFailedError('ERR_REVOKE_UNCONFIRMED', `Snowflake accepted the statement, but ${target}'s tokens ${still ? `still show ${name} as ${still.status}` : `no longer list ${name}`}`, {
      hint: 'run sfauth status to see the tokens as they are now',
    });
  }
  if (ctx.out.json) ctx.out.document({ ...plan, applied: true, confirmed: true, statementsRun: [sql], connection: connectionReport(session.connection) });
  else {
    ctx.out.line(`revoked ${target}: token ${name} ${words[3]}`);
    statementsRun(ctx, [sql]);
  }
  // The token's prior secrets live on in its rotated-out objects until their grace ends: say so.
  const lingering = action !== 'enable' && after.available ? after.pats.filter((t) => t.rotatedTo === name && patIsActive(t, ctx.now())) : [];
  for (const t of lingering) {
    ctx.out.warn(`${t.name} (a prior secret of ${name}) still works until ${t.expiresAt ? timeText(t.expiresAt) : 'it expires'}; to end it now: sfauth revoke --target-user ${target} --pat ${t.name} --apply`);
  }
  return 0;
}

function patFacts(t: PatToken): Record<string, unknown> {
  return { name: t.name, status: t.status, expiresAt: t.expiresAt?.toISOString() ?? null, roleRestriction: t.roleRestriction, rotatedTo: t.rotatedTo };
}

function describe(t: PatToken, nowMs: number): string {
  if (t.rotatedTo) return `rotated out of ${t.rotatedTo}; its secret works until ${t.expiresAt ? timeText(t.expiresAt) : 'it expires'}`;
  return `${patIsActive(t, nowMs) ? 'active' : t.status.toLowerCase()}${t.expiresAt ? `, expires ${timeText(t.expiresAt)}` : ''}${t.roleRestriction ? `, role ${t.roleRestriction}` : ''}`;
}
