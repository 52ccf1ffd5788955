/**
 * `sfauth rotate --pat` end to end (DESIGN.md §3 "Programmatic access tokens"): the plan, a rotation
 * whose old secret keeps working through the grace period, `--grace 0` (the rotated-out object is
 * removed only after delivery), `--if-expiring-within`, the refusals, a fleet with a failing store,
 * and a SIGKILL at each step (before and after ROTATE, during verification, in the store, before
 * REMOVE): the program always keeps a working secret, and the rerun delivers the newest secret and
 * removes the object holding a lost one, never the one the program still uses.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCliAsync } from '../support/cli.js';
import { until } from '../support/rotation.js';
import { aliceKey, alters, lastError, refused, scanForSecrets, store, works, world, type World } from '../support/pat-world.js';

const DAY = 86_400_000;
/** ALICE's token ETL, whose secret the program holds, expiring in `days`. */
function seed(w: World, opts: { user?: string; days?: number; role?: string } = {}): string {
  const secret = `program-secret-${Math.random().toString(36).slice(2)}-0123456789`;
  w.sf.addPatObject(opts.user ?? 'ALICE', 'ETL', { secret, expiresAt: new Date(Date.now() + (opts.days ?? 10) * DAY), ...(opts.role ? { roleRestriction: opts.role } : {}) });
  return secret;
}
const rotateArgs = (extra: string[]) => ['--target-user', 'ALICE', '--pat', 'ETL', ...extra];
const journalsOf = (w: World) => {
  const dir = join(w.env.HOME!, '.local', 'state', 'sfauth', 'pats');
  const walk = (d: string): string[] => (existsSync(d) ? readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)])) : []);
  return walk(dir).filter((f) => f.endsWith('.rotate.json'));
};
/** The token objects of ALICE now: the token itself and its rotated-out objects. */
const objects = (w: World) => w.sf.patsOf('ALICE').map((t) => (t.rotatedTo ? `${t.rotatedTo}_ROTATED` : t.name));

