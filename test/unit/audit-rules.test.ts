/**
 * The audit's rules (src/core/audit/rules.ts) on fixed clocks, one case per rule and its edges, and
 * the report cells other programs read (src/core/audit/formats.ts).
 */
import { describe, expect, it } from 'vitest';
import type { AuditCredential, AuditUser } from '../../src/core/audit/model.js';
import { dueUsers, failsOn, findingsFor, type AuditLimits } from '../../src/core/audit/rules.js';
import { csvCell, markdownCell, targetsLine } from '../../src/core/audit/formats.js';
import { likeMatcher } from '../../src/core/audit/like.js';
import { parseTargets } from '../../src/core/targets.js';

const NOW = Date.UTC(2026, 11, 7, 12, 0);
const DAY = 86_400_000;
const ago = (days: number) => new Date(NOW - days * DAY);
const limits: AuditLimits = { nowMs: NOW, maxAgeSeconds: 180 * 86400, expiringWithinSeconds: 14 * 86400, unusedForSeconds: 90 * 86400, connectionArgs: ' -c admin' };

function user(over: Partial<AuditUser> = {}): AuditUser {
  return { name: 'SVC', loginName: 'SVC', type: 'SERVICE', disabled: false, hasPassword: false, hasMfa: false, lastSuccessLogin: null, credentials: [], features: { namedPairs: true, pats: true }, ...over };
}
function cred(over: Partial<AuditCredential>): AuditCredential {
  return { kind: 'pair', name: 'CI', fingerprint: 'SHA256:x', status: 'ACTIVE', createdOn: ago(10), expiresAt: null, lastUsedOn: ago(1), lastUseKnown: true, roleRestriction: null, rotatedTo: null, ...over };
}
const rules = (u: AuditUser) => findingsFor(u, limits).map((f) => `${f.severity} ${f.rule}${f.credential ? ` ${f.credential}` : ''}`);

