/**
 * `sfauth rotate --pat NAME`: the flags of `rotate` for a programmatic access token, one user or a
 * fleet (`--targets`: the same-named token of each user), and how the outcome is shown. The rotation
 * itself is src/pat/rotate.ts, on the engine's state loop.
 */
import type { CommandContext } from '../context.js';
import { isSfauthError, UsageError } from '../errors.js';
import { connectionReport, requireValue } from '../config/index.js';
import { accountForJwt } from '../core/account.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { parseGrace } from '../core/key-pair-sql.js';
import { parsePatName } from '../core/pat-sql.js';
import { normalizeUserName } from '../core/rotation-plan.js';
import { inShard, parseShard } from '../core/shard.js';
import { parseTargets } from '../core/targets.js';
import { timeText } from '../core/time-text.js';
import { readInputFile } from '../io/files.js';
import { resolve } from 'node:path';
import { fleetToGitHub, inGitHubActions, rotationToGitHub } from '../ci/github-reports.js';
import { eachAtMost } from '../snowflake/pool.js';
import { openSession, transportOf, type Session } from '../snowflake/session.js';
import { Throttle } from '../snowflake/throttle.js';
import { confirmOrCancel, needsConfirmation, statementsRun } from '../ui/confirm.js';
import { layoutTable } from '../ui/table.js';
import { FINISHED, openFleetRun, outputFor, removeQuietly, silentProgress, writeFleetRecord } from '../rotate/fleet.js';
import { assertNotPatSession } from './refusals.js';
import { DEFAULT_GRACE_HOURS, rotatePatUser, type PatOutcome, type PatPlan } from './rotate.js';
import { destinationOf, destinationWords, type SecretDestination } from './secret.js';

export interface RotatePatOptions {
  pat: string;
  targetUser?: string;
  targets?: string;
  shard?: string;
  concurrency?: string;
  grace?: string;
  ifExpiringWithin?: string;
  restart?: boolean;
  storeCmd?: string;
  out?: string;
  apply?: boolean;
  yes?: boolean;
  json?: boolean;
  wide?: boolean;
  [flag: string]: unknown;
}

/** Key-rotation flags that mean nothing for a token. */
const KEY_ONLY: Record<string, string> = {
  keyPair: '--key-pair',
  type: '--type',
  bits: '--bits',
  curve: '--curve',
  newPassphraseFile: '--new-passphrase-file',
  keepOld: '--keep-old',
  overwriteOther: '--overwrite-other',
  inPlace: '--in-place',
  updateConnection: '--update-connection',
  finish: '--finish',
  retireNow: '--retire-now',
  keepOldKeyFile: '--keep-old-key-file',
  ifOlderThan: '--if-older-than',
  outDir: '--out-dir',
  roleRestriction: '--role-restriction',
  expiresIn: '--expires-in',
  comment: '--comment',
};

/** One user's line of a fleet (`--json`: the array of these), with `pat` where a key has `slot`/`keyPair`. */
export interface PatFleetResult {
  user: string;
  outcome: 'rotated' | 'not-due' | 'planned' | 'failed' | 'skipped';
  pat: { name: string; expiresAt: string | null; roleRestriction: string | null; rotatedTokenName?: string | null } | null;
  destination: 'store';
  error: { code: string; message: string } | null;
  durationMs: number;
}

