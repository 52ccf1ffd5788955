/**
 * `sfauth doctor`: the checks a support engineer runs when key-pair authentication fails, in order,
 * each pass / warn / fail / skipped with one line of evidence and one line of fix (DESIGN.md §3
 * "Doctor"): configuration and sources; the key file; the fingerprint; the account as the JWT and the
 * host see it; DNS, TCP, proxy, TLS; the clock; an authentication attempt; where the key is registered.
 * After a failure, `--admin-connection NAME` looks at the user's registered keys and LOGIN_NAME, and
 * reads `SYSTEM$GET_LOGIN_FAILURE_DETAILS` for the failure (or `--login-failure UUID`).
 * It changes nothing; nothing secret reaches its output. Exit 1 when a check failed.
 */
import { timeText } from '../core/time-text.js';
import { statSync } from 'node:fs';
import type { CommandContext } from '../context.js';
import { CheckFailedError, isSfauthError, type SfauthError } from '../errors.js';
import { connectionReport, describeSources, requireValue, type ResolvedConnection } from '../config/index.js';
import { accountForJwt } from '../core/account.js';
import { formatDuration } from '../core/duration.js';
import { fingerprintOf, sameFingerprint } from '../core/fingerprint.js';
import { quoteLiteral } from '../core/sql.js';
import { serverText } from '../core/untrusted-text.js';
import { loadKey, type LoadedKey } from '../io/load-key.js';
import { readUserKeys, type UserKeys } from '../keys/read.js';
import { isActive, keyLabel, type RegisteredKey } from '../keys/types.js';
import { authHint, loginFailureCode, loginFailureHint } from '../snowflake/auth-hints.js';
import { adviseRefusal } from '../rotate/history.js';
import { resolveBaseUrl } from '../snowflake/base-url.js';
import { homeDirOf, keyPairCredential, makeClient, openSession, resolveFromContext, transportOf, type SessionFlags } from '../snowflake/session.js';
import { EC_DRIVERS_NOTE } from './keygen.js';
import { rawKeyProblem } from '../core/key-export.js';
import { inGitHubActions, summaryToGitHub } from '../ci/github-reports.js';
import { markdownTable } from '../core/github-output.js';
import { markdownCell } from '../core/audit/formats.js';
import { parseDuration } from '../core/duration.js';
import type { Credential, Identity, SnowflakeClient } from '../snowflake/client.js';

export interface DoctorOptions extends SessionFlags {
  adminConnection?: string;
  loginFailure?: string;
  json?: boolean;
}

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skipped';

export interface Check {
  id: string;
  title: string;
  status: CheckStatus;
  evidence: string;
  fix?: string;
}

const WHOAMI = 'SELECT CURRENT_USER(), CURRENT_ROLE()';
const EXPIRY_WARNING_DAYS = 14;

