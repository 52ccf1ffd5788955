/**
 * `sfauth connections`: every Snowflake CLI connection sfauth sees (DESIGN.md §3 v3 "First-time
 * set-up, connections and export"): its name, the file that defines it, whether it is the default,
 * account, user, how it authenticates and its key file, with the warnings the Snowflake CLI does not
 * give (a default_connection_name it ignores, a missing SNOWFLAKE_HOME, a key file that is missing or
 * that others can read). `--test` authenticates each, a few at a time. Changes nothing.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { CheckFailedError, isSfauthError } from '../errors.js';
import { expandHome, loadSnowflakeConfig, snowflakeHome } from '../config/files.js';
import { resolveConnection, type ResolvedConnection } from '../config/connection.js';
import { displayPath } from '../io/paths.js';
import { eachAtMost } from '../snowflake/pool.js';
import { homeDirOf, openSession } from '../snowflake/session.js';
import { layoutTable } from '../ui/table.js';

export interface ConnectionsOptions {
  test?: boolean;
  json?: boolean;
  timeout?: string;
}

interface Listed {
  name: string;
  file: string | null;
  default: boolean;
  account: string | null;
  user: string | null;
  auth: string;
  keyFile: string | null;
  problems: string[];
  test?: { ok: boolean; user?: string | null; role?: string | null; error?: { code: string; message: string } };
}

export async function run(options: ConnectionsOptions, ctx: CommandContext): Promise<number> {
  const homeDir = homeDirOf(ctx);
  const home = snowflakeHome(ctx.env, { homeDir, cwd: ctx.cwd });
  const config = await loadSnowflakeConfig(home, ctx.env);
  const warnings = [...config.warnings];
  const named = ctx.env.SNOWFLAKE_HOME !== undefined ? resolve(ctx.cwd, expandHome(ctx.env.SNOWFLAKE_HOME, homeDir)) : undefined;
  if (named !== undefined && named !== home) warnings.push(`SNOWFLAKE_HOME names ${named}, which does not exist; the Snowflake CLI and sfauth read ${home} instead`);
  const defaultName = ctx.env.SNOWFLAKE_DEFAULT_CONNECTION_NAME || config.defaultConnectionName?.value || (config.connections.has('default') ? 'default' : undefined);

  const listed: Listed[] = [];
  for (const [name, conn] of config.connections) {
    const entry: Listed = { name, file: conn.file ?? null, default: name === defaultName, account: null, user: null, auth: 'none', keyFile: null, problems: [] };
    let resolved: ResolvedConnection | undefined;
    try {
      resolved = await resolveConnection({ connection: name }, ctx.env, { cwd: ctx.cwd, homeDir });
    } catch (err) {
      if (!isSfauthError(err)) throw err;
      entry.problems.push(err.message);
    }
    if (resolved) {
      entry.account = resolved.account ?? null;
      entry.user = resolved.user ?? null;
      entry.auth = authOf(resolved);
      if (resolved.privateKey?.kind === 'file') {
        entry.keyFile = resolved.privateKey.path;
        entry.problems.push(...keyFileProblems(resolved.privateKey.path, resolved.passphrase !== undefined));
      }
      if (!resolved.account && !resolved.host) entry.problems.push('no account');
      if (!resolved.user && entry.auth === 'key pair') entry.problems.push('no user');
    }
    listed.push(entry);
  }
  if (defaultName && !config.connections.has(defaultName)) {
    warnings.push(`the default connection '${defaultName}' (${ctx.env.SNOWFLAKE_DEFAULT_CONNECTION_NAME ? 'SNOWFLAKE_DEFAULT_CONNECTION_NAME' : config.defaultConnectionName?.origin}) is not defined`);
  }

  if (options.test) {
    const step = await ctx.progress.step(`Testing ${listed.length} connection${listed.length === 1 ? '' : 's'}`, { quiet: true });
    await eachAtMost(listed, 4, async (entry) => {
      if (entry.auth !== 'key pair' && entry.auth !== 'OAuth token' && entry.auth !== 'programmatic access token') {
        entry.test = { ok: false, error: { code: 'ERR_NO_CREDENTIAL', message: `not testable: ${entry.auth}` } };
        return;
      }
      try {
        const session = await openSession({ connection: entry.name, timeout: options.timeout ?? '30s' }, { ...ctx, out: quietOut(ctx) });
        const r = await session.client.execute('SELECT CURRENT_USER(), CURRENT_ROLE()');
        entry.test = { ok: true, user: r.rows[0]?.[0] ?? null, role: r.rows[0]?.[1] ?? null };
      } catch (err) {
        if (!isSfauthError(err)) throw err;
        entry.test = { ok: false, error: { code: err.code, message: err.message } };
      }
    });
    step.succeed();
  }

  if (ctx.out.json) {
    ctx.out.document({ home, source: config.connectionsSource ?? null, default: defaultName ?? null, connections: listed, warnings });
  } else {
    for (const w of warnings) ctx.out.warn(w);
    if (listed.length === 0) {
      ctx.out.info(`no connections in ${config.connectionsSource ?? `${config.connectionsFile} (it does not exist)`}; sfauth init writes one`);
    } else {
      const st = ctx.out.dataStyle;
      const rows = [['NAME', 'DEFAULT', 'ACCOUNT', 'USER', 'AUTH', 'KEY FILE', ...(options.test ? ['TEST'] : [])]];
      for (const c of listed) {
        rows.push([
          c.name,
          c.default ? 'yes' : '',
          c.account ?? '-',
          c.user ?? '-',
          c.auth,
          c.keyFile ? displayPath(c.keyFile, ctx.cwd) : '-',
          ...(options.test ? [c.test?.ok ? `ok (${c.test.user ?? '?'}, ${c.test.role ?? '?'})` : `failed: ${c.test?.error?.message ?? '?'}`] : []),
        ]);
      }
      const paint = (text: string, row: number, column: number) => (row === 0 ? st.bold(text) : column === 6 ? (text.startsWith('ok') ? st.green(text) : st.red(text)) : text);
      for (const line of layoutTable(rows, { width: ctx.out.tableWidth(false), paint })) ctx.out.line(line);
      for (const c of listed) for (const p of c.problems) ctx.out.warn(`${c.name}: ${p}`);
      ctx.out.info(ctx.out.style.dim(`from ${config.connectionsSource ?? config.connectionsFile}`));
    }
  }
  const failed = listed.filter((c) => c.test && !c.test.ok);
  if (failed.length) {
    throw new CheckFailedError('ERR_CONNECTION_TEST_FAILED', `${failed.length} of ${listed.length} connection${listed.length === 1 ? '' : 's'} failed the test: ${failed.map((c) => c.name).join(', ')}`, {
      hint: `sfauth doctor -c ${failed[0]!.name} says why`,
      data: { failed: failed.map((c) => c.name) },
    });
  }
  return 0;
}

function authOf(c: ResolvedConnection): string {
  const auth = c.authenticator?.toUpperCase();
  if (c.token && (!c.privateKey || auth === 'OAUTH' || auth === 'PROGRAMMATIC_ACCESS_TOKEN')) return c.tokenType === 'oauth' || auth === 'OAUTH' ? 'OAuth token' : 'programmatic access token';
  if (c.privateKey) return 'key pair';
  if (auth && auth !== 'SNOWFLAKE_JWT') return `${auth.toLowerCase()} (not for sfauth)`;
  return 'password or none (not for sfauth)';
}

function keyFileProblems(path: string, hasPassphrase: boolean): string[] {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch (err) {
    return [`its key file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`];
  }
  if (mode & 0o077) return [`its key file ${path} is readable by others (mode ${mode.toString(8).padStart(4, '0')})${hasPassphrase ? '' : ', and it has no passphrase set here'}: chmod 600 ${path}`];
  return [];
}

/** Testing many connections: each one's warnings were already listed once above. */
function quietOut(ctx: CommandContext): CommandContext['out'] {
  return new Proxy(ctx.out, { get: (target, prop) => (prop === 'warn' ? () => {} : Reflect.get(target, prop, target)) }) as CommandContext['out'];
}