export async function rotatePatCommand(options: RotatePatOptions, ctx: CommandContext): Promise<number> {
  const name = parsePatName(options.pat);
  const wrong = Object.keys(KEY_ONLY).filter((k) => options[k] !== undefined && options[k] !== false);
  if (options.encrypt === false) wrong.push('encrypt');
  if (wrong.length) {
    throw new UsageError('ERR_USAGE', `${wrong.map((k) => KEY_ONLY[k] ?? '--no-encrypt').join(', ')} ${wrong.length === 1 ? 'is' : 'are'} for keys, not for --pat`, {
      hint: "a token's role restriction and expiry are fixed when it is created; rotate --pat takes --grace, --if-expiring-within and one place for the secret",
    });
  }
  const graceHours = options.grace !== undefined ? parseGrace(options.grace, parseDuration) : DEFAULT_GRACE_HOURS;
  const threshold = options.ifExpiringWithin !== undefined ? parseDuration(options.ifExpiringWithin, '--if-expiring-within') : undefined;
  if (options.targets !== undefined) return rotatePatFleet(options, ctx, name, graceHours, threshold);
  if (options.shard !== undefined || options.concurrency !== undefined) throw new UsageError('ERR_USAGE', '--shard and --concurrency go with --targets FILE', { hint: 'list the users in a file' });
  const dest = destinationOf(options, ctx, { deferTaken: true });
  const session = await openSession(options as never, ctx);
  assertNotPatSession(session, 'rotate');
  const account = requireValue(session.connection, 'account');
  const target = options.targetUser ?? requireValue(session.connection, 'user');
  const timeoutMs = parseDuration(session.timeoutLabel, '--timeout') * 1000;
  const outcome = await rotatePatUser({
    ctx,
    session,
    client: session.client,
    account,
    jwtAccount: accountForJwt(account),
    target,
    name,
    graceHours,
    ...(threshold !== undefined ? { threshold } : {}),
    dest,
    apply: options.apply === true,
    deadline: session.deadline,
    timeoutLabel: session.timeoutLabel,
    storeTimeoutMs: timeoutMs,
    ...(needsConfirmation(ctx, options)
      ? {
          confirm: async (plan: PatPlan) => {
            if (!ctx.out.json) planLines(plan, dest, ctx).forEach((l) => ctx.out.info(l));
            await confirmOrCancel(ctx, `Apply: rotate token ${name} of ${target}?`);
          },
        }
      : {}),
  });
  return renderOne(ctx, session, options, dest, outcome);
}

function planLines(p: PatPlan, dest: SecretDestination, ctx: CommandContext): string[] {
  const lines = [
    `Rotate programmatic access token ${p.name} of ${p.user}${p.roleRestriction ? ` (role ${p.roleRestriction})` : ''}, expiring ${p.expiresAt ? timeText(p.expiresAt) : 'never'}:`,
    ...(p.resumes ? [`  (finishes the unfinished rotation that stopped at "${p.resumes}")`] : []),
    `  1. ${p.sql[0]};`,
    p.endsAtRotate
      ? `     the token has less than an hour left, so its old secret ends at the ROTATE: the program is without a working secret until the new one is delivered`
      : `     the old secret lives on as ${p.name}_ROTATED_<ms> for ${p.rotateHours} h; the token gets a new secret and a new expiry`,
    `  2. authenticate with the new secret${p.roleRestriction ? ` and role ${p.roleRestriction}` : ''}`,
    `  3. send the new secret to ${destinationWords(dest, ctx.cwd)}`,
    p.graceHours === 0 ? `  4. ${p.sql[1]};   (--grace 0: the old secret stops once the new one is delivered)` : `  4. nothing to remove: the old secret stops working at ${timeText(p.oldSecretEndsAt!)} (--grace ${p.graceHours}h)`,
  ];
  return lines;
}

function patDoc(o: PatOutcome): Record<string, unknown> {
  if (o.outcome === 'not-due') return { name: o.token.name, expiresAt: o.token.expiresAt?.toISOString() ?? null, roleRestriction: o.token.roleRestriction };
  if (o.outcome === 'planned') return { name: o.plan.name, expiresAt: o.plan.expiresAt?.toISOString() ?? null, roleRestriction: o.plan.roleRestriction };
  return { name: o.token.name, expiresAt: o.token.expiresAt?.toISOString() ?? null, roleRestriction: o.token.roleRestriction, rotatedTokenName: o.rotatedTokenName };
}

