/**
 * `sfauth init`: from a user to a working key-pair connection in one command (DESIGN.md §3 v3
 * "First-time set-up, connections and export"):
 *   1. the key: made with keygen's rules (encrypted by default), or the one already at --key-out
 *      (a rerun after a wait reuses it);
 *   2. the connection written into the Snowflake CLI's config (created 0600 if missing; comments and
 *      layout kept; an existing entry refused without --force; no passphrase written);
 *   3. the registration: with --admin-connection the SET, confirmed by reading the keys back; without
 *      one the SQL printed for whoever can run it, and a wait (--wait, 10m) that tries the new key
 *      every few seconds until it works;
 *   4. a connection test through the connection as written, and with --service-user (and an admin)
 *      UNSET PASSWORD and SET TYPE = SERVICE.
 * Plan first: without --apply it prints what it would do and changes nothing. On a terminal it asks
 * for what is missing; in CI every value comes from flags or the environment. Run again when done, it
 * says so and changes nothing.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { CheckFailedError, isSfauthError, UsageError } from '../errors.js';
import { accountForJwt } from '../core/account.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { fingerprintOf, sameFingerprint } from '../core/fingerprint.js';
import { generateKeyPair, keySpecFrom, privateKeyPem } from '../core/generate-key.js';
import { publicKeyBody, publicKeyPem } from '../core/public-key-body.js';
import { quoteIdentifier, setPublicKeySql, type Slot } from '../core/sql.js';
import { loadSnowflakeConfig, snowflakeHome } from '../config/files.js';
import { checkEditable, writeConnection } from '../config/connection-writer.js';
import { writeNewFiles } from '../io/files.js';
import { loadKey, passphraseFromInputs, type LoadedKey } from '../io/load-key.js';
import { displayPath } from '../io/paths.js';
import { readUserKeys } from '../keys/read.js';
import { resolveBaseUrl } from '../snowflake/base-url.js';
import { homeDirOf, keyPairCredential, makeClient, openSession } from '../snowflake/session.js';
import { confirmOrCancel, needsConfirmation } from '../ui/confirm.js';
import { newKeyPassphrase } from './keygen.js';

export interface InitOptions {
  connectionName?: string;
  account?: string;
  user?: string;
  host?: string;
  role?: string;
  warehouse?: string;
  keyOut?: string;
  type?: string;
  bits?: string;
  curve?: string;
  encrypt?: boolean;
  passphraseFile?: string;
  adminConnection?: string;
  wait?: string;
  serviceUser?: boolean;
  force?: boolean;
  apply?: boolean;
  yes?: boolean;
  json?: boolean;
  timeout?: string;
}

const WHOAMI = 'SELECT CURRENT_USER(), CURRENT_ROLE()';
/** How often the wait tries the new key. */
const WAIT_POLL_MS = 3000;

