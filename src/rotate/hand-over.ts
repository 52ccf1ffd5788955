/**
 * Step 6 of a rotation (DESIGN.md §3 "Handing the key over"): after the new key is verified and before
 * the old one is retired, the new key goes where it is used.
 *   - `--store-cmd CMD` runs `sh -c CMD` with the new private key PEM (exactly as written, encrypted
 *     when the key is) on stdin and `SFAUTH_*` variables describing it; nothing secret is in its
 *     arguments, and sfauth's own secrets (the current key, passphrases, tokens) are not in its
 *     environment. Its output goes to sfauth's stderr, never stdout. Exit 0 = handed over.
 *   - `--update-connection` points the Snowflake CLI connection's key path at the new key.
 *   - `--in-place` atomically replaces the very file the old key was read from with the new key, its
 *     old content kept 0600 beside the journal until the old key is retired.
 * Either failing stops the rotation with both keys registered; a rerun retries the hand-over.
 */
import { spawn } from 'node:child_process';
import { lstatSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import type { CommandContext, Env } from '../context.js';
import { CheckFailedError, UsageError } from '../errors.js';
import { connectionTablePath, withKeyPath } from '../config/key-path-edit.js';
import { checkEditable, updateConnectionKeyPath } from '../config/connection-writer.js';
import { homeDirOf } from '../snowflake/session.js';
import type { RotationJournal } from '../core/rotation-journal.js';
import { plainLine } from '../core/untrusted-text.js';
import { readInputFile, writeNewFiles } from '../io/files.js';
import { displayPath } from '../io/paths.js';
import { onInterrupt } from '../io/cleanup.js';
import { publicKeyPathFor } from '../commands/keygen.js';

/**
 * Variables the store command never inherits (DESIGN.md §7 "Child processes"): every one sfauth may
 * read a secret from (the key, passphrases, tokens, passwords, and SNOWFLAKE_CONNECTIONS, a whole
 * connections.toml that can carry any of them), and any SFAUTH_* of sfauth's own environment, which
 * would stand beside (and contradict) the ones that describe this key.
 */
const WITHHELD = /^(SNOWFLAKE_PRIVATE_KEY_RAW|SNOWFLAKE_PRIVATE_KEY_PASSPHRASE|PRIVATE_KEY_PASSPHRASE|SNOWFLAKE_TOKEN|SNOWFLAKE_PASSWORD|SNOWFLAKE_CONNECTIONS|SNOWFLAKE_CONNECTIONS_.*_(PRIVATE_KEY_RAW|PRIVATE_KEY_FILE_PWD|PRIVATE_KEY_PASSPHRASE|TOKEN|PASSWORD)|SFAUTH_.*)$/;

/** sfauth's own environment less its secrets and SFAUTH_*: what every store command inherits. */
export function inheritedEnvironment(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !WITHHELD.test(k)) out[k] = v;
  return out;
}

/** The environment of the store command: sfauth's own, less its secrets, plus what describes the new key. */
export function storeEnvironment(env: Env, j: RotationJournal, account: string): Record<string, string> {
  const out = inheritedEnvironment(env);
  out.SFAUTH_ACCOUNT = account;
  out.SFAUTH_TARGET_USER = j.targetUser;
  out.SFAUTH_NEW_FINGERPRINT = j.newFingerprint;
  out.SFAUTH_NEW_PUBLIC_KEY = j.newPublicKey;
  if (j.oldFingerprint) out.SFAUTH_OLD_FINGERPRINT = j.oldFingerprint;
  out.SFAUTH_NEW_KEY_ENCRYPTED = j.encrypted ? '1' : '0';
  if (j.target.kind === 'slot') out.SFAUTH_SLOT = String(j.target.newSlot);
  else out.SFAUTH_KEY_PAIR = j.target.name;
  return out;
}

export interface StoreResult {
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  timedOut: boolean;
}

/** How long the store command's group gets between SIGTERM and SIGKILL at the deadline. */
const KILL_GRACE_MS = 2000;

/**
 * Runs the store command in a process group of its own; resolves when it ends, or once its group has
 * been killed at `timeoutMs` (a `cat | sleep 40` is stopped whole, and a grandchild holding its pipes
 * open does not hold sfauth). When sfauth itself is interrupted, the group is killed too: nothing
 * writes the key after sfauth said it stopped.
 */