export async function run(options: DoctorOptions, ctx: CommandContext): Promise<number> {
  const checks: Check[] = [];
  const add = (id: string, title: string, status: CheckStatus, evidence: string, fix?: string) => checks.push({ id, title, status, evidence, ...(fix ? { fix } : {}) });
  const skip = (id: string, title: string, why: string) => add(id, title, 'skipped', why);
  const timeoutMs = parseDuration(options.timeout ?? '30s', '--timeout') * 1000;

  // 1. Configuration.
  let conn: ResolvedConnection | undefined;
  try {
    conn = await resolveFromContext(options, ctx);
    add('config', 'configuration', 'pass', `${conn.name ? `connection ${conn.name} (${conn.origins.connection})` : 'no connection: flags and environment'}; ${describeSources(connectionReport(conn)) || 'nothing set'}`);
  } catch (err) {
    fail(add, 'config', 'configuration', err);
  }

  // 2–4. Credential, key file, fingerprint.
  let key: LoadedKey | undefined;
  const tokenAuth = conn !== undefined && conn.token !== undefined && (!conn.privateKey || conn.authenticator === 'OAUTH' || conn.authenticator === 'PROGRAMMATIC_ACCESS_TOKEN' || options.tokenType !== undefined);
  if (!conn) {
    skip('key', 'private key', 'no configuration');
  } else if (tokenAuth) {
    skip('key', 'private key', `authenticating with a token from ${conn.origins.token}`);
  } else if (!conn.privateKey) {
    add('key', 'private key', 'fail', 'no private key and no token', 'pass --private-key PATH or set SNOWFLAKE_PRIVATE_KEY_FILE (or private_key_file in the connection)');
  } else {
    const source = conn.privateKey;
    let modeNote = '';
    if (source.kind === 'file') {
      try {
        const mode = statSync(source.path).mode & 0o777;
        if (mode & 0o077) modeNote = `mode ${mode.toString(8).padStart(4, '0')}`;
      } catch {
        // loadKey says what is wrong with the path
      }
    }
    try {
      key = await loadKey(source, { passphrase: conn.passphrase, prompter: ctx.prompter, readStdin: ctx.readStdin, requirePrivate: true });
      const what = `${key.type === 'rsa' ? `RSA ${key.bits}` : `EC ${key.curve}`}, ${key.format}, ${key.encrypted ? `encrypted, opened with ${conn.passphrase?.origin ?? 'the passphrase typed'}` : 'not encrypted'} (${key.label})`;
      const rawProblem = source.kind === 'raw' ? rawKeyProblem(source.original ?? source.pem) : undefined;
      if (rawProblem) {
        add('key', 'private key', 'warn', `${what}; ${source.origin} holds ${rawProblem.form}: sfauth reads it, but Snowflake's key-pair guide uses a PKCS#8 PEM with its line breaks, and stricter tools (the Snowflake CLI reads this variable as PEM) take only that`, `store the PKCS#8 PEM with its line breaks: sfauth export <the key file> --format ${rawProblem.fix} (or --format env for a SNOWFLAKE_PRIVATE_KEY_RAW= line)`);
      } else if (modeNote) add('key', 'private key', 'warn', `${what}; ${modeNote}: others can read it`, `chmod 0600 ${key.path}`);
      else if (key.type === 'ec') add('key', 'private key', 'warn', `${what}; ${EC_DRIVERS_NOTE}`, 'for a client other than the Python connector, use an RSA key (sfauth keygen)');
      else add('key', 'private key', 'pass', what);
    } catch (err) {
      fail(add, 'key', 'private key', err);
    }
  }
  if (key) add('fingerprint', 'fingerprint', 'pass', `${fingerprintOf(key.publicKey)} (what the JWT's iss carries and RSA_PUBLIC_KEY_FP / SHOW USER KEY PAIRS must show)`);
  else skip('fingerprint', 'fingerprint', 'no key');

  // 5. Account.
  let baseUrl: string | undefined;
  let jwtAccount: string | undefined;
  if (conn) {
    try {
      const account = conn.account ?? (conn.host ? undefined : requireValue(conn, 'account'));
      jwtAccount = account ? accountForJwt(account) : undefined;
      baseUrl = resolveBaseUrl(conn.account, conn.host, conn.origins.host);
      const host = new URL(baseUrl).hostname;
      const label = host.endsWith('.snowflakecomputing.com') ? host.split('.')[0]! : undefined;
      if (jwtAccount && label && label.replace(/-/g, '_') !== jwtAccount.toLowerCase().replace(/-/g, '_')) {
        add('account', 'account', 'fail', `the token says ${jwtAccount}, the host ${host} is account ${label}: Snowflake refuses that (394307)`, `use the account of the URL: --account ${label} (a locator with region, xy12345.us-east-2.aws, gives the JWT XY12345)`);
      } else {
        add('account', 'account', 'pass', `JWT account ${jwtAccount ?? '(token auth)'}, host ${host}${account && account.includes('.') && !account.startsWith('http') ? ` (the JWT takes only ${account.split('.')[0]} of ${account})` : ''}`);
      }
    } catch (err) {
      fail(add, 'account', 'account', err);
    }
  } else skip('account', 'account', 'no configuration');

  // 6–9. Network, clock, authentication: one statement through the same transport.
  let client: SnowflakeClient | undefined;
  let identity: Identity | undefined;
  let authError: SfauthError | undefined;
  let authOk = false;
  if (conn && baseUrl && (key || tokenAuth)) {
    let credential: Credential = { kind: conn.tokenType ?? 'pat', token: conn.token?.value ?? '' };
    if (key && conn.account && conn.user) {
      ({ credential, identity } = keyPairCredential(key, conn.account, conn.user));
    } else {
      identity = { account: jwtAccount, user: conn.user?.toUpperCase(), authMethod: conn.tokenType === 'oauth' ? 'OAuth token' : 'programmatic access token' };
    }
    const accountFailed = checks.some((c) => c.id === 'account' && c.status === 'fail');
    if (accountFailed) {
      for (const [id, title] of [['dns', 'DNS'], ['tcp', 'TCP'], ['tls', 'TLS'], ['clock', 'clock'], ['auth', 'authentication']] as const) skip(id, title, 'the account check failed: Snowflake would refuse the token');
    } else if (key && (!conn.user || !conn.account)) {
      add('auth', 'authentication', 'fail', `no ${conn.user ? 'account' : 'user'}`, conn.user ? 'pass --account ID or set SNOWFLAKE_ACCOUNT' : 'pass --user NAME (the LOGIN_NAME) or set SNOWFLAKE_USER');
    } else {
      client = makeClient({ baseUrl, credential, identity: identity!, deadline: ctx.now() + timeoutMs, timeoutLabel: options.timeout ?? '30s', role: conn.role, warehouse: conn.warehouse }, ctx);
      try {
        const r = await client.execute(WHOAMI);
        authOk = true;
        network(add, ctx, undefined);
        clock(add, client, undefined);
        add('auth', 'authentication', 'pass', `authenticated as ${r.rows[0]?.[0] ?? '?'} with role ${r.rows[0]?.[1] ?? '?'} (${identity!.authMethod})`);
      } catch (err) {
        if (!isSfauthError(err)) throw err;
        authError = err;
        const reached = network(add, ctx, err);
        clock(add, client, err);
        if (!reached) skip('auth', 'authentication', 'the server was not reached');
        else fail(add, 'auth', 'authentication', adviseRefusal(err, ctx.env, homeDirOf(ctx)));
      }
    }
  } else if (conn && baseUrl && !checks.some((c) => c.id === 'account' && c.status === 'fail')) {
    // No credential to try, but the account is known: the way to it can still be checked.
    const probe = makeClient({ baseUrl, credential: { kind: 'pat', token: '' }, identity: { account: jwtAccount, authMethod: 'none' }, deadline: ctx.now() + timeoutMs, timeoutLabel: options.timeout ?? '30s' }, ctx);
    let unreachable: SfauthError | undefined;
    try {
      await probe.reach();
    } catch (err) {
      if (!isSfauthError(err)) throw err;
      unreachable = err;
    }
    network(add, ctx, unreachable);
    clock(add, probe, undefined);
    skip('auth', 'authentication', conn.privateKey ? 'the key could not be opened' : 'no credential to try');
  } else {
    for (const [id, title] of [['dns', 'DNS'], ['tcp', 'TCP'], ['tls', 'TLS'], ['clock', 'clock'], ['auth', 'authentication']] as const) skip(id, title, conn && !baseUrl ? 'no account to reach' : 'the account check failed');
  }

  // 10. Registration: where the key is, from the user itself (after success) or an admin (after a failure).
  const user = conn?.user;
  if (authOk && key && client && user) {
    await registration(add, () => readUserKeys(client!, user), key, conn!, ctx.now());
  } else if (authError && key && user && options.adminConnection) {
    const admin = await adminClient(options, ctx, add);
    if (admin) {
      const read = await registration(add, () => readUserKeys(admin, user), key, conn!, ctx.now());
      if (read) {
        const login = read.description.loginName;
        if (login && identity?.user && login !== identity.user) add('login-name', 'login name', 'fail', `the token carries ${identity.user}, the user's LOGIN_NAME is ${login}`, `pass --user ${login} (the JWT must carry the LOGIN_NAME)`);
        else add('login-name', 'login name', 'pass', `LOGIN_NAME ${login ?? '(not shown)'}`);
      }
      await loginFailureDetails(add, admin, options.loginFailure ?? (authError.data as { loginFailureId?: string } | undefined)?.loginFailureId);
    }
  } else if (authError && key) {
    skip('registration', 'registration', 'authentication failed; an admin credential can look at the registered keys');
    checks[checks.length - 1]!.fix = 'pass --admin-connection NAME (a connection allowed to DESC the user and SHOW its key pairs)';
  } else {
    skip('registration', 'registration', key ? 'authentication did not run' : tokenAuth ? 'token authentication: no key to look for' : 'no key to look for');
  }

  const ok = !checks.some((c) => c.status === 'fail');
  const cause = causeOf(checks);
  const verdict = verdictOf(checks, cause);
  if (ctx.out.json) {
    ctx.out.document({ checks, ok, verdict, ...(cause ? { cause: cause.id } : {}), connection: conn ? connectionReport(conn) : null });
  } else {
    const s = ctx.out.dataStyle;
    const mark: Record<CheckStatus, string> = { pass: s.green('pass'), warn: s.yellow('WARN'), fail: s.red('FAIL'), skipped: s.dim('skip') };
    for (const c of checks) {
      ctx.out.line(`${mark[c.status]}  ${c.title.padEnd(15)} ${c.evidence}`);
      if (c.fix && c.status !== 'pass') ctx.out.line(`      ${''.padEnd(15)} fix: ${c.fix}`);
    }
    ctx.out.line('');
    ctx.out.line(ok ? (cause ? s.yellow(verdict) : s.green(verdict)) : s.red(verdict));
  }
  if (inGitHubActions(ctx.env)) {
    summaryToGitHub(
      ctx,
      [
        `### sfauth doctor${conn?.name ? ` (connection ${markdownCell(conn.name)})` : ''}: ${markdownCell(verdict)}`,
        '',
        markdownTable(['check', 'status', 'evidence', 'fix'], checks.filter((c) => c.status !== 'pass' || !ok).map((c) => [c.title, c.status, c.evidence, c.status === 'pass' ? '' : (c.fix ?? '')])),
      ].join('\n'),
    );
  }
  if (!ok) {
    const failed = checks.filter((c) => c.status === 'fail');
    throw new CheckFailedError('ERR_DOCTOR_FAILED', `${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((c) => c.title).join(', ')}`, {
      hint: cause?.fix ?? 'see the checks above',
      data: { failed: failed.map((c) => c.id), cause: cause?.id },
    });
  }
  return 0;
}

