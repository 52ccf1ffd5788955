/**
 * What each command tells a GitHub Actions job (DESIGN.md §3 v3 "CI-native output"): the job summary
 * sections of `rotate`, `audit`, `status` and `doctor`, and the step outputs of `rotate` and
 * `register`. Only called under `GITHUB_ACTIONS=true`; never touches stdout. Every server string in a
 * summary goes through an escaped Markdown cell.
 */
import type { CommandContext } from '../context.js';
import { markdownCell } from '../core/audit/formats.js';
import { markdownTable } from '../core/github-output.js';
import { inGitHubActions, stepOutputs, stepSummary } from '../io/github-actions.js';

export { inGitHubActions };

export interface RotationFacts {
  user: string;
  account: string;
  outcome: string;
  /** `RSA_PUBLIC_KEY_2`, `key pair CI_KEY`, … */
  key: string | null;
  oldFingerprint: string | null;
  newFingerprint: string | null;
  keyPath: string | null;
  /** The command that retires the old key, when awaiting delivery. */
  finish?: string;
  note?: string;
}

export function rotationToGitHub(ctx: CommandContext, f: RotationFacts): void {
  if (!inGitHubActions(ctx.env)) return;
  stepOutputs(ctx, {
    outcome: f.outcome,
    user: f.user,
    key: f.key,
    fingerprint: f.newFingerprint,
    'old-fingerprint': f.oldFingerprint,
    'key-path': f.keyPath,
    finish: f.finish,
  });
  stepSummary(
    ctx,
    [
      `### sfauth rotate: ${markdownCell(f.user)} (${markdownCell(f.account)}): ${f.outcome}`,
      '',
      markdownTable(['user', 'outcome', 'key', 'old fingerprint', 'new fingerprint'], [[f.user, f.outcome, f.key ?? '', f.oldFingerprint ?? '', f.newFingerprint ?? '']]),
      ...(f.finish ? ['', `The old key keeps working until the new key is deployed and this runs: \`${f.finish.replace(/`/g, "'")}\``] : []),
      ...(f.note ? ['', markdownCell(f.note)] : []),
    ].join('\n'),
  );
}

export interface FleetRow {
  user: string;
  outcome: string;
  key: string;
  oldFingerprint: string | null;
  newFingerprint: string | null;
  error: string | null;
}

export function fleetToGitHub(ctx: CommandContext, account: string, source: string, rows: FleetRow[], applied: boolean): void {
  if (!inGitHubActions(ctx.env)) return;
  const count = (o: string) => rows.filter((r) => r.outcome === o).length;
  stepOutputs(ctx, {
    outcome: count('failed') ? 'failed' : applied ? 'done' : 'planned',
    users: rows.length,
    rotated: count('rotated'),
    'awaiting-delivery': count('awaiting-delivery'),
    'not-due': count('not-due'),
    failed: count('failed'),
    'failed-users': rows.filter((r) => r.outcome === 'failed').map((r) => r.user).join('\n') || undefined,
  });
  stepSummary(
    ctx,
    [
      `### sfauth rotate --targets ${markdownCell(source)} (${markdownCell(account)})${applied ? '' : ': plan only'}`,
      '',
      `${rows.length} users: ${['rotated', 'awaiting-delivery', 'planned', 'not-due', 'skipped', 'failed'].map((o) => [o, count(o)] as const).filter(([, n]) => n).map(([o, n]) => `${n} ${o}`).join(', ') || 'none'}`,
      '',
      markdownTable(['user', 'outcome', 'key', 'old fingerprint', 'new fingerprint', 'error'], rows.map((r) => [r.user, r.outcome, r.key, r.oldFingerprint ?? '', r.newFingerprint ?? '', r.error ?? ''])),
    ].join('\n'),
  );
}

export function registerToGitHub(ctx: CommandContext, outputs: { user: string; key: string; fingerprint: string; applied: boolean }): void {
  if (!inGitHubActions(ctx.env)) return;
  stepOutputs(ctx, { user: outputs.user, key: outputs.key, fingerprint: outputs.fingerprint, outcome: outputs.applied ? 'registered' : 'planned' });
}

export function summaryToGitHub(ctx: CommandContext, markdown: string): void {
  if (!inGitHubActions(ctx.env)) return;
  stepSummary(ctx, markdown);
}
