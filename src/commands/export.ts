/**
 * `sfauth export <key>`: a private key in the form another tool expects (core/key-export.ts):
 * converted to PKCS#8 whatever it was (PKCS#1, SEC1, DER), kept encrypted with its passphrase unless
 * `--decrypt`. A decrypted key never goes to a terminal (`--out`, 0600, or a pipe), and `--out` never
 * replaces a file without `--force`.
 */
import { resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { EXPORT_FORMATS, exportKey, type ExportFormat } from '../core/key-export.js';
import { fingerprintOf } from '../core/fingerprint.js';
import { keySourceFromArg, loadKey, passphraseFromInputs } from '../io/load-key.js';
import { writeNewFiles } from '../io/files.js';
import { displayPath } from '../io/paths.js';
import { isatty } from 'node:tty';

export interface ExportOptions {
  key?: string;
  format?: string;
  decrypt?: boolean;
  out?: string;
  force?: boolean;
  passphraseFile?: string;
  json?: boolean;
}

export async function run(options: ExportOptions, ctx: CommandContext): Promise<number> {
  const format = (options.format ?? 'pem') as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) {
    throw new UsageError('ERR_USAGE', `--format must be one of ${EXPORT_FORMATS.join(', ')}, not '${options.format}'`, { hint: 'pem for files and the connectors, pem-escaped for one-line settings, body for tools that want the base64 alone, env for SNOWFLAKE_PRIVATE_KEY_RAW' });
  }
  if (!options.key) throw new UsageError('ERR_USAGE', 'missing key: sfauth export <key> (or - for stdin)', { hint: 'e.g. sfauth export rsa_key.p8 --format env' });
  if (options.json) throw new UsageError('ERR_USAGE', '--json does not go with export: the key is the output', { hint: 'use --format, and sfauth fingerprint --json for facts about the key' });
  if (options.decrypt && !options.out && isatty(1)) {
    throw new UsageError('ERR_DECRYPT_TO_TERMINAL', 'refusing to print a decrypted private key on a terminal', {
      hint: 'pass --out PATH (written 0600), or pipe it to where it goes: sfauth export KEY --decrypt | …',
    });
  }
  const passphrase = await passphraseFromInputs(options.passphraseFile, ctx.env, ctx.cwd);
  const key = await loadKey(keySourceFromArg(options.key, ctx.cwd), {
    passphrase,
    prompter: ctx.prompter,
    readStdin: ctx.readStdin,
    requirePrivate: true,
    label: options.key === '-' ? 'stdin' : options.key,
  });
  const encrypt = key.encrypted && !options.decrypt;
  if (encrypt && !key.passphrase) throw new UsageError('ERR_PASSPHRASE_REQUIRED', `${key.label} is encrypted and its passphrase is needed to export it`, { hint: 'pass --passphrase-file PATH or set PRIVATE_KEY_PASSPHRASE' });
  const pem = key.privateKey!.export(encrypt ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: key.passphrase! } : { type: 'pkcs8', format: 'pem' }) as string;
  const text = exportKey(pem, format);
  if (options.out) {
    const path = resolve(ctx.cwd, options.out);
    writeNewFiles([{ path, data: text, mode: 0o600 }], { overwrite: options.force === true });
    ctx.out.success(`wrote ${displayPath(path, ctx.cwd)} (${format}, ${encrypt ? 'encrypted' : 'not encrypted'}, mode 0600), ${fingerprintOf(key.publicKey)}`);
  } else {
    ctx.out.data(text);
  }
  return 0;
}
