/**
 * Reading a user's registered keys with a progress line (status, register, revoke share it).
 */
import type { CommandContext } from '../context.js';
import { readUserKeys, type UserKeys } from '../keys/read.js';
import type { SnowflakeClient } from '../snowflake/client.js';

export async function readKeysShowingProgress(ctx: CommandContext, client: SnowflakeClient, target: string): Promise<UserKeys> {
  const step = await ctx.progress.step(`Reading the keys of ${target}`, { quiet: true });
  try {
    const keys = await readUserKeys(client, target);
    step.succeed();
    return keys;
  } catch (err) {
    step.fail(`Could not read the keys of ${target}`);
    throw err;
  }
}
