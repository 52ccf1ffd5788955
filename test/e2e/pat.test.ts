/**
 * Programmatic access tokens end to end against the emulator (DESIGN.md §3 "Programmatic access
 * tokens"): `register --pat` with each place for the secret, `status` listing tokens, `revoke --pat`
 * (remove, disable, enable), `rotate --pat` (one user, a fleet with a failing store,
 * --if-expiring-within, --grace 0), every refusal before any statement, crash safety with a secret
 * shown once (a SIGKILL at each step, a failing store), and scans that no secret Snowflake issued
 * reaches anything but its one place.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_TRACE, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';
import { spawnKillable, until } from '../support/rotation.js';

const tmp = tempDir('sfauth-pat-');
const emulators: Emulator[] = [];
afterAll(async () => {
  for (const e of emulators) await e.close();
  tmp.cleanup();
});

const keys: Record<'admin' | 'alice', { p8: string; publicKey: KeyObject }> = {} as never;
beforeAll(() => {
  for (const name of ['admin', 'alice'] as const) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const p8 = join(tmp.dir, `${name}.p8`);
    writeFileSync(p8, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    keys[name] = { p8, publicKey: pair.publicKey };
  }
});

interface World {
  sf: Emulator;
  dir: string;
  env: Record<string, string>;
  /** Every command's output, for the secret scans. */
  outputs: CliResult[];
  admin(cmd: string, args: string[], o?: { stdinFile?: string }): Promise<CliResult>;
  as(args: string[]): Promise<CliResult>;
  spawn(cmd: string, args: string[]): ReturnType<typeof spawnKillable>;
}

let n = 0;
/** ADMIN (a key, manages everyone), SVC_BI (a SERVICE user with role BI_READER), ALICE (a person with a key). */
async function world(): Promise<World> {
  const sf = await startEmulator();
  emulators.push(sf);
  sf.addUser('ADMIN', { rsaPublicKey: keys.admin.publicKey });
  sf.grant('ADMIN', '*');
  sf.addUser('SVC_BI', { roles: ['BI_READER'], type: 'SERVICE' });
  sf.addUser('ALICE', { rsaPublicKey: keys.alice.publicKey, roles: ['ANALYST'] });
  const dir = join(tmp.dir, `w${n++}`);
  mkdirSync(join(dir, 'home'), { recursive: true });
  const env = { HOME: join(dir, 'home'), SNOWFLAKE_HOME: join(dir, 'home', 'sf') };
  const outputs: CliResult[] = [];
  const common = ['--account', 'myorg-myaccount', '--host', sf.url];
  const adminArgs = (cmd: string, args: string[]) => [cmd, ...common, '--user', 'ADMIN', '--private-key', keys.admin.p8, ...args];
  return {
    sf,
    dir,
    env,
    outputs,
    admin: async (cmd, args) => {
      const r = await runCliAsync(adminArgs(cmd, args), { cwd: dir, env, timeoutMs: 40_000 });
      outputs.push(r);
      return r;
    },
    as: async (args) => {
      const r = await runCliAsync(args, { cwd: dir, env, timeoutMs: 40_000 });
      outputs.push(r);
      return r;
    },
    spawn: (cmd, args) => spawnKillable(adminArgs(cmd, args), dir, env),
  };
}

const alters = (sf: Emulator) => sf.executed.filter((e) => /^ALTER/.test(e.statement)).map((e) => e.statement);
function lastError(r: CliResult): { code: string; message: string; hint?: string; details?: string[] } {
  return JSON.parse(r.stderr.trim().split('\n').at(-1)!).error;
}
function refused(r: CliResult, exit: number, code: string, message: RegExp): void {
  expect(r.code, r.stderr).toBe(exit);
  expect(r.stdout).toBe('');
  const e = lastError(r);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
  expect(r.stderr).not.toMatch(STACK_TRACE);
}
/** A store command that writes what it got on stdin, and its SFAUTH_* environment, beside it. */
function store(w: World, name = 'stored'): { cmd: string; got(): string; env(): Record<string, string> } {
  const file = join(w.dir, `${name}.secret`);
  const envFile = join(w.dir, `${name}.env`);
  return {
    cmd: `cat > '${file}'; env | grep '^SFAUTH_' > '${envFile}'`,
    got: () => readFileSync(file, 'utf8'),
    env: () => Object.fromEntries(readFileSync(envFile, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])),
  };
}
/** The secret authenticates (as the PAT of its user, with its role restriction). */
async function works(w: World, secret: string, role?: string): Promise<boolean> {
  const r = await runCliAsync(['test-connection', '--account', 'myorg-myaccount', '--host', w.sf.url, '--token-type', 'pat', ...(role ? ['--role', role] : []), '--json'], { cwd: w.dir, env: { ...w.env, SNOWFLAKE_TOKEN: secret }, timeoutMs: 30_000 });
  return r.code === 0;
}
/** Every file under `dir` (not following links), as text. */
function filesUnder(dir: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push({ path: p, text: readFileSync(p, 'utf8') });
  }
  return out;
}
/** No secret the emulator ever issued is in any output or file but the allowed ones. */
function scanForSecrets(w: World, allowed: { files?: string[]; stdoutOf?: CliResult[] } = {}): void {
  const secrets = w.sf.issuedPatSecrets();
  expect(secrets.length).toBeGreaterThan(0);
  for (const r of w.outputs) {
    for (const s of secrets) {
      expect(r.stderr.includes(s), `secret in stderr of: ${r.stderr.slice(0, 200)}`).toBe(false);
      if (!allowed.stdoutOf?.includes(r)) expect(r.stdout.includes(s), `secret in stdout: ${r.stdout.slice(0, 200)}`).toBe(false);
    }
  }
  for (const f of filesUnder(w.dir)) {
    if (allowed.files?.includes(f.path)) continue;
    for (const s of secrets) expect(f.text.includes(s), `secret in ${f.path}`).toBe(false);
  }
  // The requests sfauth made carry a secret only as the bearer token of a verification, never in a statement.
  for (const e of w.sf.executed) for (const s of secrets) expect(e.statement.includes(s)).toBe(false);
}

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

  it('a hostile token name is a quoted identifier, never SQL', async () => {
    const w = await world();
    const r = await w.admin('register', ['--target-user', 'ALICE', '--pat', `x"; DROP USER ADMIN; --`, '--out', 'h.token', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(alters(w.sf)).toEqual([`ALTER USER ALICE ADD PROGRAMMATIC ACCESS TOKEN "x""; DROP USER ADMIN; --"`]);
    expect(w.sf.patsOf('ALICE').map((t) => t.name)).toEqual([`x"; DROP USER ADMIN; --`]);
  });
});
