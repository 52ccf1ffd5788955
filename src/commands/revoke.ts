/**
 * `sfauth revoke`: remove a registered key (legacy `UNSET`, named `REMOVE KEY PAIR`) or, for a named
 * pair, disable it (`--disable`: `MODIFY … SET DISABLED = TRUE`, reversible), plan first (`--apply`),
 * then confirm (DESIGN.md §3 "Register and revoke"). The key is named by `--slot`, `--key-pair` or
 * `--fingerprint` (found wherever it is registered). Refused before any statement, unless `--force`:
 * the key this command authenticates with, and the target's last working key.
 */
import { confirmOrCancel, needsConfirmation, statementsRun } from '../ui/confirm.js';
import type { CommandContext } from '../context.js';
import { CheckFailedError, UsageError } from '../errors.js';
import { connectionReport, requireValue } from '../config/index.js';
import { normalizeFingerprint, sameFingerprint } from '../core/fingerprint.js';
import { pairNameOf, RESERVED_PAIR_NAMES, removeKeyPairSql, ROTATED_PAIR_NAME, setKeyPairDisabledSql } from '../core/key-pair-sql.js';
import { parseSlot, slotProperty, unsetPublicKeySql } from '../core/sql.js';
import { isAuthenticatingUser, readUserKeys, type UserKeys } from '../keys/read.js';
import { readKeysShowingProgress } from './read-keys.js';
import { isActive, keyLabel, type RegisteredKey } from '../keys/types.js';
import { homeDirOf, openSession, type Session, type SessionFlags } from '../snowflake/session.js';
import { waitForRotationLock } from '../rotate/lock.js';
import { accountForJwt } from '../core/account.js';
import { revokePat } from '../pat/revoke.js';
import { assertNotPatSession } from '../pat/refusals.js';

/** A pair that expires within this is not counted as a lasting working key by the last-key guard. */
const LASTING_MS = 60 * 60 * 1000;

export interface RevokeOptions extends SessionFlags {
  targetUser?: string;
  slot?: string;
  keyPair?: string;
  fingerprint?: string;
  disable?: boolean;
  /** `--pat NAME` (src/pat/revoke.ts), with `--disable` / `--enable`. */
  pat?: string;
  enable?: boolean;
  force?: boolean;
  apply?: boolean;
  yes?: boolean;
  json?: boolean;
}

export async function run(options: RevokeOptions, ctx: CommandContext): Promise<number> {
  if (options.pat !== undefined) {
    const keyOnly = (['slot', 'keyPair', 'fingerprint'] as const).filter((k) => options[k] !== undefined);
    if (keyOnly.length) throw new UsageError('ERR_USAGE', 'name one thing to revoke: --pat, or a key (--slot, --key-pair, --fingerprint)', { hint: 'a token and a key are revoked with two commands' });
    const session = await openSession(options, ctx);
    assertNotPatSession(session, options.disable ? 'disable' : options.enable ? 'enable' : 'remove');
    const target = options.targetUser ?? requireValue(session.connection, 'user');
    const lock = options.apply ? await waitForRotationLock(ctx.env, homeDirOf(ctx), accountForJwt(requireValue(session.connection, 'account')), target, ctx.now) : undefined;
    try {
      return await revokePat({ ...options, pat: options.pat }, ctx, session, target);
    } finally {
      lock?.release();
    }
  }
  if (options.enable) throw new UsageError('ERR_USAGE', '--enable is for tokens: --pat NAME --enable', { hint: 'a disabled key pair is enabled with sfauth sql --key-pair NAME --enable' });
  const given = (['slot', 'keyPair', 'fingerprint'] as const).filter((k) => options[k] !== undefined);
  if (given.length !== 1) {
    throw new UsageError('ERR_USAGE', given.length === 0 ? 'which key? pass --slot 1|2, --key-pair NAME or --fingerprint FP' : 'name the key once: --slot, --key-pair or --fingerprint', {
      hint: 'sfauth status lists the keys with their slots, names and fingerprints',
    });
  }
  const slot = options.slot !== undefined ? parseSlot(options.slot) : undefined;
  const pairName = options.keyPair !== undefined ? pairNameOf(options.keyPair) : undefined;
  if (pairName !== undefined && RESERVED_PAIR_NAMES.has(pairName.toUpperCase())) {
    throw new UsageError('ERR_KEY_PAIR_NAME', `${pairName} is reserved for the legacy key slots`, { hint: `use --slot ${pairName.endsWith('2') ? 2 : 1}` });
  }
  if (options.fingerprint !== undefined && !/^(SHA256:)?[A-Za-z0-9+/]{43}=$/.test(options.fingerprint.trim())) {
    throw new UsageError('ERR_USAGE', `--fingerprint '${options.fingerprint}' is not a SHA256 fingerprint`, { hint: 'copy it from sfauth status or sfauth fingerprint: SHA256:<44 base64 characters>' });
  }
  if (options.disable && slot !== undefined) {
    throw new UsageError('ERR_USAGE', '--disable is for named key pairs; a legacy slot can only be unset', { hint: `sfauth revoke --slot ${slot} (without --disable)` });
  }

  const session = await openSession(options, ctx);
  const target = options.targetUser ?? requireValue(session.connection, 'user');
  // One change of a user's keys at a time: a second revoke waits, then reads what the first left.
  const lock = options.apply ? await waitForRotationLock(ctx.env, homeDirOf(ctx), accountForJwt(requireValue(session.connection, 'account')), target, ctx.now) : undefined;
  try {
    return await revokeKey(options, ctx, session, target, { slot, pairName });
  } finally {
    lock?.release();
  }
}