export function runStoreCommand(
  command: string,
  input: {
    pem: Buffer;
    env: Record<string, string>;
    cwd: string;
    timeoutMs: number;
    onOutput(line: string): void;
    now(): number;
    /** Told the process group's id once it exists (before anything is written to it). */
    onSpawn?(pid: number): void;
  },
  /** Each stream's output goes through its own filter (a PEM block's state is per stream). */
  filterFor: (emit: (line: string) => void) => (line: string) => void = (emit) => emit,
): Promise<StoreResult> {
  const started = input.now();
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd: input.cwd, env: input.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    if (child.pid !== undefined) input.onSpawn?.(child.pid);
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const forget = onInterrupt(() => killGroup('SIGKILL'));
    let timedOut = false;
    let settled = false;
    const finish = (code: number | null, signal: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      forget();
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({ exitCode: code, signal, durationMs: input.now() - started, timedOut });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      // Whatever still holds the group's pipes after the grace is killed, and sfauth stops waiting.
      setTimeout(() => {
        killGroup('SIGKILL');
        finish(child.exitCode, child.signalCode ?? 'SIGKILL');
      }, KILL_GRACE_MS).unref();
    }, input.timeoutMs);
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      const emit = filterFor(input.onOutput);
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => {
        const lines = (partial + d).split('\n');
        partial = lines.pop()!;
        for (const l of lines) emit(l);
      });
      stream.on('end', () => partial && emit(partial));
    }
    // A command that does not read its input is not an error of ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input.pem);
    child.on('error', () => undefined);
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/**
 * A store command that echoes what it got (a `tee`, a verbose CLI) must not put the key on the
 * screen or in a CI log: a PEM private key block in its output is shown as one line saying so.
 */
export function withoutPrivateKeys(emit: (line: string) => void): (line: string) => void {
  let inside = false;
  return (line) => {
    if (!inside && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(line)) {
      inside = !/-----END [A-Z ]*PRIVATE KEY-----/.test(line);
      emit('[a private key, not shown]');
      return;
    }
    if (inside) {
      if (/-----END [A-Z ]*PRIVATE KEY-----/.test(line)) inside = false;
      return;
    }
    emit(line);
  };
}

export interface HandOverOptions {
  storeCmd?: string;
  /** The connection whose key path to update (its file and name). */
  updateConnection?: { file: string; name: string };
  /** `--in-place`: the file the old key was read from (resolved); its old content goes to inPlaceBackupPath(). */
  inPlace?: { path: string };
  account: string;
  /** How long the store command may run. */
  timeoutMs: number;
  timeoutLabel: string;
}

export interface HandOverReport {
  store?: { command: 'store-cmd'; exitCode: number | null; durationMs: number; handedOver: boolean };
  connection?: { file: string; name: string; key: string; previous: string; updated: boolean };
  inPlace?: { path: string; backup: string; replaced: boolean };
}

/**
 * `--in-place` is refused before anything is written (DESIGN.md §7 "Files sfauth edits for the user")
 * when the file is not a regular file of ours that only we can write, when its folder lets others
 * replace it, or when it is a link that leaves its folder. Returns the file to replace (a link inside
 * its folder resolves to its target).
 */
export function checkInPlace(path: string, cwd: string): string {
  const refuse = (why: string) =>
    new UsageError('ERR_IN_PLACE_REFUSED', `--in-place refuses ${displayPath(path, cwd)}: ${why}`, {
      hint: 'replace only a key file you own and only you can write, in a folder only you can write; or drop --in-place and point the program at the new key file',
      data: { path },
    });
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    throw refuse('it does not exist');
  }
  let real = path;
  if (st.isSymbolicLink()) {
    real = realpathSync(path);
    if (dirname(real) !== realpathSync(dirname(path))) throw refuse(`it is a link that leaves its folder (to ${real})`);
    st = lstatSync(real);
  }
  const uid = process.getuid?.();
  if (!st.isFile()) throw refuse('it is not a regular file');
  if (uid !== undefined) {
    if (st.uid !== uid) throw refuse(`it belongs to uid ${st.uid}, not to you`);
    if (st.mode & 0o022) throw refuse(`it is writable by ${st.mode & 0o002 ? 'others' : 'its group'}`);
    const dir = lstatSync(dirname(real));
    if (dir.uid !== uid && dir.uid !== 0) throw refuse(`its folder belongs to uid ${dir.uid}`);
    if (dir.mode & 0o022 && !(dir.mode & 0o1000)) throw refuse(`its folder is writable by ${dir.mode & 0o002 ? 'others' : 'its group'}`);
  }
  return real;
}

/** Checks `--update-connection` before anything happens: the connection must name a key file we can change. */
export function checkConnectionUpdate(conn: { name?: string; configFile?: string; privateKey?: { origin: string } }, cwd: string): { file: string; name: string } {
  if (!conn.name || !conn.configFile) {
    throw new UsageError('ERR_CONNECTION_UPDATE', '--update-connection needs a connection from a Snowflake CLI config file (-c NAME or the default connection)', {
      hint: 'name the connection with -c, or drop --update-connection',
    });
  }
  // A value the file does not hold is the one in effect: editing the file would change nothing that counts.
  const origin = conn.privateKey?.origin;
  if (origin && origin.startsWith('SNOWFLAKE_CONNECTIONS_')) {
    throw new UsageError('ERR_CONNECTION_UPDATE', `cannot update connection '${conn.name}': its key path in effect comes from ${origin}, not from ${displayPath(conn.configFile, cwd)}`, {
      hint: `point ${origin} at the new key after the rotation (--in-place replaces the file it names), or drop --update-connection`,
    });
  }
  // The same checks as the real edit, without the new path: a dry run on the current text.
  const label = displayPath(conn.configFile, cwd);
  const { real } = checkEditable(conn.configFile, label);
  const text = readFileSync(real, 'utf8');
  withKeyPath(text, connectionTablePath(conn.configFile, conn.name), '/dry-run', label);
  return { file: conn.configFile, name: conn.name };
}

