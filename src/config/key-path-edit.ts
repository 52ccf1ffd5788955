/**
 * `rotate --update-connection`: point a connection's `private_key_file` (or `private_key_path`) in a
 * Snowflake CLI config file at the new key, changing that one line and nothing else: comments, layout,
 * key order and the rest of the line (an end-of-line comment) stay as they were. Pure text in, text
 * out; the result is checked by parsing both versions and comparing them, so an edit that would
 * change anything else (or a layout this editor does not understand) is refused, never written.
 */
import { parse } from 'smol-toml';
import { UsageError } from '../errors.js';

const KEY_NAMES = ['private_key_file', 'private_key_path'] as const;

/** The table that holds the connection: `[name]` in connections.toml, `[connections.name]` in config.toml. */
export function connectionTablePath(fileName: string, connection: string): string[] {
  return /(^|[\\/])config\.toml$/.test(fileName) ? ['connections', connection] : [connection];
}

/** `[a.b]`, `[ "a" . 'b' ]` → ['a', 'b']; null when the line is not a table header. */
export function headerPath(line: string): string[] | null {
  const m = /^\s*\[(?!\[)(.*)\]\s*(#.*)?$/.exec(line);
  if (!m) return null;
  const parts: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)/gy;
  let rest = m[1]!;
  let last = 0;
  for (let x = re.exec(rest); x; x = re.exec(rest)) {
    parts.push(x[1] !== undefined ? JSON.parse(`"${x[1]}"`) : (x[2] ?? x[3]!));
    last = re.lastIndex;
    if (x[4] === '') break;
  }
  rest = rest.slice(last);
  return rest.trim() === '' && parts.length > 0 ? parts : null;
}

/** A TOML basic string for a path (backslashes and quotes escaped). */
function basicString(value: string): string {
  return JSON.stringify(value);
}

function get(doc: unknown, path: string[]): unknown {
  let at = doc;
  for (const k of path) at = at && typeof at === 'object' ? (at as Record<string, unknown>)[k] : undefined;
  return at;
}

export interface KeyPathEdit {
  text: string;
  /** Which key was changed. */
  key: (typeof KEY_NAMES)[number];
  /** Its value before. */
  previous: string;
}

/**
 * The file's text with the connection's key path set to `newPath`. Throws UsageError (exit 2) when the
 * connection has no such key as a plain `key = "…"` line in its own table.
 */
export function withKeyPath(text: string, tablePath: string[], newPath: string, fileLabel: string): KeyPathEdit {
  const label = `[${tablePath.join('.')}] in ${fileLabel}`;
  const refuse = (why: string) =>
    new UsageError('ERR_CONNECTION_UPDATE', `cannot update ${label}: ${why}`, {
      hint: 'point the connection at the new key yourself (the command prints the path), or drop --update-connection',
    });
  let before: unknown;
  try {
    before = parse(text);
  } catch {
    throw refuse('the file is not valid TOML');
  }
  const table = get(before, tablePath);
  if (!table || typeof table !== 'object') throw refuse('there is no such connection');
  // The one in effect: with both, the later one wins (as in snow, and in sfauth's resolution).
  const key = Object.keys(table)
    .filter((k): k is (typeof KEY_NAMES)[number] => (KEY_NAMES as readonly string[]).includes(k) && typeof (table as Record<string, unknown>)[k] === 'string')
    .at(-1);
  if (!key) throw refuse('the connection has no private_key_file (or private_key_path) to change');

  // Each line keeps its own ending: one CRLF does not turn the whole file into CRLF.
  const parts = text.split(/(\r?\n)/);
  const lines = parts.filter((_, i) => i % 2 === 0);
  const endings = parts.filter((_, i) => i % 2 === 1);
  let inTable = false;
  let hit = -1;
  for (let i = 0; i < lines.length; i++) {
    const header = headerPath(lines[i]!);
    if (header) {
      inTable = header.length === tablePath.length && header.every((p, j) => p === tablePath[j]);
      continue;
    }
    if (/^\s*\[\[/.test(lines[i]!)) inTable = false;
    if (inTable && new RegExp(`^\\s*("?)${key}\\1\\s*=`).test(lines[i]!)) {
      if (hit >= 0) throw refuse(`${key} appears twice`);
      hit = i;
    }
  }
  if (hit < 0) throw refuse(`${key} is not written as a plain line of that table`);
  const m = /^(\s*"?[a-z_]+"?\s*=\s*)("(?:[^"\\]|\\.)*"|'[^']*')(\s*(?:#.*)?)$/.exec(lines[hit]!);
  if (!m) throw refuse(`the ${key} line is not a one-line string`);
  lines[hit] = `${m[1]}${basicString(newPath)}${m[3]}`;
  const out = lines.map((l, i) => l + (endings[i] ?? '')).join('');

  // The edit must change exactly that value.
  let after: unknown;
  try {
    after = parse(out);
  } catch {
    throw refuse('the edited file would not be valid TOML');
  }
  const expected = structuredClone(before) as Record<string, unknown>;
  (get(expected, tablePath) as Record<string, unknown>)[key] = newPath;
  if (JSON.stringify(after) !== JSON.stringify(expected)) throw refuse('the edit would change more than that one value');
  return { text: out, key, previous: (table as Record<string, string>)[key]! };
}
