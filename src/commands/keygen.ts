/**
 * `sfauth keygen`: a new key pair, encrypted PKCS#8 by default, written atomically (private key
 * 0600, never over an existing file without --force), with its fingerprint and the ALTER USER SQL.
 */
import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { fingerprintOf } from '../core/fingerprint.js';
import { generateKeyPair, keySpecFrom, privateKeyPem, type KeySpec } from '../core/generate-key.js';
import { publicKeyBody, publicKeyPem } from '../core/public-key-body.js';
import { parseSlot, setPublicKeySql, type Slot } from '../core/sql.js';
import { addKeyPairSql } from '../core/key-pair-sql.js';
import { namedPairFrom, type KeyPairFlags, type NamedPairSpec } from './key-pair-flags.js';
import { writeNewFiles } from '../io/files.js';
import { passphraseFromInputs } from '../io/load-key.js';
import { displayPath } from '../io/paths.js';
import type { Prompter } from '../ui/prompt.js';

export interface KeygenOptions extends KeyPairFlags {
  type?: string;
  bits?: string;
  curve?: string;
  out?: string;
  pubOut?: string;
  /** commander's `--no-encrypt` gives `encrypt: false`. */
  encrypt?: boolean;
  passphraseFile?: string;
  force?: boolean;
  user?: string;
  slot?: string;
  json?: boolean;
}

