/**
 * `sfauth sql`: print one key-management statement, quoted per DESIGN.md §3. Legacy: `SET
 * RSA_PUBLIC_KEY[_2]` (`--slot`, default 1) or `UNSET` (`--unset`, which needs `--slot`). Named key
 * pairs (`--key-pair NAME`): ADD (with `--role-restriction`, `--expires-in`, `--comment`), `--rotate
 * [--grace]`, `--disable` / `--enable`, `--remove`.
 */
import { resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { parseDuration } from '../core/duration.js';
import { fingerprintOf } from '../core/fingerprint.js';
import { addKeyPairSql, parseGrace, parseKeyPairName, removeKeyPairSql, rotateKeyPairSql, setKeyPairDisabledSql } from '../core/key-pair-sql.js';
import { publicKeyBody } from '../core/public-key-body.js';
import { parseSlot, setPublicKeySql, slotProperty, unsetPublicKeySql } from '../core/sql.js';
import { loadKey, passphraseFromInputs } from '../io/load-key.js';
import { namedPairFrom, type KeyPairFlags } from './key-pair-flags.js';

export interface SqlOptions extends KeyPairFlags {
  user?: string;
  publicKey?: string;
  unset?: boolean;
  rotate?: boolean;
  grace?: string;
  disable?: boolean;
  enable?: boolean;
  remove?: boolean;
  passphraseFile?: string;
  json?: boolean;
}

type Action = 'set' | 'unset' | 'add' | 'rotate' | 'disable' | 'enable' | 'remove';

export async function run(options: SqlOptions, ctx: CommandContext): Promise<number> {
  const user = options.user ?? ctx.env.SNOWFLAKE_USER;
  if (!user) throw new UsageError('ERR_USAGE', 'missing user', { hint: 'pass --user NAME or set SNOWFLAKE_USER' });
  const named = (['rotate', 'disable', 'enable', 'remove'] as const).filter((k) => options[k]);
  if (named.length > 1) throw new UsageError('ERR_USAGE', `--${named.join(', --')}: one at a time`, { hint: 'print one statement per run' });
  if (named.length > 0 && options.keyPair === undefined) {
    throw new UsageError('ERR_USAGE', `--${named[0]} needs --key-pair NAME`, { hint: `named key pairs only: sfauth sql --user ${user} --key-pair NAME --${named[0]}` });
  }
  if (options.grace !== undefined && !options.rotate) throw new UsageError('ERR_USAGE', '--grace goes with --rotate', { hint: 'the grace period is how long the old key keeps working after ROTATE KEY PAIR' });
  if (options.unset && options.keyPair !== undefined) {
    throw new UsageError('ERR_USAGE', '--unset is for legacy slots; a named key pair is removed with --remove', { hint: `sfauth sql --user ${user} --key-pair ${options.keyPair} --remove` });
  }
  const action: Action = options.keyPair !== undefined ? (named[0] ?? 'add') : options.unset ? 'unset' : 'set';
  // ADD takes the pair's properties; anywhere else they would be silently dropped, so they are refused.
  const pair = action === 'add' || action === 'set' || action === 'unset' ? namedPairFrom(options) : undefined;
  const stray = (['roleRestriction', 'expiresIn', 'comment'] as const).find((k) => options[k] !== undefined);
  if (stray && action !== 'add' && options.keyPair !== undefined) {
    throw new UsageError('ERR_USAGE', `--${stray.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for adding a key pair`, {
      hint: 'a pair keeps its role restriction, expiry and comment through a rotation',
    });
  }
  const name = options.keyPair !== undefined ? parseKeyPairName(options.keyPair) : undefined;

  const needsKey = action === 'set' || action === 'add' || action === 'rotate';
  if (!needsKey && options.publicKey) {
    throw new UsageError('ERR_USAGE', `--${action === 'unset' ? 'unset' : action} takes no --public-key`, { hint: 'only adding, setting or rotating a key needs one' });
  }
  if (needsKey && !options.publicKey) {
    throw new UsageError('ERR_USAGE', 'missing --public-key', { hint: "pass --public-key PATH (a private key works too, '-' reads stdin)" });
  }
  if (action === 'unset' && options.slot === undefined) {
    throw new UsageError('ERR_USAGE', '--unset needs --slot 1 or --slot 2', { hint: `say which key to remove: sfauth sql --user ${user} --unset --slot 1` });
  }
  const slot = options.keyPair === undefined ? parseSlot(options.slot) : undefined;
  const graceHours = options.grace === undefined ? undefined : parseGrace(options.grace, parseDuration);

  let body = '';
  let fingerprint: string | undefined;
  if (needsKey) {
    const source = options.publicKey === '-' ? ({ kind: 'stdin' } as const) : ({ kind: 'file', path: resolve(ctx.cwd, options.publicKey!) } as const);
    const key = await loadKey(source, {
      passphrase: await passphraseFromInputs(options.passphraseFile, ctx.env, ctx.cwd),
      prompter: ctx.prompter,
      readStdin: ctx.readStdin,
      label: options.publicKey === '-' ? 'stdin' : options.publicKey,
    });
    fingerprint = fingerprintOf(key.publicKey);
    body = publicKeyBody(key.publicKey);
  }

  const sql: Record<Action, () => string> = {
    set: () => setPublicKeySql(user, slot!, body),
    unset: () => unsetPublicKeySql(user, slot!),
    add: () => addKeyPairSql(user, name!, body, pair),
    rotate: () => rotateKeyPairSql(user, name!, body, graceHours),
    disable: () => setKeyPairDisabledSql(user, name!, true),
    enable: () => setKeyPairDisabledSql(user, name!, false),
    remove: () => removeKeyPairSql(user, name!),
  };
  const statement = sql[action]() + ';';

  if (ctx.out.json) {
    ctx.out.document({
      user,
      action,
      ...(slot !== undefined ? { slot, property: slotProperty(slot) } : { keyPair: name }),
      ...(fingerprint ? { fingerprint } : {}),
      ...(graceHours !== undefined ? { graceHours } : {}),
      sql: statement,
    });
  } else {
    ctx.out.line(statement);
  }
  return 0;
}
