/**
 * Tests of the Snowflake emulator itself (test/support/emulator.ts). Tokens are minted inline with
 * node:crypto so that nothing here depends on src/.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHash, generateKeyPair, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../support/emulator.js';

interface Pair {
  priv: KeyObject;
  pub: KeyObject;
  body: string;
  fp: string;
}

function pair(kp: { privateKey: KeyObject; publicKey: KeyObject }): Pair {
  const der = kp.publicKey.export({ format: 'der', type: 'spki' });
  return {
    priv: kp.privateKey,
    pub: kp.publicKey,
    body: der.toString('base64'),
    fp: 'SHA256:' + createHash('sha256').update(der).digest('base64'),
  };
}

let rsaA: Pair, rsaB: Pair, ec256: Pair, ec384: Pair, ec521: Pair, rsa1024: Pair;

beforeAll(async () => {
  // RSA generation is slow; run it on the thread pool in parallel.
  const rsa = (modulusLength: number) => promisify(generateKeyPair)('rsa', { modulusLength }).then(pair);
  [rsaA, rsaB, rsa1024] = await Promise.all([rsa(2048), rsa(2048), rsa(1024)]);
  ec256 = pair(generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  ec384 = pair(generateKeyPairSync('ec', { namedCurve: 'P-384' }));
  ec521 = pair(generateKeyPairSync('ec', { namedCurve: 'P-521' }));
});

const b64u = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

interface MintOptions {
  account?: string;
  user?: string;
  fp?: string;
  iat?: number;
  lifetime?: number;
  header?: Record<string, unknown>;
  payload?: Record<string, unknown>;
  drop?: Array<'iat' | 'exp'>;
  derSignature?: boolean;
  /** RS384 / RS512 for an RSA key (default RS256). */
  rsaAlg?: 'RS256' | 'RS384' | 'RS512';
}

function algOf(key: KeyObject): { alg: string; hash: string } {
  if (key.asymmetricKeyType === 'rsa') return { alg: 'RS256', hash: 'sha256' };
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve === 'prime256v1') return { alg: 'ES256', hash: 'sha256' };
  if (curve === 'secp384r1') return { alg: 'ES384', hash: 'sha384' };
  return { alg: 'ES512', hash: 'sha512' };
}

