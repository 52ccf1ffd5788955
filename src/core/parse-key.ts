/**
 * Reads a key in any format Snowflake users meet (DESIGN.md §2): PKCS#8 (plain or encrypted, any
 * cipher OpenSSL writes), PKCS#1 `RSA PRIVATE KEY` (plain or `Proc-Type: 4,ENCRYPTED`), SEC1
 * `EC PRIVATE KEY`, SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`, DER of each, and the bare base64
 * body that `ALTER USER … SET RSA_PUBLIC_KEY` takes. Pure: bytes in, key objects out.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { UsageError } from '../errors.js';

export type KeyFormat =
  | 'pkcs8'
  | 'pkcs8-encrypted'
  | 'pkcs1'
  | 'pkcs1-encrypted'
  | 'sec1'
  | 'sec1-encrypted'
  | 'spki'
  | 'pkcs1-public';

export type Curve = 'P-256' | 'P-384' | 'P-521';
export type JwtAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512';

export interface ParsedKey {
  /** Present when the input held a private key. */
  privateKey?: KeyObject;
  publicKey: KeyObject;
  type: 'rsa' | 'ec';
  /** RSA modulus length. */
  bits?: number;
  curve?: Curve;
  /** The JWT algorithm Snowflake expects for this key (DESIGN.md §3). */
  alg: JwtAlgorithm;
  format: KeyFormat;
  encoding: 'pem' | 'der' | 'base64';
  encrypted: boolean;
}

const CURVES: Record<string, { curve: Curve; alg: JwtAlgorithm }> = {
  prime256v1: { curve: 'P-256', alg: 'ES256' },
  secp384r1: { curve: 'P-384', alg: 'ES384' },
  secp521r1: { curve: 'P-521', alg: 'ES512' },
};

export const MIN_RSA_BITS = 2048;

const ACCEPTED = 'sfauth accepts RSA keys of 2048 bits or more and EC keys on P-256, P-384 or P-521';

function malformed(source: string, why: string, hint?: string): UsageError {
  return new UsageError('ERR_KEY_MALFORMED', `${source} is not a readable key: ${why}`, {
    hint:
      hint ??
      'expected a PEM key (BEGIN PRIVATE KEY, ENCRYPTED PRIVATE KEY, RSA/EC PRIVATE KEY, PUBLIC KEY, RSA PUBLIC KEY), its DER, or the bare base64 body',
  });
}

/** Thrown when the key is encrypted and no passphrase was given; callers may ask for one and retry. */
export function passphraseRequired(source: string): UsageError {
  return new UsageError('ERR_PASSPHRASE_REQUIRED', `${source} is encrypted and no passphrase was given`, {
    hint: "pass --passphrase-file PATH, set PRIVATE_KEY_PASSPHRASE, put private_key_file_pwd in the connection, or run in a terminal to be asked",
  });
}

function wrongPassphrase(source: string): UsageError {
  return new UsageError('ERR_PASSPHRASE_WRONG', `cannot decrypt ${source}: wrong passphrase`, {
    hint: 'check the passphrase in --passphrase-file, PRIVATE_KEY_PASSPHRASE or SNOWFLAKE_PRIVATE_KEY_PASSPHRASE',
  });
}

interface PemBlock {
  label: string;
  headers: string;
  body: Buffer;
  text: string;
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/** The key block of a PEM text, skipping `EC PARAMETERS` that `openssl ecparam -genkey` puts first. */
function findPemBlock(text: string, source: string): PemBlock | undefined {
  if (!text.includes('-----BEGIN ')) return undefined;
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    const label = m[1]!;
    const inner = m[2]!;
    const split = inner.search(/\r?\n\r?\n/);
    const hasHeaders = /^[A-Za-z-]+:/.test(inner) && split >= 0;
    const headers = hasHeaders ? inner.slice(0, split) : '';
    const b64 = (hasHeaders ? inner.slice(split) : inner).replace(/\s+/g, '');
    if (!BASE64_RE.test(b64) || b64.length % 4 !== 0) {
      throw malformed(source, `the ${label} block's base64 body is corrupted`);
    }
    blocks.push({ label, headers, body: Buffer.from(b64, 'base64'), text: m[0] });
  }
  if (blocks.length === 0) throw malformed(source, 'the PEM block is incomplete (no matching END line)');
  return blocks.find((b) => b.label !== 'EC PARAMETERS') ?? blocks[0];
}

/**
 * A DER element must span the buffer exactly: catches truncated and padded files before OpenSSL
 * produces a cryptic message.
 */