export interface KeygenResult {
  privateKeyPath: string;
  publicKeyPath: string;
  type: 'rsa' | 'ec';
  bits?: number;
  curve?: string;
  encrypted: boolean;
  fingerprint: string;
  publicKey: string;
  /** The named key pair the SQL adds (absent: a legacy slot). */
  keyPair?: string;
  sql: string;
  /** EC keys: which drivers can use them. */
  note?: string;
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** `rsa_key.p8` → `rsa_key.pub`; a name without an extension gets `.pub` added. */
export function publicKeyPathFor(privateKeyPath: string): string {
  const ext = extname(privateKeyPath);
  return (ext ? privateKeyPath.slice(0, -ext.length) : privateKeyPath) + '.pub';
}

/** The SQL keygen prints: with `<user>` as a placeholder when no user was named. */
/** The statement that registers the key: a legacy slot, or a named key pair (ADD KEY PAIR). */
export function registrationSql(user: string | undefined, slot: Slot, body: string, pair?: NamedPairSpec): string {
  const sql = (u: string) => (pair ? addKeyPairSql(u, pair.name, body, pair) : setPublicKeySql(u, slot, body));
  if (user) return sql(user) + ';';
  return sql('USER_PLACEHOLDER').replace('USER_PLACEHOLDER', '<user>') + ';';
}

/** An empty passphrase, or one of NUL bytes only, protects nothing (DESIGN.md §2). */
function isEmptyPassphrase(value: Buffer): boolean {
  return value.every((byte) => byte === 0);
}

/**
 * The passphrase for a new key: file/env, else asked on a terminal (twice, to catch a typo; an empty
 * answer or a mismatch is said and asked again, three rounds at most), else a usage error that names
 * the three ways. Empty and NUL-only passphrases are refused.
 */
export async function newKeyPassphrase(
  passphraseFile: string | undefined,
  ctx: Pick<CommandContext, 'env' | 'cwd'> & { prompter: Prompter },
  label: string,
): Promise<Buffer> {
  const given = await passphraseFromInputs(passphraseFile, ctx.env, ctx.cwd);
  if (given) {
    if (isEmptyPassphrase(given.value)) throw emptyPassphrase(given.origin);
    return given.value;
  }
  if (!ctx.prompter.canPrompt) {
    throw new UsageError('ERR_PASSPHRASE_MISSING', `a passphrase is needed to encrypt ${label}`, {
      hint: 'pass --passphrase-file PATH, set PRIVATE_KEY_PASSPHRASE, or run in a terminal to be asked (--no-encrypt writes it unencrypted)',
    });
  }
  // Choosing a passphrase ("New passphrase for …"), not opening a key: a problem is its own line,
  // marked as one, never folded into the next (answered) prompt where it would wear a success mark.
  let problem = '';
  for (let round = 0; round < 3; round++) {
    const first = Buffer.from(await ctx.prompter.secret(`New passphrase for ${label}`, problem || undefined), 'utf8');
    if (isEmptyPassphrase(first)) {
      problem = 'The passphrase cannot be empty; type one (or use --no-encrypt).';
      continue;
    }
    const second = Buffer.from(await ctx.prompter.secret(`Repeat the new passphrase for ${label}`), 'utf8');
    if (first.equals(second)) return first;
    problem = 'The two passphrases did not match; type it again.';
  }
  throw new UsageError('ERR_PASSPHRASE_MISMATCH', problem.startsWith('The passphrase cannot') ? 'no passphrase was given (3 tries)' : 'the passphrases did not match (3 tries)', {
    hint: 'run the command again and type the same passphrase twice (a password manager paste avoids typos)',
  });
}

function emptyPassphrase(origin: string): UsageError {
  return new UsageError('ERR_PASSPHRASE_EMPTY', `the passphrase from ${origin} is empty`, {
    hint: 'an encrypted key needs a non-empty passphrase (a file of NUL bytes is empty too); use --no-encrypt for an unencrypted key',
  });
}

/** DESIGN.md §2: Snowflake accepts EC keys, most of its drivers do not. */
export const EC_DRIVERS_NOTE =
  'Snowflake accepts EC keys, but of the official drivers only the Python connector (4.5 or later) signs with them; the Node.js, Go, JDBC and .NET drivers need an RSA key';

function describeSpec(spec: KeySpec): string {
  return spec.type === 'rsa' ? `RSA ${spec.bits}` : `EC ${spec.curve}`;
}

export async function run(options: KeygenOptions, ctx: CommandContext): Promise<number> {
  const spec = keySpecFrom(options);
  const named = namedPairFrom(options);
  const slot = parseSlot(options.slot);
  const encrypt = options.encrypt !== false;
  if (!encrypt && options.passphraseFile) {
    throw new UsageError('ERR_USAGE', '--no-encrypt and --passphrase-file contradict each other', { hint: 'drop one of them' });
  }
  for (const [flag, value, example] of [['--out', options.out, 'rsa_key.p8'], ['--pub-out', options.pubOut, 'rsa_key.pub']] as const) {
    // An empty value or a trailing slash names a folder, not the key file.
    if (value !== undefined && (value.trim() === '' || /[\\/]$/.test(value))) {
      throw new UsageError('ERR_USAGE', `${flag} '${value}' names no file`, { hint: `give a file path, e.g. ${flag} ${value.trim() === '' ? '' : value}${example}` });
    }
  }
  const privateKeyPath = resolve(ctx.cwd, options.out ?? (spec.type === 'rsa' ? 'rsa_key.p8' : 'ec_key.p8'));
  const publicKeyPath = resolve(ctx.cwd, options.pubOut ?? publicKeyPathFor(privateKeyPath));
  if (publicKeyPath === privateKeyPath) {
    throw new UsageError('ERR_USAGE', '--out and --pub-out name the same file', { hint: 'give the public key another name' });
  }

  // Refuse existing files before asking for a passphrase; writeNewFiles checks again atomically.
  for (const [p, flag, example] of [[privateKeyPath, '--out', 'rsa_key.p8'], [publicKeyPath, '--pub-out', 'rsa_key.pub']] as const) {
    if (isFolder(p)) {
      throw new UsageError('ERR_OUTPUT_UNWRITABLE', `cannot write ${displayPath(p, ctx.cwd)}: it is a folder`, {
        hint: `name a file, e.g. ${flag} ${displayPath(resolve(p, example), ctx.cwd)}`,
      });
    }
    if (!options.force && existsSync(p)) {
      throw new UsageError('ERR_FILE_EXISTS', `refusing to overwrite ${displayPath(p, ctx.cwd)}`, {
        hint: 'pass --force to replace it, or choose another path with --out',
      });
    }
  }

  const passphrase = encrypt ? await newKeyPassphrase(options.passphraseFile, ctx, displayPath(privateKeyPath, ctx.cwd)) : undefined;
  const pair = await generateKeyPair(spec);
  writeNewFiles(
    [
      { path: privateKeyPath, data: privateKeyPem(pair.privateKey, passphrase), mode: 0o600 },
      { path: publicKeyPath, data: publicKeyPem(pair.publicKey), mode: 'umask' },
    ],
    { overwrite: options.force === true },
  );

  const body = publicKeyBody(pair.publicKey);
  const result: KeygenResult = {
    privateKeyPath,
    publicKeyPath,
    type: spec.type,
    ...(spec.type === 'rsa' ? { bits: spec.bits } : { curve: spec.curve }),
    encrypted: encrypt,
    fingerprint: fingerprintOf(pair.publicKey),
    publicKey: body,
    ...(named ? { keyPair: named.name } : {}),
    sql: registrationSql(options.user, slot, body, named),
    ...(spec.type === 'ec' ? { note: EC_DRIVERS_NOTE } : {}),
  };

  const out = ctx.out;
  if (out.json) {
    out.document(result);
    return 0;
  }
  const s = out.style;
  out.success(`wrote private key ${s.bold(displayPath(privateKeyPath, ctx.cwd))} (${describeSpec(spec)}, ${encrypt ? 'encrypted' : s.yellow('not encrypted')}, mode 0600)`);
  out.success(`wrote public key  ${s.bold(displayPath(publicKeyPath, ctx.cwd))}`);
  out.info(`  fingerprint ${result.fingerprint}`);
  if (result.note) out.info(`${s.yellow('note:')} ${result.note}`);
  out.info('');
  out.info(s.dim(`Register the key (as a role with OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on the user):`));
  out.line(result.sql);
  return 0;
}
