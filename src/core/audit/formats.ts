/**
 * Report cells that other programs read (DESIGN.md §7 v3 "Reports read by other programs"): every
 * server string is hostile. A CSV cell can never become a spreadsheet formula (OWASP "CSV
 * injection": a leading `=`, `+`, `-`, `@`, tab or CR gets a `'`), a Markdown cell can neither break
 * the table nor carry HTML, and control characters never get through anywhere.
 */
import { plainLine } from '../untrusted-text.js';
import { quoteIdentifier } from '../sql.js';

/** One CSV field (RFC 4180 quoting), neutralised. */
export function csvCell(value: string | number | boolean | null): string {
  if (value === null) return '';
  let text = plainLine(String(value));
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One Markdown table cell: pipes, backslashes, Markdown marks and HTML made literal. */
export function markdownCell(value: string | number | boolean | null): string {
  if (value === null) return '';
  return plainLine(String(value))
    .replace(/[\\`*_[\]#|~]/g, '\\$&')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/**
 * A user name as a line of a `rotate --targets` file (core/targets.ts reads it back to the same
 * user): plain upper-case names bare, names Snowflake stores in another case or with odd characters
 * double-quoted as identifiers.
 */
export function targetsLine(name: string): string {
  if (/^[A-Z_][A-Z0-9_$]*$/.test(name)) return name;
  if (/^[^\s"]+$/.test(name) && !/^[A-Za-z_][A-Za-z0-9_$]*$/.test(name)) return name;
  return quoteIdentifier(/^[A-Za-z_][A-Za-z0-9_$]*$/.test(name) ? `"${name}"` : name);
}
