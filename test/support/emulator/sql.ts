/**
 * The small SQL dialect the emulator understands, parsed the way Snowflake parses it:
 * - plain identifiers `[A-Za-z_][A-Za-z0-9_$]*` are case-insensitive (upper-cased);
 * - `"quoted"` identifiers are exact, `""` inside stands for `"`;
 * - `'string'` literals: `''` stands for `'`, and backslash escapes are interpreted as Snowflake does
 *   (`\\` → `\`, `\'` → `'`, `\n`, `\t`, `\r`, `\b`, `\f`, `\0`, `\xhh`, `\uhhhh`, `\ooo`; any other `\c` → `c`);
 * - `$$dollar-quoted$$` strings are taken verbatim;
 * - `-- …` and `/* … *\/` comments, any whitespace, one optional trailing `;`.
 */

export type Token =
  | { t: 'word'; v: string; raw: string; pos: number }
  | { t: 'qident'; v: string; raw: string; pos: number }
  | { t: 'string'; v: string; raw: string; pos: number }
  | { t: 'number'; v: string; raw: string; pos: number }
  | { t: 'punct'; v: string; raw: string; pos: number };

export class SqlSyntaxError extends Error {
  constructor(
    readonly sql: string,
    readonly pos: number,
    readonly near: string,
  ) {
    super(syntaxMessage(sql, pos, near));
  }
}

function lineCol(sql: string, pos: number): { line: number; col: number } {
  const before = sql.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - (before.lastIndexOf('\n') + 1);
  return { line, col };
}

function syntaxMessage(sql: string, pos: number, near: string): string {
  const { line, col } = lineCol(sql, pos);
  return `SQL compilation error:\nsyntax error line ${line} at position ${col} unexpected '${near}'.`;
}

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '0': '\0', "'": "'", '"': '"', '\\': '\\' };

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) throw new SqlSyntaxError(sql, i, '<EOF>');
      i = end + 2;
      continue;
    }
    const start = i;
    if (/[A-Za-z_]/.test(c)) {
      while (i < sql.length && /[A-Za-z0-9_$]/.test(sql[i]!)) i++;
      const raw = sql.slice(start, i);
      tokens.push({ t: 'word', v: raw.toUpperCase(), raw, pos: start });
      continue;
    }
    if (/[0-9]/.test(c)) {
      while (i < sql.length && /[0-9.]/.test(sql[i]!)) i++;
      const raw = sql.slice(start, i);
      tokens.push({ t: 'number', v: raw, raw, pos: start });
      continue;
    }
    if (c === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= sql.length) throw new SqlSyntaxError(sql, start, '<EOF>');
        if (sql[i] === '"') {
          if (sql[i + 1] === '"') {
            v += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += sql[i];
        i++;
      }
      if (v === '') throw new SqlSyntaxError(sql, start, '""');
      tokens.push({ t: 'qident', v, raw: sql.slice(start, i), pos: start });
      continue;
    }
    if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= sql.length) throw new SqlSyntaxError(sql, start, '<EOF>');
        const d = sql[i]!;
        if (d === "'") {
          if (sql[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (d === '\\') {
          const e = sql[i + 1];
          if (e === undefined) throw new SqlSyntaxError(sql, start, '<EOF>');
          if (e === 'x' && /^[0-9A-Fa-f]{2}$/.test(sql.slice(i + 2, i + 4))) {
            v += String.fromCharCode(parseInt(sql.slice(i + 2, i + 4), 16));
            i += 4;
          } else if (e === 'u' && /^[0-9A-Fa-f]{4}$/.test(sql.slice(i + 2, i + 6))) {
            v += String.fromCharCode(parseInt(sql.slice(i + 2, i + 6), 16));
            i += 6;
          } else if (/^[0-7]{3}$/.test(sql.slice(i + 1, i + 4))) {
            v += String.fromCharCode(parseInt(sql.slice(i + 1, i + 4), 8));
            i += 4;
          } else {
            v += SIMPLE_ESCAPES[e] ?? e;
            i += 2;
          }
          continue;
        }
        v += d;
        i++;
      }
      tokens.push({ t: 'string', v, raw: sql.slice(start, i), pos: start });
      continue;
    }
    if (c === '$' && sql[i + 1] === '$') {
      const end = sql.indexOf('$$', i + 2);
      if (end < 0) throw new SqlSyntaxError(sql, start, '<EOF>');
      tokens.push({ t: 'string', v: sql.slice(i + 2, end), raw: sql.slice(start, end + 2), pos: start });
      i = end + 2;
      continue;
    }
    if ('(),=;.*'.includes(c)) {
      tokens.push({ t: 'punct', v: c, raw: c, pos: start });
      i++;
      continue;
    }
    throw new SqlSyntaxError(sql, start, c);
  }
  return tokens;
}

