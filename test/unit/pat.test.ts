/**
 * PAT pieces without a server: the SQL (names as identifiers, never SQL), the grace a ROTATE may ask
 * for, the journal (never a secret; damaged or foreign journals are not followed), and the emulator's
 * PAT rules (one-time secrets, ROTATE's rotated-out object, the limit, the PAT-session rule).
 */
import { describe, expect, it } from 'vitest';
import { addPatSql, parsePatName, removePatSql, rotateGraceHours, rotatePatSql, setPatDisabledSql, showPatsSql } from '../../src/core/pat-sql.js';
import { parsePatJournal, patJournalMatches, type PatJournal } from '../../src/core/pat-journal.js';
import { countedPats, patStatus, prunePats, type PatObject } from '../support/emulator/pats.js';
import { parseStatement } from '../support/emulator/sql.js';

describe('PAT SQL', () => {
  it('names are stored upper-case when plain, quoted exactly otherwise; literals are escaped', () => {
    expect(addPatSql('svc_bi', parsePatName('tableau'), { roleRestriction: 'BI_READER', daysToExpiry: 30, comment: "it's" })).toBe(
      "ALTER USER svc_bi ADD PROGRAMMATIC ACCESS TOKEN TABLEAU ROLE_RESTRICTION='BI_READER' DAYS_TO_EXPIRY=30 COMMENT='it''s'",
    );
    expect(addPatSql('SVC', parsePatName('"Mixed Case"'))).toBe('ALTER USER SVC ADD PROGRAMMATIC ACCESS TOKEN "Mixed Case"');
    expect(parseStatement(addPatSql('SVC', parsePatName('"lower"')))).toMatchObject({ action: { name: 'lower' } });
    expect(rotatePatSql('SVC', 'T', 0)).toBe('ALTER USER SVC ROTATE PROGRAMMATIC ACCESS TOKEN T EXPIRE_ROTATED_TOKEN_AFTER_HOURS=0');
    expect(setPatDisabledSql('SVC', 'T', true)).toBe('ALTER USER SVC MODIFY PROGRAMMATIC ACCESS TOKEN T SET DISABLED = TRUE');
    expect(removePatSql('SVC', 'T_ROTATED_1765000000000', true)).toBe('ALTER USER SVC REMOVE PROGRAMMATIC ACCESS TOKEN IF EXISTS T_ROTATED_1765000000000');
    expect(showPatsSql('a.b@c')).toBe('SHOW USER PROGRAMMATIC ACCESS TOKENS FOR USER "a.b@c"');
    // Every statement sfauth writes parses as exactly one statement, whatever the name.
    for (const name of ['x"; DROP USER ADMIN; --', "o'brien", 'a\\b']) {
      const sql = addPatSql('SVC', parsePatName(name), { comment: name });
      expect(parseStatement(sql)).toMatchObject({ kind: 'pat', action: { op: 'add', name, comment: name } });
    }
  });

  it('--pat refuses empty names, control characters and rotated-out names (except for revoke)', () => {
    expect(() => parsePatName('  ')).toThrow(/--pat is empty/);
    expect(() => parsePatName('a\nb')).toThrow(/control characters/);
    expect(() => parsePatName('T_ROTATED_1765000000000')).toThrow(/rotated-out token object/);
    expect(parsePatName('T_ROTATED_1765000000000', '--pat', true)).toBe('T_ROTATED_1765000000000');
  });

  it('a ROTATE asks for the grace wanted, at most the whole hours the current secret has left', () => {
    const now = Date.UTC(2026, 11, 8);
    expect(rotateGraceHours(24, null, now)).toBe(24);
    expect(rotateGraceHours(24, new Date(now + 30 * 86_400_000), now)).toBe(24);
    expect(rotateGraceHours(24, new Date(now + 5.5 * 3_600_000), now)).toBe(5);
    expect(rotateGraceHours(24, new Date(now - 1000), now)).toBe(0);
  });
});

