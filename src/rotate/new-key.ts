/**
 * The new key of a rotation: its type (keygen's options, defaulting to the current key's type), its
 * passphrase (the current key's when that is encrypted, `--new-passphrase-file`, a prompt, or none),
 * its dated file name beside the current key, and loading it back on a resumed run.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { isSfauthError, UsageError } from '../errors.js';
import { keySpecFrom, type KeySpec } from '../core/generate-key.js';
import { fingerprintOf } from '../core/fingerprint.js';
import { datedKeyPath, dateStamp, journalPathFor, userFileName } from '../core/rotation-plan.js';
import type { PassphraseSource, RotationJournal } from '../core/rotation-journal.js';
import { readOwnFileNoFollow, readPassphraseFile } from '../io/files.js';
import { loadKey, type LoadedKey } from '../io/load-key.js';
import { displayPath } from '../io/paths.js';
import { newKeyPassphrase, publicKeyPathFor } from '../commands/keygen.js';
import { assertTrustedFile } from './journal.js';

export interface NewKeyFlags {
  type?: string;
  bits?: string;
  curve?: string;
  /** commander's `--no-encrypt` gives `encrypt: false`. */
  encrypt?: boolean;
  newPassphraseFile?: string;
  out?: string;
}

/** keygen's `--type/--bits/--curve`; what is not given follows the current key (else RSA 2048). */
export function newKeySpec(flags: NewKeyFlags, current: LoadedKey | undefined): KeySpec {
  const type = flags.type ?? (flags.curve !== undefined ? 'ec' : flags.bits !== undefined ? 'rsa' : (current?.type ?? 'rsa'));
  const sameType = current && current.type === type.toLowerCase();
  const inheritedBits = sameType && current.bits && [2048, 3072, 4096].includes(current.bits) ? current.bits : undefined;
  const isRsa = type.toLowerCase() === 'rsa';
  return keySpecFrom({
    type,
    bits: flags.bits ?? (isRsa ? inheritedBits : undefined),
    curve: flags.curve ?? (sameType && !isRsa ? current.curve : undefined),
  });
}

export function describeSpec(spec: KeySpec): string {
  return spec.type === 'rsa' ? `RSA ${spec.bits}` : `EC ${spec.curve}`;
}

export interface PassphrasePlan {
  encrypted: boolean;
  source: PassphraseSource;
  /** Known now (file or current key); a prompt fills it in at --apply. */
  value?: Buffer;
  /** For the plan: how the new key is protected, in words. */
  describe: string;
}

const PASSPHRASE_HINT = 'pass --new-passphrase-file PATH, or --no-encrypt for an unencrypted key, or run in a terminal to be asked';

async function readNewPassphraseFile(path: string, cwd: string): Promise<Buffer> {
  const value = await readPassphraseFile(resolve(cwd, path), 'new passphrase file', '--new-passphrase-file');
  if (value.length === 0) {
    throw new UsageError('ERR_PASSPHRASE_EMPTY', 'the passphrase in --new-passphrase-file is empty', {
      hint: 'an encrypted key needs a non-empty passphrase; use --no-encrypt for an unencrypted key',
    });
  }
  return value;
}

/**
 * How the new key is encrypted. `current` is the target user's current key when it is here (the
 * authenticating user rotating its own key); an admin's own key is never a model for someone else's.
 */
export async function planPassphrase(flags: NewKeyFlags, ctx: Pick<CommandContext, 'cwd' | 'prompter'>, current: LoadedKey | undefined, who: string): Promise<PassphrasePlan> {
  if (flags.encrypt === false) return { encrypted: false, source: 'none', describe: 'not encrypted (--no-encrypt)' };
  if (flags.newPassphraseFile) {
    return { encrypted: true, source: '--new-passphrase-file', value: await readNewPassphraseFile(flags.newPassphraseFile, ctx.cwd), describe: 'encrypted with the passphrase from --new-passphrase-file' };
  }
  if (current) {
    if (current.encrypted && current.passphrase) {
      return { encrypted: true, source: 'current-key', value: current.passphrase, describe: "encrypted with the current key's passphrase" };
    }
    if (!current.encrypted) {
      return { encrypted: false, source: 'none', describe: 'not encrypted, like the current key (--new-passphrase-file PATH encrypts it)' };
    }
  }
  if (ctx.prompter.canPrompt) return { encrypted: true, source: 'prompt', describe: 'encrypted with a passphrase asked for at --apply' };
  throw new UsageError('ERR_PASSPHRASE_MISSING', `a passphrase is needed to encrypt the new key of ${who}`, { hint: PASSPHRASE_HINT });
}

/** The passphrase value at --apply (asking twice on a terminal when that is the plan). */
export async function passphraseValue(plan: PassphrasePlan, ctx: Pick<CommandContext, 'cwd' | 'prompter'>, label: string): Promise<Buffer | undefined> {
  if (!plan.encrypted) return undefined;
  if (plan.value !== undefined) return plan.value;
  try {
    // keygen's prompt (asked twice, empty refused); no file and no environment: those name the current key's passphrase.
    return await newKeyPassphrase(undefined, { env: {}, cwd: ctx.cwd, prompter: ctx.prompter }, label);
  } catch (err) {
    if (isSfauthError(err) && err.code === 'ERR_PASSPHRASE_MISSING') {
      throw new UsageError('ERR_PASSPHRASE_MISSING', `a passphrase is needed to encrypt ${label}`, { hint: PASSPHRASE_HINT });
    }
    throw err;
  }
}