export type SelectArg = { kind: 'string'; value: string } | { kind: 'number'; value: string } | { kind: 'other'; raw: string };
export type SelectItem =
  | { kind: 'func'; name: string; args: SelectArg[]; column: string; pos: number }
  | { kind: 'literal'; value: string; column: string };

export type RsaProperty = 'RSA_PUBLIC_KEY' | 'RSA_PUBLIC_KEY_2';

export type Statement =
  | { kind: 'select'; items: SelectItem[] }
  | { kind: 'desc-user'; user: string }
  | { kind: 'alter-user'; user: string; ifExists: boolean; set?: Array<{ prop: string; value: string; pos: number }>; unset?: Array<{ prop: string; pos: number }> }
  | { kind: 'show-key-pairs'; user?: string }
  | { kind: 'key-pair'; user: string; ifExists: boolean; action: KeyPairAction }
  /** `ALTER USER … ADD / ROTATE / MODIFY / REMOVE { PROGRAMMATIC ACCESS TOKEN | PAT } …` (named-key-pairs.md §8.1–8.4). */
  | { kind: 'pat'; user: string; ifExists: boolean; action: PatAction }
  /** `SHOW USERS [LIKE '<p>'] [STARTS WITH '<s>'] [LIMIT <n> [FROM '<name>']]` (docs: sql-reference/sql/show-users). */
  | { kind: 'show-users'; like?: string; startsWith?: string; limit?: number; from?: string }
  /** `SHOW USER { PROGRAMMATIC ACCESS TOKENS | PATS } [FOR USER <name>]` (docs: show-user-programmatic-access-tokens). */
  | { kind: 'show-pats'; user?: string }
  /** `SELECT <col>, … FROM SNOWFLAKE.ACCOUNT_USAGE.{USERS|CREDENTIALS} [WHERE DELETED_ON IS NULL]`. */
  | { kind: 'account-usage'; view: 'USERS' | 'CREDENTIALS'; columns: string[]; notDeleted: boolean };

/** `ALTER USER … ADD / ROTATE / MODIFY / REMOVE KEY PAIR <name> …` */
export type KeyPairAction =
  | { op: 'add'; name: string; publicKey: string; roleRestriction?: string; daysToExpiry?: number; comment?: string }
  | { op: 'rotate'; name: string; publicKey: string; expireAfterHours?: number }
  | { op: 'modify'; name: string; disabled?: boolean; comment?: string | null }
  | { op: 'remove'; name: string };

/**
 * `ALTER USER … { ADD | ROTATE | MODIFY | REMOVE } { PROGRAMMATIC ACCESS TOKEN | PAT } …` as the docs
 * give them (alter-user-add-programmatic-access-token and its siblings; named-key-pairs.md §8.1–8.4).
 * `guard`: ADD's `IF NOT EXISTS`, or the inner `IF EXISTS` of the others.
 */
