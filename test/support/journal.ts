/**
 * A rotation journal as `sfauth rotate` writes it for user SVC of MYORG-MYACCOUNT, slot 1 → slot 2:
 * coherent (its public key is the one its fingerprint names, its .pub beside its key), for tests that
 * plant one where a crash, or another user, would have left it.
 */
import { createHash, type KeyObject } from 'node:crypto';

export function journalFixture(opts: { oldFingerprint: string; newPublicKey: KeyObject; privateKeyPath: string; createdAt?: string }): Record<string, unknown> {
  const der = opts.newPublicKey.export({ type: 'spki', format: 'der' });
  const at = opts.createdAt ?? new Date().toISOString();
  return {
    version: 1,
    kind: 'sfauth-rotate',
    account: 'MYORG-MYACCOUNT',
    targetUser: 'SVC',
    targetKey: 'SVC',
    loginName: 'SVC',
    self: true,
    newSlot: 2,
    oldSlot: 1,
    oldFingerprint: opts.oldFingerprint,
    newFingerprint: 'SHA256:' + createHash('sha256').update(der).digest('base64'),
    newPublicKey: der.toString('base64'),
    privateKeyPath: opts.privateKeyPath,
    publicKeyPath: opts.privateKeyPath.replace(/\.p8$/, '.pub'),
    keyType: 'rsa',
    bits: 2048,
    encrypted: false,
    passphraseSource: 'none',
    authFingerprint: opts.oldFingerprint,
    createdAt: at,
    updatedAt: at,
    step: 'written',
  };
}