/** Hands the verified new key over; throws ERR_STORE_FAILED / the edit's error when it cannot. */
export async function handOver(ctx: CommandContext, j: RotationJournal, opts: HandOverOptions, report: HandOverReport, pem: Buffer): Promise<void> {
  if (opts.storeCmd) {
    const step = await ctx.progress.step('Handing the new key over: running --store-cmd');
    const result = await runStoreCommand(
      opts.storeCmd,
      {
        pem,
        env: storeEnvironment(ctx.env, j, opts.account),
        cwd: ctx.cwd,
        timeoutMs: opts.timeoutMs,
        now: ctx.now,
        onOutput: (line) => ctx.out.info(`  store: ${plainLine(line)}`),
      },
      withoutPrivateKeys,
    );
    const ok = result.exitCode === 0;
    report.store = { command: 'store-cmd', exitCode: result.exitCode, durationMs: result.durationMs, handedOver: ok };
    if (!ok) {
      const how = result.timedOut ? `did not finish within ${opts.timeoutLabel}` : result.signal ? `was killed (${result.signal})` : `exited with ${result.exitCode}`;
      step.fail(`--store-cmd ${how}`);
      throw new CheckFailedError('ERR_STORE_FAILED', `the store command ${how}; the new key was not handed over`, {
        details: [`its output is above (lines starting "store:")`],
        hint: 'fix the store command (or its credentials), then run the same command again: it retries the hand-over before retiring the old key',
        data: { step: 'hand-over', exitCode: result.exitCode, signal: result.signal, durationMs: result.durationMs },
      });
    }
    step.succeed(`Handed the new key over (--store-cmd, ${result.durationMs} ms)`);
  }
  if (opts.updateConnection) {
    const { file, name } = opts.updateConnection;
    const label = displayPath(file, ctx.cwd);
    report.connection = { file, name, key: 'private_key_file', previous: '', updated: false };
    const edit = await updateConnectionKeyPath({ file, name, newPath: j.privateKeyPath, label }, { env: ctx.env, cwd: ctx.cwd, homeDir: homeDirOf(ctx), now: ctx.now });
    report.connection = { file, name, key: edit.key, previous: edit.previous, updated: true };
    ctx.out.success(`Connection '${name}' in ${label} now uses ${displayPath(j.privateKeyPath, ctx.cwd)} (${edit.key})`);
  }
  if (opts.inPlace) await replaceInPlace(ctx, j, { path: opts.inPlace.path, backup: inPlaceBackupPath(j.privateKeyPath) }, report, pem);
}

/** Where `--in-place` keeps the replaced file's content (0600, beside the journal) until the old key is retired. */
export function inPlaceBackupPath(newKeyPath: string): string {
  return `${newKeyPath}.replaced`;
}

/**
 * Puts the new key into the file the old key was read from: its old content first goes to `backup`
 * (0600, never over another file), then the new key's bytes replace it atomically (temp file and
 * rename, the mode kept). A rerun finds the file already holding the new key and does nothing.
 */
async function replaceInPlace(ctx: CommandContext, j: RotationJournal, target: { path: string; backup: string }, report: HandOverReport, newPem: Buffer): Promise<void> {
  const label = displayPath(target.path, ctx.cwd);
  const real = checkInPlace(target.path, ctx.cwd);
  const current = await readInputFile(real, 'key file to replace');
  report.inPlace = { path: target.path, backup: target.backup, replaced: false };
  if (!current.equals(newPem)) {
    const mode = statSync(real).mode & 0o777;
    // The old content is kept until the old key is retired: a crash here loses nothing.
    try {
      writeNewFiles([{ path: target.backup, data: current, mode: 0o600 }], { overwrite: false });
    } catch (err) {
      if (!(err instanceof UsageError && err.code === 'ERR_FILE_EXISTS')) throw err;
      // A rerun: the backup of this rotation is there already.
    }
    writeNewFiles([{ path: real, data: newPem, mode }], { overwrite: true });
    // The public key beside it, when there is one, follows (it is public: no backup needed).
    const pub = publicKeyPathFor(target.path);
    try {
      const body = j.newPublicKey.match(/.{1,64}/g)!.join('\n');
      if (lstatSync(pub).isFile()) writeNewFiles([{ path: pub, data: `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----\n`, mode: statSync(pub).mode & 0o777 }], { overwrite: true });
    } catch {
      // no public key file beside it
    }
  }
  report.inPlace.replaced = true;
  ctx.out.success(`Replaced ${label} with the new key (its old content is kept in ${displayPath(target.backup, ctx.cwd)} until the old key is retired)`);
}
