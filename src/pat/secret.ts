/**
 * Where a PAT's secret goes (DESIGN.md §3 "Programmatic access tokens"): Snowflake shows it once, in
 * ADD's or ROTATE's answer, and sfauth sends it to exactly one place: `--store-cmd` (the secret alone
 * on stdin), `--out PATH` (0600, never over a file), else stdout alone, as `jwt` prints its token.
 * The place is checked before any statement, so a secret is never made with nowhere to go. The secret
 * is held in memory only; it never reaches argv, an environment variable, a journal or a message.
 */
import { lstatSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { CheckFailedError, UsageError } from '../errors.js';
import { plainLine } from '../core/untrusted-text.js';
import { assertCanCreate, writeNewFiles } from '../io/files.js';
import { displayPath } from '../io/paths.js';
import { inheritedEnvironment, runStoreCommand } from '../rotate/hand-over.js';

export type SecretDestination =
  | { kind: 'stdout' }
  /** `taken`: the file exists; a rotation resumed past its delivery does not need it, any other run stops. */
  | { kind: 'file'; path: string; taken?: UsageError }
  | { kind: 'store'; command: string };

/** What the store command learns about the token, besides the secret on its stdin. */
export interface TokenFacts {
  account: string;
  user: string;
  name: string;
  expiresAt: Date | null;
  roleRestriction: string | null;
}

/** The one place the secret goes, checked now: before Snowflake makes a secret nobody can receive. */
export function destinationOf(options: { storeCmd?: string; out?: string; json?: boolean }, ctx: CommandContext, opts: { deferTaken?: boolean } = {}): SecretDestination {
  if (options.storeCmd !== undefined && options.out !== undefined) {
    throw new UsageError('ERR_USAGE', 'a token secret goes to one place: --store-cmd or --out, not both', { hint: 'Snowflake shows the secret once; pick where it lives' });
  }
  if (options.storeCmd !== undefined) {
    if (options.storeCmd.trim() === '') throw new UsageError('ERR_USAGE', '--store-cmd is empty', { hint: "give the command that stores the secret, e.g. --store-cmd 'gh secret set BI_TOKEN'" });
    return { kind: 'store', command: options.storeCmd };
  }
  if (options.out !== undefined) {
    const path = resolve(ctx.cwd, options.out);
    let taken = false;
    try {
      lstatSync(path);
      taken = true;
    } catch {
      // free
    }
    if (taken) {
      const err = new UsageError('ERR_FILE_EXISTS', `${displayPath(path, ctx.cwd)} already exists; a token secret is never written over a file`, {
        hint: 'choose a new path, or move the old file away first',
        data: { path },
      });
      if (opts.deferTaken) return { kind: 'file', path, taken: err };
      throw err;
    }
    assertCanCreate(path);
    return { kind: 'file', path };
  }
  if (options.json) {
    throw new UsageError('ERR_USAGE', 'with --json stdout carries the JSON document, so the secret needs another place: --out PATH or --store-cmd CMD', {
      hint: 'the secret is never in the JSON document',
    });
  }
  return { kind: 'stdout' };
}

export function destinationWords(d: SecretDestination, cwd: string): string {
  return d.kind === 'stdout' ? 'stdout (alone)' : d.kind === 'file' ? `${displayPath(d.path, cwd)} (0600)` : '--store-cmd (on its stdin)';
}

/** The environment of a PAT's store command: sfauth's own less its secrets, plus what names the token. */
export function tokenEnvironment(ctx: CommandContext, facts: TokenFacts): Record<string, string> {
  return {
    ...inheritedEnvironment(ctx.env),
    SFAUTH_ACCOUNT: facts.account,
    SFAUTH_TARGET_USER: facts.user,
    SFAUTH_PAT_NAME: facts.name,
    SFAUTH_PAT_EXPIRES_AT: facts.expiresAt ? facts.expiresAt.toISOString() : '',
    ...(facts.roleRestriction ? { SFAUTH_PAT_ROLE_RESTRICTION: facts.roleRestriction } : {}),
  };
}

/**
 * Sends the secret to its place; throws ERR_STORE_FAILED (exit 1) when the store command fails, the
 * file cannot be written, or stdout is closed. A store command that echoes the secret does not put it
 * in sfauth's output: its lines show the secret as a mark.
 */
export async function deliverSecret(ctx: CommandContext, d: SecretDestination, secret: string, facts: TokenFacts, timeout: { ms: number; label: string }, onStoreSpawn?: (pid: number) => void): Promise<void> {
  if (d.kind === 'stdout') {
    ctx.out.data(secret + '\n');
    return;
  }
  if (d.kind === 'file') {
    writeNewFiles([{ path: d.path, data: secret + '\n', mode: 0o600 }], { overwrite: false });
    return;
  }
  const step = await ctx.progress.step(`Handing the secret of ${facts.name} over: running --store-cmd`);
  const result = await runStoreCommand(
    d.command,
    { pem: Buffer.from(secret, 'utf8'), env: tokenEnvironment(ctx, facts), cwd: ctx.cwd, timeoutMs: timeout.ms, now: ctx.now, onOutput: (line) => ctx.out.info(`  store: ${plainLine(line)}`), ...(onStoreSpawn ? { onSpawn: onStoreSpawn } : {}) },
    (emit) => (line) => emit(line.split(secret).join('[the token secret, not shown]')),
  );
  if (result.exitCode !== 0) {
    const how = result.timedOut ? `did not finish within ${timeout.label}` : result.signal ? `was killed (${result.signal})` : `exited with ${result.exitCode}`;
    step.fail(`--store-cmd ${how}`);
    throw new CheckFailedError('ERR_STORE_FAILED', `the store command ${how}; the secret of ${facts.name} was not handed over`, {
      details: ['its output is above (lines starting "store:")'],
      data: { step: 'hand-over', exitCode: result.exitCode, signal: result.signal, durationMs: result.durationMs },
    });
  }
  step.succeed(`Handed the secret of ${facts.name} over (--store-cmd, ${result.durationMs} ms)`);
}