async function revokeKey(options: RevokeOptions, ctx: CommandContext, session: Session, target: string, by: { slot: 1 | 2 | undefined; pairName: string | undefined }): Promise<number> {
  const { slot, pairName } = by;
  const keys = await readKeysShowingProgress(ctx, session.client, target);

  const key = findKey(keys, { slot, pairName, fingerprint: options.fingerprint }, target);
  if (options.disable && key.kind !== 'pair') {
    throw new UsageError('ERR_USAGE', `--disable is for named key pairs; ${keyLabel(key)} can only be unset`, { hint: 'leave out --disable to unset the slot' });
  }
  const now = ctx.now();
  // The key this command signs with, on the user it authenticates as (NAME or LOGIN_NAME, as Snowflake decides).
  const self = session.key && sameFingerprint(key.fingerprint, session.identity.fingerprint) && isAuthenticatingUser(keys, target, { user: session.identity.user });
  // A rotated-out pair, or one about to expire, is no lasting way in: it does not count.
  const othersWorking = keys.keys.filter(
    (k) => k !== key && isActive(k, now) && !(k.kind === 'pair' && (k.rotatedTo !== null || ROTATED_PAIR_NAME.test(k.name) || (k.expiresAt !== null && k.expiresAt.getTime() - now < LASTING_MS))),
  );
  if (!options.force) {
    if (self) {
      throw new CheckFailedError('ERR_REVOKE_SELF', `${keyLabel(key)} is the key this command authenticates with`, {
        hint: 'revoke it with another credential (e.g. an admin connection), or pass --force if you know another key will work',
        data: { fingerprint: key.fingerprint, ...ref(key) },
      });
    }
    if (isActive(key, now) && othersWorking.length === 0) {
      throw new CheckFailedError('ERR_LAST_KEY', `${keyLabel(key)} is the last working key of ${target}: nobody could authenticate as ${target} with a key afterwards`, {
        hint: 'register the replacement first (sfauth register / sfauth rotate), or pass --force',
        data: { fingerprint: key.fingerprint, ...ref(key) },
      });
    }
  }

  const action = key.kind === 'slot' ? 'unset' : options.disable ? 'disable' : 'remove';
  const sql = key.kind === 'slot' ? unsetPublicKeySql(target, key.slot) : options.disable ? setKeyPairDisabledSql(target, key.name, true) : removeKeyPairSql(target, key.name);
  const plan = { user: target, account: session.identity.account ?? null, action, ...ref(key), fingerprint: key.fingerprint, sql: sql + ';', applied: false, confirmed: false };
  if (!options.apply) {
    if (ctx.out.json) ctx.out.document({ ...plan, connection: connectionReport(session.connection) });
    else {
      ctx.out.line(`${action === 'disable' ? 'Disable' : 'Remove'} ${keyLabel(key)} of ${target} (${key.fingerprint}):`);
      ctx.out.line(`  ${sql};`);
      ctx.out.info(ctx.out.style.yellow('plan only: nothing was changed. Run again with --apply to carry it out.'));
    }
    return 0;
  }

  if (needsConfirmation(ctx, options)) {
    if (!ctx.out.json) {
      ctx.out.line(`${action === 'disable' ? 'Disable' : 'Remove'} ${keyLabel(key)} of ${target} (${key.fingerprint}):`);
      ctx.out.line(`  ${sql};`);
    }
    await confirmOrCancel(ctx, `Apply: ${action === 'disable' ? 'disable' : 'remove'} ${keyLabel(key)} of ${target}?`);
  }
  const change = await ctx.progress.step(`${action === 'disable' ? 'Disabling' : 'Removing'} ${keyLabel(key)} of ${target}`);
  try {
    await session.client.execute(sql);
    change.succeed(`${action === 'disable' ? 'Disabled' : 'Removed'} ${keyLabel(key)} of ${target}`);
  } catch (err) {
    change.fail(`Could not ${action === 'disable' ? 'disable' : 'remove'} ${keyLabel(key)} of ${target}`);
    throw err;
  }
  if (self) {
    // The credential in use is gone: there is nothing left to read with.
    if (ctx.out.json) ctx.out.document({ ...plan, applied: true, confirmed: false, statementsRun: [sql], connection: connectionReport(session.connection) });
    else {
      ctx.out.line(`revoked ${target}: ${keyLabel(key)} (${key.fingerprint}); not re-read, this was the key in use`);
      statementsRun(ctx, [sql]);
    }
    return 0;
  }
  const after = await readUserKeys(session.client, target);
  const still = after.keys.find((k) => sameFingerprint(k.fingerprint, key.fingerprint) && (k.kind === 'slot' ? key.kind === 'slot' && k.slot === key.slot : key.kind === 'pair' && k.name === key.name));
  const confirmed = action === 'disable' ? still?.kind === 'pair' && still.status === 'DISABLED' : still === undefined;
  if (!confirmed) {
    throw new CheckFailedError('ERR_REVOKE_UNCONFIRMED', `Snowflake accepted the statement, but ${target}'s keys still show ${keyLabel(key)}${still?.kind === 'pair' ? ` as ${still.status}` : ''}`, {
      hint: 'run sfauth status to see the keys as they are now',
    });
  }
  if (ctx.out.json) ctx.out.document({ ...plan, applied: true, confirmed: true, statementsRun: [sql], connection: connectionReport(session.connection) });
  else {
    ctx.out.line(`revoked ${target}: ${keyLabel(key)} ${action === 'disable' ? 'disabled' : 'removed'} (${key.fingerprint})`);
    statementsRun(ctx, [sql]);
  }
  return 0;
}

