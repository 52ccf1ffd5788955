/**
 * `sfauth audit`: every user of the account and their programmatic credentials, judged (DESIGN.md §3
 * v3 "Audit"). Reads (src/audit/read.ts), applies the rules (src/core/audit/rules.ts), renders
 * (src/audit/report.ts). Changes nothing on the server; `--targets-out` writes the users whose keys
 * are due in `rotate --targets` form. Exit 1 when a finding is at or above `--fail-on`; 3 when no
 * user's credentials could be read.
 */
import type { CommandContext } from '../context.js';
import { CheckFailedError, ServiceError, UsageError } from '../errors.js';
import { targetsLine } from '../core/audit/formats.js';
import type { Severity } from '../core/audit/model.js';
import { dueUsers, failsOn, findingsFor, sortFindings } from '../core/audit/rules.js';
import { parseDuration } from '../core/duration.js';
import { parseShard } from '../core/shard.js';
import { writeNewFiles, assertCanCreate } from '../io/files.js';
import { resolve } from 'node:path';
import { readAccountUsage, readLive, type UserType } from '../audit/read.js';
import { csvDocument, jsonDocument, markdownDocument, summaryOf, terminalReport, type AuditReport } from '../audit/report.js';
import { openSession, type SessionFlags } from '../snowflake/session.js';
import { inGitHubActions, summaryToGitHub } from '../ci/github-reports.js';

export interface AuditOptions extends SessionFlags {
  users?: string;
  type?: string;
  maxAge?: string;
  expiringWithin?: string;
  unusedFor?: string;
  source?: string;
  concurrency?: string;
  format?: string;
  json?: boolean;
  targetsOut?: string;
  failOn?: string;
  wide?: boolean;
  shard?: string;
}

const FORMATS = ['table', 'json', 'csv', 'markdown'] as const;
const FAIL_ON = ['high', 'medium', 'low', 'info', 'none'] as const;

