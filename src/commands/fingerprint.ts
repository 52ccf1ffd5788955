/**
 * `sfauth fingerprint <key>...`: the `SHA256:` fingerprint of any private or public key, as
 * Snowflake's RSA_PUBLIC_KEY_FP shows it; `--expect` turns it into a check (exit 1 on mismatch).
 */
import type { CommandContext } from '../context.js';
import { CheckFailedError, UsageError } from '../errors.js';
import { fingerprintOf, normalizeFingerprint } from '../core/fingerprint.js';
import { keySourceFromArg, loadKey, passphraseFromInputs } from '../io/load-key.js';

export interface FingerprintOptions {
  keys: string[];
  expect?: string;
  passphraseFile?: string;
  json?: boolean;
}

export interface KeyFingerprint {
  key: string;
  fingerprint: string;
  type: 'rsa' | 'ec';
  bits?: number;
  curve?: string;
  format: string;
  match?: boolean;
}

export async function run(options: FingerprintOptions, ctx: CommandContext): Promise<number> {
  const keys = options.keys ?? [];
  if (keys.filter((k) => k === '-').length > 1) {
    throw new UsageError('ERR_USAGE', "stdin ('-') can be read only once", { hint: 'pass the other keys as files' });
  }
  const expected = options.expect !== undefined ? normalizeFingerprint(options.expect) : undefined;
  if (expected !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}=$/.test(expected)) {
    throw new UsageError('ERR_USAGE', `--expect '${options.expect}' is not a SHA256 fingerprint`, {
      hint: 'expected SHA256: followed by 44 base64 characters, as `sfauth fingerprint` or DESC USER prints it',
    });
  }
  const passphrase = await passphraseFromInputs(options.passphraseFile, ctx.env, ctx.cwd);

  const results: KeyFingerprint[] = [];
  for (const arg of keys) {
    const key = await loadKey(keySourceFromArg(arg, ctx.cwd), {
      passphrase,
      prompter: ctx.prompter,
      readStdin: ctx.readStdin,
      label: arg === '-' ? 'stdin' : arg,
    });
    const fingerprint = fingerprintOf(key.publicKey);
    results.push({
      key: arg,
      fingerprint,
      type: key.type,
      ...(key.bits ? { bits: key.bits } : {}),
      ...(key.curve ? { curve: key.curve } : {}),
      format: key.format,
      ...(expected !== undefined ? { match: fingerprint === expected } : {}),
    });
  }

  const mismatches = results.filter((r) => r.match === false);
  if (ctx.out.json) {
    ctx.out.document({ fingerprints: results, ...(expected ? { expect: expected, match: mismatches.length === 0 } : {}) });
  } else if (results.length === 1) {
    ctx.out.line(results[0]!.fingerprint);
  } else {
    for (const r of results) ctx.out.line(`${r.fingerprint} ${r.key}`);
  }

  if (mismatches.length > 0) {
    const first = mismatches[0]!;
    throw new CheckFailedError(
      'ERR_FINGERPRINT_MISMATCH',
      mismatches.length === 1 ? `fingerprint mismatch for ${first.key}` : `${mismatches.length} keys do not match the expected fingerprint`,
      {
        details: [`expected ${expected}`, ...mismatches.map((m) => `actual   ${m.fingerprint}${results.length > 1 ? `  ${m.key}` : ''}`)],
        hint: 'this is not the key you expected; compare with DESC USER (RSA_PUBLIC_KEY_FP / RSA_PUBLIC_KEY_2_FP)',
      },
    );
  }
  return 0;
}