function ref(key: RegisteredKey): Record<string, unknown> {
  return key.kind === 'slot' ? { slot: key.slot, property: slotProperty(key.slot) } : { keyPair: key.name };
}

function findKey(keys: UserKeys, by: { slot?: 1 | 2; pairName?: string; fingerprint?: string }, target: string): RegisteredKey {
  let found: RegisteredKey | undefined;
  let what: string;
  if (by.slot !== undefined) {
    found = keys.keys.find((k) => k.kind === 'slot' && k.slot === by.slot);
    what = `slot ${by.slot} (${slotProperty(by.slot)}) of ${target} is empty`;
  } else if (by.pairName !== undefined) {
    found = keys.keys.find((k) => k.kind === 'pair' && k.name === by.pairName);
    what = keys.namedPairs.available ? `${target} has no key pair named ${by.pairName}` : `this server has no named key pairs (${keys.namedPairs.why})`;
  } else {
    const fp = normalizeFingerprint(by.fingerprint!);
    const matches = keys.keys.filter((k) => normalizeFingerprint(k.fingerprint) === fp);
    // One key in two places (both slots, a slot and a pair) still works after one is removed: name them.
    const places = matches.filter((k) => k.kind === 'slot' || k.rotatedTo === null);
    if (places.length > 1) {
      throw new UsageError('ERR_KEY_IN_SEVERAL_PLACES', `${by.fingerprint} is registered in ${places.length} places of ${target}: ${places.map(keyLabel).join(' and ')}; removing one would leave it working`, {
        hint: `revoke each of them: ${places.map((k) => (k.kind === 'slot' ? `--slot ${k.slot}` : `--key-pair ${k.name}`)).join(', then ')}`,
        data: { places: places.map(keyLabel) },
      });
    }
    // A rotated-out pair shares nothing with the active one but its name; prefer the active key.
    found = matches.find((k) => k.kind === 'slot' || k.rotatedTo === null) ?? matches[0];
    what = `no key of ${target} has the fingerprint ${by.fingerprint}`;
  }
  if (!found) throw new CheckFailedError('ERR_KEY_NOT_FOUND', what, { hint: 'sfauth status lists the keys with their slots, names and fingerprints' });
  return found;
}