export async function run(options: AuditOptions, ctx: CommandContext): Promise<number> {
  const format = options.json ? 'json' : (options.format ?? 'table');
  if (!(FORMATS as readonly string[]).includes(format)) throw usage(`--format must be one of ${FORMATS.join(', ')}, not '${format}'`, 'e.g. --format csv > audit.csv');
  const type = (options.type ?? 'all') as UserType;
  if (!['service', 'person', 'all'].includes(type)) throw usage(`--type must be service, person or all, not '${options.type}'`, 'e.g. --type service');
  const source = options.source ?? 'live';
  if (source !== 'live' && source !== 'account-usage') throw usage(`--source must be live or account-usage, not '${source}'`, 'live reads each user now; account-usage reads two views (up to 2 h old) with --warehouse');
  const failOn = (options.failOn ?? 'high') as Severity | 'none';
  if (!(FAIL_ON as readonly string[]).includes(failOn)) throw usage(`--fail-on must be one of ${FAIL_ON.join(', ')}, not '${options.failOn}'`, 'e.g. --fail-on medium');
  const concurrency = options.concurrency === undefined ? 8 : Number(options.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw usage(`--concurrency must be a whole number from 1 to 64, not '${options.concurrency}'`, 'e.g. --concurrency 16');
  if (options.users !== undefined && (options.users === '' || options.users.length > 255)) throw usage('--users must be a SHOW USERS LIKE pattern of 1 to 255 characters', "e.g. --users 'SVC\\_%' (% any run, _ one character, \\ escapes)");
  const maxAgeSeconds = parseDuration(options.maxAge ?? '180d', '--max-age');
  const expiringWithinSeconds = parseDuration(options.expiringWithin ?? '14d', '--expiring-within');
  const unusedForSeconds = parseDuration(options.unusedFor ?? '90d', '--unused-for');
  const shard = options.shard !== undefined ? parseShard(options.shard) : undefined;
  const targetsOut = options.targetsOut !== undefined ? resolve(ctx.cwd, options.targetsOut) : undefined;
  if (targetsOut) assertCanCreate(targetsOut);

  const session = await openSession(options, ctx);
  if (source === 'account-usage' && !session.connection.warehouse) {
    throw usage('--source account-usage reads SNOWFLAKE.ACCOUNT_USAGE views, which need a warehouse', 'pass --warehouse NAME (or warehouse in the connection, or SNOWFLAKE_WAREHOUSE)');
  }
  const timeoutMs = parseDuration(options.timeout ?? '30s', '--timeout') * 1000;
  const step = await ctx.progress.step('Reading the users', { quiet: true });
  const request = {
    client: session.client,
    ctx,
    ...(options.users !== undefined ? { pattern: options.users } : {}),
    type,
    ...(shard ? { shard } : {}),
    concurrency,
    timeoutMs,
    onUser: (done: number, total: number) => step.update(`Reading the users' credentials ${done}/${total}`),
  };
  let read;
  try {
    read = source === 'live' ? await readLive(request) : await readAccountUsage(request);
  } catch (err) {
    step.fail('Could not read the users');
    throw err;
  }
  const readable = read.users.filter((u) => !u.unreadable);
  if (read.users.length > 0 && readable.length === 0) {
    step.fail('Could not read any user');
    const first = read.users[0]!.unreadable!;
    throw new ServiceError('ERR_AUDIT_UNREADABLE', `none of the ${read.users.length} users could be read (first: ${read.users[0]!.name}: ${first.message})`, {
      hint: 'the role needs OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on the users (USERADMIN or SECURITYADMIN in practice): pass --role',
      data: { users: read.users.length, first: first.code },
    });
  }
  step.succeed(`Read ${read.users.length} user${read.users.length === 1 ? '' : 's'}`);

  const now = ctx.now();
  const connectionArgs = options.connection ? ` -c ${options.connection}` : '';
  const findings = sortFindings(readable.flatMap((u) => findingsFor(u, { nowMs: now, maxAgeSeconds, expiringWithinSeconds, unusedForSeconds, connectionArgs })));
  const report: AuditReport = {
    account: session.identity.account ?? null,
    source,
    generatedAt: new Date(now).toISOString(),
    staleness: source === 'account-usage' ? 'ACCOUNT_USAGE can be up to 2 hours old, and does not say when a legacy key was set: --source live judges those' : null,
    users: read.users,
    findings,
  };

  if (targetsOut) {
    const due = dueUsers(findings, readable, now);
    writeNewFiles([{ path: targetsOut, data: `# users with a key due for rotation (sfauth audit, ${report.generatedAt})\n${due.targets.map(targetsLine).join('\n')}${due.targets.length ? '\n' : ''}`, mode: 'umask' }], { overwrite: true });
    ctx.out.info(`${due.targets.length} user${due.targets.length === 1 ? '' : 's'} with a key due written to ${options.targetsOut} (for sfauth rotate --targets)`);
    // A user with several named pairs needs the pair named: a targets file cannot say which.
    for (const { user, pairs } of due.byPair) {
      ctx.out.warn(`${user} is not in ${options.targetsOut}: it has several key pairs; rotate the due one${pairs.length === 1 ? '' : 's'} by name: ${pairs.map((p) => `sfauth rotate${connectionArgs} --target-user ${targetsLine(user)} --key-pair ${p} --apply`).join('; ')}`);
    }
  }

  if (format === 'json') ctx.out.document(jsonDocument(report, now));
  else if (format === 'csv') ctx.out.data(csvDocument(report, now));
  else if (format === 'markdown') ctx.out.data(markdownDocument(report));
  else for (const line of terminalReport(report, now, ctx.out.dataStyle, ctx.out.tableWidth(options.wide))) ctx.out.line(line);

  // The job summary gets the Markdown report, whatever --format stdout had (stdout is unchanged).
  if (inGitHubActions(ctx.env)) summaryToGitHub(ctx, markdownDocument(report).replace(/^# /, '### '));
  if (failsOn(findings, failOn)) {
    const s = summaryOf(report);
    const failing = findings.filter((f) => failsOn([f], failOn)).length;
    throw new CheckFailedError('ERR_AUDIT_FINDINGS', `${failing} finding${failing === 1 ? '' : 's'} at or above ${failOn} (${s.high} high, ${s.medium} medium, ${s.low} low)`, {
      hint: findings[0] ? `worst: ${findings[0].user}: ${findings[0].rule}: fix: ${findings[0].fix}` : undefined,
      data: { high: s.high, medium: s.medium, low: s.low, info: s.info, failOn },
    });
  }
  return 0;
}

function usage(message: string, hint: string): UsageError {
  return new UsageError('ERR_USAGE', message, { hint });
}
