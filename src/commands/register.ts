/**
 * `sfauth register`: register a public key for a user, in a legacy slot (`SET RSA_PUBLIC_KEY[_2]`) or as
 * a named key pair (`ADD KEY PAIR`), plan first (`--apply` to run it), then confirm the fingerprint
 * appears (DESIGN.md §3 "Register and revoke"). Every refusal happens before any statement is sent:
 * a key already registered (says where), a legacy slot holding another key (unless `--overwrite`), a
 * pair name already taken, the 10-pair limit, a server without named key pairs.
 */
import { registerToGitHub } from '../ci/github-reports.js';
import { confirmOrCancel, needsConfirmation, statementsRun } from '../ui/confirm.js';
import { resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { CheckFailedError, UsageError } from '../errors.js';
import { connectionReport, requireValue } from '../config/index.js';
import { fingerprintOf, sameFingerprint } from '../core/fingerprint.js';
import { addKeyPairSql } from '../core/key-pair-sql.js';
import { publicKeyBody } from '../core/public-key-body.js';
import { parseSlot, setPublicKeySql, slotProperty, type Slot } from '../core/sql.js';
import { loadKey, passphraseFromInputs } from '../io/load-key.js';
import { readUserKeys } from '../keys/read.js';
import { readKeysShowingProgress } from './read-keys.js';
import { keyLabel, type RegisteredKey } from '../keys/types.js';
import { openSession, type SessionFlags } from '../snowflake/session.js';
import { namedPairFrom, type KeyPairFlags } from './key-pair-flags.js';
import { registerPat } from '../pat/register.js';

export interface RegisterOptions extends SessionFlags, KeyPairFlags {
  publicKey?: string;
  /** `--pat NAME`: create a programmatic access token instead (src/pat/register.ts). */
  pat?: string;
  storeCmd?: string;
  out?: string;
  targetUser?: string;
  overwrite?: boolean;
  apply?: boolean;
  yes?: boolean;
  json?: boolean;
}

/** Named key pairs per user, rotated-out ones included (Snowflake's default limit). */
export const KEY_PAIR_LIMIT = 10;

export async function run(options: RegisterOptions, ctx: CommandContext): Promise<number> {
  if (options.pat !== undefined) {
    const keyOnly = (['publicKey', 'slot', 'keyPair', 'overwrite'] as const).filter((k) => options[k] !== undefined);
    if (keyOnly.length) {
      throw new UsageError('ERR_USAGE', `--pat creates a token: ${keyOnly.map((k) => ({ publicKey: '--public-key', slot: '--slot', keyPair: '--key-pair', overwrite: '--overwrite' })[k]).join(', ')} ${keyOnly.length === 1 ? 'is' : 'are'} for keys`, {
        hint: 'register a key and a token with two commands',
      });
    }
    return registerPat({ ...options, pat: options.pat }, ctx);
  }
  if (options.storeCmd !== undefined || options.out !== undefined) {
    throw new UsageError('ERR_USAGE', `${options.storeCmd !== undefined ? '--store-cmd' : '--out'} is where a token's secret goes: it needs --pat NAME`, { hint: 'a public key needs no secret store' });
  }
  if (!options.publicKey) throw new UsageError('ERR_USAGE', 'missing --public-key', { hint: "pass --public-key PATH (a private key works too, '-' reads stdin)" });
  const pair = namedPairFrom(options);
  if (pair && options.overwrite) throw new UsageError('ERR_USAGE', '--overwrite is for legacy slots', { hint: 'a named key pair is replaced with sfauth rotate --key-pair NAME' });
  const slotAsked = options.slot === undefined ? undefined : parseSlot(options.slot);

  const source = options.publicKey === '-' ? ({ kind: 'stdin' } as const) : ({ kind: 'file', path: resolve(ctx.cwd, options.publicKey) } as const);
  const key = await loadKey(source, {
    passphrase: await passphraseFromInputs(options.passphraseFile, ctx.env, ctx.cwd),
    prompter: ctx.prompter,
    readStdin: ctx.readStdin,
    label: options.publicKey === '-' ? 'stdin' : options.publicKey,
  });
  const fingerprint = fingerprintOf(key.publicKey);
  const body = publicKeyBody(key.publicKey);

  const session = await openSession(options, ctx);
  const target = options.targetUser ?? requireValue(session.connection, 'user');
  const keys = await readKeysShowingProgress(ctx, session.client, target);

  const already = keys.keys.find((k) => sameFingerprint(k.fingerprint, fingerprint));
  if (already) {
    throw new CheckFailedError('ERR_KEY_ALREADY_REGISTERED', `this key is already registered for ${target}: ${keyLabel(already)}`, {
      details: [`fingerprint ${fingerprint}`],
      hint: 'nothing to do; sfauth status shows every key',
      data: { fingerprint, ...where(already) },
    });
  }

  let sql: string;
  let slot: Slot | undefined;
  let replaces: string | undefined;
  if (pair) {
    if (!keys.namedPairs.available) {
      throw new CheckFailedError('ERR_KEY_PAIRS_UNAVAILABLE', `this server has no named key pairs (${keys.namedPairs.why})`, { hint: 'register the key in a legacy slot: --slot 1 or --slot 2' });
    }
    const pairs = keys.keys.filter((k): k is Extract<RegisteredKey, { kind: 'pair' }> => k.kind === 'pair');
    if (pairs.some((p) => p.name === pair.name)) {
      throw new CheckFailedError('ERR_KEY_PAIR_EXISTS', `${target} already has a key pair named ${pair.name}`, {
        hint: `to replace its key: sfauth rotate --key-pair ${pair.name}; or choose another name`,
        data: { keyPair: pair.name },
      });
    }
    if (pairs.length >= KEY_PAIR_LIMIT) throw limitError(target, pairs);
    sql = addKeyPairSql(target, pair.name, body, pair);
  } else {
    const set = (n: Slot) => keys.description.slots[n - 1]!.fingerprint;
    slot = slotAsked ?? ([1, 2] as const).find((n) => set(n) === null);
    if (slot === undefined) {
      throw new CheckFailedError('ERR_SLOT_OCCUPIED', `both legacy slots of ${target} hold a key`, {
        hint: 'name the one to replace with --slot N --overwrite, or register a named key pair with --key-pair NAME',
      });
    }
    const holder = set(slot);
    if (holder !== null) {
      if (!options.overwrite) {
        throw new CheckFailedError('ERR_SLOT_OCCUPIED', `slot ${slot} (${slotProperty(slot)}) of ${target} holds another key (${holder})`, {
          hint: `pass --overwrite to replace it (whoever uses ${holder} is locked out), or use the other slot`,
          data: { slot, fingerprint: holder },
        });
      }
      replaces = holder;
    }
    sql = setPublicKeySql(target, slot, body);
  }

  const plan = {
    user: target,
    account: session.identity.account ?? null,
    action: pair ? ('add' as const) : ('set' as const),
    ...(pair ? { keyPair: pair.name } : { slot: slot!, property: slotProperty(slot!) }),
    fingerprint,
    ...(replaces ? { replaces } : {}),
    sql: sql + ';',
    applied: false,
    confirmed: false,
  };
  const what = pair ? `key pair ${pair.name}` : `slot ${slot} (${slotProperty(slot!)})`;
  const keyName = pair ? `key pair ${pair.name}` : slotProperty(slot!);
  if (!options.apply) {
    registerToGitHub(ctx, { user: target, key: keyName, fingerprint, applied: false });
    if (ctx.out.json) ctx.out.document({ ...plan, connection: connectionReport(session.connection) });
    else {
      ctx.out.line(`Register ${fingerprint} for ${target} as ${what}${replaces ? `, replacing ${replaces}` : ''}:`);
      ctx.out.line(`  ${sql};`);
      ctx.out.info(ctx.out.style.yellow('plan only: nothing was changed. Run again with --apply to carry it out.'));
    }
    return 0;
  }

  if (needsConfirmation(ctx, options)) {
    if (!ctx.out.json) {
      ctx.out.line(`Register ${fingerprint} for ${target} as ${what}${replaces ? `, replacing ${replaces}` : ''}:`);
      ctx.out.line(`  ${sql};`);
    }
    await confirmOrCancel(ctx, `Apply: register the key as ${what} of ${target}?`);
  }
  const change = await ctx.progress.step(`Registering ${fingerprint} as ${what} of ${target}`);
  try {
    await session.client.execute(sql);
    change.succeed(`Registered ${fingerprint} as ${what} of ${target}`);
  } catch (err) {
    change.fail(`Could not register the key as ${what} of ${target}`);
    throw err;
  }
  const after = await readUserKeys(session.client, target);
  const found = after.keys.find((k) => sameFingerprint(k.fingerprint, fingerprint));
  const confirmed = found !== undefined && (pair ? found.kind === 'pair' && found.name === pair.name : found.kind === 'slot' && found.slot === slot);
  if (!confirmed) {
    throw new CheckFailedError('ERR_REGISTER_UNCONFIRMED', `Snowflake accepted the statement, but ${target}'s keys do not show ${fingerprint} as ${what}`, {
      hint: 'run sfauth status to see the keys as they are now',
      data: { fingerprint },
    });
  }
  registerToGitHub(ctx, { user: target, key: keyName, fingerprint, applied: true });
  if (ctx.out.json) ctx.out.document({ ...plan, applied: true, confirmed: true, statementsRun: [sql], connection: connectionReport(session.connection) });
  else {
    ctx.out.line(`registered ${target}: ${what} = ${fingerprint}`);
    statementsRun(ctx, [sql]);
  }
  return 0;
}

function where(key: RegisteredKey): Record<string, unknown> {
  return key.kind === 'slot' ? { slot: key.slot } : { keyPair: key.name, status: key.status };
}

/** Which pairs count toward the limit, and when the rotated-out ones free their place. */
export function limitError(target: string, pairs: Extract<RegisteredKey, { kind: 'pair' }>[]): CheckFailedError {
  const lines = pairs.map((p) => `${p.name} (${p.status.toLowerCase()}${p.rotatedTo ? `, rotated out, gone ${p.expiresAt ? p.expiresAt.toISOString() : 'when it expires'}` : ''})`);
  return new CheckFailedError('ERR_KEY_PAIR_LIMIT', `${target} has ${pairs.length} key pairs, Snowflake's limit (rotated-out pairs count until they expire)`, {
    details: lines,
    hint: 'remove one you no longer need (sfauth revoke --key-pair NAME), or wait for a rotated-out pair to expire',
    data: { count: pairs.length, limit: KEY_PAIR_LIMIT },
  });
}
