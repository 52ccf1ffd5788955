/**
 * The emulator's named key pairs (test/support/emulator/key-pairs.ts) over real HTTP: SHOW columns,
 * ADD / ROTATE / MODIFY / REMOVE with their documented rules, authentication over the legacy slots and
 * the ACTIVE pairs, role restriction, grace and expiry on the server clock, and each option for the
 * points Snowflake leaves unconfirmed.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { startEmulator, type Emulator, type EmulatorOptions } from '../support/emulator.js';

interface Pair {
  priv: KeyObject;
  body: string;
  fp: string;
}

function pair(kp = generateKeyPairSync('ec', { namedCurve: 'P-256' })): Pair {
  const der = kp.publicKey.export({ format: 'der', type: 'spki' });
  return { priv: kp.privateKey, body: der.toString('base64'), fp: 'SHA256:' + createHash('sha256').update(der).digest('base64') };
}

/** A key-pair JWT for ALICE signed with `p` (ES256), minted independently of src/. */
function jwt(p: Pair, user = 'ALICE'): string {
  const iat = Math.floor(Date.now() / 1000);
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${part({ alg: 'ES256', typ: 'JWT' })}.${part({ iss: `MYORG-MYACCOUNT.${user}.${p.fp}`, sub: `MYORG-MYACCOUNT.${user}`, iat, exp: iat + 3600 })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: p.priv, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

async function sql(em: Emulator, statement: string, as: Pair, body: Record<string, unknown> = {}, user = 'ALICE'): Promise<{ status: number; json: any }> {
  const res = await fetch(`${em.url}/api/v2/statements?requestId=${randomUUID()}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${jwt(as, user)}`, 'X-Snowflake-Authorization-Token-Type': 'KEYPAIR_JWT', 'Content-Type': 'application/json', Accept: 'application/json', 'User-Agent': 'sfauth/test' },
    body: JSON.stringify({ statement, ...body }),
  });
  return { status: res.status, json: await res.json() };
}

const WHO = 'SELECT CURRENT_USER()';
let slotKey: Pair, k1: Pair, k2: Pair, k3: Pair;
const emulators: Emulator[] = [];

beforeAll(() => {
  [slotKey, k1, k2, k3] = [pair(), pair(), pair(), pair()];
});
afterEach(async () => {
  for (const e of emulators.splice(0)) await e.close();
});

async function world(options: EmulatorOptions = {}): Promise<Emulator> {
  const em = await startEmulator(options);
  emulators.push(em);
  em.addUser('alice', { rsaPublicKey: slotKey.body, roles: ['LOADER'] });
  return em;
}

function rowsOf(r: { json: any }): Record<string, string | null>[] {
  const cols: string[] = r.json.resultSetMetaData.rowType.map((c: { name: string }) => c.name);
  return r.json.data.map((row: (string | null)[]) => Object.fromEntries(cols.map((c, i) => [c, row[i] ?? null])));
}

describe('ADD and SHOW', () => {
  it('adds a pair; SHOW lists it with every documented column; it authenticates and records its last use', async () => {
    const em = await world();
    const add = await sql(em, `ALTER USER ALICE ADD KEY PAIR ci_key PUBLIC_KEY = '${k1.body}' DAYS_TO_EXPIRY = 90 COMMENT = 'for CI'`, slotKey);
    expect(add.status, JSON.stringify(add.json)).toBe(200);
    const shown = await sql(em, 'SHOW USER KEY PAIRS FOR USER alice', slotKey);
    expect(shown.json.resultSetMetaData.rowType.map((c: { name: string }) => c.name)).toEqual([
      'name', 'user_name', 'fingerprint', 'role_scope', 'status', 'comment', 'created_on', 'created_by', 'last_used_on', 'expires_at', 'rotated_to',
    ]);
    const [row] = rowsOf(shown);
    expect(row).toMatchObject({ name: 'CI_KEY', user_name: 'ALICE', fingerprint: k1.fp, role_scope: null, status: 'ACTIVE', comment: 'for CI', last_used_on: null, rotated_to: null });
    expect(Number(row!.expires_at) - Number(row!.created_on)).toBeCloseTo(90 * 86400, 0);
    expect(row!.created_on).toMatch(/^\d{10}\.\d{9}$/);
    expect((await sql(em, WHO, k1)).status).toBe(200);
    expect(em.keyPairs('alice')[0]!.lastUsedOn).not.toBeNull();
  });

  it('refuses a reserved name, a taken name, a key already active, more than the limit, DAYS_TO_EXPIRY 0, a role not granted', async () => {
    const em = await world({ keyPairLimit: 2 });
    const add = (name: string, p: Pair, extra = '') => sql(em, `ALTER USER alice ADD KEY PAIR ${name} PUBLIC_KEY = '${p.body}'${extra}`, slotKey);
    expect((await add('PUBLIC_KEY_1', k1)).json).toMatchObject({ code: '003530' });
    expect((await add('a', slotKey)).json).toMatchObject({ code: '003531' }); // the legacy slot 1 key
    expect((await add('a', k1)).status).toBe(200);
    expect((await add('a', k2)).json).toMatchObject({ code: '002002' });
    expect((await add('b', k1)).json).toMatchObject({ code: '003531' });
    expect((await add('b', k2, ' DAYS_TO_EXPIRY = 0')).json).toMatchObject({ code: '003534' });
    expect((await add('b', k2, " ROLE_RESTRICTION = 'SYSADMIN'")).json).toMatchObject({ code: '003533' });
    expect((await add('b', k2, " ROLE_RESTRICTION = 'loader'")).status).toBe(200);
    expect((await add('c', k3)).json).toMatchObject({ code: '003532' });
  });
});

