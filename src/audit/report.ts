/**
 * The audit report in its four forms (DESIGN.md §3 v3 "Audit"): the terminal report (worst users
 * first, one table per user, the same table rules as everywhere), the JSON document, CSV (one row per
 * credential) and Markdown. Every server string reaching CSV or Markdown goes through
 * core/audit/formats.ts.
 */
import type { ChalkInstance } from 'chalk';
import { csvCell, markdownCell } from '../core/audit/formats.js';
import { credentialLabel, severityRank, SEVERITIES, type AuditCredential, type AuditUser, type Finding, type Severity } from '../core/audit/model.js';
import { formatDuration } from '../core/duration.js';
import { timeText } from '../core/time-text.js';
import { layoutTable } from '../ui/table.js';

export interface AuditReport {
  account: string | null;
  source: 'live' | 'account-usage';
  generatedAt: string;
  /** What the source may miss (ACCOUNT_USAGE latency, legacy key ages). */
  staleness: string | null;
  users: AuditUser[];
  findings: Finding[];
}

export type Summary = Record<Severity, number> & { users: number; credentials: number; unreadable: number };

export function summaryOf(report: AuditReport): Summary {
  const count = (s: Severity) => report.findings.filter((f) => f.severity === s).length;
  return {
    users: report.users.length,
    credentials: report.users.reduce((n, u) => n + u.credentials.length, 0),
    high: count('high'),
    medium: count('medium'),
    low: count('low'),
    info: count('info'),
    unreadable: report.users.filter((u) => u.unreadable).length,
  };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const ageDays = (d: Date | null, now: number) => (d ? Math.floor((now - d.getTime()) / 86_400_000) : null);

export function jsonDocument(report: AuditReport, nowMs: number): unknown {
  return {
    account: report.account,
    source: report.source,
    generatedAt: report.generatedAt,
    ...(report.staleness ? { staleness: report.staleness } : {}),
    users: report.users.map((u) => ({
      name: u.name,
      loginName: u.loginName,
      type: u.type,
      disabled: u.disabled,
      hasPassword: u.hasPassword,
      hasMfa: u.hasMfa,
      lastSuccessLogin: iso(u.lastSuccessLogin),
      ...(u.unreadable ? { unreadable: u.unreadable } : {}),
      features: u.features,
      credentials: u.credentials.map((c) => ({
        kind: c.kind,
        name: c.name,
        fingerprint: c.fingerprint,
        status: c.status,
        createdOn: iso(c.createdOn),
        ageDays: ageDays(c.createdOn, nowMs),
        expiresAt: iso(c.expiresAt),
        lastUsedOn: iso(c.lastUsedOn),
        roleRestriction: c.roleRestriction,
        rotatedTo: c.rotatedTo,
      })),
    })),
    findings: report.findings,
    summary: summaryOf(report),
  };
}

const CSV_COLUMNS = ['user', 'login_name', 'type', 'disabled', 'has_password', 'has_mfa', 'kind', 'credential', 'fingerprint', 'status', 'created_on', 'age_days', 'expires_at', 'last_used_on', 'role_restriction', 'rotated_to', 'worst_severity', 'findings'];

/** One row per credential (a user without any, or unreadable, is one row with the credential cells empty). */
export function csvDocument(report: AuditReport, nowMs: number): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const u of report.users) {
    const rows: Array<AuditCredential | null> = u.credentials.length ? u.credentials : [null];
    for (const c of rows) {
      const mine = report.findings.filter((f) => f.user === u.name && (c ? f.credential === credentialLabel(c) || f.credential === null : true));
      const worst = mine.length ? mine.reduce((a, b) => (severityRank(b.severity) < severityRank(a.severity) ? b : a)).severity : '';
      const cells = [
        u.name,
        u.loginName,
        u.type,
        u.disabled,
        u.hasPassword,
        u.hasMfa,
        c?.kind ?? '',
        c?.name ?? '',
        c?.fingerprint ?? '',
        c ? c.status : u.unreadable ? `UNREADABLE: ${u.unreadable.message}` : '',
        c ? iso(c.createdOn) : '',
        c ? ageDays(c.createdOn, nowMs) : '',
        c ? iso(c.expiresAt) : '',
        c ? iso(c.lastUsedOn) : '',
        c?.roleRestriction ?? '',
        c?.rotatedTo ?? '',
        worst,
        mine.map((f) => f.rule).join(' '),
      ];
      lines.push(cells.map((v) => csvCell(v === undefined ? null : (v as string | number | boolean | null))).join(','));
    }
  }
  return lines.join('\r\n') + '\r\n';
}