/**
 * The check that names the cause: the first failure, except that a refused login is the symptom
 * when a later check (where the key is registered, the login name, the login-failure details) says
 * why; with no failure, the first warning.
 */
export function causeOf(checks: readonly Check[]): Check | undefined {
  const failed = checks.filter((c) => c.status === 'fail');
  const explained = failed.find((c) => c.id !== 'auth' && checks.indexOf(c) > checks.findIndex((x) => x.id === 'auth'));
  const first = failed[0];
  if (first?.id === 'auth' && explained) return explained;
  return first ?? checks.find((c) => c.status === 'warn');
}

/** "2 problems, 1 warning: <the cause>", or "no problems found". */
export function verdictOf(checks: readonly Check[], cause: Check | undefined): string {
  const problems = checks.filter((c) => c.status === 'fail').length;
  const warnings = checks.filter((c) => c.status === 'warn').length;
  const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const counts = [problems ? count(problems, 'problem') : '', warnings ? count(warnings, 'warning') : ''].filter(Boolean).join(', ');
  if (!cause) return 'no problems found';
  return `${counts}: ${cause.title}: ${cause.evidence}`;
}

type Add = (id: string, title: string, status: CheckStatus, evidence: string, fix?: string) => void;

function fail(add: Add, id: string, title: string, err: unknown): void {
  if (!isSfauthError(err)) throw err;
  add(id, title, 'fail', `${err.message}${err.details.length ? ` (${err.details.filter((d) => !/^an admin can see/.test(d)).map((d) => d.replace(/\s+/g, ' ').trim()).join('; ')})` : ''}`, err.hint);
}