describe.concurrent('sfauth rotate --pat', { timeout: 90_000 }, () => {
  it('plans first: the ROTATE, when the old secret stops, where the secret goes; nothing sent', async () => {
    const w = await world();
    seed(w);
    const r = await w.admin('rotate', rotateArgs(['--out', 'etl.token']));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('ALTER USER ALICE ROTATE PROGRAMMATIC ACCESS TOKEN ETL EXPIRE_ROTATED_TOKEN_AFTER_HOURS=24;');
    expect(r.stdout).toMatch(/the old secret stops working at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(--grace 24h\)/);
    expect(r.stdout).toContain('send the new secret to etl.token (0600)');
    const j = await w.admin('rotate', rotateArgs(['--out', 'etl.token', '--grace', '0', '--json']));
    expect(JSON.parse(j.stdout)).toMatchObject({ kind: 'pat', outcome: 'planned', pat: { name: 'ETL' }, destination: 'file', graceHours: 0, applied: false, sql: ['ALTER USER ALICE ROTATE PROGRAMMATIC ACCESS TOKEN ETL EXPIRE_ROTATED_TOKEN_AFTER_HOURS=24;', 'ALTER USER ALICE REMOVE PROGRAMMATIC ACCESS TOKEN IF EXISTS "ETL_ROTATED_<ms>";'] });
    expect(alters(w.sf)).toEqual([]);
    expect(journalsOf(w)).toEqual([]);
  });

  it('--apply: the new secret is delivered and verified with its role; the old one works through the grace period', async () => {
    const w = await world();
    const old = seed(w, { role: 'ANALYST' });
    const r = await w.admin('rotate', rotateArgs(['--out', 'etl.token', '--grace', '2h', '--apply', '--json']));
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ kind: 'pat', outcome: 'rotated', destination: 'file', applied: true, confirmed: true, pat: { name: 'ETL', roleRestriction: 'ANALYST', rotatedTokenName: expect.stringMatching(/^ETL_ROTATED_\d+$/) } });
    expect(Math.abs(Date.parse(doc.oldSecretEndsAt) - Date.now() - 2 * 3_600_000)).toBeLessThan(60_000);
    expect(Date.parse(doc.pat.expiresAt) - Date.now()).toBeGreaterThan(14 * DAY);
    const secret = readFileSync(join(w.dir, 'etl.token'), 'utf8').trim();
    expect(secret).toBe(w.sf.issuedPatSecrets().at(-1));
    expect(await works(w, secret, 'ANALYST')).toBe(true);
    expect(await works(w, old, 'ANALYST')).toBe(true);
    expect(objects(w)).toEqual(['ETL_ROTATED', 'ETL']);
    // On the server's clock, the grace ends: the old secret stops, the new one goes on.
    w.sf.setClockSkew(3 * 3600);
    expect(await works(w, old, 'ANALYST')).toBe(false);
    expect(await works(w, secret, 'ANALYST')).toBe(true);
    w.sf.setClockSkew(0);
    // Verified with the new secret and its role, by the token's own session.
    const verify = w.sf.requests.find((q) => q.tokenType === 'PROGRAMMATIC_ACCESS_TOKEN' && q.statement === 'SELECT CURRENT_USER()');
    expect((verify?.body as { role?: string }).role).toBe('ANALYST');
    expect(journalsOf(w)).toEqual([]);
    scanForSecrets(w, { files: [join(w.dir, 'etl.token')] });
  });

  it("a user rotates its own token with its own key pair (no --target-user)", async () => {
    const w = await world();
    const old = seed(w);
    const r = await w.as(['rotate', '--account', 'myorg-myaccount', '--host', w.sf.url, '--user', 'ALICE', '--private-key', aliceKey(), '--pat', 'ETL', '--out', 'mine.token', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ user: 'ALICE', outcome: 'rotated' });
    expect(await works(w, readFileSync(join(w.dir, 'mine.token'), 'utf8').trim())).toBe(true);
    expect(await works(w, old)).toBe(true);
  });

  it('revoking a rotated token says its prior secret still works, and how to end it', async () => {
    const w = await world();
    const old = seed(w);
    expect((await w.admin('rotate', rotateArgs(['--out', 'r.token', '--apply']))).code).toBe(0);
    const r = await w.admin('revoke', ['--target-user', 'ALICE', '--pat', 'ETL', '--apply']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: ETL_ROTATED_\d+ \(a prior secret of ETL\) still works until .*; to end it now: sfauth revoke --target-user ALICE --pat ETL_ROTATED_\d+ --apply/);
    expect(await works(w, old)).toBe(true);
    const rotated = w.sf.patsOf('ALICE')[0]!.name;
    expect((await w.admin('revoke', ['--target-user', 'ALICE', '--pat', rotated, '--apply'])).code).toBe(0);
    expect(await works(w, old)).toBe(false);
    expect(w.sf.patsOf('ALICE')).toEqual([]);
  });

  it('--grace 0 with --store-cmd: the rotated-out object is removed only after the store took the new secret', async () => {
    const w = await world();
    const old = seed(w);
    const s = store(w);
    const r = await w.admin('rotate', rotateArgs(['--store-cmd', `${s.cmd}; echo stored >> '${join(w.dir, 'order')}'`, '--grace', '0', '--apply']));
    expect(r.code, r.stderr).toBe(0);
    expect(s.got()).toBe(w.sf.issuedPatSecrets().at(-1));
    expect(s.env()).toMatchObject({ SFAUTH_PAT_NAME: 'ETL', SFAUTH_TARGET_USER: 'ALICE' });
    expect(await works(w, old)).toBe(false);
    expect(await works(w, s.got())).toBe(true);
    expect(objects(w)).toEqual(['ETL']);
    const a = alters(w.sf);
    expect(a[0]).toBe('ALTER USER ALICE ROTATE PROGRAMMATIC ACCESS TOKEN ETL EXPIRE_ROTATED_TOKEN_AFTER_HOURS=24');
    expect(a[1]).toMatch(/^ALTER USER ALICE REMOVE PROGRAMMATIC ACCESS TOKEN IF EXISTS ETL_ROTATED_\d+$/);
    expect(r.stderr).toMatch(/the old secret was removed \(ETL_ROTATED_\d+\)/);
    scanForSecrets(w, { files: [join(w.dir, 'stored.secret')] });
  });

  it('--if-expiring-within: a no-op while the token has longer to live, a rotation once it is due; the ROTATE never asks for more hours than the secret has', async () => {
    const w = await world();
    seed(w, { days: 30 });
    const r = await w.admin('rotate', rotateArgs(['--if-expiring-within', '14d', '--out', 'a.token', '--apply']));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/token ETL of ALICE expires .* more than 14 days; nothing to do/);
    expect(alters(w.sf)).toEqual([]);
    const w2 = await world();
    w2.sf.addPatObject('ALICE', 'ETL', { secret: 'soon-secret-0123456789abcdef', expiresAt: new Date(Date.now() + 5.5 * 3_600_000) });
    const due = await w2.admin('rotate', rotateArgs(['--if-expiring-within', '14d', '--out', 'b.token', '--apply']));
    expect(due.code, due.stderr).toBe(0);
    expect(alters(w2.sf)[0]).toBe('ALTER USER ALICE ROTATE PROGRAMMATIC ACCESS TOKEN ETL EXPIRE_ROTATED_TOKEN_AFTER_HOURS=5');
    // Less than an hour left: nothing can keep the old secret past the ROTATE, and the plan says so.
    w2.sf.addPatObject('ALICE', 'LAST', { expiresAt: new Date(Date.now() + 20 * 60_000) });
    const last = await w2.admin('rotate', ['--target-user', 'ALICE', '--pat', 'LAST', '--out', 'c.token']);
    expect(last.stdout).toContain('EXPIRE_ROTATED_TOKEN_AFTER_HOURS=0;');
    expect(last.stdout).toContain('its old secret ends at the ROTATE');
  });

  it('refusals before any statement: a PAT session, the 15-token limit, an unknown token, key flags, a fleet without a store', async () => {
    const w = await world();
    const old = seed(w);
    const viaPat = await runCliAsync(['rotate', '--account', 'myorg-myaccount', '--host', w.sf.url, '--token-type', 'pat', '--pat', 'ETL', '--out', 'x.token', '--apply', '--json'], { cwd: w.dir, env: { ...w.env, SNOWFLAKE_TOKEN: old } });
    refused(viaPat, 2, 'ERR_PAT_SESSION', /does not let a token's session rotate tokens/);
    for (let i = 0; i < 13; i++) w.sf.addPatObject('ALICE', `T${i}`);
    w.sf.addPatObject('ALICE', 'ETL_ROTATED_1765000000000', { rotatedTo: 'ETL', expiresAt: new Date(Date.now() + 3_600_000) });
    const full = await w.admin('rotate', rotateArgs(['--out', 'y.token', '--apply', '--json']));
    refused(full, 1, 'ERR_PAT_LIMIT', /ALICE has 15 programmatic access tokens/);
    expect(lastError(full).hint).toContain('--pat ETL_ROTATED_1765000000000');
    refused(await w.admin('rotate', ['--target-user', 'ALICE', '--pat', 'NOPE', '--out', 'z.token', '--apply', '--json']), 1, 'ERR_PAT_NOT_FOUND', /no programmatic access token named NOPE/);
    refused(await w.admin('rotate', rotateArgs(['--type', 'ec', '--json'])), 2, 'ERR_USAGE', /--type is for keys/);
    w.sf.addPatObject('ALICE', 'OFF', { disabled: true });
    const off = await w.admin('rotate', ['--target-user', 'ALICE', '--pat', 'OFF', '--out', 'o.token', '--apply', '--json']);
    refused(off, 1, 'ERR_PAT_NOT_ACTIVE', /token OFF of ALICE is disabled/);
    expect(lastError(off).hint).toContain('--pat OFF --enable --apply');
    refused(await w.admin('rotate', ['--pat', 'ETL', '--targets', 'users.txt', '--json']), 2, 'ERR_USAGE', /needs --store-cmd/);
    refused(await w.admin('rotate', rotateArgs(['--pat', 'ETL_ROTATED_1765000000000', '--json'])), 2, 'ERR_USAGE', /rotated-out token object/);
    expect(alters(w.sf)).toEqual([]);
  });
});