describe('ROTATE', () => {
  it('keeps the name on the new key; the old one lives on as NAME_ROTATED_<ms> for the grace, then goes', async () => {
    const em = await world();
    em.addKeyPair('alice', 'ci_key', k1.body, { comment: 'c', daysToExpiry: 30 });
    const before = Date.now();
    const r = await sql(em, `ALTER USER alice ROTATE KEY PAIR ci_key PUBLIC_KEY = '${k2.body}'`, slotKey);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const pairs = em.keyPairs('alice');
    expect(pairs.map((p) => [p.name.replace(/\d+$/, 'N'), p.fingerprint, p.status, p.rotatedTo, p.comment])).toEqual([
      ['CI_KEY_ROTATED_N', k1.fp, 'ACTIVE', 'CI_KEY', 'c'],
      ['CI_KEY', k2.fp, 'ACTIVE', null, 'c'],
    ]);
    expect(Number(/_(\d+)$/.exec(pairs[0]!.name)![1])).toBeGreaterThanOrEqual(before);
    expect(pairs[0]!.expiresAt!.getTime() - Number(/_(\d+)$/.exec(pairs[0]!.name)![1])).toBe(24 * 3_600_000);
    // both keys authenticate during the grace period
    expect((await sql(em, WHO, k1)).status).toBe(200);
    expect((await sql(em, WHO, k2)).status).toBe(200);
    // the same ROTATE again is not a no-op: the key is already active
    expect((await sql(em, `ALTER USER alice ROTATE KEY PAIR ci_key PUBLIC_KEY = '${k2.body}'`, slotKey)).json).toMatchObject({ code: '003531' });
    // a rotated-out pair cannot be rotated
    expect((await sql(em, `ALTER USER alice ROTATE KEY PAIR ${pairs[0]!.name} PUBLIC_KEY = '${k3.body}'`, slotKey)).json).toMatchObject({ code: '003536' });
    // after the grace period (server clock 25 h ahead) the old key is neither listed nor accepted
    em.setClockSkew(25 * 3600);
    expect(em.keyPairs('alice').map((p) => p.name)).toEqual(['CI_KEY']);
  });

  it('grace 0: the old key stops at once, listed as DISABLED or not at all (both options)', async () => {
    for (const mode of ['disabled', 'unlisted'] as const) {
      const em = await world({ rotatedOutAtZeroGrace: mode });
      em.addKeyPair('alice', 'k', k1.body);
      const r = await sql(em, `ALTER USER alice ROTATE KEY PAIR k PUBLIC_KEY = '${k2.body}' EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS = 0`, slotKey);
      expect(r.status).toBe(200);
      expect(em.keyPairs('alice').map((p) => p.status)).toEqual(mode === 'disabled' ? ['DISABLED', 'ACTIVE'] : ['ACTIVE']);
      expect((await sql(em, WHO, k1)).status).toBe(401);
    }
  });

  it('hours beyond what the key has left are refused; the limit counts rotated-out pairs', async () => {
    const em = await world({ keyPairLimit: 2 });
    em.addKeyPair('alice', 'k', k1.body, { daysToExpiry: 1 });
    expect((await sql(em, `ALTER USER alice ROTATE KEY PAIR k PUBLIC_KEY = '${k2.body}' EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS = 48`, slotKey)).json).toMatchObject({ code: '003537' });
    expect((await sql(em, `ALTER USER alice ROTATE KEY PAIR k PUBLIC_KEY = '${k2.body}'`, slotKey)).status).toBe(200);
    expect((await sql(em, `ALTER USER alice ROTATE KEY PAIR k PUBLIC_KEY = '${k3.body}'`, slotKey)).json).toMatchObject({ code: '003532' });
  });
});

