/**
 * The hand-over of a rotation (src/rotate/hand-over.ts) and the connection edit behind
 * `--update-connection` (src/config/key-path-edit.ts): what the store command gets and does not get,
 * how it is stopped, and an edit that changes one value and nothing else (or refuses).
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { connectionTablePath, withKeyPath } from '../../src/config/key-path-edit.js';
import { runStoreCommand, storeEnvironment, withoutPrivateKeys } from '../../src/rotate/hand-over.js';
import type { RotationJournal } from '../../src/core/rotation-journal.js';
import { isSfauthError } from '../../src/errors.js';

const journal = (target: RotationJournal['target']): RotationJournal => ({
  version: 2,
  kind: 'sfauth-rotate',
  account: 'MYORG-MYACCOUNT',
  targetUser: 'svc_loader',
  targetKey: 'SVC_LOADER',
  loginName: 'SVC_LOADER',
  self: true,
  target,
  oldFingerprint: 'SHA256:' + 'A'.repeat(43) + '=',
  newFingerprint: 'SHA256:' + 'B'.repeat(43) + '=',
  newPublicKey: 'MIIBbody',
  privateKeyPath: '/k/n.p8',
  publicKeyPath: '/k/n.pub',
  keyType: 'rsa',
  encrypted: true,
  passphraseSource: 'current-key',
  authFingerprint: null,
  createdAt: '2026-12-04T00:00:00Z',
  updatedAt: '2026-12-04T00:00:00Z',
  step: 'verified',
});

describe('storeEnvironment', () => {
  it('describes the new key and withholds the current credential and passphrases', () => {
    const env = storeEnvironment(
      {
        PATH: '/bin',
        GH_TOKEN: 'for the store',
        SNOWFLAKE_PRIVATE_KEY_RAW: '-----BEGIN PRIVATE KEY-----',
        PRIVATE_KEY_PASSPHRASE: 'p',
        SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'p',
        SNOWFLAKE_TOKEN: 't',
        SNOWFLAKE_CONNECTIONS_LOADER_PRIVATE_KEY_RAW: 'k',
        SNOWFLAKE_ACCOUNT: 'myorg-myaccount',
        UNSET: undefined,
      },
      journal({ kind: 'slot', newSlot: 2, oldSlot: 1, replacesFingerprint: null }),
      'myorg-myaccount',
    );
    expect(env).toEqual({
      PATH: '/bin',
      GH_TOKEN: 'for the store',
      SNOWFLAKE_ACCOUNT: 'myorg-myaccount',
      SFAUTH_ACCOUNT: 'myorg-myaccount',
      SFAUTH_TARGET_USER: 'svc_loader',
      SFAUTH_NEW_FINGERPRINT: 'SHA256:' + 'B'.repeat(43) + '=',
      SFAUTH_NEW_PUBLIC_KEY: 'MIIBbody',
      SFAUTH_OLD_FINGERPRINT: 'SHA256:' + 'A'.repeat(43) + '=',
      SFAUTH_NEW_KEY_ENCRYPTED: '1',
      SFAUTH_SLOT: '2',
    });
    const named = storeEnvironment({}, journal({ kind: 'pair', name: 'CI_KEY', graceHours: 24, roleRestriction: null }), 'a');
    expect(named.SFAUTH_KEY_PAIR).toBe('CI_KEY');
    expect(named.SFAUTH_SLOT).toBeUndefined();
  });
});

describe('withoutPrivateKeys', () => {
  it('shows a private key block in the store output as one line, and everything else as it is', () => {
    const shown: string[] = [];
    const emit = withoutPrivateKeys((l) => shown.push(l));
    for (const l of ['uploading', '-----BEGIN ENCRYPTED PRIVATE KEY-----', 'MIIFHzBJ', 'abc=', '-----END ENCRYPTED PRIVATE KEY-----', 'done', '-----BEGIN PUBLIC KEY-----']) emit(l);
    expect(shown).toEqual(['uploading', '[a private key, not shown]', 'done', '-----BEGIN PUBLIC KEY-----']);
  });
});

describe('runStoreCommand', () => {
  const base = { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, cwd: '/', now: Date.now };

  it('gives the PEM on stdin, passes its output on line by line, and reports the exit status', async () => {
    const lines: string[] = [];
    const r = await runStoreCommand('wc -c; echo "to stderr" >&2; exit 4', { ...base, pem: Buffer.from('x'.repeat(1234)), timeoutMs: 10_000, onOutput: (l) => lines.push(l) });
    expect(r).toMatchObject({ exitCode: 4, signal: null, timedOut: false });
    expect(lines.map((l) => l.trim()).sort()).toEqual(['1234', 'to stderr']);
  });

  it('stops a command that outlives its time (SIGTERM), and a command that ignores its input is fine', async () => {
    const r = await runStoreCommand('exec sleep 30', { ...base, pem: Buffer.alloc(200_000, 65), timeoutMs: 200, onOutput: () => undefined });
    expect(r).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGTERM' });
  });
});

const CONNECTIONS = [
  '# my connections',
  '[other]',
  'private_key_file = "/keys/other.p8"',
  '',
  '[ "loader" ]   # the loader',
  'account = "myorg-myaccount"',
  "private_key_file = '/keys/old.p8'   # rotated by sfauth",
  'user = "SVC_LOADER"',
  '',
].join('\n');

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isSfauthError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('withKeyPath (--update-connection)', () => {
  it('changes the one line, keeping comments, layout and the other connections', () => {
    const edit = withKeyPath(CONNECTIONS, ['loader'], '/keys/new "2026".p8', 'connections.toml');
    expect(edit).toMatchObject({ key: 'private_key_file', previous: '/keys/old.p8' });
    expect(edit.text).toBe(CONNECTIONS.replace("private_key_file = '/keys/old.p8'   # rotated", 'private_key_file = "/keys/new \\"2026\\".p8"   # rotated'));
    expect((parse(edit.text) as any).loader.private_key_file).toBe('/keys/new "2026".p8');
  });

  it('config.toml [connections.NAME], private_key_path, CRLF line ends', () => {
    expect(connectionTablePath('/h/.snowflake/config.toml', 'loader')).toEqual(['connections', 'loader']);
    expect(connectionTablePath('/h/.snowflake/connections.toml', 'loader')).toEqual(['loader']);
    const text = 'default_connection_name = "loader"\r\n[connections.loader]\r\nprivate_key_path = "C:\\\\keys\\\\old.p8"\r\n[connections.loader.extra]\r\nprivate_key_path = "/x"\r\n';
    const edit = withKeyPath(text, ['connections', 'loader'], 'C:\\keys\\new.p8', 'config.toml');
    expect(edit.key).toBe('private_key_path');
    expect(edit.text).toBe(text.replace('C:\\\\keys\\\\old.p8', 'C:\\\\keys\\\\new.p8'));
  });

  it('refuses what it cannot change exactly (nothing is written then)', () => {
    expect(refusal(() => withKeyPath(CONNECTIONS, ['missing'], '/n.p8', 'c.toml'))).toMatch(/^ERR_CONNECTION_UPDATE: cannot update \[missing\] in c\.toml: there is no such connection/);
    expect(refusal(() => withKeyPath('[loader]\nuser = "x"\n', ['loader'], '/n.p8', 'c.toml'))).toMatch(/has no private_key_file/);
    expect(refusal(() => withKeyPath('loader = { private_key_file = "/o.p8" }\n', ['loader'], '/n.p8', 'c.toml'))).toMatch(/not written as a plain line/);
    expect(refusal(() => withKeyPath('[loader]\nprivate_key_file = """\n/o.p8"""\n', ['loader'], '/n.p8', 'c.toml'))).toMatch(/not a one-line string/);
    expect(refusal(() => withKeyPath('[loader\n', ['loader'], '/n.p8', 'c.toml'))).toMatch(/not valid TOML/);
  });
});
