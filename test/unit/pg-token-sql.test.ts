import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import {
  PG_TOKEN_LIFETIME_SECONDS,
  checkInstanceName,
  isCaseSensitiveInstance,
  parsePgTokenFormat,
  pgPasswordLine,
  pgTokenExpiry,
  pgTokenSql,
  shellQuote,
} from '../../src/core/pg-token-sql.js';
import { parseStatement } from '../support/emulator/sql.js';

/** The two string arguments as Snowflake's lexer (the emulator's) reads them back. */
function decodedArgs(sql: string): string[] {
  const st = parseStatement(sql);
  if (st.kind !== 'select') throw new Error(`not a SELECT: ${st.kind}`);
  const item = st.items[0]!;
  if (item.kind !== 'func') throw new Error('not a function call');
  expect(item.name).toBe('GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER');
  return item.args.map((a) => (a.kind === 'string' ? a.value : `<${a.kind}>`));
}

describe('pgTokenSql', () => {
  it.each([
    ['REPORTING', 'app', "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('REPORTING', 'app')"],
    ['reporting_server', 'reporting_user', "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('reporting_server', 'reporting_user')"],
    ['"Reporting_server"', 'Casey', `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('"Reporting_server"', 'Casey')`],
    ["o'neil", "d'arcy", "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('o''neil', 'd''arcy')"],
    ['"It\'s ""Big"""', 'x', `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('"It''s ""Big"""', 'x')`],
    ['inst', 'back\\slash', "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('inst', 'back\\\\slash')"],
    ['inst', 'with space', "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('inst', 'with space')"],
    ['inst', 'Zoë_ünïcødé_用户', "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('inst', 'Zoë_ünïcødé_用户')"],
    ['inst', "'); DROP USER x; --", "SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('inst', '''); DROP USER x; --')"],
  ])('%s / %s', (instance, pgUser, expected) => {
    const sql = pgTokenSql(instance, pgUser);
    expect(sql).toBe(expected);
    // Whatever was typed reaches Snowflake unchanged, as exactly two string arguments.
    expect(decodedArgs(sql)).toEqual([instance, pgUser]);
  });

  it('survives every awkward character a name can hold', () => {
    const nasty = `a'b"c\\d\\'e''f\\\\g $h;\`i\n\tj%k_l—m`;
    expect(decodedArgs(pgTokenSql('inst', nasty))).toEqual(['inst', nasty]);
    expect(decodedArgs(pgTokenSql(`"${nasty.replace(/"/g, '""')}"`, 'u'))).toEqual([`"${nasty.replace(/"/g, '""')}"`, 'u']);
  });

  it('passes an unquoted instance exactly as typed (Snowflake folds its case)', () => {
    expect(decodedArgs(pgTokenSql('Mixed_Case', 'u'))[0]).toBe('Mixed_Case');
  });

  it('refuses an empty instance or user', () => {
    expect(() => pgTokenSql('', 'u')).toThrow(/instance name cannot be empty/);
    expect(() => pgTokenSql('   ', 'u')).toThrow(/instance name cannot be empty/);
    expect(() => pgTokenSql('inst', '')).toThrow(/Postgres user cannot be empty/);
  });

  it.each(['"Reporting', 'Reporting"', '"', '""'])('refuses the unbalanced or empty quoted instance %s (exit 2)', (name) => {
    try {
      checkInstanceName(name);
      expect.unreachable();
    } catch (err) {
      expect((err as { exitCode: number }).exitCode).toBe(2);
    }
  });

  it('tells a case-sensitive instance from a plain one', () => {
    expect(isCaseSensitiveInstance('"Reporting_server"')).toBe(true);
    expect(isCaseSensitiveInstance('Reporting_server')).toBe(false);
    expect(isCaseSensitiveInstance('"')).toBe(false);
  });
});

describe('parsePgTokenFormat', () => {
  it.each([
    [undefined, undefined, 'token'],
    ['token', undefined, 'token'],
    ['env', undefined, 'env'],
    ['json', undefined, 'json'],
    ['token', true, 'json'], // commander's default with --json
    ['json', true, 'json'],
  ] as const)('--format %s --json %s → %s', (format, json, expected) => {
    expect(parsePgTokenFormat(format, json)).toBe(expected);
  });

  it.each(['yaml', 'JSON', '', 'tokens'])('refuses --format %j with exit 2', (format) => {
    expect(() => parsePgTokenFormat(format, false)).toThrow(/invalid --format/);
    try {
      parsePgTokenFormat(format, false);
    } catch (err) {
      expect((err as { exitCode: number }).exitCode).toBe(2);
      expect((err as { hint: string }).hint).toMatch(/token, env or json/);
    }
  });

  it('refuses --json together with --format env', () => {
    expect(() => parsePgTokenFormat('env', true)).toThrow(/conflicts/);
  });
});

describe('shellQuote / pgPasswordLine', () => {
  const sh = (script: string) => spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH } });

  it('leaves base64url and JWT-like tokens bare', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.abc-_DEF123';
    expect(pgPasswordLine(token)).toBe(`PGPASSWORD=${token}`);
    expect(pgPasswordLine('ab+cd/ef==')).toBe('PGPASSWORD=ab+cd/ef==');
  });

  it.each([
    ['a b', "'a b'"],
    ['$HOME', "'$HOME'"],
    ["it's", `'it'\\''s'`],
    ['a;b|c&d', "'a;b|c&d'"],
    ['`id`', "'`id`'"],
    ['*', "'*'"],
  ])('quotes %s as %s', (value, expected) => expect(shellQuote(value)).toBe(expected));

  it.each([
    'plain-token_0123456789',
    'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig',
    'ab+cd/ef==',
    "it's $HOME `id` $(id) \\ \" ; | & * ? ~ ! # < > { } [ ] ( )",
    "''''",
    'new\nline',
    'ünïcødé',
  ])('eval/export round-trips %j through /bin/sh', (token) => {
    const line = pgPasswordLine(token);
    const r = sh(`eval "export ${line.replace(/(["\\$`])/g, '\\$1')}"; printf %s "$PGPASSWORD"`);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(token);
    const r2 = sh(`${line}; export PGPASSWORD; printf %s "$PGPASSWORD"`);
    expect(r2.stdout).toBe(token);
  });

  it('works the documented way: eval "export $(…)"', () => {
    const token = "t0k'en $x";
    const r = sh(`eval "export $(printf '%s\\n' ${shellQuote(pgPasswordLine(token))})"; printf %s "$PGPASSWORD"`);
    expect(r.stdout).toBe(token);
  });
});

describe('pgTokenExpiry', () => {
  it('is 15 minutes after issue, as an ISO string', () => {
    expect(PG_TOKEN_LIFETIME_SECONDS).toBe(900);
    expect(pgTokenExpiry(Date.UTC(2026, 10, 23, 16, 40, 0, 123))).toBe('2026-11-23T16:55:00.123Z');
  });
});