describe('MODIFY, REMOVE, expiry and role restriction', () => {
  it('a rotated-out pair can be disabled (or, with modifyRotatedOut: refused, only removed) to end its grace early', async () => {
    for (const mode of ['allowed', 'refused'] as const) {
      const em = await world({ modifyRotatedOut: mode });
      em.addKeyPair('alice', 'k', k1.body);
      expect((await sql(em, `ALTER USER alice ROTATE KEY PAIR k PUBLIC_KEY = '${k2.body}'`, slotKey)).status).toBe(200);
      const old = em.keyPairs('alice').find((p) => p.rotatedTo === 'K')!.name;
      const modify = await sql(em, `ALTER USER alice MODIFY KEY PAIR ${old} SET DISABLED = TRUE`, slotKey);
      if (mode === 'allowed') {
        expect(modify.status).toBe(200);
        expect(em.keyPairs('alice').find((p) => p.name === old)?.status).toBe('DISABLED');
      } else {
        expect(modify.json).toMatchObject({ code: '003536' });
        expect((await sql(em, `ALTER USER alice REMOVE KEY PAIR ${old}`, slotKey)).status).toBe(200);
        expect(em.keyPairs('alice').map((p) => p.name)).toEqual(['K']);
      }
      expect((await sql(em, WHO, k1)).status).toBe(401);
    }
  });

  it('SET DISABLED stops a key and FALSE brings it back; REMOVE frees the name; an EXPIRED key does not authenticate', async () => {
    const em = await world();
    em.addKeyPair('alice', 'k', k1.body);
    em.addKeyPair('alice', 'old', k2.body, { expiresAt: new Date(Date.now() - 1000) });
    expect((await sql(em, WHO, k2)).status).toBe(401);
    expect(em.keyPairs('alice').find((p) => p.name === 'OLD')!.status).toBe('EXPIRED');
    await sql(em, 'ALTER USER alice MODIFY KEY PAIR k SET DISABLED = TRUE', slotKey);
    expect((await sql(em, WHO, k1)).status).toBe(401);
    expect((await sql(em, 'ALTER USER alice MODIFY KEY PAIR k SET DISABLED = FALSE', slotKey)).status).toBe(200);
    expect((await sql(em, WHO, k1)).status).toBe(200);
    expect((await sql(em, 'ALTER USER alice REMOVE KEY PAIR k', slotKey)).status).toBe(200);
    expect((await sql(em, WHO, k1)).status).toBe(401);
    expect((await sql(em, 'ALTER USER alice REMOVE KEY PAIR k', slotKey)).json).toMatchObject({ code: '003535' });
    expect((await sql(em, `ALTER USER alice ADD KEY PAIR k PUBLIC_KEY = '${k1.body}'`, slotKey)).status).toBe(200);
    expect((await sql(em, 'ALTER USER alice REMOVE KEY PAIR PUBLIC_KEY_2', slotKey)).json).toMatchObject({ code: '003530' });
  });

  it('a role-restricted pair authenticates only when the request asks for that role', async () => {
    const em = await world();
    em.addKeyPair('alice', 'scoped', k1.body, { roleRestriction: 'LOADER' });
    const without = await sql(em, WHO, k1);
    expect(without.status).toBe(401);
    expect(without.json.code).toBe('390144');
    const uuid = /\[([0-9a-f-]{36})\]/.exec(without.json.message)![1]!;
    expect(em.loginFailure(uuid)).toMatchObject({ error: 'JWT_TOKEN_INVALID_ROLE_RESTRICTION' });
    expect((await sql(em, WHO, k1, { role: 'loader' })).status).toBe(200);
    expect((await sql(em, WHO, k1, { role: 'PUBLIC' })).status).toBe(401);
  });

  it('SHOW of another user needs the privilege; the emulator enforces it as for DESC USER', async () => {
    const em = await world();
    em.addUser('bob', { rsaPublicKey: k3.body });
    expect((await sql(em, 'SHOW USER KEY PAIRS FOR USER alice', k3, {}, 'BOB')).json).toMatchObject({ code: '002003' });
    const own = await sql(em, 'SHOW USER KEY PAIRS', k3, {}, 'BOB');
    expect(own.status).toBe(200);
    expect(own.json.data).toEqual([]);
    em.grant('bob', 'alice');
    expect((await sql(em, 'SHOW USER KEY PAIRS FOR USER alice', k3, {}, 'BOB')).status).toBe(200);
  });
});

describe('unconfirmed points, each an option', () => {
  it('fingerprint bare or prefixed; legacy slots listed or not; times as epoch or text; a server without named pairs', async () => {
    const bare = await world({ showFingerprint: 'bare', showLegacySlots: true, showTimeFormat: 'text' });
    const rows = rowsOf(await sql(bare, 'SHOW USER KEY PAIRS FOR USER alice', slotKey));
    expect(rows).toEqual([expect.objectContaining({ name: 'PUBLIC_KEY_1', fingerprint: slotKey.fp.replace('SHA256:', ''), status: 'ACTIVE' })]);
    expect(rows[0]!.created_on).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} [-+]\d{4}$/);
    const old = await world({ namedKeyPairs: false });
    const r = await sql(old, 'SHOW USER KEY PAIRS FOR USER alice', slotKey);
    expect(r.status).toBe(422);
    expect(r.json.code).toBe('001003');
    expect((await sql(old, `ALTER USER alice ADD KEY PAIR k PUBLIC_KEY = '${k1.body}'`, slotKey)).json.code).toBe('001003');
  });
});
