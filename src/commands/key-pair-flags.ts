/**
 * The flags that describe a named key pair in keygen, sql and register (DESIGN.md §1):
 * `--key-pair NAME` with `--role-restriction ROLE`, `--expires-in DURATION` (whole days) and
 * `--comment TEXT`; and the checks that keep them from mixing with the legacy `--slot`.
 */
import { UsageError } from '../errors.js';
import { parseDuration } from '../core/duration.js';
import { parseExpiresIn, parseKeyPairName, type AddKeyPairOptions } from '../core/key-pair-sql.js';

export interface KeyPairFlags {
  keyPair?: string;
  roleRestriction?: string;
  expiresIn?: string;
  comment?: string;
  slot?: string;
}

export interface NamedPairSpec extends AddKeyPairOptions {
  name: string;
}

/** The named pair the flags describe, or undefined for the legacy slot; mixing the two is exit 2. */
export function namedPairFrom(flags: KeyPairFlags): NamedPairSpec | undefined {
  const addOnly = (['roleRestriction', 'expiresIn', 'comment'] as const).filter((k) => flags[k] !== undefined);
  if (flags.keyPair === undefined) {
    if (addOnly.length > 0) {
      throw new UsageError('ERR_USAGE', `${addOnly.map(flagName).join(', ')} ${addOnly.length === 1 ? 'needs' : 'need'} --key-pair NAME`, {
        hint: 'role restriction, expiry and comment belong to named key pairs: add --key-pair NAME (legacy slots have none)',
      });
    }
    return undefined;
  }
  if (flags.slot !== undefined) {
    throw new UsageError('ERR_USAGE', '--slot and --key-pair do not go together', {
      hint: '--slot 1|2 is a legacy slot (RSA_PUBLIC_KEY[_2]); --key-pair NAME a named key pair: pick one',
    });
  }
  const name = parseKeyPairName(flags.keyPair);
  const spec: NamedPairSpec = { name };
  if (flags.roleRestriction !== undefined) {
    if (flags.roleRestriction.trim() === '') throw new UsageError('ERR_USAGE', '--role-restriction is empty', { hint: 'name a role granted to the user, or leave it out' });
    spec.roleRestriction = flags.roleRestriction.trim();
  }
  if (flags.expiresIn !== undefined) spec.daysToExpiry = parseExpiresIn(flags.expiresIn, parseDuration);
  if (flags.comment !== undefined) spec.comment = flags.comment;
  return spec;
}

function flagName(key: 'roleRestriction' | 'expiresIn' | 'comment'): string {
  return { roleRestriction: '--role-restriction', expiresIn: '--expires-in', comment: '--comment' }[key];
}