function renderOne(ctx: CommandContext, session: Session, options: RotatePatOptions, dest: SecretDestination, o: PatOutcome): number {
  const out = ctx.out;
  const user = o.outcome === 'not-due' ? (options.targetUser ?? session.connection.user ?? '') : o.plan.user;
  const base = { user, account: session.identity.account ?? null, kind: 'pat', outcome: o.outcome, pat: patDoc(o), destination: dest.kind, ...(dest.kind === 'file' ? { out: dest.path } : {}) };
  const say = (text: string) => (dest.kind === 'stdout' && options.apply ? out.info(text) : out.line(text));
  rotationToGitHub(ctx, {
    user,
    account: session.identity.account ?? '',
    outcome: o.outcome,
    key: `token ${options.pat}`,
    oldFingerprint: null,
    newFingerprint: null,
    keyPath: dest.kind === 'file' ? dest.path : null,
    ...(o.outcome === 'rotated' ? { note: o.plan.graceHours === 0 ? `The old secret (${o.rotatedTokenName}) was removed.` : `The old secret (${o.rotatedTokenName}) works until ${o.oldSecretEndsAt ? timeText(o.oldSecretEndsAt) : 'its grace ends'}.` } : {}),
  });
  switch (o.outcome) {
    case 'not-due':
      if (out.json) out.document({ ...base, applied: false, explanation: o.explanation, connection: connectionReport(session.connection) });
      else out.info(o.explanation);
      return 0;
    case 'planned':
      if (out.json) out.document({ ...base, graceHours: o.plan.graceHours, rotateHours: o.plan.rotateHours, oldSecretEndsAt: o.plan.oldSecretEndsAt?.toISOString() ?? null, sql: o.plan.sql.map((s) => s + ';'), applied: false, connection: connectionReport(session.connection) });
      else {
        planLines(o.plan, dest, ctx).forEach(say);
        out.info(out.style.yellow('plan only: nothing was changed. Run again with --apply to carry it out.'));
      }
      return 0;
    case 'rotated':
      for (const n of o.notes) out.info(out.style.dim(n));
      if (out.json) out.document({ ...base, graceHours: o.plan.graceHours, oldSecretEndsAt: o.oldSecretEndsAt?.toISOString() ?? null, applied: true, confirmed: true, statementsRun: o.statementsRun, connection: connectionReport(session.connection) });
      else {
        out.info(
          `rotated ${user}: token ${o.token.name} has a new secret (sent to ${destinationWords(dest, ctx.cwd)}), expiring ${o.token.expiresAt ? timeText(o.token.expiresAt) : 'never'}; ` +
            (o.plan.graceHours === 0 ? `the old secret was removed (${o.rotatedTokenName})` : `the old secret (${o.rotatedTokenName}) works until ${o.oldSecretEndsAt ? timeText(o.oldSecretEndsAt) : 'its grace ends'}`),
        );
        statementsRun(ctx, o.statementsRun);
      }
      return 0;
  }
}