export type PatAction =
  | { op: 'add'; name: string; guard: boolean; roleRestriction?: string; daysToExpiry?: number; minsToBypass?: number; comment?: string }
  | { op: 'rotate'; name: string; guard: boolean; expireAfterHours?: number }
  | { op: 'modify'; name: string; guard: boolean; set: { disabled?: boolean; comment?: string; minsToBypass?: number }; unset: string[] }
  | { op: 'remove'; name: string; guard: boolean };

/** More than one statement in one request (the SQL API runs one unless told otherwise). */
export class StatementCountError extends Error {
  constructor(readonly count: number) {
    super(`Actual statement count ${count} did not match the desired statement count 1.`);
  }
}

class Parser {
  i = 0;
  constructor(
    readonly sql: string,
    readonly tokens: Token[],
  ) {}
  peek(): Token | undefined {
    return this.tokens[this.i];
  }
  fail(): never {
    const tok = this.peek();
    throw new SqlSyntaxError(this.sql, tok ? tok.pos : this.sql.length, tok ? tok.raw : '<EOF>');
  }
  isWord(...words: string[]): boolean {
    const tok = this.peek();
    return tok?.t === 'word' && words.includes(tok.v);
  }
  word(...words: string[]): string {
    const tok = this.peek();
    if (tok?.t === 'word' && (words.length === 0 || words.includes(tok.v))) {
      this.i++;
      return tok.v;
    }
    return this.fail();
  }
  punct(p: string): void {
    const tok = this.peek();
    if (tok?.t === 'punct' && tok.v === p) {
      this.i++;
      return;
    }
    this.fail();
  }
  isPunct(p: string): boolean {
    const tok = this.peek();
    return tok?.t === 'punct' && tok.v === p;
  }
  identifier(): string {
    const tok = this.peek();
    if (tok?.t === 'word' || tok?.t === 'qident') {
      this.i++;
      return tok.v;
    }
    return this.fail();
  }
  string(): string {
    const tok = this.peek();
    if (tok?.t === 'string') {
      this.i++;
      return tok.v;
    }
    return this.fail();
  }
  end(): void {
    if (this.i < this.tokens.length) this.fail();
  }
}