/** DNS, TCP, proxy and TLS from the transport's trace; false when the server was never reached. */
function network(add: Add, ctx: CommandContext, err: SfauthError | undefined): boolean {
  const trace = transportOf(ctx).connections[0];
  const stage = (err?.data as { stage?: string } | undefined)?.stage;
  const code = err?.code;
  const failedAt = code === 'ERR_DNS' ? 'dns' : code === 'ERR_CONNECTION_REFUSED' ? 'tcp' : code === 'ERR_PROXY' ? 'proxy' : code === 'ERR_TLS' ? 'tls' : code === 'ERR_NETWORK' || code === 'ERR_TIMEOUT' ? (stage ?? 'tcp') : undefined;
  const order = ['dns', 'tcp', 'proxy', 'tls'] as const;
  const titles = { dns: 'DNS', tcp: 'TCP', proxy: 'proxy', tls: 'TLS' };
  let broken = false;
  for (const s of order) {
    if (s === 'proxy' && !trace?.proxy && failedAt !== 'proxy') continue;
    if (broken) {
      add(s, titles[s], 'skipped', 'an earlier stage failed');
      continue;
    }
    if (failedAt === s) {
      broken = true;
      fail(add, s, titles[s], err);
      continue;
    }
    const ms = trace ? { dns: trace.dnsMs, tcp: trace.tcpMs, proxy: trace.proxyMs, tls: trace.tlsMs }[s] : undefined;
    const evidence = {
      dns: trace?.dnsMs === undefined ? `no lookup needed (${trace?.target ?? 'address'})` : `${trace.target.replace(/:\d+$/, '')} → ${trace.address} in ${ms} ms`,
      tcp: `connected to ${trace?.address ?? '?'}${ms === undefined ? '' : ` in ${ms} ms`}`,
      proxy: `tunnel through ${trace?.proxy?.display} (from ${trace?.proxy?.variable})${ms === undefined ? '' : ` in ${ms} ms`}`,
      tls: trace?.tlsProtocol ? `${trace.tlsProtocol}, certificate ${trace.certificate?.subject ?? '?'} issued by ${trace.certificate?.issuer ?? '?'}` : 'plain http (loopback)',
    }[s];
    add(s, titles[s], 'pass', evidence);
  }
  return !broken && failedAt === undefined ? true : !broken;
}

