import { describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import {
  checkJwt,
  checkJwtKey,
  decodeJwt,
  lintJwt,
  mintJwt,
  parseIssuer,
  parseLifetime,
  type DecodedJwt,
  type JwtAlgorithm,
} from '../../src/core/jwt.js';
import { isSfauthError } from '../../src/errors.js';
import { sfauthErrorOf } from '../support/errors.js';

interface Pair {
  alg: KeyAlg;
  privateKey: KeyObject;
  publicKey: KeyObject;
  pem: string;
  fingerprint: string;
}

/** One key per kind of key; RS384/RS512 are the RSA key with another hash. */
type KeyAlg = Extract<JwtAlgorithm, 'RS256' | 'ES256' | 'ES384' | 'ES512'>;

function pair(alg: KeyAlg): Pair {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg] });
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return {
    alg,
    privateKey,
    publicKey,
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    // Computed here independently of src/core/fingerprint.ts.
    fingerprint: 'SHA256:' + createHash('sha256').update(der).digest('base64'),
  };
}

const keys: Record<KeyAlg, Pair> = {
  RS256: pair('RS256'),
  ES256: pair('ES256'),
  ES384: pair('ES384'),
  ES512: pair('ES512'),
};

const NOW = 1_800_000_000; // seconds

function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** Hand-decodes a token segment (independent of decodeJwt). */
function handDecode(segment: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segment.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
}

function craft(header: Record<string, unknown>, payload: Record<string, unknown>, signature = 'c2ln'): string {
  return `${b64url(header)}.${b64url(payload)}.${signature}`;
}

const FP = 'SHA256:' + 'A'.repeat(43) + '=';
const goodPayload = { iss: `MYORG-ACCT.SVC.${FP}`, sub: 'MYORG-ACCT.SVC', iat: NOW - 10, exp: NOW + 3000 };
const goodHeader = { alg: 'RS256', typ: 'JWT' };

function lintOf(header: Record<string, unknown>, payload: Record<string, unknown>, signature?: string) {
  return lintJwt(decodeJwt(craft(header, payload, signature)), NOW);
}
function codesOf(header: Record<string, unknown>, payload: Record<string, unknown>, signature?: string): string[] {
  return lintOf(header, payload, signature).map((p) => p.code);
}