/** Parse exactly one statement; throws SqlSyntaxError or StatementCountError. */
export function parseStatement(sql: string): Statement {
  const all = tokenize(sql);
  // Split on `;` to count statements; empty ones (e.g. a trailing `;`) do not count.
  const groups: Token[][] = [[]];
  for (const tok of all) {
    if (tok.t === 'punct' && tok.v === ';') groups.push([]);
    else groups[groups.length - 1]!.push(tok);
  }
  const nonEmpty = groups.filter((g) => g.length > 0);
  if (nonEmpty.length > 1) throw new StatementCountError(nonEmpty.length);
  const tokens = nonEmpty[0] ?? [];
  const p = new Parser(sql, tokens);
  if (tokens.length === 0) p.fail();

  if (p.isWord('DESC', 'DESCRIBE')) {
    p.word();
    p.word('USER');
    const user = p.identifier();
    p.end();
    return { kind: 'desc-user', user };
  }
  if (p.isWord('ALTER')) {
    p.word();
    p.word('USER');
    let ifExists = false;
    if (p.isWord('IF')) {
      p.word();
      p.word('EXISTS');
      ifExists = true;
    }
    const user = p.identifier();
    if (p.isWord('ADD', 'ROTATE', 'MODIFY', 'REMOVE') && (p.tokens[p.i + 1]?.v === 'PAT' || p.tokens[p.i + 1]?.v === 'PROGRAMMATIC')) {
      const action = parsePatAction(p);
      p.end();
      return { kind: 'pat', user, ifExists, action };
    }
    if (p.isWord('ADD', 'ROTATE', 'MODIFY', 'REMOVE')) {
      const action = parseKeyPairAction(p);
      p.end();
      return { kind: 'key-pair', user, ifExists, action };
    }
    if (p.isWord('SET')) {
      p.word();
      const set: Array<{ prop: string; value: string; pos: number }> = [];
      do {
        if (p.isPunct(',')) p.punct(',');
        const pos = p.peek()?.pos ?? sql.length;
        const prop = p.word();
        p.punct('=');
        // TYPE = SERVICE takes a keyword; key properties take string literals.
        const value = prop === 'TYPE' && p.peek()?.t === 'word' ? p.word() : p.string();
        set.push({ prop, value, pos });
      } while (p.peek() && (p.isPunct(',') || p.peek()?.t === 'word'));
      p.end();
      return { kind: 'alter-user', user, ifExists, set };
    }
    if (p.isWord('UNSET')) {
      p.word();
      const unset: Array<{ prop: string; pos: number }> = [];
      for (;;) {
        const pos = p.peek()?.pos ?? sql.length;
        unset.push({ prop: p.word(), pos });
        if (!p.isPunct(',')) break;
        p.punct(',');
      }
      p.end();
      return { kind: 'alter-user', user, ifExists, unset };
    }
    return p.fail();
  }
  if (p.isWord('SHOW')) {
    p.word();
    if (p.isWord('USERS')) {
      p.word();
      const stmt: Extract<Statement, { kind: 'show-users' }> = { kind: 'show-users' };
      if (p.isWord('LIKE')) {
        p.word();
        stmt.like = p.string();
      }
      if (p.isWord('STARTS')) {
        p.word();
        p.word('WITH');
        stmt.startsWith = p.string();
      }
      if (p.isWord('LIMIT')) {
        p.word();
        const tok = p.peek();
        if (!tok || tok.t !== 'number' || !/^\d+$/.test(tok.v)) return p.fail();
        p.i++;
        stmt.limit = Number(tok.v);
        if (p.isWord('FROM')) {
          p.word();
          stmt.from = p.string();
        }
      }
      p.end();
      return stmt;
    }
    p.word('USER');
    if (p.isWord('PATS', 'PROGRAMMATIC')) {
      if (p.word() === 'PROGRAMMATIC') {
        p.word('ACCESS');
        p.word('TOKENS');
      }
      const user = forUser(p);
      p.end();
      return { kind: 'show-pats', user };
    }
    p.word('KEY');
    p.word('PAIRS');
    const user = forUser(p);
    p.end();
    return { kind: 'show-key-pairs', user };
  }
  const fromAt = tokens.findIndex((t) => t.t === 'word' && t.v === 'FROM');
  if (p.isWord('SELECT') && fromAt > 0) {
    // The one table read there is: an ACCOUNT_USAGE view, by plain column names.
    p.word();
    const columns: string[] = [];
    for (;;) {
      columns.push(p.identifier());
      if (!p.isPunct(',')) break;
      p.punct(',');
    }
    p.word('FROM');
    p.word('SNOWFLAKE');
    p.punct('.');
    p.word('ACCOUNT_USAGE');
    p.punct('.');
    const view = p.word('USERS', 'CREDENTIALS') as 'USERS' | 'CREDENTIALS';
    let notDeleted = false;
    if (p.isWord('WHERE')) {
      p.word();
      p.word('DELETED_ON');
      p.word('IS');
      p.word('NULL');
      notDeleted = true;
    }
    p.end();
    return { kind: 'account-usage', view, columns, notDeleted };
  }
  if (p.isWord('SELECT')) {
    p.word();
    const items: SelectItem[] = [];
    for (;;) {
      items.push(parseItem(p));
      if (!p.isPunct(',')) break;
      p.punct(',');
    }
    p.end();
    return { kind: 'select', items };
  }
  return p.fail();
}

/** `FOR USER <name>` of a SHOW … statement, if there. */
function forUser(p: Parser): string | undefined {
  if (!p.isWord('FOR')) return undefined;
  p.word();
  p.word('USER');
  return p.identifier();
}

