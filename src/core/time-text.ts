/**
 * The one way sfauth shows a moment to a person (DESIGN.md §1 v3 "Human output"):
 * `2026-12-07 18:58 UTC`. Minutes are enough to recognise a time; `--json` keeps the full ISO 8601.
 */
export function timeText(at: Date | number | string): string {
  const d = at instanceof Date ? at : new Date(at);
  if (Number.isNaN(d.getTime())) return String(at);
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