describe.concurrent('sfauth rotate --pat: a fleet, and crashes with a secret shown once', { timeout: 120_000 }, () => {
  it('a fleet with a failing store: the others are rotated; the rerun rotates the failed user again and removes the object with the lost secret', async () => {
    const w = await world();
    const users = ['U1', 'U2', 'U3'];
    const programs: Record<string, string> = {};
    for (const u of users) {
      w.sf.addUser(u, { roles: ['ETL_ROLE'] });
      programs[u] = seed(w, { user: u, days: 5, role: 'ETL_ROLE' });
    }
    writeFileSync(join(w.dir, 'users.txt'), users.join('\n') + '\n');
    const storeDir = join(w.dir, 'vault');
    const flaky = `mkdir -p '${storeDir}'; [ "$SFAUTH_TARGET_USER" = U2 ] && [ ! -e '${join(w.dir, 'fixed')}' ] && { echo "vault is down"; exit 7; }; cat > "${storeDir}/$SFAUTH_TARGET_USER"`;
    const args = ['--targets', 'users.txt', '--pat', 'ETL', '--if-expiring-within', '14d', '--store-cmd', flaky, '--apply', '--json'];
    const first = await w.admin('rotate', args);
    expect(first.code, first.stderr).toBe(1);
    const results = JSON.parse(first.stdout) as Array<{ user: string; outcome: string; pat: { name: string; rotatedTokenName?: string } | null; error: { code: string } | null }>;
    expect(results.map((x) => `${x.user}:${x.outcome}`)).toEqual(['U1:rotated', 'U2:failed', 'U3:rotated']);
    expect(results[0]!.pat).toMatchObject({ name: 'ETL', rotatedTokenName: expect.stringMatching(/^ETL_ROTATED_/) });
    expect(results[1]!.error!.code).toBe('ERR_STORE_FAILED');
    // U2's program still works with its secret; its new secret is lost and nothing holds it.
    expect(await works(w, programs.U2!, 'ETL_ROLE')).toBe(true);
    expect(existsSync(join(storeDir, 'U2'))).toBe(false);

    writeFileSync(join(w.dir, 'fixed'), '');
    const second = await w.admin('rotate', args);
    expect(second.code, second.stderr).toBe(0);
    expect((JSON.parse(second.stdout) as Array<{ user: string; outcome: string }>).map((x) => `${x.user}:${x.outcome}`)).toEqual(['U1:skipped', 'U2:rotated', 'U3:skipped']);
    // The run is over: the next one judges every user again (--if-expiring-within: none is due).
    const third = await w.admin('rotate', args);
    expect((JSON.parse(third.stdout) as Array<{ outcome: string }>).map((x) => x.outcome)).toEqual(['not-due', 'not-due', 'not-due']);
    for (const u of users) {
      expect(await works(w, readFileSync(join(storeDir, u), 'utf8'), 'ETL_ROLE')).toBe(true);
      expect(await works(w, programs[u]!, 'ETL_ROLE')).toBe(true); // grace: 24 h
    }
    // U2: the token and the one object holding the program's old secret; the lost secret's object is gone.
    expect(w.sf.patsOf('U2').map((t) => t.rotatedTo ?? t.name)).toEqual(['ETL', 'ETL']);
    expect(w.sf.patsOf('U2').find((t) => t.rotatedTo)?.secret).toBe(programs.U2);
    const u2Alters = alters(w.sf).filter((a) => a.startsWith('ALTER USER U2'));
    expect(u2Alters[0]).toBe('ALTER USER U2 ROTATE PROGRAMMATIC ACCESS TOKEN ETL EXPIRE_ROTATED_TOKEN_AFTER_HOURS=24');
    expect(u2Alters[1]).toBe('ALTER USER U2 ROTATE PROGRAMMATIC ACCESS TOKEN ETL EXPIRE_ROTATED_TOKEN_AFTER_HOURS=0');
    expect(u2Alters[2]).toMatch(/^ALTER USER U2 REMOVE PROGRAMMATIC ACCESS TOKEN IF EXISTS ETL_ROTATED_\d+$/);
    expect(journalsOf(w)).toEqual([]);
    scanForSecrets(w, { files: users.map((u) => join(storeDir, u)) });
  });

  /** Runs the rotation, SIGKILLs it at `when`, then reruns the same command; checks the program's secret worked throughout. */
  async function killAndRerun(w: World, extra: string[], when: () => Promise<void>, oldWorksAfterKill = true): Promise<{ old: string; rerun: Awaited<ReturnType<World['admin']>> }> {
    const old = seed(w);
    const p = w.spawn('rotate', rotateArgs([...extra, '--apply']));
    await when();
    p.kill();
    const killed = await p.done;
    w.outputs.push(killed);
    // The journal left behind (and everything else) holds no secret.
    expect(journalsOf(w).length).toBeLessThanOrEqual(1);
    scanForSecrets(w, { files: [join(w.dir, 'k.token')] });
    // The program's secret works after the kill (with --grace 0 past delivery, the new one does).
    if (oldWorksAfterKill) expect(await works(w, old)).toBe(true);
    else expect(await works(w, readFileSync(join(w.dir, 'k.token'), 'utf8').trim())).toBe(true);
    const rerun = await w.admin('rotate', rotateArgs([...extra, '--apply', '--json']));
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(journalsOf(w)).toEqual([]);
    return { old, rerun };
  }

  it('killed before the ROTATE reached the server: the rerun is one ordinary rotation', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'hang', match: /ROTATE PROGRAMMATIC/ });
    const { old } = await killAndRerun(w, ['--out', 'k.token'], () => until(() => w.sf.requests.some((q) => /ROTATE PROGRAMMATIC/.test(q.statement ?? ''))));
    expect(alters(w.sf).filter((a) => /ROTATE PROGRAMMATIC/.test(a))).toHaveLength(1);
    expect(objects(w)).toEqual(['ETL_ROTATED', 'ETL']);
    expect(await works(w, old)).toBe(true);
    expect(await works(w, readFileSync(join(w.dir, 'k.token'), 'utf8').trim())).toBe(true);
    scanForSecrets(w, { files: [join(w.dir, 'k.token')] });
  });

  it('killed after the ROTATE ran (its answer, the only copy of the secret, lost): the rerun rotates again and removes the lost secret\'s object', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'drop-after-execute', match: /ROTATE PROGRAMMATIC/ });
    const { old, rerun } = await killAndRerun(w, ['--out', 'k.token'], () => until(() => w.sf.executed.some((e) => /ROTATE PROGRAMMATIC/.test(e.statement))));
    expect(JSON.parse(rerun.stdout).pat.rotatedTokenName).toBe(w.sf.patsOf('ALICE').find((t) => t.rotatedTo)!.name);
    expect(rerun.stderr).toContain('that secret is lost');
    expect(objects(w)).toEqual(['ETL_ROTATED', 'ETL']);
    expect(w.sf.patsOf('ALICE').find((t) => t.rotatedTo)!.secret).toBe(old);
    expect(await works(w, old)).toBe(true);
    expect(await works(w, readFileSync(join(w.dir, 'k.token'), 'utf8').trim())).toBe(true);
    // The secret made by the killed run authenticates nowhere.
    expect(await works(w, w.sf.issuedPatSecrets()[0]!)).toBe(false);
    scanForSecrets(w, { files: [join(w.dir, 'k.token')] });
  });

  it('killed after the ROTATE on a CI runner that is then gone (no journal): the rerun is a fresh rotation, older objects end with their grace', async () => {
    const w = await world();
    const old = seed(w);
    w.sf.injectFault({ kind: 'drop-after-execute', match: /ROTATE PROGRAMMATIC/ });
    const p = w.spawn('rotate', rotateArgs(['--out', 'k.token', '--apply']));
    await until(() => w.sf.executed.some((e) => /ROTATE PROGRAMMATIC/.test(e.statement)));
    p.kill();
    await p.done;
    rmSync(join(w.env.HOME!, '.local'), { recursive: true, force: true });
    const rerun = await w.admin('rotate', rotateArgs(['--out', 'k.token', '--apply']));
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(objects(w)).toEqual(['ETL_ROTATED', 'ETL_ROTATED', 'ETL']);
    expect(await works(w, old)).toBe(true);
    expect(await works(w, readFileSync(join(w.dir, 'k.token'), 'utf8').trim())).toBe(true);
    expect(alters(w.sf).filter((a) => /REMOVE/.test(a))).toEqual([]);
  });

  it('killed during verification: the rerun rotates again, delivers the newest secret, removes the lost one\'s object', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'hang', match: /CURRENT_USER/ });
    const { old } = await killAndRerun(w, ['--out', 'k.token'], () => until(() => w.sf.requests.some((q) => /CURRENT_USER/.test(q.statement ?? ''))));
    expect(objects(w)).toEqual(['ETL_ROTATED', 'ETL']);
    expect(readFileSync(join(w.dir, 'k.token'), 'utf8').trim()).toBe(w.sf.issuedPatSecrets().at(-1));
    expect(await works(w, old)).toBe(true);
    expect(await works(w, w.sf.issuedPatSecrets()[0]!)).toBe(false);
  });

  it('killed in the store: the rerun rotates again and the store gets the newest secret', async () => {
    const w = await world();
    const s = store(w);
    const marker = join(w.dir, 'store-started');
    // The killed run's store is left running with the (lost) secret on its stdin: the rerun must stop it
    // before it writes that over the newest secret.
    const slow = `echo $$ > '${marker}'; [ -e '${join(w.dir, 'fast')}' ] || sleep 30; ${s.cmd}`;
    const old = seed(w);
    const p = w.spawn('rotate', rotateArgs(['--store-cmd', slow, '--apply']));
    // Killed in the store: it runs, and the journal names it.
    await until(() => existsSync(marker) && journalsOf(w).some((j) => /"storeProcess": \{/.test(readFileSync(j, 'utf8'))));
    p.kill();
    await p.done;
    expect(await works(w, old)).toBe(true);
    writeFileSync(join(w.dir, 'fast'), '');
    const orphan = Number(readFileSync(marker, 'utf8'));
    expect(() => process.kill(orphan, 0)).not.toThrow();
    const rerun = await w.admin('rotate', rotateArgs(['--store-cmd', slow, '--apply']));
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain(`stopped the store command the earlier run left running (process group ${orphan})`);
    // Gone, or a zombie nobody reaped (PID 1 in a container need not reap).
    await until(() => {
      try {
        return readFileSync(`/proc/${orphan}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
      } catch {
        return true;
      }
    }, 5000);
    expect(s.got()).toBe(w.sf.issuedPatSecrets().at(-1));
    expect(objects(w)).toEqual(['ETL_ROTATED', 'ETL']);
    expect(await works(w, old)).toBe(true);
    expect(await works(w, s.got())).toBe(true);
    scanForSecrets(w, { files: [join(w.dir, 'stored.secret')] });
  });

  it('killed before the REMOVE of --grace 0 got its answer: the new secret was delivered, the rerun only finishes', async () => {
    const w = await world();
    w.sf.injectFault({ kind: 'drop-after-execute', match: /REMOVE PROGRAMMATIC/ });
    const { old, rerun } = await killAndRerun(w, ['--out', 'k.token', '--grace', '0'], () => until(() => w.sf.executed.some((e) => /REMOVE PROGRAMMATIC/.test(e.statement))), false);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ outcome: 'rotated' });
    expect(alters(w.sf).filter((a) => /ROTATE PROGRAMMATIC/.test(a))).toHaveLength(1);
    expect(objects(w)).toEqual(['ETL']);
    expect(await works(w, old)).toBe(false);
    expect(await works(w, readFileSync(join(w.dir, 'k.token'), 'utf8').trim())).toBe(true);
  });
});