describe('mintJwt', () => {
  it.each(Object.keys(keys) as KeyAlg[])('%s: verifies with jose and carries the exact claims', async (alg) => {
    const k = keys[alg];
    const minted = mintJwt({ account: 'myorg-my_account', user: 'svc_loader', privateKey: k.privateKey, issuedAt: NOW + 0.7, lifetimeSeconds: 600 });

    expect(minted.alg).toBe(alg);
    expect(minted.fingerprint).toBe(k.fingerprint);
    expect(minted.account).toBe('MYORG-MY_ACCOUNT');
    expect(minted.user).toBe('SVC_LOADER');
    const claims = {
      iss: `MYORG-MY_ACCOUNT.SVC_LOADER.${k.fingerprint}`,
      sub: 'MYORG-MY_ACCOUNT.SVC_LOADER',
      iat: NOW,
      exp: NOW + 600,
    };
    expect({ iss: minted.iss, sub: minted.sub, iat: minted.iat, exp: minted.exp }).toEqual(claims);

    // Independent verifier: jose on the SPKI PEM, pinned to the expected algorithm.
    const key = await importSPKI(k.pem, alg);
    const { payload, protectedHeader } = await jwtVerify(minted.token, key, {
      algorithms: [alg],
      currentDate: new Date((NOW + 1) * 1000),
      typ: 'JWT',
      issuer: claims.iss,
      subject: claims.sub,
    });
    expect(protectedHeader).toEqual({ alg, typ: 'JWT' });
    expect(payload).toEqual(claims);
    expect(decodeProtectedHeader(minted.token)).toEqual({ alg, typ: 'JWT' });

    // Hand-decoded: exactly these claims, nothing else, integers in seconds.
    const [h, p, s] = minted.token.split('.');
    expect(handDecode(h!)).toEqual({ alg, typ: 'JWT' });
    expect(handDecode(p!)).toEqual(claims);
    expect(Object.keys(handDecode(p!))).toEqual(['iss', 'sub', 'iat', 'exp']);
    expect(minted.token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const sigLen = Buffer.from(s!, 'base64url').length;
    expect(sigLen).toBe({ RS256: 256, ES256: 64, ES384: 96, ES512: 132 }[alg]);

    // And our own key check agrees.
    const decoded = decodeJwt(minted.token);
    expect(lintJwt(decoded, NOW + 1)).toEqual([]);
    expect(checkJwtKey(decoded, k.publicKey).signature).toBe('valid');
    expect(checkJwtKey(decoded, k.privateKey).signature).toBe('valid');
  });

  it('defaults to a one-hour lifetime', () => {
    const m = mintJwt({ account: 'xy12345.us-east-2.aws', user: 'Svc', privateKey: keys.ES256.privateKey, issuedAt: NOW });
    expect(m.exp - m.iat).toBe(3600);
    expect(m.sub).toBe('XY12345.SVC');
  });

  it('normalises the account per §3 (.global, URL)', () => {
    expect(mintJwt({ account: 'myorg-acct-abc123.global', user: 'u', privateKey: keys.ES256.privateKey, issuedAt: NOW }).account).toBe('MYORG-ACCT');
    expect(
      mintJwt({ account: 'https://myorg-acct.snowflakecomputing.com/', user: 'u', privateKey: keys.ES256.privateKey, issuedAt: NOW }).sub,
    ).toBe('MYORG-ACCT.U');
  });

  it('an RSA key signs RS256 (default), RS384 or RS512; each verifies with the key, with its own hash', () => {
    for (const [alg, hash] of [['RS256', 'sha256'], ['RS384', 'sha384'], ['RS512', 'sha512']] as const) {
      const m = mintJwt({ account: 'a', user: 'u', privateKey: keys.RS256.privateKey, alg, issuedAt: NOW });
      expect(m.header).toEqual({ alg, typ: 'JWT' });
      const d = decodeJwt(m.token);
      expect(checkJwtKey(d, keys.RS256.publicKey).signature).toBe('valid');
      expect(verify(hash, Buffer.from(d.signingInput), keys.RS256.publicKey, d.signature)).toBe(true);
      expect(checkJwt(d, NOW).flatMap((c) => c.problems)).toEqual([]);
    }
    expect(mintJwt({ account: 'a', user: 'u', privateKey: keys.RS256.privateKey, issuedAt: NOW }).alg).toBe('RS256');
  });

  it('uses a given fingerprint and alg', () => {
    const m = mintJwt({ account: 'a', user: 'u', privateKey: keys.RS256.privateKey, alg: 'RS256', fingerprint: keys.RS256.fingerprint, issuedAt: NOW });
    expect(m.iss).toBe(`A.U.${keys.RS256.fingerprint}`);
  });

  it('refuses a wrong alg, a public key, a bad lifetime, an empty user, a bad account', () => {
    expect(sfauthErrorOf(() => mintJwt({ account: 'a', user: 'u', privateKey: keys.ES256.privateKey, alg: 'ES384', issuedAt: NOW })).code).toBe('ERR_ALG_KEY_MISMATCH');
    expect(sfauthErrorOf(() => mintJwt({ account: 'a', user: 'u', privateKey: keys.RS256.privateKey, alg: 'ES256', issuedAt: NOW })).code).toBe('ERR_ALG_KEY_MISMATCH');
    expect(sfauthErrorOf(() => mintJwt({ account: 'a', user: 'u', privateKey: keys.ES256.privateKey, alg: 'RS384', issuedAt: NOW })).code).toBe('ERR_ALG_KEY_MISMATCH');
    expect(sfauthErrorOf(() => mintJwt({ account: 'a', user: 'u', privateKey: keys.RS256.publicKey, issuedAt: NOW })).code).toBe('ERR_KEY_NOT_PRIVATE');
    for (const lifetimeSeconds of [0, -5, 3601, 1.5, Number.NaN]) {
      expect(sfauthErrorOf(() => mintJwt({ account: 'a', user: 'u', privateKey: keys.ES256.privateKey, issuedAt: NOW, lifetimeSeconds })).exitCode).toBe(2);
    }
    expect(sfauthErrorOf(() => mintJwt({ account: 'a', user: '  ', privateKey: keys.ES256.privateKey, issuedAt: NOW })).code).toBe('ERR_MISSING_USER');
    expect(sfauthErrorOf(() => mintJwt({ account: 'my org', user: 'u', privateKey: keys.ES256.privateKey, issuedAt: NOW })).code).toBe('ERR_ACCOUNT_INVALID');
    const ed = generateKeyPairSync('ed25519').privateKey;
    expect(sfauthErrorOf(() => mintJwt({ account: 'a', user: 'u', privateKey: ed, issuedAt: NOW })).code).toBe('ERR_KEY_UNSUPPORTED');
  });
});

describe('parseLifetime', () => {
  it.each([
    ['90s', 90],
    ['10m', 600],
    ['1h', 3600],
    ['3600', 3600],
    ['1', 1],
    ['30m30s', 1830],
  ])('%s → %i', (text, seconds) => expect(parseLifetime(text)).toBe(seconds));

  it.each(['2h', '3601', '61m', '1d'])('%s is too long (exit 2)', (text) => {
    const err = sfauthErrorOf(() => parseLifetime(text));
    expect(err.code).toBe('ERR_LIFETIME_TOO_LONG');
    expect(err.exitCode).toBe(2);
  });

  it.each(['', 'abc', '1.5h', '-5', '0', '10 minutes', '1y'])('%j is malformed (exit 2)', (text) => {
    const err = sfauthErrorOf(() => parseLifetime(text));
    expect(err.code).toBe('ERR_DURATION_INVALID');
    expect(err.exitCode).toBe(2);
  });
});

describe('decodeJwt', () => {
  const token = craft(goodHeader, goodPayload);

  it('decodes header, payload, signing input and signature', () => {
    const d = decodeJwt(token);
    expect(d.header).toEqual(goodHeader);
    expect(d.payload).toEqual(goodPayload);
    expect(d.signingInput).toBe(token.split('.').slice(0, 2).join('.'));
    expect(d.signature.toString()).toBe('sig');
    expect(d.token).toBe(token);
  });

  it('trims whitespace and accepts a Bearer prefix', () => {
    expect(decodeJwt(`  ${token}\n`).token).toBe(token);
    expect(decodeJwt(`Bearer ${token}`).token).toBe(token);
    expect(decodeJwt(`bearer   ${token}\r\n`).token).toBe(token);
  });

  it('accepts an empty signature (lint reports it)', () => {
    const d = decodeJwt(craft({ alg: 'none' }, goodPayload, ''));
    expect(d.signature.length).toBe(0);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['empty', '', /empty/],
    ['blank', '  \n ', /empty/],
    ['Bearer only', 'Bearer ', /empty/],
    ['one part', 'garbage', /found 1/],
    ['two parts', 'a.b', /found 2/],
    ['four parts', 'a.b.c.d', /found 4/],
    ['five parts (JWE)', 'a.b.c.d.e', /JWE/],
    ['header not base64url', `${'eyJ+/'}.${b64url(goodPayload)}.sig`, /header is not base64url/],
    ['base64 padding', `${b64url(goodHeader)}==.${b64url(goodPayload)}.sig`, /padding/],
    ['impossible length', `${b64url(goodHeader)}.${b64url(goodPayload)}.abcde`, /signature has an impossible/],
    ['header not JSON', `${b64url('not json')}.${b64url(goodPayload)}.sig`, /header is not base64url-encoded JSON/],
    ['header empty', `.${b64url(goodPayload)}.sig`, /header is empty/],
    ['header an array', `${b64url([1, 2])}.${b64url(goodPayload)}.sig`, /header is not a JSON object/],
    ['payload null', `${b64url(goodHeader)}.${b64url('null')}.sig`, /payload is not a JSON object/],
    ['payload a number', `${b64url(goodHeader)}.${b64url('42')}.sig`, /payload is not a JSON object/],
    ['payload invalid UTF-8', `${b64url(goodHeader)}.${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.sig`, /payload is not base64url-encoded JSON/],
    ['not a string', 42, /not a string/],
    ['undefined', undefined, /not a string/],
  ];
  it.each(bad)('%s → ERR_TOKEN_MALFORMED (exit 2)', (_name, input, why) => {
    const err = sfauthErrorOf(() => decodeJwt(input as string));
    expect(err.code).toBe('ERR_TOKEN_MALFORMED');
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(why);
    expect(err.hint).toBeTruthy();
  });

  it('never echoes the token in its errors', () => {
    const secret = `${b64url(goodHeader)}.${b64url('nope')}.SECRETSIGNATURE`;
    const err = sfauthErrorOf(() => decodeJwt(secret));
    expect(`${err.message} ${err.hint}`).not.toContain('SECRETSIGNATURE');
  });

  it('only ever returns or throws SfauthError, for random input', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const alphabet = 'eyJ.ABCabc012-_=+/ \n{}"\u0000\u00ff\ud800.';
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(rand() * 60);
      let s = '';
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(rand() * alphabet.length)];
      if (i % 3 === 0) s = `${b64url(s)}.${b64url(s)}.${s}`;
      try {
        const d = decodeJwt(s);
        expect(typeof d.header).toBe('object');
      } catch (err) {
        expect(isSfauthError(err)).toBe(true);
      }
    }
  });
});