export async function run(given: InitOptions, ctx: CommandContext): Promise<number> {
  let options = given;
  const env = ctx.env;
  const homeDir = homeDirOf(ctx);
  // 1. What: from flags, the environment, or (on a terminal) questions.
  const account = await value(ctx, options.account ?? env.SNOWFLAKE_ACCOUNT, '--account', 'SNOWFLAKE_ACCOUNT', 'Account identifier (myorg-myaccount)');
  accountForJwt(account);
  const user = await value(ctx, options.user ?? env.SNOWFLAKE_USER, '--user', 'SNOWFLAKE_USER', 'User (its LOGIN_NAME)');
  const name = await value(ctx, options.connectionName, '--connection-name', undefined, 'Name of the connection to write', user.toLowerCase().replace(/[^a-z0-9_-]/g, '_'));
  if (!/^[A-Za-z0-9_.@-]{1,100}$/.test(name)) throw usage(`--connection-name '${name}' is not a connection name`, 'letters, digits, _ - . @');
  // On a terminal, how to register: with one of the connections there are, or by printing the SQL.
  if (!options.adminConnection && options.wait === undefined && ctx.prompter.canPrompt) {
    const others = [...(await loadSnowflakeConfig(snowflakeHome(env, { homeDir, cwd: ctx.cwd }), env)).connections.keys()].filter((c) => c !== name);
    if (others.length) {
      const how = await ctx.prompter.select('Register the key with', [
        ...others.map((c) => ({ name: `connection ${c}`, value: c, description: `runs ALTER USER … SET RSA_PUBLIC_KEY as connection ${c}` })),
        { name: 'print the SQL and wait for someone to run it', value: '', description: 'for when you may not change the user yourself' },
      ]);
      if (how) options = { ...options, adminConnection: how };
    }
  }
  if (options.serviceUser && !options.adminConnection) throw usage('--service-user needs --admin-connection', 'unsetting the password and setting TYPE = SERVICE take an admin: pass --admin-connection NAME');
  if (options.adminConnection && options.wait !== undefined) throw usage('--admin-connection and --wait contradict each other', 'with an admin the key is registered at once; without one, --wait waits for someone to run the SQL');
  const waitMs = parseDuration(options.wait ?? '10m', '--wait') * 1000;
  const encrypt = options.encrypt !== false;
  const spec = keySpecFrom(options);

  const sfHome = snowflakeHome(env, { homeDir, cwd: ctx.cwd });
  const config = await loadSnowflakeConfig(sfHome, env);
  if (config.connectionsSource === 'SNOWFLAKE_CONNECTIONS') throw usage('SNOWFLAKE_CONNECTIONS is set: the connections come from that variable, so no file would be read', 'unset SNOWFLAKE_CONNECTIONS to let init write the connection into a file');
  // connections.toml, unless the connections live in config.toml (a new connections.toml would hide them).
  const file = config.connectionsSource && config.connectionsSource.endsWith('config.toml') ? config.connectionsSource : config.connectionsFile;
  // A file init may not edit is refused before anything is made.
  if (existsSync(file)) checkEditable(file, displayPath(file, ctx.cwd));
  const keyOut = resolve(ctx.cwd, options.keyOut ?? join(sfHome, 'keys', `${name}_${spec.type}_key.p8`));
  const existing = config.connections.get(name);
  const existingKey = existing?.entries.find(([k]) => k === 'private_key_file' || k === 'private_key_path')?.[1];
  const rerun = existing !== undefined && existingKey !== undefined && resolve(ctx.cwd, existingKey) === keyOut && existsSync(keyOut);

  // Already done? The connection exists, names a key, and that key authenticates: nothing to do.
  if (existing && !options.force) {
    const works = await connectionWorks(name, options, ctx);
    if (works) {
      if (ctx.out.json) ctx.out.document({ connection: { name, file: existing.file ?? file }, account, user, key: existingKey ? { path: resolve(ctx.cwd, existingKey) } : null, registration: 'done', tested: true, alreadyDone: true });
      else ctx.out.line(`connection '${name}' already works (authenticated as ${works.user}): nothing to do`);
      return 0;
    }
    if (!rerun) {
      throw new UsageError('ERR_CONNECTION_EXISTS', `connection '${name}' already exists in ${displayPath(existing.file ?? file, ctx.cwd)} and does not work as it is`, {
        hint: `pass --force to replace it, or choose another --connection-name (sfauth doctor -c ${name} says why it fails)`,
      });
    }
  }
  if (existsSync(keyOut)) {
    // A key init would register must be this user's own: one another user placed or may rewrite could
    // be that user's key, registered for this one.
    const st = statSync(keyOut);
    const uid = process.getuid?.();
    if (!st.isFile() || (uid !== undefined && uid !== 0 && st.uid !== uid) || st.mode & 0o022) {
      throw new UsageError('ERR_KEY_NOT_YOURS', `refusing to use ${displayPath(keyOut, ctx.cwd)}: ${!st.isFile() ? 'it is not a regular file' : st.mode & 0o022 ? 'others can write it' : `it belongs to uid ${st.uid}`}`, {
        hint: 'use a key file of your own (chmod 600), or another --key-out for a new one',
      });
    }
    if (st.mode & 0o077) ctx.out.warn(`${displayPath(keyOut, ctx.cwd)} is readable by others: chmod 600 ${displayPath(keyOut, ctx.cwd)}`);
  }

  // 2. The plan.
  const reuse = existsSync(keyOut);
  const registration = options.adminConnection ? 'applied' : 'waited';
  const plan = [
    `Set up connection '${name}' for ${user} on ${account}:`,
    `  1. ${reuse ? `use the key already at ${displayPath(keyOut, ctx.cwd)}` : `make a key pair ${spec.type === 'rsa' ? `RSA ${spec.bits}` : `EC ${spec.curve}`} at ${displayPath(keyOut, ctx.cwd)} (0600${encrypt ? ', encrypted' : ', not encrypted'})`}`,
    `  2. write [${name}] into ${displayPath(file, ctx.cwd)}: account, user, private_key_file${options.role ? ', role' : ''}${options.warehouse ? ', warehouse' : ''}${options.host ? ', host' : ''} (no passphrase)`,
    options.adminConnection
      ? `  3. register the public key as ${user}'s RSA_PUBLIC_KEY (or _2, whichever is free) with connection '${options.adminConnection}', and confirm it`
      : `  3. print the ALTER USER statement for someone allowed to run it, and wait up to ${formatDuration(waitMs / 1000)} for the key to work`,
    `  4. test connection '${name}'${options.serviceUser ? `, then ALTER USER ${quoteIdentifier(user)} UNSET PASSWORD and SET TYPE = SERVICE` : ''}`,
  ];
  if (!options.apply) {
    if (ctx.out.json) ctx.out.document({ connection: { name, file }, account, user, key: { path: keyOut, reuse, encrypted: encrypt }, registration: 'planned', tested: false, applied: false });
    else {
      for (const line of plan) ctx.out.line(line);
      ctx.out.info(ctx.out.style.yellow('plan only: nothing was changed. Run again with --apply to carry it out.'));
    }
    return 0;
  }
  if (needsConfirmation(ctx, options)) {
    for (const line of plan) ctx.out.info(line);
    await confirmOrCancel(ctx, `Apply the set-up of connection '${name}'?`);
  }

  // 3. The key.
  let key: LoadedKey;
  if (reuse) {
    const given = await newOrGivenPassphrase(options, ctx, keyOut, false);
    key = await loadKey({ kind: 'file', path: keyOut, origin: '--key-out' }, { ...(given ? { passphrase: { value: given, origin: 'the passphrase given' } } : {}), prompter: ctx.prompter, readStdin: ctx.readStdin, requirePrivate: true, label: displayPath(keyOut, ctx.cwd) });
    ctx.out.success(`Using the key at ${displayPath(keyOut, ctx.cwd)} (${fingerprintOf(key.publicKey)})`);
  } else {
    const passphrase = encrypt ? await newOrGivenPassphrase(options, ctx, keyOut, true) : undefined;
    const pair = await generateKeyPair(spec);
    mkdirSync(resolve(keyOut, '..'), { recursive: true, mode: 0o700 });
    writeNewFiles(
      [
        { path: keyOut, data: privateKeyPem(pair.privateKey, passphrase), mode: 0o600 },
        { path: keyOut.replace(/\.p8$/, '') + '.pub', data: publicKeyPem(pair.publicKey), mode: 'umask' },
      ],
      { overwrite: false },
    );
    key = await loadKey({ kind: 'file', path: keyOut, origin: '--key-out' }, { ...(passphrase ? { passphrase: { value: passphrase, origin: 'the new passphrase' } } : {}), prompter: ctx.prompter, readStdin: ctx.readStdin, requirePrivate: true, label: displayPath(keyOut, ctx.cwd) });
    ctx.out.success(`Wrote ${displayPath(keyOut, ctx.cwd)} (${spec.type === 'rsa' ? `RSA ${spec.bits}` : `EC ${spec.curve}`}, ${encrypt ? 'encrypted' : 'not encrypted'}, mode 0600), ${fingerprintOf(key.publicKey)}`);
  }
  const fingerprint = fingerprintOf(key.publicKey);

  // 4. The connection, before any wait: a rerun then finds key and entry and only waits again.
  const entries: Array<[string, string]> = [
    ['account', account],
    ['user', user],
    ['authenticator', 'SNOWFLAKE_JWT'],
    ['private_key_file', keyOut],
    ...(options.role ? ([['role', options.role]] as Array<[string, string]>) : []),
    ...(options.warehouse ? ([['warehouse', options.warehouse]] as Array<[string, string]>) : []),
    ...(options.host ? ([['host', options.host]] as Array<[string, string]>) : []),
  ];
  const written = await writeConnection({ file, name, entries, replace: options.force === true || rerun, label: displayPath(file, ctx.cwd) }, { env, cwd: ctx.cwd, homeDir, now: ctx.now });
  ctx.out.success(`${written.created ? 'Created' : 'Updated'} ${displayPath(file, ctx.cwd)} with connection '${name}'`);

  // 5. The registration.
  let how: 'applied' | 'waited' = registration;
  let slotUsed: Slot | null = null;
  if (options.adminConnection) {
    const admin = await openSession({ connection: options.adminConnection, ...(options.timeout ? { timeout: options.timeout } : {}) }, ctx);
    const keys = await readUserKeys(admin.client, user);
    if (keys.keys.some((k) => sameFingerprint(k.fingerprint, fingerprint))) {
      ctx.out.success(`${user} already has this key registered`);
    } else {
      const free = keys.description.slots.find((s) => s.fingerprint === null);
      if (!free) {
        throw new CheckFailedError('ERR_SLOTS_FULL', `both of ${user}'s key slots hold a key: nowhere to register the new one`, {
          hint: `free one first (sfauth revoke -c ${options.adminConnection} --target-user ${user} --slot 2 --apply, once nothing uses that key), then run the same command again`,
        });
      }
      slotUsed = free.slot;
      const sql = setPublicKeySql(user, free.slot, publicKeyBody(key.publicKey));
      await admin.client.execute(sql);
      const after = await readUserKeys(admin.client, user);
      if (!after.keys.some((k) => sameFingerprint(k.fingerprint, fingerprint))) {
        throw new CheckFailedError('ERR_REGISTER_UNCONFIRMED', `Snowflake accepted the statement, but ${user}'s keys do not show ${fingerprint}`, { hint: `sfauth status -c ${options.adminConnection} --target-user ${user} shows the keys as they are now` });
      }
      ctx.out.success(`Registered ${fingerprint} as ${user}'s RSA_PUBLIC_KEY${free.slot === 2 ? '_2' : ''} (with connection '${options.adminConnection}')`);
    }
  } else {
    how = 'waited';
    const sql = `${setPublicKeySql(user, 1, publicKeyBody(key.publicKey))};`;
    ctx.out.info(`Run this in Snowflake as a role with OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on ${user} (RSA_PUBLIC_KEY_2 instead if slot 1 holds a key still in use):`);
    ctx.out.line(sql);
    const ok = await waitUntilWorks(key, account, user, options, ctx, waitMs);
    if (!ok) {
      throw new CheckFailedError('ERR_INIT_WAIT_TIMEOUT', `the key did not start working within ${formatDuration(waitMs / 1000)}`, {
        details: [sql],
        hint: `run the statement above in Snowflake, then run the same command again: the key (${displayPath(keyOut, ctx.cwd)}) and connection '${name}' are kept, so it only waits`,
        data: { connection: name, keyPath: keyOut, fingerprint },
      });
    }
  }

  // 6. The test, through the connection as written (with the passphrase this run holds, in memory only).
  const testCtx = key.passphrase ? { ...ctx, env: { ...ctx.env, PRIVATE_KEY_PASSPHRASE: key.passphrase.toString('utf8') } } : ctx;
  const works = await connectionWorks(name, options, testCtx);
  if (!works) {
    throw new CheckFailedError('ERR_INIT_TEST_FAILED', `connection '${name}' was written and the key registered, but authenticating with it failed`, { hint: `sfauth doctor -c ${name} says why` });
  }
  ctx.out.success(`Connection '${name}' works: authenticated as ${works.user} with role ${works.role}`);

  if (options.serviceUser) {
    const admin = await openSession({ connection: options.adminConnection, ...(options.timeout ? { timeout: options.timeout } : {}) }, ctx);
    for (const sql of [`ALTER USER ${quoteIdentifier(user)} UNSET PASSWORD`, `ALTER USER ${quoteIdentifier(user)} SET TYPE = SERVICE`]) await admin.client.execute(sql);
    ctx.out.success(`${user} is a service user now: no password, TYPE = SERVICE`);
  }

  if (ctx.out.json) {
    ctx.out.document({ connection: { name, file }, account, user, key: { path: keyOut, fingerprint, encrypted: key.encrypted }, registration: how, ...(slotUsed ? { slot: slotUsed } : {}), tested: true, applied: true, ...(options.serviceUser ? { serviceUser: true } : {}) });
  } else {
    ctx.out.line(`connection '${name}' is ready: ${user} on ${account} with ${displayPath(keyOut, ctx.cwd)}`);
    ctx.out.info(`next: sfauth test-connection -c ${name}${key.encrypted ? ' (the key is encrypted: give programs its passphrase in PRIVATE_KEY_PASSPHRASE, or private_key_file_pwd)' : ''}; sfauth rotate -c ${name} --apply when it is time`);
  }
  return 0;
}

