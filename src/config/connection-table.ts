/**
 * `sfauth init`'s edit of the Snowflake CLI's config: a connection table appended to the file (or,
 * with `--force`, put in place of the table of that name), everything else as it was: comments,
 * layout, line endings. Pure text in, text out; checked by parsing the result and comparing every
 * other table with what it was, so an edit that would change anything else is refused.
 */
import { parse } from 'smol-toml';
import { UsageError } from '../errors.js';
import { headerPath } from './key-path-edit.js';

/** `[name]` / `[connections.name]`, quoting a part that is not a bare key. */
function header(tablePath: string[]): string {
  return `[${tablePath.map((p) => (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p))).join('.')}]`;
}

function get(doc: unknown, path: string[]): unknown {
  let at = doc;
  for (const k of path) at = at && typeof at === 'object' ? (at as Record<string, unknown>)[k] : undefined;
  return at;
}

/**
 * The text with table `tablePath` holding `entries` (string values, in order). Throws
 * ERR_CONNECTION_EXISTS when the table exists and `replace` is false.
 */
export function withConnectionTable(text: string, tablePath: string[], entries: Array<[string, string]>, replace: boolean, fileLabel: string): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text === '' ? [] : text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const same = (p: string[] | null) => p !== null && p.length === tablePath.length && p.every((x, i) => x === tablePath[i]);
  const start = lines.findIndex((l) => same(headerPath(l)));
  const before = text === '' ? {} : parse(text);
  if (start >= 0 && !replace) {
    throw new UsageError('ERR_CONNECTION_EXISTS', `${header(tablePath)} is already in ${fileLabel}`, {
      hint: 'pass --force to replace it, or choose another --connection-name',
      data: { connection: tablePath[tablePath.length - 1] },
    });
  }
  const table = [header(tablePath), ...entries.map(([k, v]) => `${k} = ${JSON.stringify(v)}`)];
  let out: string[];
  if (start >= 0) {
    let end = start + 1;
    while (end < lines.length && headerPath(lines[end]!) === null && !/^\s*\[\[/.test(lines[end]!)) end++;
    // Keep the blank lines and comments that lead into the next table.
    while (end > start + 1 && /^\s*(#.*)?$/.test(lines[end - 1]!)) end--;
    out = [...lines.slice(0, start), ...table, ...lines.slice(end)];
  } else {
    out = [...lines, ...(lines.length && lines[lines.length - 1]!.trim() !== '' ? [''] : []), ...table];
  }
  const result = out.join(eol) + eol;
  // The check: the table holds exactly the entries, and nothing else changed.
  const after = parse(result);
  const wanted = Object.fromEntries(entries);
  const got = get(after, tablePath);
  if (JSON.stringify(got) !== JSON.stringify(wanted)) throw refuse(fileLabel, 'the new table would not read back as written');
  const strip = (doc: unknown) => {
    const copy = JSON.parse(JSON.stringify(doc ?? {})) as Record<string, unknown>;
    let at: Record<string, unknown> = copy;
    for (const k of tablePath.slice(0, -1)) at = (at[k] ?? {}) as Record<string, unknown>;
    delete at[tablePath[tablePath.length - 1]!];
    return JSON.stringify(copy);
  };
  if (strip(before) !== strip(after)) throw refuse(fileLabel, 'the edit would change other settings');
  return result;
}

function refuse(fileLabel: string, why: string): UsageError {
  return new UsageError('ERR_CONNECTION_UPDATE', `refusing to edit ${fileLabel}: ${why}`, { hint: 'add the connection to the file yourself (sfauth init --json shows the values)' });
}