describe('audit rules', () => {
  it('service-user-password: SERVICE and LEGACY_SERVICE with a password (high); a PERSON with one is fine', () => {
    expect(rules(user({ hasPassword: true }))).toEqual(['high service-user-password']);
    expect(rules(user({ type: 'LEGACY_SERVICE', hasPassword: true }))).toEqual(['high service-user-password', 'medium legacy-service-type']);
    expect(rules(user({ type: 'PERSON', hasPassword: true }))).toEqual([]);
    expect(rules(user({ type: null, hasPassword: true }))).toEqual([]);
  });

  it('expiring-soon: high within 7 days, medium within --expiring-within, nothing beyond', () => {
    expect(rules(user({ credentials: [cred({ expiresAt: new Date(NOW + 6.9 * DAY) })] }))).toEqual(['high expiring-soon key pair CI']);
    expect(rules(user({ credentials: [cred({ expiresAt: new Date(NOW + 13 * DAY) })] }))).toEqual(['medium expiring-soon key pair CI']);
    expect(rules(user({ credentials: [cred({ expiresAt: new Date(NOW + 15 * DAY) })] }))).toEqual([]);
    // a rotated-out pair expires by design: never "expiring"
    expect(rules(user({ credentials: [cred({ expiresAt: new Date(NOW + DAY), rotatedTo: 'CI2' })] }))).toEqual([]);
  });

  it('expired: low, by status or by date; disabled pairs are not judged', () => {
    expect(rules(user({ credentials: [cred({ status: 'EXPIRED', expiresAt: ago(3) })] }))).toEqual(['low expired key pair CI']);
    expect(rules(user({ credentials: [cred({ status: 'ACTIVE', expiresAt: ago(1) })] }))).toEqual(['low expired key pair CI']);
    expect(rules(user({ credentials: [cred({ status: 'DISABLED' })] }))).toEqual([]);
  });

  it('key-too-old: a slot set or a pair created longer than --max-age ago (medium); an unknown set time is not judged; PATs are not keys', () => {
    expect(rules(user({ credentials: [cred({ kind: 'slot', name: 'RSA_PUBLIC_KEY', createdOn: ago(181), lastUseKnown: false })] }))).toEqual(['medium key-too-old slot 1', 'info legacy-slots']);
    expect(rules(user({ credentials: [cred({ kind: 'slot', name: 'RSA_PUBLIC_KEY', createdOn: ago(179), lastUseKnown: false })] }))).toEqual(['info legacy-slots']);
    expect(rules(user({ credentials: [cred({ kind: 'slot', name: 'RSA_PUBLIC_KEY', createdOn: null, lastUseKnown: false })] }))).toEqual(['info legacy-slots']);
    expect(rules(user({ credentials: [cred({ createdOn: ago(200) })] }))).toEqual(['medium key-too-old key pair CI']);
    expect(rules(user({ credentials: [cred({ kind: 'pat', name: 'T', createdOn: ago(200), roleRestriction: 'R', fingerprint: null })] }))).toEqual([]);
  });

  it('unused: last used, or never used since created, longer than --unused-for ago (low); unknown last use is not judged', () => {
    expect(rules(user({ credentials: [cred({ lastUsedOn: ago(91) })] }))).toEqual(['low unused key pair CI']);
    expect(rules(user({ credentials: [cred({ lastUsedOn: null, createdOn: ago(91) })] }))).toEqual(['low unused key pair CI']);
    expect(rules(user({ credentials: [cred({ lastUsedOn: null, createdOn: ago(30) })] }))).toEqual([]);
    expect(rules(user({ credentials: [cred({ kind: 'pat', name: 'T', lastUseKnown: false, lastUsedOn: null, createdOn: ago(120), roleRestriction: 'R' })] }))).toEqual([]);
  });

  it('two-legacy-keys (low) names the older slot; legacy-slots (info) only where named pairs exist', () => {
    const slots = [cred({ kind: 'slot', name: 'RSA_PUBLIC_KEY', createdOn: ago(5), lastUseKnown: false }), cred({ kind: 'slot', name: 'RSA_PUBLIC_KEY_2', createdOn: ago(50), lastUseKnown: false })];
    const f = findingsFor(user({ credentials: slots }), limits);
    expect(f.map((x) => x.rule)).toEqual(['two-legacy-keys', 'legacy-slots']);
    expect(f[0]!.fix).toBe('once nothing uses the older one: sfauth revoke -c admin --target-user SVC --slot 2 --apply');
    expect(rules(user({ credentials: slots, features: { namedPairs: false, pats: false } }))).toEqual(['low two-legacy-keys']);
  });

  it('PAT findings name sfauth commands: rotate --pat into a store, revoke --pat, register a restricted one', () => {
    const expiring = findingsFor(user({ credentials: [cred({ kind: 'pat', name: 'T', fingerprint: null, roleRestriction: 'R', expiresAt: new Date(NOW + 3 * 86_400_000) })] }), limits);
    expect(expiring.map((f) => f.fix)).toEqual(['sfauth rotate -c admin --target-user SVC --pat T --store-cmd CMD --apply   # the new secret goes to CMD\'s stdin']);
    const expired = findingsFor(user({ credentials: [cred({ kind: 'pat', name: 'T', fingerprint: null, roleRestriction: 'R', status: 'EXPIRED', expiresAt: new Date(NOW - 86_400_000) })] }), limits);
    expect(expired.map((f) => f.fix)).toEqual(['sfauth revoke -c admin --target-user SVC --pat T --apply']);
    const open = findingsFor(user({ credentials: [cred({ kind: 'pat', name: 'T', fingerprint: null, lastUseKnown: false })] }), limits);
    expect(open[0]!.fix).toMatch(/^a PAT's role restriction cannot be changed: sfauth register -c admin --target-user SVC --pat T_R --role-restriction ROLE --store-cmd CMD --apply, .* sfauth revoke -c admin --target-user SVC --pat T --apply$/);
  });

  it('pat-no-role-restriction (medium)', () => {
    expect(rules(user({ credentials: [cred({ kind: 'pat', name: 'T', fingerprint: null, lastUseKnown: false })] }))).toEqual(['medium pat-no-role-restriction PAT T']);
  });

  it('fixes quote odd user names; findings sort worst first', () => {
    const f = findingsFor(user({ name: 'svc lower', hasPassword: true, credentials: [cred({ createdOn: ago(400) })] }), limits);
    expect(f.map((x) => x.severity)).toEqual(['high', 'medium']);
    expect(f[1]!.fix).toBe('sfauth rotate -c admin --target-user "svc lower" --key-pair CI --apply');
  });

  it('--fail-on: at or above the threshold; none never fails', () => {
    const f = findingsFor(user({ credentials: [cred({ lastUsedOn: ago(100) })] }), limits);
    expect(failsOn(f, 'high')).toBe(false);
    expect(failsOn(f, 'low')).toBe(true);
    expect(failsOn(f, 'info')).toBe(true);
    expect(failsOn(f, 'none')).toBe(false);
  });

  it('due users: a slot user without pairs and a user with one pair go to the targets file; several pairs must be named', () => {
    const users = [
      user({ name: 'A', credentials: [cred({ kind: 'slot', name: 'RSA_PUBLIC_KEY', createdOn: ago(300), lastUseKnown: false })] }),
      user({ name: 'B', credentials: [cred({ createdOn: ago(300) })] }),
      user({ name: 'C', credentials: [cred({ createdOn: ago(300) }), cred({ name: 'OTHER' })] }),
    ];
    const findings = users.flatMap((u) => findingsFor(u, limits));
    expect(dueUsers(findings, users, NOW)).toEqual({ targets: ['A', 'B'], byPair: [{ user: 'C', pairs: ['CI'] }] });
  });
});

describe('report cells', () => {
  it('CSV: formulas neutralised, quotes and commas quoted, controls stripped', () => {
    expect(csvCell('=1+2')).toBe("'=1+2");
    expect(csvCell('+cmd')).toBe("'+cmd");
    expect(csvCell('-2')).toBe("'-2");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tx')).not.toMatch(/^\t/);
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
    expect(csvCell('x\u001b[31my')).toBe('xy');
    expect(csvCell(null)).toBe('');
    expect(csvCell(false)).toBe('false');
  });

  it('Markdown: pipes, Markdown marks and HTML made literal', () => {
    expect(markdownCell('<img src=x onerror=alert(1)>|`x`*')).toBe('&lt;img src=x onerror=alert(1)&gt;\\|\\`x\\`\\*');
    expect(markdownCell('a\nb')).not.toContain('\n');
  });

  it('targets lines read back as the same user', () => {
    for (const name of ['SVC_A', 'svc_lower', 'svc x', 'john.doe@x.com', '=HYPERLINK("x")']) {
      const [back] = parseTargets(targetsLine(name) + '\n', 'due.txt');
      const expected = /^[A-Za-z_][A-Za-z0-9_$]*$/.test(name) && name !== name.toUpperCase() ? `"${name}"` : name;
      expect(back, name).toBe(expected);
    }
  });

  it('LIKE patterns: % and _ wildcards, \\ escapes, case-insensitive', () => {
    expect(likeMatcher('svc\\_%')('SVC_LOADER')).toBe(true);
    expect(likeMatcher('svc\\_%')('SVCXLOADER')).toBe(false);
    expect(likeMatcher('svc_%')('SVCXLOADER')).toBe(true);
    expect(likeMatcher("o'brien")("O'BRIEN")).toBe(true);
    expect(likeMatcher('a.b')('aXb')).toBe(false);
  });
});