function parseItem(p: Parser): SelectItem {
  const tok = p.peek();
  if (!tok) return p.fail();
  let item: SelectItem;
  if (tok.t === 'string' || tok.t === 'number') {
    p.i++;
    item = { kind: 'literal', value: tok.v, column: tok.raw.toUpperCase() };
  } else if (tok.t === 'word') {
    p.i++;
    p.punct('(');
    const args: SelectArg[] = [];
    if (!p.isPunct(')')) {
      for (;;) {
        const a = p.peek();
        if (!a || a.t === 'punct') p.fail();
        p.i++;
        if (a.t === 'string') args.push({ kind: 'string', value: a.v });
        else if (a.t === 'number') args.push({ kind: 'number', value: a.v });
        else args.push({ kind: 'other', raw: a.raw });
        if (!p.isPunct(',')) break;
        p.punct(',');
      }
    }
    p.punct(')');
    const endTok = p.tokens[p.i - 1]!;
    // Snowflake names an unaliased expression column after its text, upper-cased.
    const column = p.sql.slice(tok.pos, endTok.pos + endTok.raw.length).toUpperCase();
    item = { kind: 'func', name: tok.v, args, column, pos: tok.pos };
  } else {
    return p.fail();
  }
  if (p.isWord('AS')) {
    p.word();
    item.column = p.identifier();
  } else if (p.peek()?.t === 'qident' || (p.peek()?.t === 'word' && !p.isWord('FROM'))) {
    item.column = p.identifier();
  }
  return item;
}

