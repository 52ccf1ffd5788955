/**
 * Under GitHub Actions (`GITHUB_ACTIONS=true`): a Markdown summary appended to `$GITHUB_STEP_SUMMARY`
 * and outputs appended to `$GITHUB_OUTPUT` (DESIGN.md §3 v3 "CI-native output"). stdout is untouched:
 * it stays the data channel. A file that cannot be written is a warning, never a failed command (the
 * rotation happened; only its report to the runner did not).
 */
import { appendFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { CommandContext } from '../context.js';
import { outputLines } from '../core/github-output.js';

export function inGitHubActions(env: CommandContext['env']): boolean {
  return env.GITHUB_ACTIONS === 'true';
}

/** Appends a section to the job summary. */
export function stepSummary(ctx: CommandContext, markdown: string): void {
  if (!inGitHubActions(ctx.env)) return;
  appendTo(ctx, 'GITHUB_STEP_SUMMARY', markdown.endsWith('\n') ? `${markdown}\n` : `${markdown}\n\n`);
}

/** Sets step outputs (`steps.<id>.outputs.<name>`). */
export function stepOutputs(ctx: CommandContext, outputs: Record<string, string | number | boolean | null | undefined>): void {
  if (!inGitHubActions(ctx.env)) return;
  appendTo(ctx, 'GITHUB_OUTPUT', outputLines(outputs, () => `ghadelimiter_${randomUUID()}`));
}

function appendTo(ctx: CommandContext, variable: 'GITHUB_STEP_SUMMARY' | 'GITHUB_OUTPUT', text: string): void {
  const path = ctx.env[variable];
  if (!path) return;
  try {
    appendFileSync(path, text);
  } catch (err) {
    ctx.out.warn(`could not write ${variable} (${path}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; the command itself went through`);
  }
}