export function markdownDocument(report: AuditReport): string {
  const s = summaryOf(report);
  const out = [
    `# Snowflake credentials audit: ${markdownCell(report.account ?? '?')}`,
    '',
    `${timeText(report.generatedAt)}, source ${report.source}${report.staleness ? ` (${markdownCell(report.staleness)})` : ''}: ${s.users} users, ${s.credentials} credentials; ${s.high} high, ${s.medium} medium, ${s.low} low, ${s.info} info${s.unreadable ? `; ${s.unreadable} users could not be read` : ''}.`,
    '',
    '| severity | rule | user | credential | evidence | fix |',
    '|---|---|---|---|---|---|',
    ...report.findings.map((f) => `| ${f.severity} | ${f.rule} | ${markdownCell(f.user)} | ${markdownCell(f.credential ?? '')} | ${markdownCell(f.evidence)} | ${markdownCell(f.fix)} |`),
  ];
  out.push('', '## Users', '', '| user | type | password | credentials | worst |', '|---|---|---|---|---|');
  for (const u of report.users) {
    const mine = report.findings.filter((f) => f.user === u.name);
    const worst = mine.length ? mine.reduce((a, b) => (severityRank(b.severity) < severityRank(a.severity) ? b : a)).severity : u.unreadable ? 'unreadable' : '';
    out.push(`| ${markdownCell(u.name)} | ${markdownCell(u.type ?? '')} | ${u.hasPassword === null ? '' : u.hasPassword ? 'yes' : 'no'} | ${u.credentials.map((c) => markdownCell(credentialLabel(c))).join(', ')} | ${worst} |`);
  }
  const unreadable = report.users.filter((u) => u.unreadable);
  if (unreadable.length) {
    out.push('', '## Users that could not be read', '', '| user | why |', '|---|---|', ...unreadable.map((u) => `| ${markdownCell(u.name)} | ${markdownCell(u.unreadable!.message)} |`));
  }
  return out.join('\n') + '\n';
}

/** The terminal report: users with findings, worst first, each as a small table with its findings. */
export function terminalReport(report: AuditReport, nowMs: number, style: ChalkInstance, width: number | undefined): string[] {
  const s = summaryOf(report);
  const colourOf: Record<Severity, (t: string) => string> = { high: style.red, medium: style.yellow, low: style.cyan, info: style.dim };
  const worstOf = (u: AuditUser) => Math.min(...report.findings.filter((f) => f.user === u.name).map((f) => severityRank(f.severity)), SEVERITIES.length);
  const judged = report.users.filter((u) => !u.unreadable && worstOf(u) < SEVERITIES.length).sort((a, b) => worstOf(a) - worstOf(b) || (a.name < b.name ? -1 : 1));
  const lines: string[] = [];
  for (const u of judged) {
    const mine = report.findings.filter((f) => f.user === u.name);
    const counts = SEVERITIES.map((sev) => [sev, mine.filter((f) => f.severity === sev).length] as const).filter(([, n]) => n > 0);
    lines.push(`${style.bold(u.name)}${u.type ? ` (${u.type})` : ''}  ${counts.map(([sev, n]) => colourOf[sev](`${n} ${sev}`)).join(', ')}`);
    if (u.credentials.length) {
      const rows = [['CREDENTIAL', 'FINGERPRINT', 'STATUS', 'CREATED', 'AGE', 'EXPIRES', 'LAST USED']];
      for (const c of u.credentials) {
        rows.push([
          credentialLabel(c) + (c.rotatedTo ? ' (rotated out)' : ''),
          c.fingerprint ?? '-',
          c.status.toLowerCase(),
          c.createdOn ? timeText(c.createdOn) : 'unknown',
          c.createdOn ? formatDuration((nowMs - c.createdOn.getTime()) / 1000) : '-',
          c.expiresAt ? (c.expiresAt.getTime() > nowMs ? `in ${formatDuration((c.expiresAt.getTime() - nowMs) / 1000)}` : 'expired') : '-',
          !c.lastUseKnown ? 'unknown' : c.lastUsedOn ? `${formatDuration((nowMs - c.lastUsedOn.getTime()) / 1000)} ago` : 'never',
        ]);
      }
      const paint = (text: string, row: number, column: number) => (row === 0 ? style.bold(text) : column === 2 ? (text === 'active' ? style.green(text) : style.red(text)) : text);
      for (const line of layoutTable(rows, { width: width === undefined ? undefined : width - 2, fingerprintColumns: [1], droppable: [3], paint })) lines.push(`  ${line}`);
    }
    for (const f of mine) {
      lines.push(`  ${colourOf[f.severity](f.severity.toUpperCase().padEnd(6))}  ${f.rule}${f.credential ? ` (${f.credential})` : ''}: ${f.evidence}`);
      lines.push(`          fix: ${f.fix}`);
    }
    lines.push('');
  }
  const clean = report.users.filter((u) => !u.unreadable && worstOf(u) === SEVERITIES.length);
  if (clean.length) lines.push(`${clean.length} user${clean.length === 1 ? '' : 's'} without findings: ${clean.slice(0, 20).map((u) => u.name).join(', ')}${clean.length > 20 ? `, … (${clean.length - 20} more; --json lists all)` : ''}`);
  const unreadable = report.users.filter((u) => u.unreadable);
  for (const u of unreadable) lines.push(`${style.red('✗')} ${u.name}: could not be read: ${u.unreadable!.message}`);
  lines.push(
    `${s.users} users, ${s.credentials} credentials: ${colourOf.high(`${s.high} high`)}, ${colourOf.medium(`${s.medium} medium`)}, ${s.low} low, ${s.info} info${s.unreadable ? `, ${s.unreadable} unreadable` : ''} (source ${report.source}${report.staleness ? `; ${report.staleness}` : ''})`,
  );
  return lines;
}
