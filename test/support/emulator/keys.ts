/**
 * Public-key handling of the Snowflake emulator: what `ALTER USER … SET RSA_PUBLIC_KEY='…'` accepts,
 * and the `SHA256:` fingerprint Snowflake shows as `RSA_PUBLIC_KEY_FP`.
 *
 * Independent of `src/`: written against node:crypto only, so the emulator checks the CLI rather than
 * sharing its bugs.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

export interface ParsedPublicKey {
  /** Standard base64 of the DER SubjectPublicKeyInfo, one line, no delimiters. */
  body: string;
  /** `SHA256:` + standard padded base64 of SHA-256 over the SPKI DER. */
  fingerprint: string;
  key: KeyObject;
  kind: 'rsa' | 'ec';
  /** For EC keys: `P-256` | `P-384` | `P-521`. */
  curve?: 'P-256' | 'P-384' | 'P-521';
  /** For RSA keys: modulus length in bits. */
  bits?: number;
}

/** Why a key was refused; `reason` is the text put in Snowflake's "Reason: '…'" message. */
export class KeyRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const CURVES: Record<string, 'P-256' | 'P-384' | 'P-521'> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

export function fingerprintOfDer(der: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(der).digest('base64');
}

function fromKeyObject(key: KeyObject): ParsedPublicKey {
  const der = key.export({ format: 'der', type: 'spki' });
  const base = { body: der.toString('base64'), fingerprint: fingerprintOfDer(der), key };
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new KeyRejected(`RSA key of ${bits} bits is too short; at least 2048 bits are required`);
    return { ...base, kind: 'rsa', bits };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!curve) {
      throw new KeyRejected(`EC curve ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown'} is not supported; use P-256, P-384 or P-521`);
    }
    return { ...base, kind: 'ec', curve };
  }
  throw new KeyRejected(`Key type ${key.asymmetricKeyType ?? 'unknown'} is not supported; use RSA (2048 bits or more) or EC P-256/P-384/P-521`);
}

/**
 * Parse what `ALTER USER … SET RSA_PUBLIC_KEY='…'` was given, as strictly as the emulator wants it:
 * standard base64 of an SPKI DER, no PEM delimiters, no whitespace or newlines.
 */
export function parseAlterKeyBody(value: string): ParsedPublicKey {
  if (value.includes('-----')) throw new KeyRejected('Public key must not include the PEM delimiters (-----BEGIN PUBLIC KEY-----)');
  if (/\s/.test(value)) throw new KeyRejected('Public key must not contain whitespace or newlines');
  if (value.length === 0) throw new KeyRejected('Public key is empty');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw new KeyRejected('Public key is not valid base64');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(value, 'base64'), format: 'der', type: 'spki' });
  } catch {
    throw new KeyRejected('Invalid public key');
  }
  return fromKeyObject(key);
}

/**
 * Lenient parse for the emulator's own set-up API (`addUser`, `setKey`): the base64 SPKI body, or a
 * PEM (`BEGIN PUBLIC KEY`, `BEGIN RSA PUBLIC KEY`, or even a private key, whose public half is used),
 * or a KeyObject.
 */
export function parseSetupKey(input: string | KeyObject): ParsedPublicKey {
  if (typeof input !== 'string') return fromKeyObject(input.type === 'private' ? createPublicKey(input) : input);
  const text = input.trim();
  if (text.includes('-----BEGIN')) return fromKeyObject(createPublicKey(text));
  return parseAlterKeyBody(text.replace(/\s+/g, ''));
}
