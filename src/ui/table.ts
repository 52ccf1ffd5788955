/**
 * Tables for stdout (status, the fleet report), laid out like `gh`'s: columns padded to their widest
 * cell, two spaces apart. On a terminal (`width` given) a table that would not fit first shows its
 * fingerprint columns as `SHA256:abcdefgh…`, then leaves out the columns the caller can spare (a
 * time beside an age), then cuts its last column with `…`; piped output,
 * `--wide` and `--json` keep every cell whole. Colour is applied after the layout, so escape codes
 * never count toward a width.
 *
 * (No table library: the layout needs padding, one shortening rule and colour by cell, about forty
 * lines; the libraries we looked at draw borders or measure widths with their own escape-code rules.)
 */

export interface TableOptions {
  /** The terminal's width; undefined = never shorten. */
  width?: number;
  /** Columns holding fingerprints, which may be shown as `SHA256:abcdefgh…`. */
  fingerprintColumns?: readonly number[];
  /** Columns left out, in this order, while the table is still too wide with shortened fingerprints. */
  droppable?: readonly number[];
  /** Paints a laid-out cell (row 0 is the header; `column` is the caller's index); unchanged by default. */
  paint?: (text: string, row: number, column: number, cell: string) => string;
}

/** `SHA256:abcdefgh…`: enough to tell keys apart by eye. */
export function shortFingerprint(fingerprint: string): string {
  const m = /^(SHA256:)?([A-Za-z0-9+/]{8})[A-Za-z0-9+/]+=*$/.exec(fingerprint);
  return m ? `SHA256:${m[2]}…` : fingerprint;
}

export function layoutTable(rows: readonly (readonly string[])[], options: TableOptions = {}): string[] {
  let cells = rows.map((r) => [...r]);
  const widthOf = (table: string[][]) => {
    const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => [...(r[i] ?? '')].length)));
    return { widths, total: widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1) };
  };
  let { widths, total } = widthOf(cells);
  /** The caller's index of each column still shown. */
  const origin = cells[0]!.map((_, i) => i);
  if (options.width !== undefined && total > options.width && options.fingerprintColumns?.length) {
    cells = cells.map((r, i) => (i === 0 ? r : r.map((c, j) => (options.fingerprintColumns!.includes(j) ? shortFingerprint(c) : c))));
    ({ widths, total } = widthOf(cells));
  }
  for (const column of options.droppable ?? []) {
    if (options.width === undefined || total <= options.width) break;
    const at = origin.indexOf(column);
    if (at < 0) continue;
    origin.splice(at, 1);
    cells = cells.map((r) => r.filter((_, j) => j !== at));
    ({ widths, total } = widthOf(cells));
  }
  const last = widths.length - 1;
  if (options.width !== undefined && total > options.width) {
    const room = Math.max(options.width - (total - widths[last]!), [...cells[0]![last]!].length, 8);
    cells = cells.map((r) => r.map((c, j) => (j === last && [...c].length > room ? [...c].slice(0, room - 1).join('') + '…' : c)));
    ({ widths } = widthOf(cells));
  }
  const paint = options.paint ?? ((text) => text);
  return cells.map((r, i) =>
    r
      .map((cell, j) => {
        const pad = j === r.length - 1 ? '' : ' '.repeat(widths[j]! - [...cell].length);
        return paint(cell, i, origin[j]!, cell) + pad;
      })
      .join('  ')
      .trimEnd(),
  );
}

/** Columns padded to their widest cell (the last column is not padded). */
export function alignedTable(rows: string[][]): string[] {
  return layoutTable(rows);
}