function clock(add: Add, client: SnowflakeClient, err: SfauthError | undefined): void {
  const skew = client.clockSkewSeconds;
  if (skew === undefined) return add('clock', 'clock', 'skipped', 'no answer from the server to compare with');
  // A refused token with a clock this far off: the clock is the likely cause (Snowflake itself may say only 390144).
  const refused = err?.code === 'ERR_AUTH_REFUSED';
  if (Math.abs(skew) > 60) {
    return add('clock', 'clock', refused ? 'fail' : 'warn', `this machine's clock is ${formatDuration(skew)} ${skew > 0 ? 'ahead of' : 'behind'} Snowflake's`, 'sync the clock (NTP): key-pair tokens are refused when their issue time is off by more than a minute');
  }
  add('clock', 'clock', 'pass', `within ${Math.max(1, Math.abs(skew))} s of Snowflake's`);
}

async function registration(add: Add, read: () => Promise<UserKeys>, key: LoadedKey, conn: ResolvedConnection, now: number): Promise<UserKeys | undefined> {
  let keys: UserKeys;
  try {
    keys = await read();
  } catch (err) {
    fail(add, 'registration', 'registration', err);
    return undefined;
  }
  const fp = fingerprintOf(key.publicKey);
  const mine = keys.keys.filter((k) => sameFingerprint(k.fingerprint, fp));
  const found = mine.find((k) => isActive(k, now)) ?? mine[0];
  const list = keys.keys.map((k) => `${keyLabel(k)} ${k.fingerprint}`).join(', ') || 'none';
  if (!found) {
    add('registration', 'registration', 'fail', `${fp} is not registered for ${keys.description.name ?? conn.user}; its keys: ${list}`, `register it: sfauth register --target-user ${keys.description.name ?? conn.user} --public-key <the .pub of this key> --apply (as an admin)`);
    return keys;
  }
  const where = describe(found, now);
  if (found.kind === 'pair' && !isActive(found, now)) {
    add('registration', 'registration', 'fail', `${where}: it cannot authenticate`, found.status === 'DISABLED' ? `enable it: sfauth sql --user ${conn.user} --key-pair ${found.name} --enable` : `it expired: add a new key pair (sfauth keygen --key-pair …) or rotate it`);
  } else if (found.kind === 'pair' && found.roleScope && found.roleScope !== (conn.role ?? '').toUpperCase()) {
    add('registration', 'registration', 'fail', `${where}; the request asked for role ${conn.role ?? '(none: the default role)'}`, `use that role: --role ${found.roleScope} (or role = "${found.roleScope}" in the connection)`);
  } else if (found.kind === 'pair' && found.expiresAt && found.expiresAt.getTime() - now < EXPIRY_WARNING_DAYS * 86_400_000) {
    add('registration', 'registration', 'warn', where, `rotate it before it expires: sfauth sql --key-pair ${found.name} --rotate …`);
  } else {
    add('registration', 'registration', 'pass', where);
  }
  return keys;
}