describe('PAT journal', () => {
  const j: PatJournal = {
    version: 1,
    kind: 'sfauth-rotate-pat',
    account: 'MYORG-MYACCOUNT',
    targetUser: 'svc_bi',
    targetKey: 'SVC_BI',
    name: 'TABLEAU',
    roleRestriction: 'BI_READER',
    graceHours: 24,
    destination: 'store',
    knownRotated: [],
    rotatedTokenName: 'TABLEAU_ROTATED_1765000000000',
    lost: ['TABLEAU_ROTATED_1765000000001'],
    createdAt: '2026-12-08T00:00:00.000Z',
    updatedAt: '2026-12-08T00:00:00.000Z',
    step: 'registered',
  };
  it('round-trips, and matches its account, user (as Snowflake resolves it) and token', () => {
    const back = parsePatJournal(JSON.stringify(j));
    expect(back).toEqual(j);
    expect(patJournalMatches(back!, 'myorg-myaccount', 'SVC_BI', 'TABLEAU')).toBe(true);
    expect(patJournalMatches(back!, 'myorg-myaccount', 'SVC_BI', 'OTHER')).toBe(false);
  });
  it('a damaged or foreign journal is not one: unknown step, names with control characters, a mismatched key', () => {
    for (const bad of [{ step: 'done' }, { lost: ['a\nb'] }, { targetKey: 'OTHER' }, { destination: 'argv' }, { graceHours: -1 }, { kind: 'sfauth-rotate' }]) {
      expect(parsePatJournal(JSON.stringify({ ...j, ...bad }))).toBeNull();
    }
    expect(parsePatJournal('{')).toBeNull();
  });
});

describe('emulator PAT rules', () => {
  const now = Date.UTC(2026, 11, 8);
  const t = (over: Partial<PatObject>): PatObject => ({ name: 'T', roleRestriction: null, expiresAt: new Date(now + 86_400_000), disabled: false, comment: null, createdOn: new Date(now), createdBy: 'A', lastUsedOn: null, rotatedTo: null, daysToExpiry: 15, minsToBypass: 0, secret: null, ...over });
  it('status: DISABLED over EXPIRED; expired tokens do not count toward 15 and are listed for seven days', () => {
    expect(patStatus(t({ disabled: true, expiresAt: new Date(now - 1) }), now)).toBe('DISABLED');
    expect(patStatus(t({ expiresAt: new Date(now - 1) }), now)).toBe('EXPIRED');
    expect(countedPats([t({}), t({ disabled: true }), t({ rotatedTo: 'T' }), t({ expiresAt: new Date(now - 1) })], now)).toBe(3);
    expect(prunePats([t({ expiresAt: new Date(now - 6 * 86_400_000) }), t({ expiresAt: new Date(now - 8 * 86_400_000) })], now)).toHaveLength(1);
  });
  it('parses every documented form: PAT shorthand, IF [NOT] EXISTS, MODIFY SET/UNSET', () => {
    expect(parseStatement('ALTER USER U ADD PAT IF NOT EXISTS t DAYS_TO_EXPIRY = 5')).toMatchObject({ kind: 'pat', action: { op: 'add', guard: true, daysToExpiry: 5 } });
    expect(parseStatement('ALTER USER IF EXISTS U ROTATE PROGRAMMATIC ACCESS TOKEN IF EXISTS t EXPIRE_ROTATED_TOKEN_AFTER_HOURS=0')).toMatchObject({ kind: 'pat', ifExists: true, action: { op: 'rotate', guard: true, expireAfterHours: 0 } });
    expect(parseStatement('ALTER USER U MODIFY PAT t UNSET DISABLED, COMMENT')).toMatchObject({ action: { op: 'modify', unset: ['DISABLED', 'COMMENT'] } });
    expect(parseStatement("ALTER USER U MODIFY PAT t SET DISABLED = TRUE COMMENT = 'x'")).toMatchObject({ action: { op: 'modify', set: { disabled: true, comment: 'x' } } });
    expect(() => parseStatement('ALTER USER U MODIFY PAT t SET DISABLED = MAYBE')).toThrow();
  });
});
