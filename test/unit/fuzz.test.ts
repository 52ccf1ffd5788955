/**
 * Fuzz / property tests for the two parsers that take untrusted input: the key loader (`parseKey`)
 * and the JWT decoder (`decodeJwt`, plus the checks `sfauth inspect` runs on what it decodes).
 * Thousands of mutated PEM / DER / base64 / token inputs; the only outcomes allowed are a parsed
 * key or token, or an SfauthError (exit 2, a known code, a hint, no secret in it): never another
 * exception, never a hang.
 *
 * Reproducible: one seeded PRNG drives every mutation (FUZZ_SEED=<n> to try another seed). A failure
 * names the seed, the iteration, the mutation and the input (base64), so it can be replayed even
 * though the keys themselves are generated afresh on each run.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseKey, type ParsedKey } from '../../src/core/parse-key.js';
import { checkJwt, checkJwtKey, decodeJwt, mintJwt, type DecodedJwt } from '../../src/core/jwt.js';
import { isSfauthError, type SfauthError } from '../../src/errors.js';
import { BASE64_ALPHABET, BASE64URL_ALPHABET, Rng, mutateBytes, mutateText, type Mutant } from '../support/fuzz.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5fa07);
const KEY_ITERATIONS = 6000;
const TOKEN_ITERATIONS = 10000;
/** One input may never take this long (catastrophic regex backtracking, a decoder loop…). */
const SLOW_MS = 1500;
const PASSPHRASE = 'fuzz-SECRET-pass-9c1e';

const KEY_CODES = new Set(['ERR_KEY_EMPTY', 'ERR_KEY_MALFORMED', 'ERR_KEY_UNSUPPORTED', 'ERR_PASSPHRASE_REQUIRED', 'ERR_PASSPHRASE_WRONG']);

interface Seed {
  name: string;
  bytes: Buffer;
  encrypted: boolean;
}

const LABELS = [
  'PRIVATE KEY',
  'ENCRYPTED PRIVATE KEY',
  'RSA PRIVATE KEY',
  'EC PRIVATE KEY',
  'PUBLIC KEY',
  'RSA PUBLIC KEY',
  'EC PARAMETERS',
  'DSA PRIVATE KEY',
  'OPENSSH PRIVATE KEY',
  'CERTIFICATE',
  'X',
  '',
];

const seeds: Seed[] = [];
let rsa: { privateKey: KeyObject; publicKey: KeyObject };
let ec: { privateKey: KeyObject; publicKey: KeyObject };
const tokens: { token: string; key: KeyObject }[] = [];

function pemOf(label: string, der: Buffer, width = 64, headers = ''): string {
  const b64 = der.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += width) lines.push(b64.slice(i, i + width));
  return `-----BEGIN ${label}-----\n${headers}${lines.join('\n')}\n-----END ${label}-----\n`;
}

function pemParts(text: string): { label: string; headers: string; body: string } | undefined {
  const m = /-----BEGIN ([^-]*)-----\r?\n([\s\S]*?)-----END [^-]*-----/.exec(text);
  if (!m) return undefined;
  const inner = m[2]!;
  const split = inner.search(/\n\n/);
  const hasHeaders = /^[A-Za-z-]+:/.test(inner) && split >= 0;
  return { label: m[1]!, headers: hasHeaders ? inner.slice(0, split + 2) : '', body: (hasHeaders ? inner.slice(split + 2) : inner).replace(/\s+/g, '') };
}