/** `--targets FILE --pat NAME`: each user's token, 4 at a time, every secret to `--store-cmd`. */
async function rotatePatFleet(options: RotatePatOptions, ctx: CommandContext, name: string, graceHours: number, threshold: number | undefined): Promise<number> {
  if (options.storeCmd === undefined) {
    throw new UsageError('ERR_USAGE', 'a fleet of tokens needs --store-cmd: each secret goes to the store (SFAUTH_TARGET_USER and SFAUTH_PAT_NAME say whose)', {
      hint: '--out and stdout take one secret; with --targets pass --store-cmd CMD',
    });
  }
  if (options.out !== undefined || options.targetUser !== undefined) throw new UsageError('ERR_USAGE', `${options.out !== undefined ? '--out' : '--target-user'} does not go with --targets`, { hint: 'list the users in the --targets file; their secrets go to --store-cmd' });
  const dest = destinationOf({ storeCmd: options.storeCmd }, ctx);
  const shard = options.shard !== undefined ? parseShard(options.shard) : undefined;
  let concurrency = 4;
  if (options.concurrency !== undefined) {
    concurrency = Number(options.concurrency);
    if (!/^\d+$/.test(options.concurrency.trim()) || concurrency < 1 || concurrency > 32) throw new UsageError('ERR_USAGE', `invalid --concurrency '${options.concurrency}'`, { hint: 'a whole number from 1 to 32 (default 4)' });
  }
  const source = options.targets === '-' ? 'stdin' : options.targets!;
  const text = (options.targets === '-' ? await ctx.readStdin() : await readInputFile(resolve(ctx.cwd, options.targets!), 'targets file', '--targets')).toString('utf8');
  const targets = inShard(parseTargets(text, source, { allowEmpty: true }), shard);
  if (targets.length === 0) {
    if (ctx.out.json) ctx.out.document([]);
    else ctx.out.info(`${source} lists no users: nothing to rotate`);
    return 0;
  }
  const session = await openSession(options as never, ctx);
  assertNotPatSession(session, 'rotate');
  const account = requireValue(session.connection, 'account');
  const jwtAccount = accountForJwt(account);
  const authUser = session.connection.user;
  const self = authUser ? targets.find((t) => normalizeUserName(t) === normalizeUserName(authUser)) : undefined;
  if (self) throw new UsageError('ERR_USAGE', `the targets include ${self}, the user this command authenticates as`, { hint: "rotate the admin's own token on its own (sfauth rotate --pat NAME without --targets)" });
  const apply = options.apply === true;
  // As for keys: an unfinished run of these targets resumes, finished users are skipped (--restart: anew).
  const { recordPath, record } = apply ? openFleetRun(ctx, jwtAccount, targets, options.restart === true, `pat:${name}`) : { recordPath: undefined, record: null };
  if (needsConfirmation(ctx, options)) await confirmOrCancel(ctx, `Apply: rotate token ${name} of ${targets.length} user${targets.length === 1 ? '' : 's'}, each secret to --store-cmd?`);
  const throttle = new Throttle(ctx.now);
  const transport = transportOf(ctx);
  const timeoutMs = parseDuration(session.timeoutLabel, '--timeout') * 1000;
  const counter = await ctx.progress.counter(targets.length, `Rotating token ${name} of ${targets.length} users`);
  const results = await eachAtMost(
    targets,
    concurrency,
    async (user): Promise<PatFleetResult> => {
      const started = ctx.now();
      const before = record?.users[normalizeUserName(user)];
      if (before && FINISHED.has(before)) return { user, outcome: 'skipped', pat: null, destination: 'store', error: null, durationMs: 0 };
      const deadline = started + timeoutMs;
      const pausedBase = throttle.pausedMs();
      try {
        const o = await rotatePatUser({
          ctx: { ...ctx, transport, progress: silentProgress, out: outputFor(ctx.out, user) },
          session,
          client: session.client.forFleet(deadline, throttle, pausedBase),
          account,
          jwtAccount,
          target: user,
          name,
          graceHours,
          ...(threshold !== undefined ? { threshold } : {}),
          dest,
          apply,
          deadline,
          timeoutLabel: session.timeoutLabel,
          storeTimeoutMs: timeoutMs,
          throttle,
          pausedBase,
        });
        return { user, outcome: o.outcome, pat: patDoc(o) as PatFleetResult['pat'], destination: 'store', error: null, durationMs: ctx.now() - started };
      } catch (err) {
        if (!isSfauthError(err)) throw err;
        return { user, outcome: 'failed', pat: null, destination: 'store', error: { code: err.code, message: err.message }, durationMs: ctx.now() - started };
      }
    },
    (res, i) => {
      if (record && recordPath) {
        record.users[normalizeUserName(targets[i]!)] = res.outcome;
        writeFleetRecord(recordPath, record);
      }
      counter.advance(res.outcome === 'failed' ? `${res.user}: failed: ${res.error?.code} ${res.error?.message}` : `${res.user}: ${res.outcome}`, res.outcome !== 'failed');
    },
  );
  counter.end();
  if (recordPath && results.every((x) => FINISHED.has(x.outcome))) removeQuietly(recordPath);
  const failed = results.filter((x) => x.outcome === 'failed');
  if (inGitHubActions(ctx.env)) {
    fleetToGitHub(ctx, jwtAccount, source, results.map((x) => ({ user: x.user, outcome: x.outcome, key: `token ${name}`, oldFingerprint: null, newFingerprint: null, error: x.error ? `${x.error.code}: ${x.error.message}` : null })), apply);
  }
  if (ctx.out.json) ctx.out.document(results);
  else {
    const rows = [['USER', 'OUTCOME', 'TOKEN', 'EXPIRES', 'OLD SECRET', 'ERROR']];
    // skipped: finished earlier in this fleet run
    for (const x of results) rows.push([x.user, x.outcome, x.pat?.name ?? name, x.pat?.expiresAt ? timeText(x.pat.expiresAt) : '-', x.pat?.rotatedTokenName ?? '-', x.error ? `${x.error.code}: ${x.error.message}` : '']);
    const st = ctx.out.dataStyle;
    const colour: Record<string, (t: string) => string> = { rotated: st.green, planned: st.yellow, failed: st.red };
    const paint = (t: string, row: number, column: number) => (row === 0 ? st.bold(t) : column === 1 && colour[t] ? colour[t]!(t) : t);
    for (const line of layoutTable(rows, { width: ctx.out.tableWidth(options.wide === true), paint })) ctx.out.line(line);
    const count = (o: string) => results.filter((x) => x.outcome === o).length;
    ctx.out.info(
      `${results.length} users: ${[['rotated', count('rotated')], ['planned', count('planned')], ['not due', count('not-due')], ['skipped', count('skipped')], ['failed', failed.length]].filter(([, n]) => n).map(([w, n]) => `${n} ${w}`).join(', ')}` +
        (apply ? '' : ` (plan only: nothing was changed; run again with --apply)`) +
        (threshold !== undefined ? `; due: expiring within ${formatDuration(threshold)}` : ''),
    );
  }
  if (failed.length) {
    ctx.out.info(`${failed.length} of ${results.length} users failed; run the same command again: each failed user's journal makes the rerun rotate again and remove the object holding a lost secret`);
    return 1;
  }
  return 0;
}
