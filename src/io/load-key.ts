/**
 * Loads a key from where the user said it is (file, stdin, or the PEM in an env var), with the
 * passphrase from file/env, or asked for on a terminal (DESIGN.md §1 `--passphrase-file`).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseKey, type ParsedKey } from '../core/parse-key.js';
import { isSfauthError, UsageError } from '../errors.js';
import type { Env } from '../context.js';
import type { Prompter } from '../ui/prompt.js';
import { readInputFile, readPassphraseFile } from './files.js';

export type KeySource =
  | { kind: 'file'; path: string; origin?: string }
  | { kind: 'stdin'; origin?: string }
  | { kind: 'raw'; pem: string; origin: string; original?: string };

/** A passphrase is bytes (DESIGN.md §2): a file's are used as `openssl -passin file:` uses them. */
export interface Passphrase {
  value: Buffer;
  origin: string;
}

export interface LoadedKey extends ParsedKey {
  /** How to name this key to the user: a path, `stdin`, or an env var. */
  label: string;
  /** Absolute path when the key came from a file. */
  path?: string;
  /** The passphrase that opened it (kept in memory only, e.g. for rotate to reuse). */
  passphrase?: Buffer;
}

/** `--passphrase-file`, then PRIVATE_KEY_PASSPHRASE, then SNOWFLAKE_PRIVATE_KEY_PASSPHRASE. */
export async function passphraseFromInputs(passphraseFile: string | undefined, env: Env, cwd: string): Promise<Passphrase | undefined> {
  if (passphraseFile) {
    return { value: await readPassphraseFile(resolve(cwd, passphraseFile), 'passphrase file', '--passphrase-file'), origin: '--passphrase-file' };
  }
  // Set to "" is an (empty) passphrase, not "unset": the Snowflake CLI refuses it for an encrypted key.
  for (const name of ['PRIVATE_KEY_PASSPHRASE', 'SNOWFLAKE_PRIVATE_KEY_PASSPHRASE']) {
    const value = env[name];
    if (value !== undefined) return { value: Buffer.from(value, 'utf8'), origin: name };
  }
  return undefined;
}

/** A key argument as typed: `-` is stdin, anything else a path relative to cwd. */
export function keySourceFromArg(arg: string, cwd: string): KeySource {
  return arg === '-' ? { kind: 'stdin' } : { kind: 'file', path: resolve(cwd, arg) };
}

export interface LoadKeyOptions {
  passphrase?: Passphrase;
  prompter: Prompter;
  readStdin(): Promise<Buffer>;
  /** Refuse public keys (for signing). */
  requirePrivate?: boolean;
  /** Shown instead of the absolute path. */
  label?: string;
  /**
   * Told when a private key file is not encrypted and others may read it (as `ssh` warns about an
   * unprotected key): DESIGN.md §7.
   */
  warn?: (text: string) => void;
}

export async function loadKey(source: KeySource, options: LoadKeyOptions): Promise<LoadedKey> {
  let bytes: Buffer;
  let label: string;
  if (source.kind === 'file') {
    label = options.label ?? source.path;
    bytes = await readInputFile(source.path, 'key file', source.origin);
  } else if (source.kind === 'stdin') {
    label = 'stdin';
    bytes = await options.readStdin();
  } else {
    label = source.origin;
    bytes = Buffer.from(source.pem, 'utf8');
  }

  let passphrase = options.passphrase?.value;
  let parsed: ParsedKey | undefined;
  for (let attempt = 1; !parsed; attempt++) {
    try {
      parsed = parseKey(bytes, label, passphrase);
    } catch (err) {
      const code = isSfauthError(err) ? err.code : undefined;
      const canAsk = options.prompter.canPrompt && !options.passphrase && attempt <= 3;
      if ((code === 'ERR_PASSPHRASE_REQUIRED' || (code === 'ERR_PASSPHRASE_WRONG' && attempt > 1)) && canAsk) {
        // Opening a key ("Passphrase to unlock …"); a wrong one is said on its own line first.
        passphrase = Buffer.from(await options.prompter.secret(`Passphrase to unlock ${label}`, attempt > 1 ? `Wrong passphrase for ${label}; type it again` : undefined), 'utf8');
        continue;
      }
      if (code === 'ERR_PASSPHRASE_WRONG' && !options.passphrase && attempt > 1) {
        // Typed, and wrong each time: the advice is about typing, not about files and variables.
        throw new UsageError('ERR_PASSPHRASE_WRONG', `the passphrase typed did not open ${label} (${attempt - 1} tries)`, {
          hint: 'check the keyboard layout and Caps Lock, or paste it from where it is kept; it is the passphrase the key was encrypted with',
        });
      }
      if (code === 'ERR_PASSPHRASE_WRONG' && passphrase?.length === 0 && options.passphrase) {
        // Not "wrong": nothing was given (an empty --passphrase-file, or an empty passphrase in a config file).
        const fromEnv = /^[A-Z_]+$/.test(options.passphrase.origin);
        throw new UsageError('ERR_PASSPHRASE_EMPTY', `the passphrase from ${options.passphrase.origin} is empty, and ${label} is encrypted`, {
          hint: fromEnv
            ? `${options.passphrase.origin} is set but empty: give it the passphrase, or unset it`
            : 'put the passphrase in it (one trailing newline is fine), or set PRIVATE_KEY_PASSPHRASE',
        });
      }
      throw err;
    }
  }
  if (options.requirePrivate && !parsed.privateKey) {
    throw new UsageError('ERR_KEY_NOT_PRIVATE', `${label} is a public key; a private key is needed to sign`, {
      hint: 'pass the private key (e.g. rsa_key.p8), not the .pub file',
    });
  }
  if (options.warn && source.kind === 'file' && parsed.privateKey && !parsed.encrypted && process.platform !== 'win32') {
    const mode = modeOf(source.path);
    if (mode !== undefined && mode & 0o077) {
      options.warn(`${label} is not encrypted and others can read it (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${label}`);
    }
  }
  return { ...parsed, label, path: source.kind === 'file' ? source.path : undefined, passphrase: parsed.encrypted ? passphrase : undefined };
}

function modeOf(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o777;
  } catch {
    return undefined;
  }
}