/** A value from its flag or variable; on a terminal, asked; otherwise a usage error naming both. */
async function value(ctx: CommandContext, given: string | undefined, flag: string, variable: string | undefined, question: string, fallback?: string): Promise<string> {
  if (given !== undefined && given.trim() !== '') return given.trim();
  if (ctx.prompter.canPrompt) {
    const answer = await ctx.prompter.text(question, fallback);
    if (answer !== '') return answer;
  } else if (fallback !== undefined) return fallback;
  throw usage(`missing ${flag.slice(2).replace(/-/g, ' ')}`, `pass ${flag}${variable ? ` or set ${variable}` : ''}`);
}

function usage(message: string, hint: string): UsageError {
  return new UsageError('ERR_USAGE', message, { hint });
}

/** The new key's passphrase (asked twice), or the existing key's (from --passphrase-file / the environment / a prompt). */
async function newOrGivenPassphrase(options: InitOptions, ctx: CommandContext, path: string, fresh: boolean): Promise<Buffer | undefined> {
  if (fresh) return newKeyPassphrase(options.passphraseFile, ctx, displayPath(path, ctx.cwd));
  return (await passphraseFromInputs(options.passphraseFile, ctx.env, ctx.cwd))?.value;
}

/** Authenticates through connection `name` as the Snowflake CLI would read it; undefined when that fails. */
async function connectionWorks(name: string, options: InitOptions, ctx: CommandContext): Promise<{ user: string; role: string } | undefined> {
  try {
    const session = await openSession({ connection: name, timeout: options.timeout ?? '30s', ...(options.passphraseFile ? { passphraseFile: options.passphraseFile } : {}) }, { ...ctx, prompter: { ...ctx.prompter, canPrompt: false } as CommandContext['prompter'] });
    const r = await session.client.execute(WHOAMI);
    return { user: r.rows[0]?.[0] ?? '?', role: r.rows[0]?.[1] ?? '?' };
  } catch (err) {
    if (!isSfauthError(err)) throw err;
    return undefined;
  }
}

/** Tries the new key every few seconds (a spinner on a terminal) until it authenticates or the wait ends. */
async function waitUntilWorks(key: LoadedKey, account: string, user: string, options: InitOptions, ctx: CommandContext, waitMs: number): Promise<boolean> {
  const until = ctx.now() + waitMs;
  const baseUrl = resolveBaseUrl(account, options.host);
  const step = await ctx.progress.step(`Waiting for the key to work (up to ${formatDuration(waitMs / 1000)})`);
  for (;;) {
    const { credential, identity } = keyPairCredential(key, account, user);
    const client = makeClient({ baseUrl, credential, identity, deadline: Math.min(until, ctx.now() + 15_000), timeoutLabel: '15s', ...(options.role ? { role: options.role } : {}) }, ctx);
    try {
      await client.execute(WHOAMI);
      step.succeed('The key works');
      return true;
    } catch (err) {
      if (!isSfauthError(err)) throw err;
      // Refused means "not registered yet"; anything else (a typo in the account, no network) too.
    }
    const left = until - ctx.now();
    if (left <= 0) {
      step.fail('The key did not start working in time');
      return false;
    }
    await new Promise((r) => setTimeout(r, Math.min(WAIT_POLL_MS, left)));
  }
}
