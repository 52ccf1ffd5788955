/**
 * GitHub Actions' step files, formatted (https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands
 * "Setting an output parameter", "Adding a job summary"). `$GITHUB_OUTPUT` takes `name=value` lines,
 * or for a value with a newline `name<<DELIMITER`, the value, `DELIMITER`: the delimiter is random
 * so that no value can end the block early and inject another output. Pure.
 */
import { markdownCell } from './audit/formats.js';

export function outputLines(outputs: Record<string, string | number | boolean | null | undefined>, delimiter: () => string): string {
  let text = '';
  for (const [name, raw] of Object.entries(outputs)) {
    if (raw === undefined || raw === null) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new Error(`not an output name: ${name}`);
    const value = String(raw);
    if (!/[\r\n]/.test(value)) {
      text += `${name}=${value}\n`;
      continue;
    }
    let d = delimiter();
    while (value.includes(d)) d = delimiter();
    text += `${name}<<${d}\n${value}\n${d}\n`;
  }
  return text;
}

/** A Markdown table whose every cell is escaped (server strings reach it). */
export function markdownTable(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | boolean | null>>): string {
  return [
    `| ${header.map(markdownCell).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(markdownCell).join(' | ')} |`),
  ].join('\n');
}
