/**
 * Programmatic access tokens end to end against the emulator (DESIGN.md §3 "Programmatic access
 * tokens"): `register --pat` with each place for the secret, `status` listing tokens, `revoke --pat`
 * (remove, disable, enable), `rotate --pat` (one user, a fleet with a failing store,
 * --if-expiring-within, --grace 0), every refusal before any statement, crash safety with a secret
 * shown once (a SIGKILL at each step, a failing store), and scans that no secret Snowflake issued
 * reaches anything but its one place.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCliAsync } from '../support/cli.js';
import { adminKey, alters, lastError, refused, scanForSecrets, store, works, world } from '../support/pat-world.js';
import { runCliInPty } from '../support/audit.js';

describe.concurrent('sfauth register --pat', { timeout: 60_000 }, () => {
  it('plans first (nothing sent); --apply --out writes the secret alone, 0600, and it authenticates with its role', async () => {
    const w = await world();
    const plan = await w.admin('register', ['--target-user', 'SVC_BI', '--pat', 'bi_token', '--role-restriction', 'bi_reader', '--expires-in', '30', '--comment', 'Tableau', '--out', 'bi.token']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain("ALTER USER SVC_BI ADD PROGRAMMATIC ACCESS TOKEN BI_TOKEN ROLE_RESTRICTION='bi_reader' DAYS_TO_EXPIRY=30 COMMENT='Tableau';");
    expect(plan.stdout).toContain('the secret goes to bi.token (0600)');
    expect(alters(w.sf)).toEqual([]);
    expect(existsSync(join(w.dir, 'bi.token'))).toBe(false);

    const r = await w.admin('register', ['--target-user', 'SVC_BI', '--pat', 'bi_token', '--role-restriction', 'bi_reader', '--expires-in', '30d', '--out', 'bi.token', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ user: 'SVC_BI', action: 'add', pat: { name: 'BI_TOKEN', roleRestriction: 'BI_READER' }, destination: 'file', applied: true, confirmed: true });
    expect(Date.parse(doc.pat.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const file = join(w.dir, 'bi.token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const secret = readFileSync(file, 'utf8');
    expect(secret).toBe(w.sf.issuedPatSecrets()[0] + '\n');
    expect(await works(w, secret.trim())).toBe(true);
    expect(await works(w, secret.trim(), 'PUBLIC')).toBe(false);
    scanForSecrets(w, { files: [file] });

    // Never over a file: refused before any statement, even when the name is free.
    const again = await w.admin('register', ['--target-user', 'SVC_BI', '--pat', 'OTHER', '--role-restriction', 'BI_READER', '--out', 'bi.token', '--apply', '--json']);
    refused(again, 2, 'ERR_FILE_EXISTS', /bi\.token already exists/);
    expect(alters(w.sf)).toHaveLength(1);
  });

  it('without --out or --store-cmd the secret is stdout alone; everything else is on stderr', async () => {
    const w = await world();
    const r = await w.admin('register', ['--target-user', 'ALICE', '--pat', 'NOTEBOOK', '--apply']);
    expect(r.code, r.stderr).toBe(0);
    const [secret] = w.sf.issuedPatSecrets();
    expect(r.stdout).toBe(secret + '\n');
    expect(r.stderr).toContain('created ALICE: token NOTEBOOK');
    expect(await works(w, secret!)).toBe(true);
    scanForSecrets(w, { stdoutOf: [r] });
    // --json would mix the secret with the document: it needs another place.
    refused(await w.admin('register', ['--target-user', 'ALICE', '--pat', 'NB2', '--apply', '--json']), 2, 'ERR_USAGE', /--out PATH or --store-cmd/);
  });

  it('--store-cmd gets the secret alone on stdin and SFAUTH_PAT_* in its environment (never the secret)', async () => {
    const w = await world();
    const s = store(w);
    const r = await w.admin('register', ['--target-user', 'SVC_BI', '--pat', 'BI', '--role-restriction', 'BI_READER', '--store-cmd', s.cmd, '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ destination: 'store', pat: { name: 'BI' } });
    const [secret] = w.sf.issuedPatSecrets();
    expect(s.got()).toBe(secret);
    expect(s.env()).toMatchObject({ SFAUTH_ACCOUNT: 'myorg-myaccount', SFAUTH_TARGET_USER: 'SVC_BI', SFAUTH_PAT_NAME: 'BI', SFAUTH_PAT_ROLE_RESTRICTION: 'BI_READER' });
    expect(Date.parse(s.env().SFAUTH_PAT_EXPIRES_AT!)).toBeGreaterThan(Date.now());
    expect(JSON.stringify(s.env())).not.toContain(secret);
    scanForSecrets(w, { files: [join(w.dir, 'stored.secret')] });
  });

  it('a failing store: the token holding the undelivered secret is removed again, exit 1, and a rerun succeeds', async () => {
    const w = await world();
    const r = await w.admin('register', ['--target-user', 'ALICE', '--pat', 'NB', '--store-cmd', 'cat >/dev/null; echo "store says no"; exit 3', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(lastError(r).code).toBe('ERR_STORE_FAILED');
    expect(lastError(r).message).toMatch(/token NB was removed again/);
    expect(r.stderr).toContain('store: store says no');
    expect(w.sf.patsOf('ALICE')).toEqual([]);
    const s = store(w);
    const again = await w.admin('register', ['--target-user', 'ALICE', '--pat', 'NB', '--store-cmd', s.cmd, '--apply']);
    expect(again.code, again.stderr).toBe(0);
    expect(s.got()).toBe(w.sf.issuedPatSecrets()[1]);
    scanForSecrets(w, { files: [join(w.dir, 'stored.secret')] });
  });

  it('refusals before any statement: a PAT session, a service user without a role restriction, a taken name, the 15-token limit', async () => {
    const w = await world();
    w.sf.addPat('alice-pat-secret-0123456789', 'ALICE');
    const patSession = await runCliAsync(['register', '--account', 'myorg-myaccount', '--host', w.sf.url, '--user', 'ALICE', '--token-type', 'pat', '--pat', 'MINE', '--out', 'x.token', '--apply', '--json'], { cwd: w.dir, env: { ...w.env, SNOWFLAKE_TOKEN: 'alice-pat-secret-0123456789' } });
    refused(patSession, 2, 'ERR_PAT_SESSION', /authenticates with a programmatic access token/);
    expect(lastError(patSession).hint).toMatch(/key pair/);

    refused(await w.admin('register', ['--target-user', 'SVC_BI', '--pat', 'BI', '--out', 'y.token', '--apply', '--json']), 2, 'ERR_PAT_ROLE_REQUIRED', /SVC_BI is a SERVICE user/);

    w.sf.addPatObject('ALICE', 'TAKEN');
    const taken = await w.admin('register', ['--target-user', 'ALICE', '--pat', 'taken', '--out', 'z.token', '--apply', '--json']);
    refused(taken, 1, 'ERR_PAT_EXISTS', /already has a programmatic access token named TAKEN/);
    expect(lastError(taken).hint).toContain('sfauth rotate --target-user ALICE --pat TAKEN --apply');

    for (let i = 0; i < 12; i++) w.sf.addPatObject('ALICE', `T${i}`);
    w.sf.addPatObject('ALICE', 'T0_ROTATED_1765000000000', { rotatedTo: 'T0' });
    w.sf.addPatObject('ALICE', 'OLD', { expiresAt: new Date(Date.now() - 86_400_000) }); // expired: does not count
    w.sf.addPatObject('ALICE', 'T1_ROTATED_1765000000001', { rotatedTo: 'T1' });
    const full = await w.admin('register', ['--target-user', 'ALICE', '--pat', 'ONE_MORE', '--out', 'w.token', '--apply', '--json']);
    refused(full, 1, 'ERR_PAT_LIMIT', /ALICE has 15 programmatic access tokens/);
    expect(lastError(full).details!.join('\n')).toMatch(/T0_ROTATED_1765000000000: rotated out of T0/);
    expect(lastError(full).hint).toContain('sfauth revoke --target-user ALICE --pat T0_ROTATED_1765000000000 --apply');
    expect(alters(w.sf)).toEqual([]);
    expect(readdirSync(w.dir).filter((f) => f.endsWith('.token'))).toEqual([]);
  });
});

describe.concurrent('sfauth status and revoke --pat', { timeout: 60_000 }, () => {
  it('status lists tokens as kind "pat" with their fields; --expiring-within covers them', async () => {
    const w = await world();
    w.sf.addPatObject('SVC_BI', 'BI', { roleRestriction: 'BI_READER', comment: 'Tableau', expiresAt: new Date(Date.now() + 5 * 86_400_000) });
    w.sf.addPatObject('SVC_BI', 'BI_ROTATED_1765000000000', { roleRestriction: 'BI_READER', rotatedTo: 'BI', expiresAt: new Date(Date.now() + 3_600_000) });
    const r = await w.admin('status', ['--target-user', 'SVC_BI', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.pats).toEqual({ available: true });
    expect(doc.keys).toEqual([
      expect.objectContaining({ kind: 'pat', name: 'BI', fingerprint: null, status: 'ACTIVE', rotatedTo: null, roleRestriction: 'BI_READER', comment: 'Tableau', createdOn: expect.any(String), expiresAt: expect.any(String) }),
      expect.objectContaining({ kind: 'pat', name: 'BI_ROTATED_1765000000000', fingerprint: null, status: 'ACTIVE', rotatedTo: 'BI', roleRestriction: 'BI_READER' }),
    ]);
    const human = await w.admin('status', ['--target-user', 'SVC_BI']);
    expect(human.stdout).toMatch(/pat BI +- +active/);
    expect(human.stdout).toContain('BI_ROTATED_1765000000000: rotated out of BI');
    const exp = await w.admin('status', ['--target-user', 'SVC_BI', '--expiring-within', '14d', '--json']);
    expect(exp.code).toBe(1);
    expect(lastError(exp).message).toMatch(/^token BI expires in \d+ days?, within 14 days/);
    // The rotated-out object ends sooner, but it is meant to: it is not what expiring-within warns about.
    expect(lastError(exp).hint).toBe('rotate it before then: sfauth rotate --target-user SVC_BI --pat BI --apply');
    expect((await w.admin('status', ['--target-user', 'SVC_BI', '--expiring-within', '2d'])).code).toBe(0);
  });

  it('revoke --pat: plan, --disable (it stops authenticating), --enable, then REMOVE; a PAT session is refused', async () => {
    const w = await world();
    const reg = await w.admin('register', ['--target-user', 'ALICE', '--pat', 'NB', '--out', 'nb.token', '--apply']);
    expect(reg.code, reg.stderr).toBe(0);
    const secret = readFileSync(join(w.dir, 'nb.token'), 'utf8').trim();
    const plan = await w.admin('revoke', ['--target-user', 'ALICE', '--pat', 'nb']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/^Remove token NB of ALICE \(active, expires .*\):\n {2}ALTER USER ALICE REMOVE PROGRAMMATIC ACCESS TOKEN NB;\n$/);
    const dis = await w.admin('revoke', ['--target-user', 'ALICE', '--pat', 'NB', '--disable', '--apply', '--json']);
    expect(dis.code, dis.stderr).toBe(0);
    expect(JSON.parse(dis.stdout)).toMatchObject({ action: 'disable', pat: { name: 'NB' }, applied: true, confirmed: true, statementsRun: ['ALTER USER ALICE MODIFY PROGRAMMATIC ACCESS TOKEN NB SET DISABLED = TRUE'] });
    expect(await works(w, secret)).toBe(false);
    const en = await w.admin('revoke', ['--target-user', 'ALICE', '--pat', 'NB', '--enable', '--apply']);
    expect(en.code, en.stderr).toBe(0);
    expect(await works(w, secret)).toBe(true);

    const patSession = await runCliAsync(['revoke', '--account', 'myorg-myaccount', '--host', w.sf.url, '--token-type', 'pat', '--pat', 'NB', '--apply', '--json'], { cwd: w.dir, env: { ...w.env, SNOWFLAKE_TOKEN: secret } });
    refused(patSession, 2, 'ERR_PAT_SESSION', /does not let a token's session remove tokens/);

    const rm = await w.admin('revoke', ['--target-user', 'ALICE', '--pat', 'NB', '--apply']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toContain('revoked ALICE: token NB removed');
    expect(await works(w, secret)).toBe(false);
    expect(w.sf.patsOf('ALICE')).toEqual([]);
    refused(await w.admin('revoke', ['--target-user', 'ALICE', '--pat', 'NB', '--apply', '--json']), 1, 'ERR_PAT_NOT_FOUND', /no programmatic access token named NB/);
    scanForSecrets(w, { files: [join(w.dir, 'nb.token')] });
  });

  it('a server without PATs: register/rotate/revoke --pat exit 1 naming it; status shows the keys and says so', async () => {
    const w = await world({ pats: false });
    for (const [cmd, extra] of [['register', ['--out', 'n.token']], ['rotate', ['--out', 'n.token']], ['revoke', []]] as const) {
      refused(await w.admin(cmd, ['--target-user', 'ALICE', '--pat', 'NB', ...extra, '--apply', '--json']), 1, 'ERR_PATS_UNAVAILABLE', /this server has no programmatic access tokens/);
    }
    const st = await w.admin('status', ['--target-user', 'ALICE', '--json']);
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout).pats).toMatchObject({ available: false });
    expect(alters(w.sf)).toEqual([]);
  });

  it('on a terminal --apply asks first: revoke answered "n" changes nothing; rotate answered "y" rotates', async () => {
    const w = await world();
    w.sf.addPatObject('ALICE', 'ETL', { secret: 'program-secret-0123456789abcdef' });
    const admin = (cmd: string, extra: string[]) => [cmd, '--account', 'myorg-myaccount', '--host', w.sf.url, '--user', 'ADMIN', '--private-key', adminKey(), '--target-user', 'ALICE', '--pat', 'ETL', ...extra, '--apply'];
    const no = await runCliInPty(admin('revoke', []), { cwd: w.dir, env: w.env, timeoutMs: 30_000, steps: [{ waitFor: /\[y\/N\]/, send: 'n\r' }] });
    expect(no.code, no.output).toBe(1);
    expect(no.output).toContain('Remove token ETL of ALICE');
    expect(no.output).toContain('cancelled: nothing was changed');
    expect(alters(w.sf)).toEqual([]);
    const yes = await runCliInPty(admin('rotate', ['--out', 'tty.token']), { cwd: w.dir, env: w.env, timeoutMs: 30_000, steps: [{ waitFor: /\[y\/N\]/, send: 'y\r' }] });
    expect(yes.code, yes.output).toBe(0);
    expect(yes.output).toContain('ALTER USER ALICE ROTATE PROGRAMMATIC ACCESS TOKEN ETL EXPIRE_ROTATED_TOKEN_AFTER_HOURS=24;');
    expect(yes.output).toMatch(/rotated ALICE: token ETL has a new secret/);
    expect(readFileSync(join(w.dir, 'tty.token'), 'utf8').trim()).toBe(w.sf.issuedPatSecrets().at(-1));
    for (const s of w.sf.issuedPatSecrets()) expect(yes.output.includes(s)).toBe(false);
  });

  it('a hostile token name is a quoted identifier, never SQL', async () => {
    const w = await world();
    const r = await w.admin('register', ['--target-user', 'ALICE', '--pat', `x"; DROP USER ADMIN; --`, '--out', 'h.token', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(alters(w.sf)).toEqual([`ALTER USER ALICE ADD PROGRAMMATIC ACCESS TOKEN "x""; DROP USER ADMIN; --"`]);
    expect(w.sf.patsOf('ALICE').map((t) => t.name)).toEqual([`x"; DROP USER ADMIN; --`]);
  });
});
