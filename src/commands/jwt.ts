/**
 * `sfauth jwt`: mint the key-pair JWT that Snowflake accepts (DESIGN.md §3 "Key-pair JWT"). The token
 * alone on stdout (or `--json`); inputs through the shared config layer (flags > env > -c connection).
 * This is a measured fast path (DESIGN.md §6): node:crypto only, nothing heavy imported.
 */
import { homedir } from 'node:os';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { connectionReport, requireValue, resolveConnection, type ConnectionFlags } from '../config/index.js';
import { accountForJwt } from '../core/account.js';
import { fingerprintOf } from '../core/fingerprint.js';
import { JWT_ALGORITHMS, mintJwt, parseLifetime, type JwtAlgorithm } from '../core/jwt.js';
import { loadKey } from '../io/load-key.js';

export interface JwtOptions extends Pick<ConnectionFlags, 'connection' | 'account' | 'user' | 'privateKey' | 'privateKeyFile' | 'privateKeyPath' | 'passphraseFile'> {
  lifetime?: string;
  alg?: string;
  json?: boolean;
}

export async function run(options: JwtOptions, ctx: CommandContext): Promise<number> {
  // Cheap checks first, so a typo fails before any file is read or a passphrase asked for.
  const lifetimeSeconds = parseLifetime(options.lifetime ?? '1h');
  const alg = options.alg === undefined ? undefined : parseAlg(options.alg);

  const conn = await resolveConnection(options, ctx.env, { cwd: ctx.cwd, homeDir: ctx.env.HOME || homedir() });
  for (const w of conn.warnings) ctx.out.warn(w);

  const account = accountForJwt(requireValue(conn, 'account'));
  const user = requireValue(conn, 'user');
  if (!conn.privateKey) {
    throw new UsageError('ERR_MISSING_PRIVATE_KEY', 'missing private key', {
      hint: 'pass --private-key PATH or set SNOWFLAKE_PRIVATE_KEY_FILE (or use -c NAME)',
    });
  }

  const key = await loadKey(conn.privateKey, {
    passphrase: conn.passphrase,
    prompter: ctx.prompter,
    readStdin: ctx.readStdin,
    requirePrivate: true,
      warn: (text) => ctx.out.warn(text),
  });
  const fingerprint = fingerprintOf(key.publicKey);
  const minted = mintJwt({
    account,
    user,
    privateKey: key.privateKey!,
    alg: alg ?? key.alg,
    fingerprint,
    issuedAt: Math.floor(ctx.now() / 1000),
    lifetimeSeconds,
  });

  if (ctx.out.json) {
    ctx.out.document({
      token: minted.token,
      alg: minted.alg,
      iss: minted.iss,
      sub: minted.sub,
      iat: minted.iat,
      exp: minted.exp,
      fingerprint: minted.fingerprint,
      account: minted.account,
      user: minted.user,
      connection: connectionReport(conn),
    });
  } else {
    ctx.out.line(minted.token);
  }
  return 0;
}

/** `--alg`: one of Snowflake's algorithms, any case; whether it fits the key is checked when signing. */
function parseAlg(value: string): JwtAlgorithm {
  const alg = value.trim().toUpperCase();
  if (!(JWT_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new UsageError('ERR_USAGE', `--alg must be RS256, RS384 or RS512 (or an EC key's ES256/ES384/ES512), not '${value}'`, {
      hint: 'leave --alg out to sign RS256 with an RSA key, or with the curve\'s algorithm with an EC key',
    });
  }
  return alg as JwtAlgorithm;
}
