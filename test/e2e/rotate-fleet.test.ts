/**
 * `sfauth rotate --targets FILE` end to end (run `npm run build` first): an admin rotates many users,
 * a few at a time, with one report; mixed outcomes (a user without privileges, one not due, one whose
 * store command fails, the rest rotated); a SIGKILL in the middle, then a rerun that finishes the
 * unfinished users and skips the finished ones without a second key for anyone; a storm of 429s that
 * slows the fleet down without failing it; and the bad inputs refused before any network call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, STACK_TRACE, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../support/emulator.js';
import { fingerprintOf, spawnKillable, until } from '../support/rotation.js';
import { runCliInPty } from '../support/audit.js';

const gen = promisify(generateKeyPair);
const DAY = 86_400_000;

interface Fleet {
  sf: Emulator;
  dir: string;
  users: string[];
  /** Each user's key before the run. */
  before: Map<string, string>;
  env: Record<string, string>;
  args: string[];
  run(extra: string[]): Promise<CliResult>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(cleanups.map((c) => c()));
});
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
});

/** ADMIN (with a grant on every user unless `noGrant`) and `n` users SVC_1…SVC_n with keys set 100 days ago. */
async function fleet(n: number, opts: { emulator?: EmulatorOptions; noGrant?: string[]; young?: string[] } = {}): Promise<Fleet> {
  const sf = await startEmulator(opts.emulator);
  const { dir, cleanup } = tempDir('sfauth-fleet-');
  for (const d of ['home', 'keys', 'store']) mkdirSync(join(dir, d));
  const admin = await gen('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'admin.p8'), admin.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  sf.addUser('ADMIN', { rsaPublicKey: admin.publicKey });
  const users = Array.from({ length: n }, (_, i) => `SVC_${i + 1}`);
  const before = new Map<string, string>();
  const keys = await Promise.all(users.map(() => gen('ec', { namedCurve: 'P-256' })));
  users.forEach((u, i) => {
    const young = opts.young?.includes(u);
    sf.addUser(u, { rsaPublicKey: keys[i]!.publicKey, lastSet1: new Date(Date.now() - (young ? 10 : 100) * DAY) });
    before.set(u, fingerprintOf(keys[i]!.publicKey));
    if (!opts.noGrant?.includes(u)) sf.grant('ADMIN', u);
  });
  writeFileSync(join(dir, 'targets.txt'), ['# service users rotated weekly', ...users.map((u, i) => (i === 1 ? `${u.toLowerCase()}   # lower case is the same user` : u)), ''].join('\n'));
  const env = { HOME: join(dir, 'home'), STORE: join(dir, 'store') };
  const args = ['rotate', '--account', 'myorg-myaccount', '--host', sf.url, '--user', 'ADMIN', '--private-key', 'admin.p8', '--targets', 'targets.txt', '--no-encrypt', '--out-dir', 'keys'];
  cleanups.push(async () => {
    await sf.close();
    cleanup();
  });
  return { sf, dir, users, before, env, args, run: (extra) => runCliAsync([...args, ...extra], { cwd: dir, env, timeoutMs: 90_000 }) };
}

/** New key files per user in keys/. */
function keyFiles(f: Fleet, user: string): string[] {
  return readdirSync(join(f.dir, 'keys')).filter((n) => n.startsWith(`${user.toLowerCase()}_`) && n.endsWith('.p8'));
}

/** The user's registered key is its one new key file's (and the old key is gone). */
function expectRotated(f: Fleet, user: string): void {
  const files = keyFiles(f, user);
  expect(files, user).toHaveLength(1);
  const fp = fingerprintOf(readFileSync(join(f.dir, 'keys', files[0]!.replace(/\.p8$/, '.pub')), 'utf8'));
  const slots = Object.values(f.sf.user(user).slots).filter(Boolean).map((s) => s!.fingerprint);
  expect(slots, user).toEqual([fp]);
}

const sets = (f: Fleet, user: string) => f.sf.executed.filter((e) => new RegExp(`^ALTER USER ${user} SET RSA_PUBLIC_KEY`, 'i').test(e.statement)).length;

describe.concurrent('sfauth rotate --targets (fleet)', { timeout: 120_000 }, () => {
  it('mixed outcomes: one user without privileges, one not due, one whose store command fails, the rest rotated; one report; exit 1; a rerun finishes', async () => {
    const f = await fleet(6, { noGrant: ['SVC_4'], young: ['SVC_5'] });
    const store = 'if [ "$SFAUTH_TARGET_USER" = SVC_3 ]; then echo "store refused" >&2; exit 3; fi; cat > "$STORE/$SFAUTH_TARGET_USER.p8"';
    // SVC_6's statements fail twice on their own (retried, healed: still rotated)
    f.sf.injectFault({ kind: 'status', status: 503, times: 2, user: 'SVC_6' });
    const r = await f.run(['--apply', '--if-older-than', '90d', '--concurrency', '3', '--json', '--store-cmd', store]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY/);
    const doc = JSON.parse(r.stdout) as Array<Record<string, any>>;
    expect(doc.map((x) => [x.user, x.outcome])).toEqual([
      ['SVC_1', 'rotated'],
      ['svc_2', 'rotated'],
      ['SVC_3', 'failed'],
      ['SVC_4', 'failed'],
      ['SVC_5', 'not-due'],
      ['SVC_6', 'rotated'],
    ]);
    expect(doc[0]).toMatchObject({ kind: 'slot', slot: 2, keyPair: null, oldFingerprint: f.before.get('SVC_1'), store: { exitCode: 0, handedOver: true }, error: null });
    expect(doc[0]!.newFingerprint).toBe(f.sf.user('SVC_1').slots[2]?.fingerprint);
    expect(doc[2]).toMatchObject({ error: { code: 'ERR_STORE_FAILED' } });
    expect(doc[3]).toMatchObject({ error: { code: 'ERR_STATEMENT_FAILED', message: expect.stringContaining("User 'SVC_4' does not exist or not authorized") } });
    expect(doc[4]).toMatchObject({ slot: 1, oldFingerprint: f.before.get('SVC_5'), newFingerprint: null });
    for (const u of ['SVC_1', 'SVC_2', 'SVC_6']) expectRotated(f, u);
    expect(f.sf.requests.filter((q) => q.status === 503).map((q) => /\bUSER SVC_6\b/i.test(q.statement ?? ''))).toEqual([true, true]);
    expect(readFileSync(join(f.dir, 'store', 'SVC_1.p8'), 'utf8')).toContain('PRIVATE KEY');
    // the store failure kept both of SVC_3's keys
    expect(f.sf.user('SVC_3').slots[1]?.fingerprint).toBe(f.before.get('SVC_3'));
    expect(f.sf.user('SVC_3').slots[2]).not.toBeNull();
    // each user's store output is on stderr, marked with the user
    expect(r.stderr).toContain('[SVC_3] store: store refused');

    // The rerun (store fixed, SVC_4 granted) resumes the unfinished fleet run: SVC_3 and SVC_4 finish,
    // the users finished in this run are skipped, no second key for anyone.
    f.sf.grant('ADMIN', 'SVC_4');
    const store2 = 'cat > "$STORE/$SFAUTH_TARGET_USER.p8"';
    const again = await f.run(['--apply', '--if-older-than', '90d', '--store-cmd', store2]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('resuming the unfinished fleet run begun');
    expect(again.stdout).toMatch(/^SVC_3 +rotated /m);
    expect(again.stdout).toMatch(/^SVC_1 +skipped /m);
    expect(again.stderr).toContain('6 users: 2 rotated, 4 skipped');
    for (const u of ['SVC_1', 'SVC_2', 'SVC_3', 'SVC_4', 'SVC_6']) {
      expectRotated(f, u);
      expect(sets(f, u), u).toBe(1);
    }
    // That run finished every user, so the next one is a new run: everyone is rotated again (after a
    // leak, say), and the key files of the retired keys go.
    const third = await f.run(['--apply', '--json', '--store-cmd', store2]);
    expect(third.code, third.stderr).toBe(0);
    expect((JSON.parse(third.stdout) as Array<{ user: string; outcome: string }>).map((x) => x.outcome)).toEqual(Array(6).fill('rotated'));
    for (const u of f.users) {
      expectRotated(f, u);
      expect(sets(f, u), u).toBe(u === 'SVC_5' ? 1 : 2);
    }
  });

  it('plan first: without --apply every user gets a planned line, and nothing is written or changed', async () => {
    const f = await fleet(3);
    const r = await f.run([]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^USER +OUTCOME +KEY +OLD +NEW +STORE +ERROR$/m);
    expect(r.stdout).toMatch(/^SVC_1 +planned +RSA_PUBLIC_KEY_2 +SHA256:/m);
    expect(r.stderr).toContain('3 users: 3 planned (plan only: nothing was changed; run again with --apply)');
    // CI (no terminal): one line per finished user
    expect(r.stderr.match(/^✓ \S+: would go into RSA_PUBLIC_KEY_2$/gm)).toHaveLength(3);
    expect(readdirSync(join(f.dir, 'keys'))).toEqual([]);
    expect(f.sf.executed.filter((e) => /^ALTER/.test(e.statement))).toEqual([]);
  });

  it('on a terminal: a counter of finished users, with a line per user kept above it', async () => {
    const f = await fleet(3);
    const r = await runCliInPty([...f.args, '--apply', '--yes'], { cwd: f.dir, env: f.env, steps: [], timeoutMs: 60_000, columns: 100 });
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/Rotating [0-3]\/3/);
    for (const u of f.users) expect(r.output).toMatch(new RegExp(`✓ ${u === 'SVC_2' ? 'svc_2' : u}: awaiting delivery, RSA_PUBLIC_KEY_2 = SHA256:`));
  });

  it('a SIGKILL in the middle: the rerun finishes the unfinished users, skips the finished ones, and makes no second key', async () => {
    const f = await fleet(6, { emulator: { latencyMs: 60 } });
    const store = ['--store-cmd', 'cat > "$STORE/$SFAUTH_TARGET_USER.p8"'];
    const p = spawnKillable([...f.args, '--apply', '--concurrency', '2', ...store], f.dir, f.env);
    // The fleet run's record: each user's outcome as it lands.
    const fleets = join(f.dir, 'home', '.local', 'state', 'sfauth', 'fleets');
    const completed = () => {
      const files = existsSync(fleets) ? readdirSync(fleets).filter((n) => n.endsWith('.json')) : [];
      if (files.length !== 1) return [];
      try {
        const users = (JSON.parse(readFileSync(join(fleets, files[0]!), 'utf8')) as { users: Record<string, string> }).users;
        return Object.entries(users).filter(([, o]) => o === 'rotated').map(([u]) => u);
      } catch {
        return []; // caught mid-rename
      }
    };
    await until(() => completed().length >= 2, 60_000);
    p.kill();
    await p.done;
    // finished: recorded as rotated; the others are somewhere between written and retired, or not begun
    const done = completed();
    expect(done.length).toBeGreaterThanOrEqual(2);
    expect(done.length).toBeLessThan(6);
    const again = await f.run(['--apply', '--concurrency', '2', '--json', ...store]);
    expect(again.code, again.stderr + again.stdout).toBe(0);
    const doc = JSON.parse(again.stdout) as Array<{ user: string; outcome: string }>;
    for (const x of doc) expect(x.outcome, x.user).toBe(done.includes(x.user.toUpperCase()) ? 'skipped' : 'rotated');
    for (const u of f.users) {
      expectRotated(f, u);
      expect(sets(f, u), u).toBe(1);
    }
  });

  it('a storm of 429s slows the whole fleet down and fails no one, even past --timeout', async () => {
    const f = await fleet(5);
    // Each 429 asks everyone to wait 6 s: whatever bursts they come in, the first pause alone is longer
    // than --timeout (5 s), which leaves room for the work itself on a loaded machine (EC keys: no RSA
    // prime search). So the run ends past its --timeout only because pauses do not count against it.
    f.sf.injectFault({ kind: 'status', status: 429, times: 10, retryAfterSeconds: 6 });
    const started = Date.now();
    const r = await f.run(['--apply', '--concurrency', '5', '--timeout', '5s', '--type', 'ec', '--json', '--store-cmd', 'cat > "$STORE/$SFAUTH_TARGET_USER.p8"']);
    expect(Date.now() - started).toBeGreaterThan(6000);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect((JSON.parse(r.stdout) as Array<{ outcome: string }>).map((x) => x.outcome)).toEqual(Array(5).fill('rotated'));
    expect(f.sf.requests.filter((q) => q.status === 429).length).toBe(10);
    for (const u of f.users) expectRotated(f, u);
  });

  it('bad inputs exit 2 before any network call', async () => {
    const f = await fleet(2);
    const bad = async (extra: string[], file: string | null, message: RegExp) => {
      if (file !== null) writeFileSync(join(f.dir, 'targets.txt'), file);
      const r = await f.run(extra);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(STACK_TRACE);
    };
    await bad([], 'SVC_1\nsvc_1\n', /^sfauth: targets\.txt line 2 repeats svc_1 \(first on line 1\)/m);
    // a list with no users (an audit's --targets-out with nothing due) is nothing to do, exit 0
    writeFileSync(join(f.dir, 'targets.txt'), '# nobody\n\n');
    const empty = await f.run([]);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stderr).toMatch(/^targets\.txt lists no users: nothing to rotate$/m);
    await bad([], 'SVC 1\n', /^sfauth: targets\.txt line 1 is not a user name/m);
    await bad([], 'SVC_1\nADMIN\n', /^sfauth: the targets include ADMIN, the user this command authenticates as/m);
    await bad(['--out', 'x.p8'], 'SVC_1\n', /^sfauth: --out does not go with --targets/m);
    await bad(['--concurrency', '0'], null, /^sfauth: invalid --concurrency '0'/m);
    const noPass = await runCliAsync(f.args.filter((a) => a !== '--no-encrypt'), { cwd: f.dir, env: f.env });
    expect(noPass.code).toBe(2);
    expect(noPass.stderr).toMatch(/^hint: pass --new-passphrase-file PATH \(one passphrase for every new key\) or --no-encrypt; a fleet never prompts/m);
    const missing = await runCliAsync([...f.args.slice(0, -1), 'nowhere'], { cwd: f.dir, env: f.env });
    expect(missing.code).toBe(2);
    expect(f.sf.requests).toEqual([]);
  });
});