function describe(k: RegisteredKey, now: number): string {
  if (k.kind === 'slot') return `${keyLabel(k)}, set ${k.setAt ? timeText(k.setAt) : (k.setAtText ?? 'at an unknown time')}`;
  const parts = [k.status, k.expiresAt ? (k.expiresAt.getTime() > now ? `expires in ${formatDuration((k.expiresAt.getTime() - now) / 1000)}` : 'expired') : 'no expiry', k.roleScope ? `role restriction ${k.roleScope}` : ''];
  return `${keyLabel(k)} (${parts.filter(Boolean).join(', ')})`;
}

async function adminClient(options: DoctorOptions, ctx: CommandContext, add: Add): Promise<SnowflakeClient | undefined> {
  try {
    const session = await openSession({ connection: options.adminConnection, timeout: options.timeout }, ctx);
    // If the admin cannot authenticate either (a clock far off, the network), say so once.
    await session.client.execute('SELECT CURRENT_USER()');
    return session.client;
  } catch (err) {
    fail(add, 'admin', `admin connection ${options.adminConnection}`, err);
    return undefined;
  }
}

async function loginFailureDetails(add: Add, admin: SnowflakeClient, uuid: string | undefined): Promise<void> {
  if (!uuid) return add('login-failure', 'login failure', 'skipped', 'no failure id (Snowflake gives one with 390144)', 'pass --login-failure UUID from the error message');
  try {
    const r = await admin.execute(`SELECT SYSTEM$GET_LOGIN_FAILURE_DETAILS(${quoteLiteral(uuid)})`);
    const text = r.rows[0]?.[0];
    if (!text) return add('login-failure', 'login failure', 'warn', `no details for ${uuid}`, 'the id is wrong, or the failure is too old');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    // A hostile or broken answer loses nothing already checked: a warning, and the checks go on.
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return add('login-failure', 'login failure', 'warn', `the details for ${uuid} are not a JSON object (${serverText(text, []).slice(0, 60)})`, 'read them yourself: SELECT SYSTEM$GET_LOGIN_FAILURE_DETAILS(…) as an admin');
    }
    const d = parsed as { errorCode?: unknown; error?: unknown; detail?: unknown; username?: unknown; clientType?: unknown };
    // The server's words, decoded from JSON (where an escape sequence can hide as \u001b): made plain again.
    // `errorCode` is a name (JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH) or, from older
    // servers, a number: either is shown whole (a name is never cut) with the code it stands for.
    const said = (v: unknown, max: number) => (typeof v === 'string' || typeof v === 'number' ? serverText(String(v), []).slice(0, max) : '');
    const errorCode = said(d.errorCode, 200);
    const numeric = errorCode ? loginFailureCode(errorCode) : undefined;
    const extra = [said(d.error, 120), said(d.detail, 300)].filter(Boolean).join(': ');
    const who = said(d.username, 120);
    const evidence = `${errorCode || '?'}${numeric && numeric !== errorCode ? ` (${numeric})` : ''}${extra ? ` ${extra}` : ''}${who ? `; user ${who}` : ''}`;
    add('login-failure', 'login failure', 'fail', evidence, errorCode ? loginFailureHint(errorCode) : authHint(undefined));
  } catch (err) {
    if (isSfauthError(err) && err.code === 'ERR_STATEMENT_FAILED') {
      return add('login-failure', 'login failure', 'warn', err.message, "reading login-failure details needs MONITOR on the user (or a role that owns it): GRANT MONITOR ON USER … TO ROLE …");
    }
    fail(add, 'login-failure', 'login failure', err);
  }
}