beforeAll(() => {
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const ec521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const ed = generateKeyPairSync('ed25519');
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const add = (name: string, data: string | Buffer, encrypted = false) =>
    seeds.push({ name, bytes: typeof data === 'string' ? Buffer.from(data) : data, encrypted });
  const enc = { cipher: 'aes-256-cbc', passphrase: PASSPHRASE } as const;

  for (const [tag, pair] of [['rsa', rsa], ['p256', ec], ['p384', ec384], ['p521', ec521]] as const) {
    const { privateKey: priv, publicKey: pub } = pair;
    add(`${tag} pkcs8 pem`, priv.export({ type: 'pkcs8', format: 'pem' }));
    add(`${tag} pkcs8 encrypted pem`, priv.export({ type: 'pkcs8', format: 'pem', ...enc }), true);
    add(`${tag} pkcs8 der`, priv.export({ type: 'pkcs8', format: 'der' }));
    add(`${tag} pkcs8 encrypted der`, priv.export({ type: 'pkcs8', format: 'der', ...enc }), true);
    add(`${tag} spki pem`, pub.export({ type: 'spki', format: 'pem' }));
    add(`${tag} spki der`, pub.export({ type: 'spki', format: 'der' }));
    add(`${tag} base64 body`, pub.export({ type: 'spki', format: 'der' }).toString('base64'));
    if (tag === 'rsa') {
      add('rsa pkcs1 pem', priv.export({ type: 'pkcs1', format: 'pem' }));
      add('rsa pkcs1 encrypted pem', priv.export({ type: 'pkcs1', format: 'pem', ...enc }), true);
      add('rsa pkcs1 der', priv.export({ type: 'pkcs1', format: 'der' }));
      add('rsa pkcs1 public pem', pub.export({ type: 'pkcs1', format: 'pem' }));
      add('rsa pkcs1 public der', pub.export({ type: 'pkcs1', format: 'der' }));
    } else {
      add(`${tag} sec1 pem`, priv.export({ type: 'sec1', format: 'pem' }));
      add(`${tag} sec1 encrypted pem`, priv.export({ type: 'sec1', format: 'pem', ...enc }), true);
      add(`${tag} sec1 der`, priv.export({ type: 'sec1', format: 'der' }));
    }
  }
  // Keys sfauth refuses: they must be refused cleanly after mutation too.
  add('ed25519 pkcs8 pem', ed.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  add('ed25519 spki pem', ed.publicKey.export({ type: 'spki', format: 'pem' }));
  add('secp256k1 pkcs8 pem', k1.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  add('rsa1024 pkcs8 pem', rsa1024.privateKey.export({ type: 'pkcs8', format: 'pem' }));

  const now = Math.floor(Date.now() / 1000);
  for (const pair of [rsa, ec, ec384, ec521]) {
    const { token } = mintJwt({ account: 'myorg-myaccount', user: 'svc_fuzz', privateKey: pair.privateKey, issuedAt: now, lifetimeSeconds: 600 });
    tokens.push({ token, key: pair.publicKey });
  }
});

// ---------------------------------------------------------------------------------------------
// Key loader

/** A mutant of a seed: byte-level, text-level, or PEM-aware. */
function mutateKey(rng: Rng, seed: Seed): Mutant<Buffer> {
  const text = seed.bytes.toString('latin1');
  const parts = text.startsWith('-----BEGIN ') ? pemParts(text) : undefined;
  if (rng.chance(0.01)) {
    const blank = rng.pick(['', '\n', ' \r\n\t ', '\n\n\n']);
    return { value: Buffer.from(blank), how: `blank ${JSON.stringify(blank)}` };
  }
  const choice = rng.int(parts ? 10 : 4);
  if (choice === 0) return mutateBytes(rng, seed.bytes);
  if (choice === 1) {
    const m = mutateText(rng, text);
    return { value: Buffer.from(m.value, 'latin1'), how: m.how };
  }
  if (choice === 2) {
    // Random base64 of a plausible length, bare or wrapped in a PEM block.
    const body = rng.chars(rng.int(3) === 0 ? rng.range(1, 60) : 4 * rng.range(10, 500), BASE64_ALPHABET);
    const wrapped = rng.chance(0.5) ? pemOf(rng.pick(LABELS), Buffer.from(body, 'base64')) : body;
    return { value: Buffer.from(wrapped), how: 'random base64' };
  }
  if (choice === 3) {
    // The DER underneath, mutated: structure-level damage that gets past the base64 checks.
    const der = parts ? Buffer.from(parts.body, 'base64') : /^[A-Za-z0-9+/=\s]+$/.test(text) ? Buffer.from(text, 'base64') : seed.bytes;
    const m = mutateBytes(rng, der);
    const out = parts ? pemOf(parts.label, m.value, 64, parts.headers) : rng.chance(0.5) ? m.value.toString('base64') : m.value;
    return { value: Buffer.from(out), how: `DER ${m.how}` };
  }
  const p = parts!;
  const der = Buffer.from(p.body, 'base64');
  switch (choice) {
    case 4: {
      const label = rng.pick(LABELS);
      return { value: Buffer.from(pemOf(label, der, 64, p.headers)), how: `label ${p.label} → ${label}` };
    }
    case 5: {
      const label = rng.pick(LABELS);
      const swapped = text.replace(/-----END [^-]*-----/, `-----END ${label}-----`);
      return { value: Buffer.from(swapped), how: `END label → ${label}` };
    }
    case 6: {
      const headers = rng.pick([
        '',
        'Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n',
        'Proc-Type: 4,ENCRYPTED\nDEK-Info: DES-EDE3-CBC,0011\n\n',
        'Proc-Type: 4,ENCRYPTED\nDEK-Info: NO-SUCH-CIPHER,0011223344556677\n\n',
        'Proc-Type: 4,ENCRYPTED\n\n',
        'Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,zz\n\n',
        'Comment: hello\n\n',
        'Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC\n\n',
      ]);
      return { value: Buffer.from(pemOf(p.label, der, 64, headers)), how: `headers → ${JSON.stringify(headers)}` };
    }
    case 7: {
      const width = rng.pick([1, 4, 63, 65, 76, 100000]);
      return { value: Buffer.from(pemOf(p.label, der, width, p.headers)), how: `wrap at ${width}` };
    }
    case 8: {
      const m = mutateText(rng, p.body, BASE64_ALPHABET + '=-_!*. \n');
      const lines = m.value.match(/[\s\S]{1,64}/g) ?? [];
      return { value: Buffer.from(`-----BEGIN ${p.label}-----\n${p.headers}${lines.join('\n')}\n-----END ${p.label}-----\n`), how: `body ${m.how}` };
    }
    default: {
      const other = pemOf(rng.pick(LABELS), rng.bytes(rng.range(0, 200)));
      return rng.chance(0.5)
        ? { value: Buffer.from(other + text), how: 'another block first' }
        : { value: Buffer.from(text + other), how: 'another block after' };
    }
  }
}

function describeFailure(what: string, iteration: number, how: string, input: Buffer | string, err: unknown): string {
  const data = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const shown = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return `seed ${SEED} iteration ${iteration} ${what} (${how}) → ${shown}\ninput (base64): ${data.toString('base64')}`;
}

describe('parseKey fuzz', () => {
  it(`${KEY_ITERATIONS} mutated keys: a parsed key or an SfauthError, never another exception`, () => {
    const rng = new Rng(SEED);
    const failures: string[] = [];
    const outcomes = { parsed: 0, refused: 0 };
    const codes = new Map<string, number>();
    let slowest = 0;
    for (let i = 0; i < KEY_ITERATIONS && failures.length < 5; i++) {
      const seed = rng.pick(seeds);
      const mutant = i < seeds.length ? { value: seeds[i]!.bytes, how: 'unmutated' } : mutateKey(rng, seed);
      const base = i < seeds.length ? seeds[i]! : seed;
      const passphrase = base.encrypted ? rng.pick([PASSPHRASE, PASSPHRASE, 'wrong', '', undefined]) : rng.pick([undefined, undefined, PASSPHRASE]);
      const how = `${base.name}: ${mutant.how}, passphrase ${passphrase === PASSPHRASE ? 'right' : JSON.stringify(passphrase)}`;
      const started = performance.now();
      let result: ParsedKey | undefined;
      try {
        result = parseKey(mutant.value, 'fuzz.key', passphrase);
      } catch (err) {
        if (!isSfauthError(err)) {
          failures.push(describeFailure('threw a non-SfauthError', i, how, mutant.value, err));
          continue;
        }
        const e = err as SfauthError;
        if (e.exitCode !== 2 || !KEY_CODES.has(e.code) || !e.hint || e.message.includes(PASSPHRASE) || e.message.length > 400) {
          failures.push(describeFailure(`gave a bad SfauthError ${e.code}/${e.exitCode}`, i, how, mutant.value, err));
        }
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
        outcomes.refused++;
      }
      const ms = performance.now() - started;
      slowest = Math.max(slowest, ms);
      if (ms > SLOW_MS) failures.push(describeFailure(`took ${Math.round(ms)} ms`, i, how, mutant.value, 'slow'));
      if (result) {
        outcomes.parsed++;
        const ok =
          result.publicKey.type === 'public' &&
          (result.privateKey === undefined || result.privateKey.type === 'private') &&
          (result.type === 'rsa' ? result.alg === 'RS256' && (result.bits ?? 0) >= 2048 : /^ES(256|384|512)$/.test(result.alg));
        if (!ok) failures.push(describeFailure('returned an inconsistent key', i, how, mutant.value, JSON.stringify({ ...result, privateKey: undefined, publicKey: undefined })));
      }
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
    // The corpus reaches every refusal, and still parses some mutants (line endings, wrapping…).
    expect([...codes.keys()].sort()).toEqual([...KEY_CODES].sort());
    expect(outcomes.parsed).toBeGreaterThan(seeds.length);
    expect(outcomes.refused).toBeGreaterThan(KEY_ITERATIONS / 2);
    expect(slowest).toBeLessThan(SLOW_MS);
  });

  it('the unmutated seeds all parse, with the passphrase where they need one', () => {
    for (const seed of seeds.filter((s) => !/ed25519|secp256k1|rsa1024/.test(s.name))) {
      const key = parseKey(seed.bytes, seed.name, seed.encrypted ? PASSPHRASE : undefined);
      expect(key.encrypted, seed.name).toBe(seed.encrypted);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// JWT decoder

const b64u = (s: string | Buffer) => Buffer.from(s).toString('base64url');

const ODD_JSON = [
  'null',
  '[]',
  '1',
  '"x"',
  'true',
  '{}',
  '{"alg":{}}',
  '{"alg":null,"typ":1}',
  '{"alg":"RS256","typ":"JWT","crit":["x"]}',
  '{"iat":"1700000000","exp":[]}',
  '{"iat":1e309,"exp":-1e309}',
  '{"iat":1.5,"exp":1e400}',
  '{"iat":-1,"exp":0}',
  '{"iat":9007199254740993,"exp":9007199254740994}',
  '{"iss":{"toString":1},"sub":[1,2]}',
  '{"iss":"A.B.SHA256:","sub":"A.B"}',
  '{"iss":".SHA256:x","sub":"."}',
  '{"iss":"a.b.sha256:abc","sub":"a.b"}',
  '{"__proto__":{"iat":1},"constructor":{"prototype":{}}}',
  '{"iss":"\\u0000\\u001b[31m\\u202e","sub":"\\ud800"}',
  '{"alg":"none","typ":"JWT"}',
  '{"alg":"HS256","typ":"JWT"}',
  '{"alg":"ES256","typ":"JWT"}',
  '{"alg":"RS256","typ":"JWT","kid":"' + 'k'.repeat(5000) + '"}',
  '[' .repeat(2000) + ']'.repeat(2000),
  '{"a":' .repeat(500) + '1' + '}'.repeat(500),
  '{"iat":1700000000,"exp":1700003600,"iss":"MYORG.U.SHA256:' + 'A'.repeat(43) + '=","sub":"MYORG.U"}',
  '{',
  '{"a":1,}',
  '\ufeff{}',
];

function mutateToken(rng: Rng, token: string): Mutant<unknown> {
  const parts = token.split('.');
  switch (rng.int(10)) {
    case 0:
    case 1: {
      const m = mutateText(rng, token, BASE64URL_ALPHABET + '.=+/ \n\t\u00e9\u202e\u0000');
      return m;
    }
    case 2: {
      const i = rng.int(3);
      const json = Buffer.from(parts[i]!, 'base64url').toString('utf8');
      const m = mutateText(rng, json, '{}[]":,0123456789.eE-+ntrufalse\\u');
      parts[i] = b64u(m.value);
      return { value: parts.join('.'), how: `segment ${i} JSON ${m.how}` };
    }
    case 3: {
      const i = rng.int(2);
      const json = rng.pick(ODD_JSON);
      parts[i] = b64u(json);
      return { value: parts.join('.'), how: `segment ${i} = ${json.slice(0, 40)}` };
    }
    case 4: {
      const i = rng.int(3);
      parts[i] = rng.chars(rng.int(200), rng.chance(0.8) ? BASE64URL_ALPHABET : BASE64_ALPHABET + '=');
      return { value: parts.join('.'), how: `segment ${i} random` };
    }
    case 5: {
      const op = rng.int(4);
      const out = op === 0 ? parts.slice(0, rng.int(3)) : op === 1 ? [...parts, ...parts.slice(0, rng.range(1, 3))] : op === 2 ? [parts[1]!, parts[0]!, parts[2]!] : [parts[0]!, parts[1]!, '', '', ''];
      return { value: out.join('.'), how: `segments op ${op}` };
    }
    case 6: {
      const i = rng.int(3);
      const m = mutateBytes(rng, Buffer.from(parts[i]!, 'base64url'));
      parts[i] = b64u(m.value);
      return { value: parts.join('.'), how: `segment ${i} bytes ${m.how}` };
    }
    case 7: {
      const prefix = rng.pick(['Bearer ', 'bearer\t', 'BEARER', 'Bearer Bearer ', ' \n', 'Authorization: Bearer ', '"']);
      const suffix = rng.pick(['', '\n', '\r\n', '"', ' ', '.']);
      return { value: prefix + token + suffix, how: `wrapped ${JSON.stringify(prefix)}…${JSON.stringify(suffix)}` };
    }
    case 8:
      return { value: rng.bytes(rng.int(300)).toString('latin1'), how: 'random bytes' };
    default:
      return {
        value: rng.pick<unknown>([undefined, null, 42, {}, [], ['a.b.c'], { toString: () => token }, Symbol('t'), 10n]),
        how: 'not a string',
      };
  }
}

describe('decodeJwt fuzz', () => {
  it(`${TOKEN_ITERATIONS} mutated tokens: a decoded token or ERR_TOKEN_MALFORMED, and the checks never throw`, () => {
    const rng = new Rng(SEED ^ 0x1f2e3d);
    const failures: string[] = [];
    let decodedCount = 0;
    let refused = 0;
    let slowest = 0;
    const now = Date.now() / 1000;
    for (let i = 0; i < TOKEN_ITERATIONS && failures.length < 5; i++) {
      const { token, key } = rng.pick(tokens);
      const mutant = mutateToken(rng, token);
      const shown = typeof mutant.value === 'string' ? mutant.value : String(typeof mutant.value);
      const started = performance.now();
      let decoded: DecodedJwt | undefined;
      try {
        decoded = decodeJwt(mutant.value as string);
      } catch (err) {
        const e = err as SfauthError;
        if (!isSfauthError(err) || e.code !== 'ERR_TOKEN_MALFORMED' || e.exitCode !== 2 || !e.hint) {
          failures.push(describeFailure('threw something other than ERR_TOKEN_MALFORMED', i, mutant.how, shown, err));
        } else if (typeof mutant.value === 'string' && mutant.value.length > 20 && e.message.includes(mutant.value.trim())) {
          failures.push(describeFailure('echoed the token in its error', i, mutant.how, shown, err));
        }
        refused++;
      }
      if (decoded) {
        decodedCount++;
        const shapeOk =
          decoded.header !== null && typeof decoded.header === 'object' && !Array.isArray(decoded.header) &&
          decoded.payload !== null && typeof decoded.payload === 'object' && !Array.isArray(decoded.payload) &&
          Buffer.isBuffer(decoded.signature) && decoded.token.split('.').length === 3;
        if (!shapeOk) failures.push(describeFailure('returned a malformed result', i, mutant.how, shown, 'shape'));
        try {
          const checks = checkJwt(decoded, now);
          const keyChecks = checkJwtKey(decoded, rng.chance(0.5) ? key : rng.pick(tokens).key);
          for (const c of [...checks, ...keyChecks.checks]) {
            if (typeof c.label !== 'string' || !Array.isArray(c.problems)) throw new Error(`bad check ${c.id}`);
          }
        } catch (err) {
          failures.push(describeFailure('checkJwt/checkJwtKey threw', i, mutant.how, shown, err));
        }
      }
      const ms = performance.now() - started;
      slowest = Math.max(slowest, ms);
      if (ms > SLOW_MS) failures.push(describeFailure(`took ${Math.round(ms)} ms`, i, mutant.how, shown, 'slow'));
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
    expect(decodedCount).toBeGreaterThan(TOKEN_ITERATIONS / 10);
    expect(refused).toBeGreaterThan(TOKEN_ITERATIONS / 10);
    expect(slowest).toBeLessThan(SLOW_MS);
  });

  it('the unmutated tokens decode and verify', () => {
    for (const { token, key } of tokens) {
      const decoded = decodeJwt(token);
      expect(checkJwtKey(decoded, key).signature).toBe('valid');
    }
  });
});
