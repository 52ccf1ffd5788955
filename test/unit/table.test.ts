import { describe, expect, it } from 'vitest';
import { layoutTable, shortFingerprint } from '../../src/ui/table.js';
import { timeText } from '../../src/core/time-text.js';

const FP = 'SHA256:voZK5DFiewqfVjtrXusCKFK72htA6p1u3I/QxvO6tIE=';
const FP2 = 'SHA256:PmBENR+QkqIIHej3io44fuurmmMkweomuitKMgQMHmA=';

describe('timeText', () => {
  it('is one format: minutes and UTC, from a Date, epoch ms or ISO text', () => {
    expect(timeText(new Date('2026-12-07T18:58:31.122Z'))).toBe('2026-12-07 18:58 UTC');
    expect(timeText(Date.UTC(2026, 11, 7, 18, 58))).toBe('2026-12-07 18:58 UTC');
    expect(timeText('2026-12-07T10:56:17.657-08:00')).toBe('2026-12-07 18:56 UTC');
    expect(timeText('not a time')).toBe('not a time');
  });
});

describe('layoutTable', () => {
  const fleet = [
    ['USER', 'OUTCOME', 'KEY', 'OLD', 'NEW', 'STORE', 'ERROR'],
    ['SVC_LOADER', 'rotated', 'slot 2', FP, FP2, 'ok', ''],
    ['SVC_REPORTING_WITH_A_LONG_NAME', 'failed', 'pair CI', FP2, '-', '-', 'ERR_STATEMENT_FAILED: Snowflake refused the statement: Insufficient privileges'],
  ];

  it('without a width, keeps every cell whole and pads columns two spaces apart', () => {
    const lines = layoutTable(fleet);
    expect(lines[1]).toContain(FP);
    expect(lines[0]!.indexOf('OUTCOME')).toBe(lines[1]!.indexOf('rotated'));
    expect(lines[1]!.endsWith(' ')).toBe(false);
  });

  it('too wide for the width: fingerprints shortened, then the last column cut with …', () => {
    const lines = layoutTable(fleet, { width: 120, fingerprintColumns: [3, 4] });
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(120);
    expect(lines[1]).toContain('SHA256:voZK5DFi…');
    expect(lines[2]).toMatch(/ERR_STATEMENT_FAILED: .*…$/);
    expect(lines[0]!.indexOf('OLD')).toBe(lines[1]!.indexOf('SHA256:voZK'));
  });

  it('wide enough: nothing shortened even with a width', () => {
    expect(layoutTable(fleet, { width: 1000, fingerprintColumns: [3, 4] })).toEqual(layoutTable(fleet));
  });

  it('drops a spare column before cutting, and paints with the caller\'s column index after padding', () => {
    const rows = [['KEY', 'FINGERPRINT', 'STATUS', 'SET', 'AGE'], ['slot 1', FP, 'active', '2026-12-07 18:58 UTC', '41 days']];
    const lines = layoutTable(rows, { width: 50, fingerprintColumns: [1], droppable: [3], paint: (t, row, column) => (row > 0 && column === 4 ? `<${t}>` : t) });
    expect(lines[0]).toMatch(/^KEY +FINGERPRINT +STATUS +AGE$/);
    expect(lines[1]).toMatch(/^slot 1 +SHA256:voZK5DFi… +active +<41 days>$/);
  });

  it('shortFingerprint leaves anything that is not a fingerprint alone', () => {
    expect(shortFingerprint(FP)).toBe('SHA256:voZK5DFi…');
    expect(shortFingerprint('(empty)')).toBe('(empty)');
    expect(shortFingerprint('-')).toBe('-');
  });
});