describe('lintJwt', () => {
  it('a well-formed fresh token has no problems', () => {
    expect(lintOf(goodHeader, goodPayload)).toEqual([]);
  });

  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, string[], string?]> = [
    ['alg none', { alg: 'none', typ: 'JWT' }, goodPayload, ['ALG_NOT_ALLOWED']],
    ['alg HS256', { alg: 'HS256', typ: 'JWT' }, goodPayload, ['ALG_NOT_ALLOWED']],
    ['alg PS256', { alg: 'PS256', typ: 'JWT' }, goodPayload, ['ALG_NOT_ALLOWED']],
    ['alg missing', { typ: 'JWT' }, goodPayload, ['ALG_MISSING']],
    ['typ missing', { alg: 'ES256' }, goodPayload, ['TYP_MISSING']],
    ['typ wrong', { alg: 'ES256', typ: 'JWS' }, goodPayload, ['TYP_INVALID']],
    ['iss missing', goodHeader, { ...goodPayload, iss: undefined }, ['ISS_MISSING']],
    ['iss a number', goodHeader, { ...goodPayload, iss: 7 }, ['ISS_INVALID']],
    ['iss without fingerprint', goodHeader, { ...goodPayload, iss: 'MYORG-ACCT.SVC' }, ['ISS_INVALID']],
    ['iss with lower-case sha256:', goodHeader, { ...goodPayload, iss: `MYORG-ACCT.SVC.sha256:${'A'.repeat(43)}=` }, ['ISS_INVALID']],
    ['iss without user', goodHeader, { ...goodPayload, iss: `MYORG-ACCT.${FP}` }, ['ISS_INVALID']],
    ['fingerprint too short', goodHeader, { ...goodPayload, iss: 'MYORG-ACCT.SVC.SHA256:abc=' }, ['ISS_FINGERPRINT_INVALID']],
    ['fingerprint base64url', goodHeader, { ...goodPayload, iss: `MYORG-ACCT.SVC.SHA256:${'_'.repeat(43)}=` }, ['ISS_FINGERPRINT_INVALID']],
    ['sub missing', goodHeader, { ...goodPayload, sub: undefined }, ['SUB_MISSING']],
    ['sub not a string', goodHeader, { ...goodPayload, sub: ['x'] }, ['SUB_INVALID']],
    ['sub differs from iss', goodHeader, { ...goodPayload, sub: 'MYORG-ACCT.OTHER' }, ['SUB_MISMATCH']],
    ['sub without dot (iss broken)', goodHeader, { ...goodPayload, iss: 'x', sub: 'NODOT' }, ['ISS_INVALID', 'SUB_INVALID']],
    [
      'lower-case account and user',
      goodHeader,
      { ...goodPayload, iss: `myorg-acct.svc.${FP}`, sub: 'myorg-acct.svc' },
      ['ACCOUNT_NOT_UPPERCASE', 'USER_NOT_UPPERCASE'],
    ],
    ['lower-case user only', goodHeader, { ...goodPayload, iss: `MYORG-ACCT.Svc.${FP}`, sub: 'MYORG-ACCT.Svc' }, ['USER_NOT_UPPERCASE']],
    [
      'region in account (warning)',
      goodHeader,
      { ...goodPayload, iss: `XY12345.US-EAST-2.AWS.SVC.${FP}`, sub: 'XY12345.US-EAST-2.AWS.SVC' },
      ['ACCOUNT_HAS_SUFFIX'],
    ],
    ['iat missing', goodHeader, { ...goodPayload, iat: undefined }, ['IAT_MISSING']],
    ['exp missing', goodHeader, { ...goodPayload, exp: undefined }, ['EXP_MISSING']],
    ['iat a string', goodHeader, { ...goodPayload, iat: String(NOW) }, ['IAT_NOT_NUMBER']],
    ['exp null', goodHeader, { ...goodPayload, exp: null }, ['EXP_NOT_NUMBER']],
    ['iat negative', goodHeader, { ...goodPayload, iat: -1 }, ['IAT_NOT_NUMBER']],
    ['iat fractional (warning)', goodHeader, { ...goodPayload, iat: NOW - 10.5 }, ['IAT_NOT_INTEGER']],
    ['milliseconds', goodHeader, { ...goodPayload, iat: (NOW - 10) * 1000, exp: (NOW + 3000) * 1000 }, ['IAT_MILLISECONDS', 'EXP_MILLISECONDS']],
    ['exp only in milliseconds', goodHeader, { ...goodPayload, exp: (NOW + 3000) * 1000 }, ['EXP_MILLISECONDS']],
    ['lifetime over 1h', goodHeader, { ...goodPayload, iat: NOW - 10, exp: NOW - 10 + 3601 }, ['LIFETIME_TOO_LONG']],
    ['exp before iat', goodHeader, { ...goodPayload, iat: NOW + 30, exp: NOW + 20 }, ['EXP_BEFORE_IAT']],
    ['exp equal to iat', goodHeader, { ...goodPayload, iat: NOW + 30, exp: NOW + 30 }, ['EXP_BEFORE_IAT']],
    ['expired', goodHeader, { ...goodPayload, iat: NOW - 4000, exp: NOW - 400 }, ['EXPIRED']],
    ['expires exactly now', goodHeader, { ...goodPayload, iat: NOW - 3600, exp: NOW }, ['EXPIRED']],
    ['issued in the future', goodHeader, { ...goodPayload, iat: NOW + 120, exp: NOW + 600 }, ['IAT_IN_FUTURE']],
    ['signature missing', goodHeader, goodPayload, ['SIGNATURE_MISSING'], ''],
  ];
  it.each(cases)('%s', (_name, header, payload, codes, signature) => {
    expect(codesOf(header, payload, signature)).toEqual(codes);
  });

  it('allows 60 s of clock skew for iat', () => {
    expect(codesOf(goodHeader, { ...goodPayload, iat: NOW + 60, exp: NOW + 600 })).toEqual([]);
    expect(codesOf(goodHeader, { ...goodPayload, iat: NOW + 61, exp: NOW + 600 })).toEqual(['IAT_IN_FUTURE']);
  });

  it('says milliseconds as a note (Snowflake accepts them), and judges expiry on the converted value', () => {
    const problems = lintOf(goodHeader, { ...goodPayload, iat: (NOW - 10) * 1000, exp: (NOW + 3000) * 1000 });
    expect(problems[0]!.message).toMatch(/milliseconds; Snowflake accepts that and reads it as 1799999990 seconds/);
    expect(problems.every((p) => p.severity === 'note')).toBe(true);
    const expired = lintOf(goodHeader, { ...goodPayload, exp: (NOW - 10) * 1000 });
    expect(expired[0]!.severity).toBe('note');
    expect(expired.some((p) => p.severity === 'error')).toBe(true);
  });

  it('warnings are warnings, errors are errors', () => {
    expect(lintOf(goodHeader, { ...goodPayload, iat: NOW - 10.5 })[0]!.severity).toBe('warning');
    expect(lintOf(goodHeader, { ...goodPayload, exp: NOW - 1 })[0]!.severity).toBe('error');
  });

  it('problems carry code, message, severity', () => {
    for (const p of lintOf({ alg: 'none' }, { iss: 1 })) {
      expect(Object.keys(p).sort()).toEqual(['code', 'message', 'severity']);
      expect(p.message.length).toBeGreaterThan(5);
    }
  });

  it('checkJwt gives labelled checks and leaves out the ones it cannot evaluate', () => {
    const all = checkJwt(decodeJwt(craft(goodHeader, goodPayload)), NOW).map((c) => c.id);
    expect(all).toEqual(['alg', 'typ', 'iss', 'sub', 'case', 'times', 'lifetime', 'expiry', 'issued']);
    const partial = checkJwt(decodeJwt(craft(goodHeader, { iss: 1 })), NOW).map((c) => c.id);
    expect(partial).toEqual(['alg', 'typ', 'iss', 'sub', 'times']);
  });

  it('parseIssuer splits at the first dot and the last .SHA256: (login names may hold dots)', () => {
    expect(parseIssuer(`ACCT.JOHN.DOE@X.COM.${FP}`)).toEqual({ account: 'ACCT', user: 'JOHN.DOE@X.COM', fingerprint: FP });
    expect(parseIssuer('ACCT.USER')).toBeUndefined();
    expect(parseIssuer(`.USER.${FP}`)).toBeUndefined();
  });
});