/** Snowflake's rendering of an identifier: plain if it may be, else double-quoted. */
export function quoteIdent(name: string): string {
  return /^[A-Z_][A-Z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** `name = value` pairs, commas optional, each name once and from `allowed`. */
function properties(p: Parser, allowed: string[]): Map<string, { value: string; kind: 'string' | 'number' | 'word' }> {
  const found = new Map<string, { value: string; kind: 'string' | 'number' | 'word' }>();
  while (p.peek()) {
    if (p.isPunct(',')) p.punct(',');
    const prop = p.word(...allowed);
    if (found.has(prop)) p.fail();
    p.punct('=');
    const tok = p.peek();
    if (tok?.t === 'string' || tok?.t === 'number' || tok?.t === 'word') {
      p.i++;
      found.set(prop, { value: tok.v, kind: tok.t });
    } else p.fail();
  }
  return found;
}

type PropValue = { value: string; kind: string } | undefined;
/** A property's value as a whole number (a syntax error otherwise). */
function numberValue(p: Parser, v: PropValue): number | undefined {
  if (!v) return undefined;
  if (v.kind !== 'number' || !/^\d+$/.test(v.value)) p.fail();
  return Number(v.value);
}
/** A property's value as a string literal (a syntax error otherwise). */
function stringValue(p: Parser, v: PropValue): string | undefined {
  if (!v) return undefined;
  if (v.kind !== 'string') p.fail();
  return v.value;
}

/** `ADD | ROTATE | MODIFY | REMOVE { PROGRAMMATIC ACCESS TOKEN | PAT } [IF [NOT] EXISTS] <name> …`. */
function parsePatAction(p: Parser): PatAction {
  const op = p.word('ADD', 'ROTATE', 'MODIFY', 'REMOVE');
  if (p.isWord('PAT')) p.word();
  else {
    p.word('PROGRAMMATIC');
    p.word('ACCESS');
    p.word('TOKEN');
  }
  let guard = false;
  if (p.isWord('IF')) {
    p.word();
    if (op === 'ADD') p.word('NOT');
    p.word('EXISTS');
    guard = true;
  }
  const name = p.identifier();
  const num = (v: PropValue) => numberValue(p, v);
  const str = (v: PropValue) => stringValue(p, v);
  switch (op) {
    case 'ADD': {
      const f = properties(p, ['ROLE_RESTRICTION', 'DAYS_TO_EXPIRY', 'MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT', 'COMMENT']);
      return { op: 'add', name, guard, roleRestriction: str(f.get('ROLE_RESTRICTION')), daysToExpiry: num(f.get('DAYS_TO_EXPIRY')), minsToBypass: num(f.get('MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT')), comment: str(f.get('COMMENT')) };
    }
    case 'ROTATE': {
      const f = properties(p, ['EXPIRE_ROTATED_TOKEN_AFTER_HOURS']);
      return { op: 'rotate', name, guard, expireAfterHours: num(f.get('EXPIRE_ROTATED_TOKEN_AFTER_HOURS')) };
    }
    case 'MODIFY': {
      if (p.isWord('UNSET')) {
        p.word();
        const unset: string[] = [];
        for (;;) {
          unset.push(p.word('DISABLED', 'COMMENT', 'MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT'));
          if (!p.isPunct(',')) break;
          p.punct(',');
        }
        return { op: 'modify', name, guard, set: {}, unset };
      }
      p.word('SET');
      const f = properties(p, ['DISABLED', 'COMMENT', 'MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT']);
      if (f.size === 0) p.fail();
      const disabled = f.get('DISABLED');
      if (disabled && (disabled.kind !== 'word' || !['TRUE', 'FALSE'].includes(disabled.value))) p.fail();
      return {
        op: 'modify',
        name,
        guard,
        set: { ...(disabled ? { disabled: disabled.value === 'TRUE' } : {}), ...(f.has('COMMENT') ? { comment: str(f.get('COMMENT')) } : {}), ...(f.has('MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT') ? { minsToBypass: num(f.get('MINS_TO_BYPASS_NETWORK_POLICY_REQUIREMENT')) } : {}) },
        unset: [],
      };
    }
    default:
      return { op: 'remove', name, guard };
  }
}

/** `ADD | ROTATE | MODIFY | REMOVE KEY PAIR <name> …` after `ALTER USER <user>`. */
function parseKeyPairAction(p: Parser): KeyPairAction {
  const op = p.word('ADD', 'ROTATE', 'MODIFY', 'REMOVE');
  p.word('KEY');
  p.word('PAIR');
  const name = p.identifier();
  const props = (allowed: string[]) => properties(p, allowed);
  const num = (v: PropValue) => numberValue(p, v);
  const str = (v: PropValue) => stringValue(p, v);
  switch (op) {
    case 'ADD': {
      const f = props(['PUBLIC_KEY', 'ROLE_RESTRICTION', 'DAYS_TO_EXPIRY', 'COMMENT']);
      const publicKey = str(f.get('PUBLIC_KEY'));
      if (publicKey === undefined) p.fail();
      return { op: 'add', name, publicKey, roleRestriction: str(f.get('ROLE_RESTRICTION')), daysToExpiry: num(f.get('DAYS_TO_EXPIRY')), comment: str(f.get('COMMENT')) };
    }
    case 'ROTATE': {
      const f = props(['PUBLIC_KEY', 'EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS']);
      const publicKey = str(f.get('PUBLIC_KEY'));
      if (publicKey === undefined) p.fail();
      return { op: 'rotate', name, publicKey, expireAfterHours: num(f.get('EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS')) };
    }
    case 'MODIFY': {
      p.word('SET');
      const f = props(['DISABLED', 'COMMENT']);
      if (f.size === 0) p.fail();
      const disabled = f.get('DISABLED');
      if (disabled && (disabled.kind !== 'word' || !['TRUE', 'FALSE'].includes(disabled.value))) p.fail();
      return { op: 'modify', name, ...(disabled ? { disabled: disabled.value === 'TRUE' } : {}), ...(f.has('COMMENT') ? { comment: str(f.get('COMMENT')) } : {}) };
    }
    default:
      return { op: 'remove', name };
  }
}

/**
 * A SHOW … LIKE pattern as a RegExp: case-insensitive, `%` any run, `_` any one character, `\\`
 * escapes the next character (docs: sql-reference/sql/show-users, "LIKE '<pattern>'").
 */
export function likeRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '%') re += '[\\s\\S]*';
    else if (c === '_') re += '[\\s\\S]';
    else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}