function derSpansBuffer(der: Buffer): boolean {
  if (der.length < 2 || der[0] !== 0x30) return false;
  let len = der[1]!;
  let offset = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || der.length < 2 + n) return false;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[2 + i]!;
    offset = 2 + n;
  }
  return offset + len === der.length;
}

function describe(key: KeyObject, source: string): Pick<ParsedKey, 'type' | 'bits' | 'curve' | 'alg'> {
  const kind = key.asymmetricKeyType;
  if (kind === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) {
      throw new UsageError('ERR_KEY_UNSUPPORTED', `${source} is a ${bits}-bit RSA key; Snowflake needs at least ${MIN_RSA_BITS} bits`, {
        hint: 'make a new key with: sfauth keygen --bits 2048 (or 3072, 4096)',
      });
    }
    return { type: 'rsa', bits, alg: 'RS256' };
  }
  if (kind === 'ec') {
    const named = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
    const c = CURVES[named];
    if (!c) {
      throw new UsageError('ERR_KEY_UNSUPPORTED', `${source} is an EC key on curve ${named}, which is not supported`, {
        hint: `${ACCEPTED}; make one with: sfauth keygen --type ec --curve P-256`,
      });
    }
    return { type: 'ec', curve: c.curve, alg: c.alg };
  }
  throw new UsageError('ERR_KEY_UNSUPPORTED', `${source} is ${article(kind)} key, which Snowflake key-pair authentication does not accept`, {
    hint: `${ACCEPTED}; make one with: sfauth keygen`,
  });
}

const KEY_TYPE_NAMES: Record<string, string> = { ed25519: 'Ed25519', ed448: 'Ed448', x25519: 'X25519', x448: 'X448', dsa: 'DSA', dh: 'DH', 'rsa-pss': 'RSA-PSS' };

function article(kind: string | undefined): string {
  const name = KEY_TYPE_NAMES[kind ?? ''] ?? (kind ?? 'unknown').toUpperCase();
  return /^[AEIOUX]|^Ed/.test(name) ? `an ${name}` : `a ${name}`;
}

function finish(
  source: string,
  encoding: ParsedKey['encoding'],
  format: KeyFormat,
  privateKey: KeyObject | undefined,
  publicKey: KeyObject,
): ParsedKey {
  const info = describe(publicKey, source);
  return { ...info, privateKey, publicKey, format, encoding, encrypted: format.endsWith('-encrypted') };
}

function fromPem(block: PemBlock, source: string, passphrase: Buffer | string | undefined): ParsedKey {
  const encryptedPkcs1 = /Proc-Type:\s*4,ENCRYPTED/i.test(block.headers);
  switch (block.label) {
    case 'PUBLIC KEY':
    case 'RSA PUBLIC KEY': {
      // Public keys are never encrypted. Headers must not reach OpenSSL either: with a `Proc-Type`
      // header its PEM reader falls back to its own "Enter PEM pass phrase:" prompt on the terminal
      // (or blocks reading stdin), so the DER is handed over alone.
      if (block.headers !== '') throw malformed(source, `the ${block.label} block carries headers (${firstHeader(block.headers)}), but public keys are never encrypted`);
      if (!derSpansBuffer(block.body)) throw malformed(source, 'the key data is truncated or corrupted');
      const publicKey = tryKey(
        () => createPublicKey({ key: block.body, format: 'der', type: block.label === 'PUBLIC KEY' ? 'spki' : 'pkcs1' }),
        source,
      );
      return finish(source, 'pem', block.label === 'PUBLIC KEY' ? 'spki' : 'pkcs1-public', undefined, publicKey);
    }
    case 'PRIVATE KEY':
    case 'ENCRYPTED PRIVATE KEY':
    case 'RSA PRIVATE KEY':
    case 'EC PRIVATE KEY': {
      // A Proc-Type encrypted body is ciphertext, not DER.
      if (!encryptedPkcs1 && !derSpansBuffer(block.body)) throw malformed(source, 'the key data is truncated or corrupted');
      const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || encryptedPkcs1;
      const format: KeyFormat =
        block.label === 'RSA PRIVATE KEY'
          ? encrypted ? 'pkcs1-encrypted' : 'pkcs1'
          : block.label === 'EC PRIVATE KEY'
            ? encrypted ? 'sec1-encrypted' : 'sec1'
            : encrypted ? 'pkcs8-encrypted' : 'pkcs8';
      if (encrypted && passphrase === undefined) throw passphraseRequired(source);
      let privateKey: KeyObject;
      try {
        privateKey = createPrivateKey({ key: block.text, format: 'pem', ...(encrypted ? { passphrase } : {}) });
      } catch {
        // The structure was checked above, so a failure to open an encrypted key is the passphrase.
        if (encrypted) throw wrongPassphrase(source);
        throw malformed(source, 'the key data is corrupted');
      }
      return finish(source, 'pem', format, privateKey, createPublicKey(privateKey));
    }
    case 'OPENSSH PRIVATE KEY':
      throw new UsageError('ERR_KEY_UNSUPPORTED', `${source} is an OpenSSH key, not a PEM key Snowflake can use`, {
        hint: `convert it with 'ssh-keygen -p -m PKCS8 -f FILE', or make a new one with: sfauth keygen`,
      });
    case 'DSA PRIVATE KEY':
      throw new UsageError('ERR_KEY_UNSUPPORTED', `${source} is a DSA key, which Snowflake key-pair authentication does not accept`, {
        hint: `${ACCEPTED}; make one with: sfauth keygen`,
      });
    case 'CERTIFICATE':
      throw malformed(source, 'it holds a certificate, not a key', "extract the public key with 'openssl x509 -pubkey -noout -in FILE'");
    default:
      throw malformed(source, `unexpected PEM block '${block.label}'`);
  }
}

