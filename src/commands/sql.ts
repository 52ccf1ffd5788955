/**
 * `sfauth sql`: the ALTER USER statement that registers a public key in slot 1 or 2, or removes
 * one (`--unset`). Quoting per DESIGN.md §3.
 */
import { resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { fingerprintOf } from '../core/fingerprint.js';
import { publicKeyBody } from '../core/public-key-body.js';
import { parseSlot, setPublicKeySql, slotProperty, unsetPublicKeySql } from '../core/sql.js';
import { loadKey, passphraseFromInputs } from '../io/load-key.js';

export interface SqlOptions {
  user?: string;
  slot?: string;
  publicKey?: string;
  unset?: boolean;
  passphraseFile?: string;
  json?: boolean;
}

export async function run(options: SqlOptions, ctx: CommandContext): Promise<number> {
  const user = options.user ?? ctx.env.SNOWFLAKE_USER;
  if (!user) throw new UsageError('ERR_USAGE', 'missing user', { hint: 'pass --user NAME or set SNOWFLAKE_USER' });
  const slot = parseSlot(options.slot);

  let sql: string;
  let fingerprint: string | undefined;
  if (options.unset) {
    if (options.publicKey) {
      throw new UsageError('ERR_USAGE', '--unset takes no --public-key', { hint: `sfauth sql --user ${user} --unset --slot ${slot}` });
    }
    sql = unsetPublicKeySql(user, slot);
  } else {
    if (!options.publicKey) {
      throw new UsageError('ERR_USAGE', 'missing --public-key', { hint: "pass --public-key PATH (a private key works too, '-' reads stdin), or --unset" });
    }
    const source = options.publicKey === '-' ? ({ kind: 'stdin' } as const) : ({ kind: 'file', path: resolve(ctx.cwd, options.publicKey) } as const);
    const key = await loadKey(source, {
      passphrase: await passphraseFromInputs(options.passphraseFile, ctx.env, ctx.cwd),
      prompter: ctx.prompter,
      readStdin: ctx.readStdin,
      label: options.publicKey === '-' ? 'stdin' : options.publicKey,
    });
    fingerprint = fingerprintOf(key.publicKey);
    sql = setPublicKeySql(user, slot, publicKeyBody(key.publicKey));
  }

  if (ctx.out.json) {
    ctx.out.document({ user, slot, property: slotProperty(slot), action: options.unset ? 'unset' : 'set', ...(fingerprint ? { fingerprint } : {}), sql: sql + ';' });
  } else {
    ctx.out.line(sql + ';');
  }
  return 0;
}