describe('checkJwtKey', () => {
  function minted(alg: KeyAlg): DecodedJwt {
    return decodeJwt(mintJwt({ account: 'a', user: 'u', privateKey: keys[alg].privateKey, issuedAt: NOW }).token);
  }

  it('a tampered payload does not verify', () => {
    const d = minted('RS256');
    const [, , s] = d.token.split('.');
    const forged = decodeJwt(`${b64url(d.header)}.${b64url({ ...d.payload, sub: 'A.ADMIN' })}.${s}`);
    const r = checkJwtKey(forged, keys.RS256.publicKey);
    expect(r.signature).toBe('invalid');
    expect(r.checks.flatMap((c) => c.problems).map((p) => p.code)).toEqual(['SIGNATURE_INVALID']);
  });

  it('another key of the same type: fingerprint mismatch and bad signature', () => {
    const other = pair('ES256');
    const r = checkJwtKey(minted('ES256'), other.publicKey);
    expect(r.signature).toBe('invalid');
    expect(r.checks.flatMap((c) => c.problems).map((p) => p.code)).toEqual(['FINGERPRINT_MISMATCH', 'SIGNATURE_INVALID']);
  });

  it('alg that does not fit the key', () => {
    const r = checkJwtKey(minted('ES384'), keys.RS256.publicKey);
    expect(r.signature).toBe('invalid');
    expect(r.checks.flatMap((c) => c.problems).map((p) => p.code)).toEqual(['ALG_KEY_MISMATCH', 'FINGERPRINT_MISMATCH', 'SIGNATURE_INVALID']);
    const curve = checkJwtKey(minted('ES384'), keys.ES256.publicKey);
    expect(curve.checks.flatMap((c) => c.problems).map((p) => p.code)).toContain('ALG_KEY_MISMATCH');
  });

  it('an EC signature of the wrong length is invalid, never a crash', () => {
    const d = minted('ES256');
    const r = checkJwtKey({ ...d, signature: Buffer.alloc(10) }, keys.ES256.publicKey);
    expect(r.signature).toBe('invalid');
  });
});
