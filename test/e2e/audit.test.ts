/**
 * `sfauth audit` end to end against the emulator (issue 25, DESIGN.md §3 v3 "Audit"): every rule on
 * a seeded account, every format, result partitions (gzip) and SHOW USERS paging, `--targets-out`
 * feeding a `rotate --targets` plan, servers without named pairs or PATs, users that cannot be read,
 * hostile names in CSV and Markdown, LIKE patterns passed as literals, ACCOUNT_USAGE.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_TRACE, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../support/emulator.js';

const DAY = 86_400_000;
const tmp = tempDir('sfauth-audit-');
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers) await c();
  tmp.cleanup();
});

const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const admin = ec();
const adminKey = join(tmp.dir, 'admin.p8');
writeFileSync(adminKey, admin.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
const pub = (): KeyObject => ec().publicKey;

const HOSTILE_CSV = "=HYPERLINK(\"http://evil\")";
const HOSTILE_MD = '<script>x</script>|pipe';

/** An account with one user per finding, a person without credentials, and hostile names. */
async function world(options: EmulatorOptions = {}): Promise<Emulator> {
  const sf = await startEmulator({ partitionRows: 3, ...options });
  closers.push(() => sf.close());
  const ago = (days: number) => new Date(Date.now() - days * DAY);
  sf.addUser('ADMIN', { rsaPublicKey: admin.publicKey, type: 'PERSON', hasMfa: true });
  sf.grant('ADMIN', '*');
  sf.addUser('SVC_PASS', { rsaPublicKey: pub(), lastSet1: ago(200), type: 'SERVICE', hasPassword: true });
  sf.addUser('SVC_LEGACY', { rsaPublicKey: pub(), rsaPublicKey2: pub(), lastSet1: ago(30), lastSet2: ago(10), type: 'LEGACY_SERVICE' });
  sf.addUser('SVC_PAIRS', { type: 'SERVICE' });
  if (options.namedKeyPairs !== false) {
    sf.addKeyPair('SVC_PAIRS', 'SOON', pub(), { expiresAt: new Date(Date.now() + 3 * DAY), lastUsedOn: ago(1) });
    sf.addKeyPair('SVC_PAIRS', 'LATER', pub(), { expiresAt: new Date(Date.now() + 10 * DAY), lastUsedOn: ago(1) });
    sf.addKeyPair('SVC_PAIRS', 'IDLE', pub(), { createdOn: ago(120), lastUsedOn: null });
    sf.addKeyPair('SVC_PAIRS', 'GONE', pub(), { expiresAt: ago(2) });
  }
  sf.addUser('SVC_PAT', { type: 'SERVICE' });
  sf.addPatObject('SVC_PAT', 'OPEN', { roleRestriction: null, expiresAt: new Date(Date.now() + 60 * DAY), lastUsedOn: ago(100), createdOn: ago(120) });
  sf.addPatObject('SVC_PAT', 'SHORT', { roleRestriction: 'PUBLIC', expiresAt: new Date(Date.now() + 3 * DAY), lastUsedOn: ago(1) });
  sf.addUser('PERSON_A', { type: 'PERSON', hasPassword: true });
  sf.addUser(`"${HOSTILE_CSV}"`, { type: 'PERSON', rsaPublicKey: pub(), lastSet1: ago(400) });
  sf.addUser(`"${HOSTILE_MD}"`, { type: 'PERSON' });
  return sf;
}

const as = (sf: Emulator, ...more: string[]) => ['audit', '--account', 'myorg-myaccount', '--host', sf.url, '--user', 'ADMIN', '--private-key', adminKey, ...more];
const run = (args: string[], env: Record<string, string> = {}) => runCliAsync(args, { cwd: tmp.dir, env: { HOME: tmp.dir, ...env } });

interface Doc {
  account: string;
  source: string;
  staleness?: string;
  users: Array<{ name: string; type: string | null; hasPassword: boolean | null; unreadable?: { code: string }; features: { namedPairs: boolean; pats: boolean }; credentials: Array<{ kind: string; name: string; status: string; ageDays: number | null }> }>;
  findings: Array<{ rule: string; severity: string; user: string; credential: string | null; evidence: string; fix: string }>;
  summary: { users: number; credentials: number; high: number; medium: number; low: number; info: number; unreadable: number };
}

function clean(r: CliResult): void {
  expect(r.stdout + r.stderr).not.toMatch(STACK_TRACE);
  expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
}

