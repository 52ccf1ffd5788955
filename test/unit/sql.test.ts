import { describe, expect, it } from 'vitest';
import { describeUserSql, parseSlot, quoteIdentifier, quoteLiteral, setPublicKeySql, unsetPublicKeySql } from '../../src/core/sql.js';

describe('quoteIdentifier', () => {
  it.each([
    ['SVC_LOADER', 'SVC_LOADER'],
    ['svc_loader', 'svc_loader'],
    ['_x$1', '_x$1'],
    ['odd"name x', '"odd""name x"'],
    ['1user', '"1user"'],
    ['user.name', '"user.name"'],
    ['a-b', '"a-b"'],
    ["o'brien", `"o'brien"`],
    // Already a quoted identifier (a user created as "svc_lower"): passed on as typed.
    ['"quoted"', '"quoted"'],
    ['"a ""b"""', '"a ""b"""'],
    // Not a well-formed one: quoted as a whole.
    ['"a"b"', '"""a""b"""'],
  ])('%s → %s', (input, expected) => expect(quoteIdentifier(input)).toBe(expected));

  it('refuses an empty name', () => expect(() => quoteIdentifier('')).toThrow(/empty/));
});

describe('quoteLiteral', () => {
  it.each([
    ['abc', "'abc'"],
    ["it's", "'it''s'"],
    ['a\\b', "'a\\\\b'"],
    ['"Reporting_server"', `'"Reporting_server"'`],
    ["'; DROP USER x; --", "'''; DROP USER x; --'"],
  ])('%s → %s', (input, expected) => expect(quoteLiteral(input)).toBe(expected));
});

describe('statements', () => {
  it('sets and unsets both slots', () => {
    expect(setPublicKeySql('SVC', 1, 'MIIB')).toBe("ALTER USER SVC SET RSA_PUBLIC_KEY='MIIB'");
    expect(setPublicKeySql('odd"name x', 2, 'MIIB')).toBe(`ALTER USER "odd""name x" SET RSA_PUBLIC_KEY_2='MIIB'`);
    expect(unsetPublicKeySql('SVC', 1)).toBe('ALTER USER SVC UNSET RSA_PUBLIC_KEY');
    expect(unsetPublicKeySql('SVC', 2)).toBe('ALTER USER SVC UNSET RSA_PUBLIC_KEY_2');
    expect(describeUserSql('svc user')).toBe('DESC USER "svc user"');
  });

  it('parses slots', () => {
    expect(parseSlot('1')).toBe(1);
    expect(parseSlot('2')).toBe(2);
    expect(parseSlot(undefined)).toBe(1);
    expect(() => parseSlot('3')).toThrow(/invalid slot/);
  });
});
