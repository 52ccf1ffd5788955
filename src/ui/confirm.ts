/**
 * The question before `--apply` changes anything (DESIGN.md §1 v3 "Confirmation"): on a terminal,
 * after the plan, `Apply …? [y/N]`; anything but yes changes nothing (exit 1, ERR_CANCELLED). `--yes`
 * skips it, and without a terminal `--apply` proceeds (CI never waits for an answer).
 */
import type { CommandContext } from '../context.js';
import { CheckFailedError } from '../errors.js';

/** True when `--apply` must be confirmed: a terminal to ask on, and no `--yes`. */
export function needsConfirmation(ctx: Pick<CommandContext, 'prompter'>, flags: { apply?: boolean; yes?: boolean }): boolean {
  return flags.apply === true && flags.yes !== true && ctx.prompter.canPrompt;
}

/** Asks; returns on yes, throws ERR_CANCELLED (exit 1) on anything else. */
export async function confirmOrCancel(ctx: Pick<CommandContext, 'prompter'>, question: string): Promise<void> {
  if (await ctx.prompter.yesNo(question)) return;
  throw new CheckFailedError('ERR_CANCELLED', 'cancelled: nothing was changed', { hint: 'run again and answer y, or pass --yes to apply without the question' });
}

/** After applying: the statements that changed the server, on stderr below the result. */
export function statementsRun(ctx: Pick<CommandContext, 'out'>, sql: readonly string[]): void {
  if (!sql.length) return;
  ctx.out.info('statements run:');
  for (const q of sql) ctx.out.info(`  ${ctx.out.style.cyan(q + ';')}`);
}