describe.concurrent('sfauth audit', () => {
  it('--json: every rule on the seeded account, with evidence and the fix; exit 1 (high findings, --fail-on high)', async () => {
    const sf = await world();
    const r = await run(as(sf, '--json'));
    clean(r);
    expect(r.code, r.stderr).toBe(1);
    expect(JSON.parse(r.stderr).error.code).toBe('ERR_AUDIT_FINDINGS');
    const doc = JSON.parse(r.stdout) as Doc;
    const has = (rule: string, severity: string, user: string, credential: string | null) =>
      expect(doc.findings, `${rule} ${user} ${credential}`).toContainEqual(expect.objectContaining({ rule, severity, user, credential }));
    has('service-user-password', 'high', 'SVC_PASS', null);
    has('key-too-old', 'medium', 'SVC_PASS', 'slot 1');
    has('legacy-slots', 'info', 'SVC_PASS', null);
    has('legacy-service-type', 'medium', 'SVC_LEGACY', null);
    has('two-legacy-keys', 'low', 'SVC_LEGACY', null);
    has('expiring-soon', 'high', 'SVC_PAIRS', 'key pair SOON');
    has('expiring-soon', 'medium', 'SVC_PAIRS', 'key pair LATER');
    has('unused', 'low', 'SVC_PAIRS', 'key pair IDLE');
    has('expired', 'low', 'SVC_PAIRS', 'key pair GONE');
    has('pat-no-role-restriction', 'medium', 'SVC_PAT', 'PAT OPEN');
    has('expiring-soon', 'high', 'SVC_PAT', 'PAT SHORT');
    // SHOW USER PATS has no last-use column: a PAT is never "unused" from a live read
    expect(doc.findings.filter((f) => f.rule === 'unused' && f.user === 'SVC_PAT')).toEqual([]);
    expect(doc.findings.find((f) => f.rule === 'key-too-old' && f.user === 'SVC_PASS')!.fix).toBe('sfauth rotate --target-user SVC_PASS --apply');
    expect(doc.findings.find((f) => f.rule === 'expiring-soon' && f.credential === 'key pair SOON')!.fix).toBe('sfauth rotate --target-user SVC_PAIRS --key-pair SOON --apply');
    expect(doc.findings.find((f) => f.rule === 'unused')!.fix).toBe('sfauth revoke --target-user SVC_PAIRS --key-pair IDLE --disable --apply');
    // worst first
    const ranks = doc.findings.map((f) => ['high', 'medium', 'low', 'info'].indexOf(f.severity));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    expect(doc.summary).toMatchObject({ users: 8, high: 3, unreadable: 0 });
    expect(doc.users.find((u) => u.name === 'PERSON_A')).toMatchObject({ type: 'PERSON', hasPassword: true, credentials: [] });
    expect(doc.users.find((u) => u.name === 'SVC_PAIRS')!.features).toEqual({ namedPairs: true, pats: true });
    // SHOW USERS came in partitions (3 rows each), fetched gzipped
    expect(sf.requests.filter((q) => (q.partition ?? 0) > 0 && q.gzip).length).toBeGreaterThanOrEqual(2);
  });

  it('the terminal report: users worst first, a table each, every finding with its fix; --fail-on none exits 0', async () => {
    const sf = await world();
    const r = await run(as(sf, '--fail-on', 'none'));
    clean(r);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^SVC_PA(IRS|SS|T) \(SERVICE\)  \d high/);
    expect(r.stdout).toMatch(/^ {2}CREDENTIAL +FINGERPRINT +STATUS +CREATED +AGE +EXPIRES +LAST USED$/m);
    expect(r.stdout).toMatch(/^ {2}HIGH {4}service-user-password: a SERVICE user with a password$/m);
    expect(r.stdout).toMatch(/^ {10}fix: as an admin: ALTER USER SVC_PASS UNSET PASSWORD/m);
    expect(r.stdout).toMatch(/^2 users without findings: <script>x<\/script>\|pipe, PERSON_A$/m);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^8 users, \d+ credentials: 3 high, \d+ medium, \d+ low, \d+ info \(source live\)$/);
    expect(r.stdout + r.stderr).not.toMatch(/\u001b\[/);
  });

  it('--format csv: one row per credential, formula-looking cells neutralised; --format markdown: pipes and HTML escaped', async () => {
    const sf = await world();
    const csv = await run(as(sf, '--format', 'csv', '--fail-on', 'none'));
    expect(csv.code, csv.stderr).toBe(0);
    const rows = csv.stdout.trimEnd().split('\r\n');
    expect(rows[0]).toBe('user,login_name,type,disabled,has_password,has_mfa,kind,credential,fingerprint,status,created_on,age_days,expires_at,last_used_on,role_restriction,rotated_to,worst_severity,findings');
    expect(rows.filter((l) => l.startsWith('SVC_PAIRS,')).length).toBe(4);
    const hostile = rows.find((l) => l.includes('HYPERLINK'))!;
    expect(hostile.startsWith(`"'=HYPERLINK(""http://evil"")"`)).toBe(true);
    for (const line of rows) expect(line).not.toMatch(/(^|,)[=+\-@]/);
    const md = await run(as(sf, '--format', 'markdown', '--fail-on', 'none'));
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/^# Snowflake credentials audit: MYORG-MYACCOUNT$/m);
    expect(md.stdout).not.toContain('<script>');
    expect(md.stdout).toContain('&lt;script&gt;x&lt;/script&gt;\\|pipe');
    // every row of a table has as many cells as its header: no name or comment breaks a table
    const cells = (line: string) => line.replace(/\\\|/g, '').split('|').length;
    let header = 0;
    for (const line of md.stdout.split('\n')) {
      if (!line.startsWith('|')) header = 0;
      else if (header === 0) header = cells(line);
      else expect(cells(line), line).toBe(header);
    }
    expect(md.stdout).toMatch(/^\| &lt;script&gt;x&lt;\/script&gt;\\\|pipe \| PERSON \| no \|  \|  \|$/m);
  });

  it('--targets-out: the users with a key due, in rotate --targets form, which rotate reads as its plan', async () => {
    const sf = await world();
    const r = await run(as(sf, '--targets-out', 'due.txt', '--fail-on', 'none'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^2 users with a key due written to due\.txt/m);
    // several active pairs: the pair must be named, so the user is not in the file but said
    expect(r.stderr).toMatch(/^warning: SVC_PAIRS is not in due\.txt: it has several key pairs; rotate the due ones by name: sfauth rotate --target-user SVC_PAIRS --key-pair SOON --apply; sfauth rotate --target-user SVC_PAIRS --key-pair LATER --apply$/m);
    const lines = readFileSync(join(tmp.dir, 'due.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toEqual(['"=HYPERLINK(""http://evil"")"', 'SVC_PASS']);
    const plan = await runCliAsync(['rotate', '--account', 'myorg-myaccount', '--host', sf.url, '--user', 'ADMIN', '--private-key', adminKey, '--targets', 'due.txt', '--no-encrypt', '--json'], { cwd: tmp.dir, env: { HOME: tmp.dir } });
    const results = JSON.parse(plan.stdout) as Array<{ user: string; outcome: string; error?: unknown }>;
    expect(plan.code, JSON.stringify(results)).toBe(0);
    expect(results.map((x) => [x.user, x.outcome])).toEqual([[HOSTILE_CSV, 'planned'], ['SVC_PASS', 'planned']]);
  });

  it('a server without named key pairs or PATs: feature absent, not an error', async () => {
    const sf = await world({ namedKeyPairs: false, pats: false });
    const r = await run(as(sf, '--json', '--fail-on', 'none'));
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc.users.find((u) => u.name === 'SVC_PASS')!.features).toEqual({ namedPairs: false, pats: false });
    expect(doc.users.find((u) => u.name === 'SVC_PAT')!.credentials).toEqual([]);
    expect(doc.findings.filter((f) => f.rule === 'legacy-slots')).toEqual([]);
    expect(doc.findings).toContainEqual(expect.objectContaining({ rule: 'service-user-password', user: 'SVC_PASS' }));
  });

  it('a user the role may not read is reported, never dropped; none readable is exit 3', async () => {
    const sf = await world();
    const refused = JSON.stringify({ code: '002003', sqlState: '02000', message: "SQL compilation error:\nUser 'SVC_PASS' does not exist or not authorized.", statementHandle: 'h' });
    sf.injectFault({ kind: 'answer', status: 422, body: refused, match: /^DESC USER SVC_PASS$/ });
    const one = await run(as(sf, '--json', '--fail-on', 'none'));
    expect(one.code, one.stderr).toBe(0);
    const doc = JSON.parse(one.stdout) as Doc;
    expect(doc.users.find((u) => u.name === 'SVC_PASS')!.unreadable).toMatchObject({ code: 'ERR_STATEMENT_FAILED' });
    expect(doc.summary.unreadable).toBe(1);
    expect(doc.findings.filter((f) => f.user === 'SVC_PASS')).toEqual([]);
    sf.injectFault({ kind: 'answer', status: 422, body: refused, match: /^DESC USER /, times: 100 });
    const none = await run(as(sf));
    clean(none);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/^sfauth: none of the 8 users could be read/m);
    expect(none.stderr).toMatch(/^hint: the role needs OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS/m);
  });

  it('--users with a quote, % and _ is sent as a LIKE string literal; --type service reads only service users', async () => {
    const sf = await world();
    const r = await run(as(sf, '--users', "SVC\\_P%' OR '1'='1", '--json', '--fail-on', 'none'));
    expect(r.code, r.stderr).toBe(0);
    expect(sf.executed.map((e) => e.statement)).toContain("SHOW USERS LIKE 'SVC\\\\_P%'' OR ''1''=''1' LIMIT 10000");
    expect((JSON.parse(r.stdout) as Doc).users).toEqual([]);
    const svc = await run(as(sf, '--users', 'SVC\\_P%', '--type', 'service', '--json', '--fail-on', 'none'));
    expect((JSON.parse(svc.stdout) as Doc).users.map((u) => u.name)).toEqual(['SVC_PAIRS', 'SVC_PASS', 'SVC_PAT']);
  });

  it('a 429 and a failed partition fetch are retried within --timeout', async () => {
    const sf = await world();
    sf.injectFault({ kind: 'status', status: 429, retryAfterSeconds: 0, match: /^DESC USER SVC_PAT$/ });
    sf.injectFault({ kind: 'status', status: 503, partition: true });
    const r = await run(as(sf, '--json', '--fail-on', 'none'));
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc.summary).toMatchObject({ users: 8, unreadable: 0 });
    expect(sf.pendingFaults()).toEqual([]);
  });

  it('--source account-usage: two queries with the warehouse, PAT last use known, the staleness said; without a warehouse exit 2', async () => {
    const sf = await world();
    const none = await run(as(sf, '--source', 'account-usage'));
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^hint: pass --warehouse NAME/m);
    const r = await run(as(sf, '--source', 'account-usage', '--warehouse', 'ADMIN_WH', '--json', '--fail-on', 'none'));
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc.source).toBe('account-usage');
    expect(doc.staleness).toMatch(/up to 2 hours old/);
    expect(doc.findings).toContainEqual(expect.objectContaining({ rule: 'unused', user: 'SVC_PAT', credential: 'PAT OPEN' }));
    expect(sf.executed.filter((e) => /ACCOUNT_USAGE/.test(e.statement)).length).toBe(2);
    expect(sf.executed.some((e) => /^DESC USER/.test(e.statement))).toBe(false);
  });

  it('SHOW USERS is paged with LIMIT 10000 FROM the last name when a page comes back full', { timeout: 60_000 }, async () => {
    const sf = await startEmulator({ partitionRows: 2000 });
    closers.push(() => sf.close());
    sf.addUser('ADMIN', { rsaPublicKey: admin.publicKey, type: 'PERSON' });
    sf.grant('ADMIN', '*');
    for (let i = 0; i < 10_002; i++) sf.addUser(`P${String(i).padStart(5, '0')}`, { type: 'PERSON' });
    sf.addUser('SVC_Z', { type: 'SERVICE', rsaPublicKey: pub() });
    const r = await run(as(sf, '--type', 'service', '--json', '--fail-on', 'none'));
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Doc).users.map((u) => u.name)).toEqual(['SVC_Z']);
    const shows = sf.executed.filter((e) => e.statement.startsWith('SHOW USERS')).map((e) => e.statement);
    expect(shows).toEqual(['SHOW USERS LIMIT 10000', "SHOW USERS LIMIT 10000 FROM 'P09998'"]);
  });

  it('bad flags are usage errors (exit 2) before anything is sent', async () => {
    const sf = await world();
    for (const [flag, value] of [['--format', 'xml'], ['--type', 'robot'], ['--fail-on', 'critical'], ['--source', 'magic'], ['--concurrency', '0'], ['--max-age', 'soon']]) {
      const r = await run(as(sf, flag!, value!));
      expect(r.code, `${flag} ${value}`).toBe(2);
      clean(r);
    }
    expect(sf.requests).toEqual([]);
  });
});