/** A Snowflake key-pair JWT, minted independently of src/. */
function mint(p: Pair, o: MintOptions = {}): string {
  const { alg, hash } = o.rsaAlg ? { alg: o.rsaAlg, hash: `sha${o.rsaAlg.slice(2)}` } : algOf(p.priv);
  const account = o.account ?? 'MYORG-MYACCOUNT';
  const user = o.user ?? 'ALICE';
  const iat = o.iat ?? Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: `${account}.${user}.${o.fp ?? p.fp}`,
    sub: `${account}.${user}`,
    iat,
    exp: iat + (o.lifetime ?? 3600),
    ...o.payload,
  };
  for (const k of o.drop ?? []) delete payload[k];
  const input = `${b64u({ alg, typ: 'JWT', ...o.header })}.${b64u(payload)}`;
  const sig =
    p.priv.asymmetricKeyType === 'rsa'
      ? sign(hash, Buffer.from(input), p.priv)
      : sign(hash, Buffer.from(input), { key: p.priv, dsaEncoding: o.derSignature ? 'der' : 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

interface CallOptions {
  token?: string;
  type?: string | null;
  requestId?: string | null;
  retry?: boolean;
  headers?: Record<string, string | null>;
  body?: Record<string, unknown>;
  rawBody?: string;
  signal?: AbortSignal;
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function headersFor(o: CallOptions): Record<string, string> {
  const h: Record<string, string | null> = {
    Authorization: o.token === undefined ? null : `Bearer ${o.token}`,
    'X-Snowflake-Authorization-Token-Type': o.type === undefined ? 'KEYPAIR_JWT' : o.type,
    'Content-Type': 'application/json',
    Accept: 'application/json',
    'User-Agent': 'sfauth/0.1.0',
    ...o.headers,
  };
  return Object.fromEntries(Object.entries(h).filter((e): e is [string, string] => e[1] !== null));
}

async function post(em: Emulator, statement: string, o: CallOptions = {}): Promise<Reply> {
  const rid = o.requestId === undefined ? randomUUID() : o.requestId;
  const qs = new URLSearchParams();
  if (rid !== null) qs.set('requestId', rid);
  if (o.retry) qs.set('retry', 'true');
  const res = await fetch(`${em.url}/api/v2/statements?${qs}`, {
    method: 'POST',
    headers: headersFor(o),
    body: o.rawBody ?? JSON.stringify({ statement, timeout: 60, ...o.body }),
    signal: o.signal,
  });
  return reply(res);
}

async function poll(em: Emulator, handle: string, o: CallOptions = {}): Promise<Reply> {
  const h = headersFor(o);
  delete h['Content-Type'];
  return reply(await fetch(`${em.url}/api/v2/statements/${handle}`, { headers: h }));
}

const WHO = 'SELECT CURRENT_ACCOUNT(), CURRENT_USER(), CURRENT_ROLE()';
const UUID_MSG = /\[[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\]$/;

function descMap(r: Reply): Record<string, string> {
  const cols = r.json.resultSetMetaData.rowType.map((c: { name: string }) => c.name);
  expect(cols).toEqual(['property', 'value', 'default', 'description']);
  return Object.fromEntries(r.json.data.map((row: string[]) => [row[0], row[1]]));
}

let em: Emulator;
beforeEach(async () => {
  em = await startEmulator();
  em.addUser('alice', { rsaPublicKey: rsaA.body, rsaPublicKey2: ec256.body, defaultRole: 'ANALYST' });
  em.addUser('bob', { rsaPublicKey: rsaB.body });
});
afterEach(async () => {
  await em.close();
});

describe('key-pair JWT', () => {
  it('accepts RS256 on slot 1 and answers SELECT CURRENT_… in the SQL API shape', async () => {
    const r = await post(em, WHO, { token: mint(rsaA) });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(Math.abs(Date.parse(r.headers.get('date')!) - Date.now())).toBeLessThan(3000);
    expect(r.json).toMatchObject({
      resultSetMetaData: { numRows: 1, format: 'jsonv2' },
      data: [['MYORG-MYACCOUNT', 'ALICE', 'ANALYST']],
      code: '090001',
      sqlState: '00000',
      message: 'Statement executed successfully.',
    });
    expect(r.json.resultSetMetaData.rowType.map((c: any) => [c.name, c.type, c.nullable])).toEqual([
      ['CURRENT_ACCOUNT()', 'text', true],
      ['CURRENT_USER()', 'text', true],
      ['CURRENT_ROLE()', 'text', true],
    ]);
    expect(r.json.statementHandle).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof r.json.createdOn).toBe('number');
    expect(r.json.statementStatusUrl).toContain(r.json.statementHandle);
    const rec = em.requests.at(-1)!;
    expect(rec).toMatchObject({ method: 'POST', path: '/api/v2/statements', authOutcome: 'ok', login: 'ALICE', tokenType: 'KEYPAIR_JWT', statement: WHO, executed: true });
    expect(rec.headers['user-agent']).toBe('sfauth/0.1.0');
    expect(rec.query.requestId).toBe(rec.requestId);
    expect((rec.body as any).statement).toBe(WHO);
    expect(rec.jwt?.payload.sub).toBe('MYORG-MYACCOUNT.ALICE');
  });

  it('accepts ES256 on slot 2, and ES384 / ES512 / RS256 on either slot', async () => {
    expect((await post(em, WHO, { token: mint(ec256) })).status).toBe(200);
    em.setKey('bob', 1, ec384.body);
    em.setKey('bob', 2, ec521.body);
    expect((await post(em, WHO, { token: mint(ec384, { user: 'BOB' }) })).status).toBe(200);
    expect((await post(em, WHO, { token: mint(ec521, { user: 'BOB' }) })).status).toBe(200);
    em.setKey('bob', 2, rsaA.body);
    expect((await post(em, WHO, { token: mint(rsaA, { user: 'BOB' }) })).json.data[0][1]).toBe('BOB');
  });

  it('accepts RS384 and RS512 from an RSA key; an RS* token from an EC key is a signature failure', async () => {
    for (const rsaAlg of ['RS384', 'RS512'] as const) {
      expect((await post(em, WHO, { token: mint(rsaA, { rsaAlg }) })).status).toBe(200);
    }
    const r = await post(em, WHO, { token: mint(ec256, { rsaAlg: 'RS256', header: { alg: 'RS256' } }) });
    expect(r.status).toBe(401);
  });

  it('refuses each broken rule with its code, a uuid, data null and success false', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[string, string]> = [
      ['not.a.jwt', '390144'],
      ['garbage', '390144'],
      [mint(rsaA, { payload: { sub: 'MYORG-MYACCOUNT.BOB' } }), '390144'],
      [mint(rsaA, { payload: { iss: 'MYORG-MYACCOUNT.ALICE' } }), '390144'],
      [mint(rsaA, { header: { alg: 'HS256' } }), '394305'],
      [mint(rsaA, { header: { typ: 'JOSE' } }), '394305'],
      [mint(rsaA, { header: { typ: undefined } }), '394305'],
      [mint(rsaA, { account: 'OTHER-ACCOUNT' }), '394307'],
      [mint(rsaA, { account: 'myorg-myaccount' }), '394307'],
      // a region left in the account makes the user part wrong: 'US-EAST-1.ALICE'
      [mint(rsaA, { account: 'MYORG-MYACCOUNT.US-EAST-1' }), '394300'],
      [mint(rsaA, { account: 'XY12345.US-EAST-2.AWS' }), '394307'],
      [mint(rsaA, { user: 'alice' }), '394300'],
      [mint(rsaA, { user: 'CAROL' }), '394300'],
      [mint(rsaA, { drop: ['iat'] }), '394301'],
      [mint(rsaA, { payload: { exp: String(now + 100) } }), '394301'],
      [mint(rsaA, { iat: now + 120 }), '394302'],
      [mint(rsaA, { iat: now * 1000 }), '394302'],
      [mint(rsaA, { lifetime: 3601 }), '394302'],
      [mint(rsaA, { iat: now - 3700 }), '394303'],
      [mint(rsaA, { fp: rsaB.fp }), '394304'],
      [mint(rsaA, { fp: 'SHA256:' + 'A'.repeat(43) + '=' }), '394304'],
      [mint(rsaB, { fp: rsaA.fp }), '394306'],
      [mint(ec256, { derSignature: true }), '394306'],
      [mint(ec384, { fp: ec256.fp }), '394306'],
    ];
    for (const [token, code] of cases) {
      const r = await post(em, WHO, { token });
      expect([r.status, r.json.code], `expected ${code}`).toEqual([401, code]);
      expect(r.json.data).toBeNull();
      expect(r.json.success).toBe(false);
      expect(r.json.message).toMatch(/^JWT token is invalid/);
      expect(r.json.message).toMatch(UUID_MSG);
      expect(em.requests.at(-1)?.authOutcome).toBe(code);
      expect(em.requests.at(-1)?.executed).toBe(false);
    }
    expect((await post(em, WHO, { token: 'garbage' })).json.message).toMatch(/^JWT token is invalid\. \[[0-9a-f-]{36}\]$/);
    expect(em.executed).toHaveLength(0);
  });

  it("in generic mode answers 390144 and keeps the precise reason for SYSTEM$GET_LOGIN_FAILURE_DETAILS", async () => {
    em.setJwtErrors('generic');
    const r = await post(em, WHO, { token: mint(rsaA, { fp: rsaB.fp }) });
    expect(r.status).toBe(401);
    expect(r.json.code).toBe('390144');
    const uuid = /\[([0-9a-f-]{36})\]$/.exec(r.json.message)![1]!;
    expect(r.json.message).toBe(`JWT token is invalid. [${uuid}]`);
    expect(em.loginFailure(uuid)).toMatchObject({ code: '394304', login: 'ALICE', fingerprint: rsaB.fp });
    const details = () => post(em, `SELECT SYSTEM$GET_LOGIN_FAILURE_DETAILS('${uuid}')`, { token: mint(rsaB, { user: 'BOB' }) });
    // another user's failures need MONITOR on that user
    expect((await details()).json).toMatchObject({ code: '003001' });
    em.grant('bob', 'alice');
    const d = await details();
    // The documented shape: errorCode is the error's name (system_get_login_failure_details).
    const shape = JSON.parse(d.json.data[0][0]);
    expect(shape).toMatchObject({ errorCode: 'JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH', clientIP: expect.any(String), clientType: expect.any(String), timestamp: expect.any(Number) });
    expect(Object.keys(shape).sort()).toEqual(['clientIP', 'clientType', 'clientVersion', 'errorCode', 'timestamp', 'username']);
  });

  it('supports login names that need quoting', async () => {
    em.addUser('john.doe@x.com', { rsaPublicKey: rsaB.body });
    expect(em.user('john.doe@x.com')).toMatchObject({ name: 'john.doe@x.com', loginName: 'JOHN.DOE@X.COM' });
    const token = mint(rsaB, { user: 'JOHN.DOE@X.COM' });
    expect((await post(em, WHO, { token })).json.data[0][1]).toBe('john.doe@x.com');
    expect((await post(em, 'DESC USER "john.doe@x.com"', { token })).status).toBe(200);
    expect((await post(em, 'DESC USER "JOHN.DOE@X.COM"', { token })).json.code).toBe('002003');
  });
});

describe('request protocol', () => {
  it('refuses missing or wrong headers, requestId and body', async () => {
    const token = mint(rsaA);
    const cases: Array<[CallOptions, number, string]> = [
      [{ token, type: null }, 401, '391001'],
      [{ token, type: 'SNOWFLAKE_JWT' }, 401, '391001'],
      [{ type: 'KEYPAIR_JWT' }, 401, '391001'],
      [{ token, headers: { 'User-Agent': 'node' } }, 400, '391905'],
      [{ token, headers: { Accept: '*/*' } }, 406, '391901'],
      [{ token, headers: { 'Content-Type': 'text/plain' } }, 415, '391902'],
      [{ token, requestId: null }, 400, '391903'],
      [{ token, requestId: 'not-a-uuid' }, 400, '391903'],
      [{ token, rawBody: '{"statement": ' }, 400, '391904'],
      [{ token, rawBody: '{}' }, 400, '391904'],
      [{ token, body: { timeout: -1 } }, 400, '391904'],
    ];
    for (const [o, status, code] of cases) {
      const r = await post(em, WHO, o);
      expect([r.status, r.json.code], JSON.stringify(o)).toEqual([status, code]);
      expect(r.json).toMatchObject({ success: false, data: null });
      expect(r.headers.get('date')).toBeTruthy();
    }
    expect(em.executed).toHaveLength(0);
    const r404 = await reply(await fetch(`${em.url}/api/v1/other`));
    expect(r404.status).toBe(404);
  });

  it('checks the body role against granted roles', async () => {
    const token = mint(rsaA);
    expect((await post(em, WHO, { token, body: { role: 'analyst' } })).json.data[0][2]).toBe('ANALYST');
    expect((await post(em, WHO, { token, body: { role: 'PUBLIC' } })).json.data[0][2]).toBe('PUBLIC');
    const bad = await post(em, WHO, { token, body: { role: 'ACCOUNTADMIN' } });
    expect([bad.status, bad.json.code]).toEqual([422, '390189']);
    expect((await post(em, WHO, { token: mint(rsaB, { user: 'BOB' }) })).json.data[0][2]).toBe('PUBLIC');
  });
});

describe('OAuth and programmatic access tokens', () => {
  it('accepts known tokens and refuses unknown or expired ones', async () => {
    em.addOAuthToken('oauth-good', 'alice');
    em.addOAuthToken('oauth-old', 'alice', { expired: true });
    em.addPat('pat-good', 'bob');
    expect((await post(em, WHO, { token: 'oauth-good', type: 'OAUTH' })).json.data[0][1]).toBe('ALICE');
    expect((await post(em, WHO, { token: 'pat-good', type: 'PROGRAMMATIC_ACCESS_TOKEN' })).json.data[0][1]).toBe('BOB');
    const expect401 = async (o: CallOptions, code: string, message: string) => {
      const r = await post(em, WHO, o);
      expect(r.status).toBe(401);
      expect(r.json).toEqual({ code, message, data: null, success: false });
    };
    await expect401({ token: 'nope', type: 'OAUTH' }, '390303', 'Invalid OAuth access token.');
    await expect401({ token: 'oauth-old', type: 'OAUTH' }, '390318', 'OAuth access token expired.');
    await expect401({ token: 'nope', type: 'PROGRAMMATIC_ACCESS_TOKEN' }, '394400', 'Programmatic access token is invalid.');
    await expect401({ token: 'oauth-good', type: 'PROGRAMMATIC_ACCESS_TOKEN' }, '394400', 'Programmatic access token is invalid.');
    expect((await post(em, WHO, { token: 'pat-good', type: 'KEYPAIR_JWT' })).json.code).toBe('390144');
  });
});

describe('DESC USER and ALTER USER', () => {
  it('describes both slots, with "null" for empty values and Snowflake-style times', async () => {
    const set1 = new Date('2026-11-24T00:40:00.123Z');
    em.setKey('bob', 1, rsaB.body, { lastSet: set1 });
    const r = await post(em, 'desc user bob', { token: mint(rsaB, { user: 'BOB' }) });
    expect(r.status).toBe(200);
    const d = descMap(r);
    expect(d).toMatchObject({
      NAME: 'BOB',
      LOGIN_NAME: 'BOB',
      DISABLED: 'false',
      DEFAULT_ROLE: 'null',
      RSA_PUBLIC_KEY: rsaB.body,
      RSA_PUBLIC_KEY_FP: rsaB.fp,
      RSA_PUBLIC_KEY_LAST_SET_TIME: '2026-11-23 16:40:00.123 -0800',
      RSA_PUBLIC_KEY_2: 'null',
      RSA_PUBLIC_KEY_2_FP: 'null',
      RSA_PUBLIC_KEY_2_LAST_SET_TIME: 'null',
    });
    for (const row of r.json.data) for (const cell of row) expect(typeof cell).toBe('string');
    em.setKey('bob', 2, rsaB.body, { lastSet: null });
    const d2 = descMap(await post(em, 'DESCRIBE USER BOB;', { token: mint(rsaB, { user: 'BOB' }) }));
    expect([d2.RSA_PUBLIC_KEY_2_FP, d2.RSA_PUBLIC_KEY_2_LAST_SET_TIME]).toEqual([rsaB.fp, 'null']);
  });

  it('SETs and UNSETs slots, with fingerprints equal to OpenSSL', async () => {
    const token = mint(rsaA);
    const before = Date.now();
    const r = await post(em, `ALTER USER alice SET RSA_PUBLIC_KEY_2='${ec384.body}'`, { token });
    expect(r.status).toBe(200);
    expect(r.json.resultSetMetaData.rowType.map((c: any) => c.name)).toEqual(['status']);
    expect(r.json.data).toEqual([['Statement executed successfully.']]);
    const slot2 = em.user('ALICE').slots[2]!;
    expect(slot2.publicKey).toBe(ec384.body);
    expect(slot2.fingerprint).toBe(ec384.fp);
    expect(slot2.lastSetTime!.getTime()).toBeGreaterThanOrEqual(before - 5);

    const dir = mkdtempSync(join(tmpdir(), 'emu-'));
    try {
      for (const p of [rsaA, ec384]) {
        writeFileSync(join(dir, 'pub.pem'), p.pub.export({ format: 'pem', type: 'spki' }));
        const out = execSync('openssl pkey -pubin -in pub.pem -outform DER | openssl dgst -sha256 -binary | openssl enc -base64', { cwd: dir }).toString().trim();
        expect('SHA256:' + out).toBe(p.fp);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const d = descMap(await post(em, 'DESC USER alice', { token }));
    expect(d.RSA_PUBLIC_KEY_2_FP).toBe(ec384.fp);
    expect(d.RSA_PUBLIC_KEY_2_LAST_SET_TIME).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} -0800$/);

    expect((await post(em, WHO, { token: mint(ec384) })).status).toBe(200);
    expect((await post(em, WHO, { token: mint(ec256) })).json.code).toBe('394304');
    expect((await post(em, '  alter   USER "ALICE"\n unset rsa_public_key ; ', { token })).status).toBe(200);
    expect(em.user('alice').slots[1]).toBeNull();
    expect(descMap(await post(em, 'DESC USER alice', { token: mint(ec384) })).RSA_PUBLIC_KEY_FP).toBe('null');
    expect((await post(em, WHO, { token })).json.code).toBe('394304');
    expect((await post(em, 'ALTER USER IF EXISTS nobody UNSET RSA_PUBLIC_KEY', { token: mint(ec384) })).status).toBe(200);
  });

  it('refuses bad keys and bad properties', async () => {
    const token = mint(rsaA);
    const pem = rsaB.pub.export({ format: 'pem', type: 'spki' }).toString();
    const bad = [pem, rsaB.body.slice(0, 64) + '\n' + rsaB.body.slice(64), rsa1024.body, 'bm90IGEga2V5', 'not base64!', ''];
    for (const key of bad) {
      const r = await post(em, `ALTER USER alice SET RSA_PUBLIC_KEY='${key}'`, { token });
      expect([r.status, r.json.code, r.json.sqlState]).toEqual([422, '100133', '22023']);
      expect(r.json.message).toMatch(/^SQL execution error: New public key rejected by current policy\. Reason: '.+'\.$/);
    }
    expect(em.user('alice').slots[1]!.fingerprint).toBe(rsaA.fp);
    const p = await post(em, `ALTER USER alice SET RSA_PUBLIC_KEY_FP='x'`, { token });
    expect([p.status, p.json.code]).toEqual([422, '002029']);
  });

  it('enforces privileges: self, granted admin, unknown users', async () => {
    const bobToken = mint(rsaB, { user: 'BOB' });
    const desc = await post(em, 'DESC USER alice', { token: bobToken });
    expect(desc.status).toBe(422);
    expect(desc.json).toMatchObject({ code: '002003', sqlState: '02000', message: "SQL compilation error:\nUser 'ALICE' does not exist or not authorized." });
    const alter = await post(em, `ALTER USER alice SET RSA_PUBLIC_KEY='${rsaB.body}'`, { token: bobToken });
    expect(alter.json).toMatchObject({ code: '003001', sqlState: '42501' });
    expect(alter.json.message).toContain("Insufficient privileges to operate on user 'ALICE'");
    expect(em.user('alice').slots[1]!.fingerprint).toBe(rsaA.fp);
    const unknown = await post(em, 'ALTER USER carol UNSET RSA_PUBLIC_KEY', { token: bobToken });
    expect(unknown.json).toMatchObject({ code: '002003', message: "SQL compilation error:\nUser 'CAROL' does not exist or not authorized." });
    em.grant('bob', 'alice');
    expect((await post(em, 'DESC USER alice', { token: bobToken })).status).toBe(200);
    expect((await post(em, `ALTER USER alice SET RSA_PUBLIC_KEY='${rsaB.body}'`, { token: bobToken })).status).toBe(200);
    expect(em.user('alice').slots[1]!.fingerprint).toBe(rsaB.fp);
    expect((await post(em, 'DESC USER bob', { token: mint(ec256) })).json.code).toBe('002003');
  });
});

describe('SQL parsing', () => {
  it('tolerates case, whitespace and comments; refuses other SQL', async () => {
    const token = mint(rsaA);
    const ok = await post(em, '/* hi */ select current_account() ,\n  CURRENT_USER()  -- me\n;', { token });
    expect(ok.json.data).toEqual([['MYORG-MYACCOUNT', 'ALICE']]);
    expect(ok.json.resultSetMetaData.rowType.map((c: any) => c.name)).toEqual(['CURRENT_ACCOUNT()', 'CURRENT_USER()']);
    const syn = await post(em, 'DROP USER bob', { token });
    expect(syn.status).toBe(422);
    expect(syn.json).toMatchObject({ code: '001003', sqlState: '42000', message: "SQL compilation error:\nsyntax error line 1 at position 0 unexpected 'DROP'." });
    expect((await post(em, 'DESC USER', { token })).json.message).toContain("unexpected '<EOF>'");
    expect((await post(em, 'SELECT NOW()', { token })).json.code).toBe('002140');
    expect((await post(em, 'SELECT CURRENT_USER(1)', { token })).json.code).toBe('001044');
    expect((await post(em, 'DESC USER bob; DESC USER alice', { token })).json.code).toBe('000008');
    expect((await post(em, "ALTER USER alice SET RSA_PUBLIC_KEY='abc", { token })).json.code).toBe('001003');
  });
});

describe('Postgres tokens', () => {
  it('issues tokens with instance and user name rules', async () => {
    em.addPostgresInstance('reporting', { users: ['app_user', "o'brien\\x"], allowedUsers: ['alice'] });
    em.addPostgresInstance('Reporting_server', { caseSensitive: true });
    const token = mint(rsaA);
    const q = (inst: string, user: string) => `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('${inst}', '${user}')`;
    const r = await post(em, q('Reporting', 'app_user'), { token });
    expect(r.status).toBe(200);
    expect(r.json.resultSetMetaData.rowType[0].name).toBe("GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('REPORTING', 'APP_USER')");
    const tok = r.json.data[0][0];
    expect(tok).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(em.pgTokens.at(-1)).toMatchObject({ token: tok, instance: 'REPORTING', pgUser: 'app_user', login: 'ALICE' });
    // both '' and \ escapes are interpreted, as Snowflake does
    expect((await post(em, q('reporting', "o''brien\\\\x"), { token })).status).toBe(200);
    expect((await post(em, q('reporting', "o''brien\\x"), { token })).json.code).toBe('002003');
    expect((await post(em, q('reporting', 'APP_USER'), { token })).json.message).toContain("Postgres role 'APP_USER' does not exist");
    expect((await post(em, q('"Reporting_server"', 'anyone'), { token })).status).toBe(200);
    expect(em.pgTokens.at(-1)!.instance).toBe('Reporting_server');
    const notQuoted = await post(em, q('Reporting_server', 'anyone'), { token });
    expect(notQuoted.json).toMatchObject({ code: '002003', message: "SQL compilation error:\nPostgres instance 'REPORTING_SERVER' does not exist or not authorized." });
    const noUsage = await post(em, q('reporting', 'app_user'), { token: mint(rsaB, { user: 'BOB' }) });
    expect([noUsage.status, noUsage.json.code]).toEqual([422, '002003']);
    expect(em.pgTokens).toHaveLength(3);
  });
});

describe('faults', () => {
  const token = () => mint(rsaA);

  it("a fault with a user strikes only statements about that user; setLatency delays every answer", async () => {
    em.injectFault({ kind: 'status', status: 503, user: 'Bob', times: 5 });
    expect((await post(em, 'DESC USER alice', { token: token() })).status).toBe(200);
    expect((await post(em, WHO, { token: token() })).status).toBe(200);
    expect((await post(em, 'DESC USER bob', { token: token() })).status).toBe(503);
    expect((await post(em, 'SHOW USER KEY PAIRS FOR USER "BOB"', { token: token() })).status).toBe(503);
    em.reset();
    em.setLatency(120);
    const t0 = Date.now();
    expect((await post(em, WHO, { token: token() })).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
    em.setLatency(0);
  });

  it('status, html and broken bodies strike before the statement runs', async () => {
    em.injectFault({ kind: 'status', status: 503, times: 2 });
    em.injectFault({ kind: 'status', status: 429, match: /alter/i, retryAfterSeconds: 0 });
    expect((await post(em, WHO, { token: token() })).status).toBe(503);
    const second = await post(em, 'DESC USER alice', { token: token() });
    expect([second.status, second.json.message]).toEqual([503, 'Service Unavailable']);
    expect((await post(em, WHO, { token: token() })).status).toBe(200);
    const alter = await post(em, `ALTER USER alice UNSET RSA_PUBLIC_KEY_2`, { token: token() });
    expect([alter.status, alter.headers.get('retry-after')]).toEqual([429, '0']);
    expect(em.user('alice').slots[2]).not.toBeNull();

    em.injectFault({ kind: 'html' });
    const html = await post(em, WHO, { token: token() });
    expect([html.status, html.headers.get('content-type')]).toEqual([502, 'text/html']);
    expect(html.text).toContain('<html>');

    for (const kind of ['invalid-json', 'truncated-json'] as const) {
      em.injectFault({ kind });
      const r = await post(em, WHO, { token: token() });
      expect([r.status, r.headers.get('content-type'), r.json]).toEqual([200, 'application/json', undefined]);
    }
    em.injectFault({ kind: 'missing-fields' });
    const mf = await post(em, WHO, { token: token() });
    expect(mf.status).toBe(200);
    expect(mf.json.code).toBe('090001');
    expect(mf.json.data).toBeUndefined();
    expect(mf.json.resultSetMetaData).toBeUndefined();
    expect(em.pendingFaults()).toEqual([]);
    expect(em.executed.map((e) => e.statement)).toEqual([WHO]);
  });

  it('reset and hang break the connection', async () => {
    em.injectFault({ kind: 'reset' });
    await expect(post(em, WHO, { token: token() })).rejects.toThrow();
    em.injectFault({ kind: 'hang' });
    const t0 = Date.now();
    await expect(post(em, WHO, { token: token(), signal: AbortSignal.timeout(100) })).rejects.toThrow();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(80);
    expect((await post(em, WHO, { token: token() })).status).toBe(200);
    expect(em.requests.map((r) => r.fault)).toEqual(['reset', 'hang', undefined]);
    expect(em.executed).toHaveLength(1);
  });

  it('async answers 202 333334 and completes after the polls', async () => {
    em.injectFault({ kind: 'async', polls: 2 });
    const r = await post(em, WHO, { token: token() });
    expect(r.status).toBe(202);
    expect(r.json.code).toBe('333334');
    const handle = r.json.statementHandle;
    expect((await poll(em, handle, { token: token() })).status).toBe(202);
    expect((await poll(em, handle, { token: token() })).status).toBe(202);
    const done = await poll(em, handle, { token: token() });
    expect([done.status, done.json.data, done.json.statementHandle]).toEqual([200, [['MYORG-MYACCOUNT', 'ALICE', 'ANALYST']], handle]);
    expect(em.requests.at(-1)).toMatchObject({ method: 'GET', statement: WHO, authOutcome: 'ok' });
    expect((await poll(em, handle, { token: mint(rsaB, { user: 'BOB' }) })).status).toBe(404);
    const unknown = await poll(em, randomUUID(), { token: token() });
    expect([unknown.status, unknown.json.code]).toEqual([404, '000709']);
    expect((await poll(em, handle, { token: 'x' })).status).toBe(401);
  });

  it('never-complete stays 202 and does not run the statement', async () => {
    em.injectFault({ kind: 'never-complete', match: /UNSET/ });
    const r = await post(em, 'ALTER USER alice UNSET RSA_PUBLIC_KEY_2', { token: token() });
    expect(r.status).toBe(202);
    for (let i = 0; i < 3; i++) expect((await poll(em, r.json.statementHandle, { token: token() })).json.code).toBe('333334');
    expect(em.user('alice').slots[2]).not.toBeNull();
  });

  it('drop-after-execute changes state, and a retry=true replays the result', async () => {
    em.injectFault({ kind: 'drop-after-execute', match: /ALTER/ });
    const requestId = randomUUID();
    const stmt = `ALTER USER alice SET RSA_PUBLIC_KEY_2='${rsaB.body}'`;
    await expect(post(em, stmt, { token: token(), requestId })).rejects.toThrow();
    expect(em.user('alice').slots[2]!.fingerprint).toBe(rsaB.fp);
    const dup = await post(em, stmt, { token: token(), requestId });
    expect([dup.status, dup.json.code]).toEqual([400, '391907']);
    const other = await post(em, WHO, { token: token(), requestId, retry: true });
    expect([other.status, other.json.code]).toEqual([400, '391908']);
    const retry = await post(em, stmt, { token: token(), requestId, retry: true });
    expect(retry.status).toBe(200);
    const again = await post(em, stmt, { token: token(), requestId, retry: true });
    expect(again.json.statementHandle).toBe(retry.json.statementHandle);
    expect(em.executed.filter((e) => e.requestId === requestId)).toHaveLength(1);
    expect(em.requests.filter((r) => r.requestId === requestId).map((r) => [r.retry, r.replayed, r.executed])).toEqual([
      [false, false, true],
      [false, false, false],
      [true, false, false],
      [true, true, false],
      [true, true, false],
    ]);
  });

  it('a retry of a request that never ran runs it', async () => {
    em.injectFault({ kind: 'status', status: 502 });
    const requestId = randomUUID();
    expect((await post(em, WHO, { token: token(), requestId })).status).toBe(502);
    const r = await post(em, WHO, { token: token(), requestId, retry: true });
    expect([r.status, em.requests.at(-1)!.replayed, em.executed.length]).toEqual([200, false, 1]);
  });

  it('fail-auth refuses otherwise valid credentials, with filters', async () => {
    em.injectFault({ kind: 'fail-auth', code: '394304', fingerprint: ec256.fp });
    expect((await post(em, WHO, { token: token() })).status).toBe(200);
    const r = await post(em, WHO, { token: mint(ec256) });
    expect([r.status, r.json.code, em.requests.at(-1)!.fault]).toEqual([401, '394304', 'fail-auth']);
    expect(r.json.message).toMatch(UUID_MSG);
    expect((await post(em, WHO, { token: mint(ec256) })).status).toBe(200);
    em.injectFault({ kind: 'fail-auth' });
    expect((await post(em, WHO, { token: token() })).json.code).toBe('390144');
  });

  it('reset() clears requests and faults but not users', async () => {
    em.injectFault({ kind: 'reset' });
    await post(em, WHO, { token: 'x' }).catch(() => undefined);
    em.injectFault({ kind: 'status', status: 500 });
    em.reset();
    expect(em.requests).toHaveLength(0);
    expect(em.pendingFaults()).toHaveLength(0);
    expect((await post(em, WHO, { token: token() })).status).toBe(200);
  });
});

describe('propagation delay and clock skew', () => {
  it('a SET key authenticates only after the propagation delay', async () => {
    const slow = await startEmulator({ propagationDelayMs: 150 });
    try {
      slow.addUser('alice', { rsaPublicKey: rsaA.body });
      const r = await post(slow, `ALTER USER alice SET RSA_PUBLIC_KEY_2='${rsaB.body}'`, { token: mint(rsaA) });
      expect(r.status).toBe(200);
      expect(descMap(await post(slow, 'DESC USER alice', { token: mint(rsaA) })).RSA_PUBLIC_KEY_2_FP).toBe(rsaB.fp);
      expect((await post(slow, WHO, { token: mint(rsaB) })).json.code).toBe('394304');
      await new Promise((resolve) => setTimeout(resolve, 170));
      expect((await post(slow, WHO, { token: mint(rsaB) })).status).toBe(200);
    } finally {
      await slow.close();
    }
  });

  it('the server clock moves Date, iat and exp checks', async () => {
    const ahead = await startEmulator({ clockSkewSeconds: 7200, account: 'xy12345' });
    const behind = await startEmulator({ clockSkewSeconds: -600 });
    try {
      expect(ahead.account).toBe('XY12345');
      ahead.addUser('alice', { rsaPublicKey: rsaA.body });
      behind.addUser('alice', { rsaPublicKey: rsaA.body });
      const r = await post(ahead, WHO, { token: mint(rsaA, { account: 'XY12345' }) });
      expect(r.json.code).toBe('394303');
      expect(Date.parse(r.headers.get('date')!) - Date.now()).toBeGreaterThan(7190_000);
      expect((await post(behind, WHO, { token: mint(rsaA) })).json.code).toBe('394302');
      const fixed = mint(rsaA, { iat: Math.floor(Date.now() / 1000) - 600 });
      expect((await post(behind, WHO, { token: fixed })).status).toBe(200);
      behind.setClockSkew(30);
      expect((await post(behind, WHO, { token: mint(rsaA) })).status).toBe(200);
    } finally {
      await ahead.close();
      await behind.close();
    }
  });
});