/** The name of the first PEM header (`Proc-Type`), never its value. */
function firstHeader(headers: string): string {
  return headers.split(/\r?\n/)[0]!.split(':')[0]!.trim();
}

function tryKey(make: () => KeyObject, source: string): KeyObject {
  try {
    return make();
  } catch {
    throw malformed(source, 'the key data is corrupted');
  }
}

function attempt<T>(make: () => T): T | undefined {
  try {
    return make();
  } catch {
    return undefined;
  }
}

function fromDer(der: Buffer, source: string, passphrase: Buffer | string | undefined, encoding: 'der' | 'base64'): ParsedKey {
  if (!derSpansBuffer(der)) throw malformed(source, 'the key data is truncated or corrupted');
  // Private forms first: OpenSSL derives a public key from a private DER if asked for 'pkcs1' public.
  for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
    try {
      const privateKey = createPrivateKey({ key: der, format: 'der', type });
      return finish(source, encoding, type, privateKey, createPublicKey(privateKey));
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_MISSING_PASSPHRASE') {
        if (passphrase === undefined) throw passphraseRequired(source);
        let privateKey: KeyObject;
        try {
          privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8', passphrase });
        } catch {
          throw wrongPassphrase(source);
        }
        return finish(source, encoding, 'pkcs8-encrypted', privateKey, createPublicKey(privateKey));
      }
    }
  }
  for (const type of ['spki', 'pkcs1'] as const) {
    const publicKey = attempt(() => createPublicKey({ key: der, format: 'der', type }));
    if (publicKey) return finish(source, encoding, type === 'spki' ? 'spki' : 'pkcs1-public', undefined, publicKey);
  }
  throw malformed(source, 'the data is neither a PEM key nor a DER key');
}

/**
 * Parses key bytes. `source` names the input in messages (a path, `stdin`, an env var).
 * Throws `ERR_PASSPHRASE_REQUIRED` for an encrypted key without a passphrase so the caller can ask.
 */
export function parseKey(input: Uint8Array | string, source: string, passphrase?: Buffer | string): ParsedKey {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input);
  if (bytes.length === 0 || bytes.toString('latin1').trim() === '') {
    throw new UsageError('ERR_KEY_EMPTY', `${source} is empty`, { hint: 'point at the key file sfauth keygen wrote (e.g. rsa_key.p8)' });
  }
  const looksBinary = bytes[0] === 0x30 && bytes.subarray(0, 64).some((b) => b < 0x09 || b > 0x7e);
  if (looksBinary) return fromDer(bytes, source, passphrase, 'der');

  const text = bytes.toString('utf8');
  const block = findPemBlock(text, source);
  if (block) return fromPem(block, source, passphrase);

  const compact = text.replace(/\s+/g, '');
  if (BASE64_RE.test(compact) && compact.length % 4 === 0 && compact.length >= 40) {
    return fromDer(Buffer.from(compact, 'base64'), source, passphrase, 'base64');
  }
  if (text.includes('-----BEGIN')) throw malformed(source, 'the PEM block is incomplete');
  throw malformed(source, 'no PEM block, DER structure or base64 key body found');
}