export interface NewKeyPaths {
  privateKeyPath: string;
  publicKeyPath: string;
  journalPath: string;
}

function pathsFor(privateKeyPath: string): NewKeyPaths {
  return { privateKeyPath, publicKeyPath: publicKeyPathFor(privateKeyPath), journalPath: journalPathFor(privateKeyPath) };
}

/** Where new keys go by default: beside the current key of a self-rotation, else the current folder. */
export function defaultKeyDir(ctx: Pick<CommandContext, 'cwd'>, current: LoadedKey | undefined): string {
  return current?.path ? resolve(current.path, '..') : ctx.cwd;
}

/**
 * `--out PATH` (refused if any of its three files exists), else the dated name beside the current key
 * (`rsa_key.p8` → `rsa_key.2026-11-23.p8`), with `-2`, `-3`… when that is taken. An admin rotating
 * another user gets `<user>_rsa_key.<date>.p8` in the current folder.
 */
export function newKeyPaths(
  flags: NewKeyFlags,
  ctx: Pick<CommandContext, 'cwd'>,
  current: LoadedKey | undefined,
  spec: KeySpec,
  targetUser: string,
  nowMs: number,
  /** A folder of sfauth's own (`--store-cmd` without `--out`): `<user>_<type>_key.<date>.p8` there. */
  dir?: string,
): NewKeyPaths {
  if (flags.out) {
    const paths = pathsFor(resolve(ctx.cwd, flags.out));
    for (const p of [paths.privateKeyPath, paths.publicKeyPath, paths.journalPath]) {
      if (existsSync(p)) {
        throw new UsageError('ERR_FILE_EXISTS', `refusing to overwrite ${displayPath(p, ctx.cwd)}`, {
          hint: 'rotate never writes over an existing file; choose another path with --out (or leave --out out for a dated name)',
        });
      }
    }
    if (paths.publicKeyPath === paths.privateKeyPath) {
      throw new UsageError('ERR_USAGE', `--out ${flags.out} leaves no separate name for the public key`, { hint: 'give the private key an extension, e.g. .p8' });
    }
    return paths;
  }
  const base = dir ? join(dir, `${userFileName(targetUser)}_${spec.type}_key.p8`) : (current?.path ?? join(ctx.cwd, `${current ? '' : userFileName(targetUser) + '_'}${spec.type}_key.p8`));
  const date = dateStamp(nowMs);
  for (let n = 1; ; n++) {
    const paths = pathsFor(datedKeyPath(base, date, n, spec.type));
    if (![paths.privateKeyPath, paths.publicKeyPath, paths.journalPath].some((p) => existsSync(p))) return paths;
  }
}

/**
 * Loads the journaled new key back (to verify it) and checks it is the key the journal names.
 * The passphrase: --new-passphrase-file, else the current key's when the journal says so, else a prompt.
 */
export async function loadJournaledKey(
  journal: RotationJournal,
  flags: NewKeyFlags,
  ctx: Pick<CommandContext, 'cwd' | 'prompter' | 'readStdin'>,
  current: LoadedKey | undefined,
): Promise<LoadedKey & { pem: Buffer }> {
  let passphrase: { value: Buffer; origin: string } | undefined;
  if (journal.encrypted) {
    if (flags.newPassphraseFile) passphrase = { value: await readNewPassphraseFile(flags.newPassphraseFile, ctx.cwd), origin: '--new-passphrase-file' };
    else if (journal.passphraseSource === 'current-key' && current?.passphrase) passphrase = { value: current.passphrase, origin: "the current key's passphrase" };
  }
  assertTrustedFile(journal.privateKeyPath, 'the new private key of the unfinished rotation');
  // The bytes read here (no link followed) are the ones checked against the journal and handed over.
  const pem = readOwnFileNoFollow(journal.privateKeyPath, 'the new private key of the unfinished rotation');
  let key: LoadedKey;
  try {
    key = await loadKey({ kind: 'raw', pem: pem.toString('utf8'), origin: displayPath(journal.privateKeyPath, ctx.cwd) }, {
      passphrase,
      prompter: ctx.prompter,
      readStdin: ctx.readStdin,
      requirePrivate: true,
      label: displayPath(journal.privateKeyPath, ctx.cwd),
    });
  } catch (err) {
    if (isSfauthError(err) && (err.code === 'ERR_PASSPHRASE_REQUIRED' || err.code === 'ERR_PASSPHRASE_WRONG')) {
      throw new UsageError(err.code, `${err.message} (the new key of the unfinished rotation)`, {
        hint:
          journal.passphraseSource === 'current-key'
            ? "it was encrypted with the current key's passphrase: give that passphrase (--passphrase-file / PRIVATE_KEY_PASSPHRASE) as in the first run"
            : 'give its passphrase with --new-passphrase-file PATH as in the first run, or run in a terminal to be asked',
      });
    }
    throw err;
  }
  const fingerprint = fingerprintOf(key.publicKey);
  if (fingerprint !== journal.newFingerprint) {
    throw new UsageError('ERR_JOURNAL_MISMATCH', `${displayPath(journal.privateKeyPath, ctx.cwd)} is not the key its rotation journal names`, {
      details: [`journal  ${journal.newFingerprint}`, `file     ${fingerprint}`],
      hint: 'the file was replaced after the rotation began; restore it, or undo the rotation by hand (see sfauth status)',
    });
  }
  return { ...key, path: journal.privateKeyPath, pem };
}
