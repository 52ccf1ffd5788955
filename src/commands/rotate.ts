/**
 * `sfauth rotate`: replace a user's key with a new one so that no moment is without a working key
 * (DESIGN.md §3 "Rotation"). This file parses the flags, opens the session, and renders what the
 * rotation of the user (src/rotate/rotation.ts, over the engine in src/rotate/engine.ts) reports:
 * the plan, the progress, the outcome, or why there was nothing to do.
 */
import { timeText } from '../core/time-text.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { connectionReport, requireValue } from '../config/index.js';
import { accountForJwt } from '../core/account.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { sameFingerprint } from '../core/fingerprint.js';
import type { KeySpec } from '../core/generate-key.js';
import { parseGrace } from '../core/key-pair-sql.js';
import { ageSeconds, normalizeUserName } from '../core/rotation-plan.js';
import type { RotationJournal } from '../core/rotation-journal.js';
import { slotProperty, unsetPublicKeySql } from '../core/sql.js';
import { displayPath } from '../io/paths.js';
import { isRotatedOut, roleOf, type KeysView } from '../keys/rotation-target.js';
import { setTimeOf, type RegisteredKey } from '../keys/types.js';
import { homeDirOf, openSession, type Session, type SessionFlags } from '../snowflake/session.js';
import { checkConnectionUpdate, checkInPlace } from '../rotate/hand-over.js';
import { planDelivery, type Deliveries, type KeyHome } from '../rotate/delivery.js';
import { sourceOf } from '../config/index.js';
import { isSfauthError } from '../errors.js';
import { confirmOrCancel, needsConfirmation, statementsRun } from '../ui/confirm.js';
import { assertSafeChain, ensurePrivateFolder, keyStateFolder } from '../rotate/lock.js';
import type { NewKeyFlags } from '../rotate/new-key.js';
import { renderPlan, type KeyMarks, type RotateReport } from '../rotate/report.js';
import { keysOf, rotateUser, type RotationOutcome } from '../rotate/rotation.js';
import { namedPairFrom, type KeyPairFlags } from './key-pair-flags.js';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseTargets } from '../core/targets.js';
import { inShard, parseShard } from '../core/shard.js';
import { readInputFile } from '../io/files.js';
import { layoutTable } from '../ui/table.js';
import { fleetToGitHub, inGitHubActions, rotationToGitHub, type RotationFacts } from '../ci/github-reports.js';
import { placeText, rotateFleet, type FleetResult } from '../rotate/fleet.js';
import { rotatePatCommand } from '../pat/rotate-command.js';

export interface RotateOptions extends SessionFlags, NewKeyFlags, Omit<KeyPairFlags, 'slot'> {
  /** Tables keep fingerprints whole on a terminal too. */
  wide?: boolean;
  targetUser?: string;
  apply?: boolean;
  keepOld?: boolean;
  overwriteOther?: boolean;
  ifOlderThan?: string;
  grace?: string;
  storeCmd?: string;
  /** true: --update-connection; false: --no-update-connection; undefined: the default (update the connection the key came from). */
  updateConnection?: boolean;
  inPlace?: boolean;
  finish?: boolean;
  retireNow?: boolean;
  keepOldKeyFile?: boolean;
  restart?: boolean;
  yes?: boolean;
  targets?: string;
  /** `--shard K/N`: this run's slice of the targets. */
  shard?: string;
  concurrency?: string;
  outDir?: string;
  json?: boolean;
  /** `--pat NAME` (src/pat/rotate-command.ts) and its `--if-expiring-within`. */
  pat?: string;
  ifExpiringWithin?: string;
}

/** What the renderers need. */
interface Run {
  ctx: CommandContext;
  options: RotateOptions;
  session: Session;
  target: string;
  jwtAccount: string;
  self: boolean;
  keepOld: boolean;
  apply: boolean;
}

export async function run(options: RotateOptions, ctx: CommandContext): Promise<number> {
  // A token rotates on the same engine with its own transitions (src/pat/rotate.ts).
  if (options.pat !== undefined) return rotatePatCommand({ ...options, pat: options.pat }, ctx);
  if (options.ifExpiringWithin !== undefined) throw new UsageError('ERR_USAGE', '--if-expiring-within goes with --pat NAME', { hint: 'for a key, --if-older-than DURATION makes a rotation wait until it is due' });
  const threshold = options.ifOlderThan !== undefined ? parseDuration(options.ifOlderThan, '--if-older-than') : undefined;
  if (options.encrypt === false && options.newPassphraseFile) {
    throw new UsageError('ERR_USAGE', '--no-encrypt and --new-passphrase-file contradict each other', { hint: 'drop one of them' });
  }
  const pair = namedPairFrom(options);
  const graceHours = options.grace !== undefined ? parseGrace(options.grace, parseDuration) : undefined;
  if (options.storeCmd !== undefined && options.storeCmd.trim() === '') throw new UsageError('ERR_USAGE', '--store-cmd is empty', { hint: 'give the command that stores the new private key (it gets the PEM on stdin)' });
  const fleet = await fleetFlags(options, ctx);
  if (fleet && fleet.targets.length === 0) {
    // An audit's --targets-out with nothing due: a weekly `audit && rotate --targets` has nothing to do.
    if (ctx.out.json) ctx.out.document([]);
    else ctx.out.info(`${fleet.source} lists no users: nothing to rotate`);
    return 0;
  }
  const session = await openSession(options, ctx);
  const conn = session.connection;
  const account = requireValue(conn, 'account');
  const authUser = conn.user;
  if (fleet) return runFleet(options, ctx, session, account, fleet, { pair, graceHours, threshold });
  const target = options.targetUser ?? requireValue(conn, 'user');
  const self = !options.targetUser || (authUser !== undefined && normalizeUserName(options.targetUser) === normalizeUserName(authUser));
  if (self && session.key && !session.key.path && !options.out && !options.keepOld && !options.storeCmd && !options.inPlace) {
    // The key lives nowhere sfauth could put the new one: in CI the working folder dies with the job,
    // and with the old key removed the service would be locked out.
    throw new UsageError('ERR_NO_KEY_DESTINATION', `the key in use came from ${session.key.label}, so there is no key file to put the new key beside`, {
      hint: 'say where the new private key goes: --store-cmd CMD (your secret store), --out PATH (somewhere that outlives this run, not a CI working folder), or --keep-old to keep the current key registered too',
    });
  }
  const home = keyHomeOf(session, target, self);
  const deliveries = deliveriesFor(options, ctx, session, home);
  const updateConnection = deliveries.connection;
  const delivery = planDelivery(home, deliveries, (p) => displayPath(p, ctx.cwd));
  // With a store and no --out, the key never needs to stay on disk: it waits in sfauth's own state
  // folder until it is handed over, then goes (a rerun after a failed hand-over finds it there).
  const storeOnly = options.storeCmd !== undefined && !options.out && !updateConnection && !deliveries.inPlace;
  const keyDir = storeOnly ? keyStateFolder(ctx.env, homeDirOf(ctx), accountForJwt(account), target) : undefined;
  if (keyDir && options.apply) ensurePrivateFolder(keyDir, 'key folder');
  const r: Run = { ctx, options, session, target, jwtAccount: accountForJwt(account), self, keepOld: options.keepOld === true, apply: options.apply === true };
  const outcome = await rotateUser({
    ctx,
    options,
    session,
    account,
    jwtAccount: r.jwtAccount,
    target,
    self,
    keepOld: r.keepOld,
    apply: r.apply,
    ...(pair ? { pair } : {}),
    ...(graceHours !== undefined ? { graceHours } : {}),
    ...(threshold !== undefined ? { threshold } : {}),
    delivery,
    ...(options.retireNow ? { retireNow: true } : {}),
    ...(options.finish ? { finish: true } : {}),
    ...(options.keepOldKeyFile ? { keepOldKeyFile: true } : {}),
    ...(options.storeCmd !== undefined || updateConnection || deliveries.inPlace
      ? {
          handOver: {
            ...(options.storeCmd !== undefined ? { storeCmd: options.storeCmd } : {}),
            ...(updateConnection ? { updateConnection } : {}),
            ...(deliveries.inPlace ? { inPlace: { path: deliveries.inPlace } } : {}),
            account,
            timeoutMs: parseDuration(session.timeoutLabel, '--timeout') * 1000,
            timeoutLabel: session.timeoutLabel,
          },
        }
      : {}),
    ...(keyDir ? { keyDir, removeKeyWhenDone: true } : {}),
    show: {
      plan: (report, view, marks) => printPlan(r, report, view, marks),
      document: (report) => {
        if (ctx.out.json) document(r, report);
      },
      ...(needsConfirmation(ctx, options) ? { confirm: () => confirmOrCancel(ctx, `Apply the rotation of ${target}'s key?`) } : {}),
    },
  });
  if (inGitHubActions(ctx.env)) rotationToGitHub(ctx, githubFacts(r, outcome));
  return render(r, outcome);
}

/** The outcome as a GitHub Actions job sees it (outputs and the summary). */
function githubFacts(r: Run, o: RotationOutcome): RotationFacts {
  const base = { user: r.target, account: r.jwtAccount, outcome: o.outcome, key: null, oldFingerprint: null, newFingerprint: null, keyPath: null };
  switch (o.outcome) {
    case 'planned':
      return { ...base, key: o.report.keyPair ? `key pair ${o.report.keyPair}` : o.report.newSlot ? slotProperty(o.report.newSlot) : null, oldFingerprint: o.report.oldFingerprint };
    case 'rotated':
    case 'awaiting-delivery': {
      const t = o.journal.target;
      return {
        ...base,
        key: t.kind === 'slot' ? slotProperty(t.newSlot) : `key pair ${t.name}`,
        oldFingerprint: o.journal.oldFingerprint,
        newFingerprint: o.journal.newFingerprint,
        keyPath: o.report.privateKeyRemoved ? null : o.report.privateKeyPath,
        ...(o.outcome === 'awaiting-delivery' ? { finish: finishCommand(r.ctx.argv, `sfauth rotate --target-user ${r.target} --finish --apply`) } : {}),
      };
    }
    case 'not-due':
      return { ...base, key: o.key.kind === 'slot' ? slotProperty(o.key.slot) : `key pair ${o.key.name}`, oldFingerprint: o.key.fingerprint, note: o.explanation };
    case 'already-done':
      return { ...base, oldFingerprint: o.entry.oldFingerprint, newFingerprint: o.entry.newFingerprint, keyPath: o.entry.privateKeyPath ?? null, note: o.message };
    case 'nothing-to-finish':
      return { ...base, note: o.message };
  }
}

/**
 * Where the program that uses the old key reads it from (DESIGN.md §3 step 7): the connection whose
 * own private_key_file named it, a path given otherwise, the environment or stdin; for another user's
 * key (or a key this command does not hold), that user's program, wherever it reads from.
 */
function keyHomeOf(session: Session, target: string, self: boolean): KeyHome {
  const conn = session.connection;
  const source = conn.privateKey;
  if (!self || !session.key || !source) return { kind: 'other-user', user: target };
  if (source.kind === 'file') {
    const fromConnectionFile = sourceOf(source.origin) === 'connection' && !source.origin.startsWith('SNOWFLAKE_CONNECTIONS_');
    if (fromConnectionFile && conn.name && conn.configFile) return { kind: 'connection', name: conn.name, file: conn.configFile, path: source.path };
    return { kind: 'file', path: source.path, origin: source.origin };
  }
  return { kind: 'environment', origin: source.kind === 'stdin' ? 'stdin' : source.origin };
}

/** What this run does with the new key after verifying it, checked before any network call. */
function deliveriesFor(options: RotateOptions, ctx: CommandContext, session: Session, home: KeyHome): Deliveries & { connection?: { file: string; name: string } } {
  const d: Deliveries & { connection?: { file: string; name: string } } = { store: options.storeCmd !== undefined };
  if (options.inPlace) {
    if (home.kind !== 'connection' && home.kind !== 'file') {
      throw new UsageError('ERR_USAGE', '--in-place replaces the file the key in use was read from, and this key came from no file', {
        hint: home.kind === 'environment' ? `the key came from ${home.origin}: use --store-cmd to deliver the new key there` : "it rotates your own key read from a file (--private-key PATH or a connection's private_key_file)",
      });
    }
    if (options.updateConnection === true) throw new UsageError('ERR_USAGE', '--in-place and --update-connection contradict each other', { hint: 'with --in-place the connection keeps naming the same file, which then holds the new key' });
    d.inPlace = checkInPlace(home.path, ctx.cwd);
    return d;
  }
  if (options.updateConnection === true) {
    d.connection = checkConnectionUpdate(session.connection, ctx.cwd);
  } else if (options.updateConnection === undefined && home.kind === 'connection') {
    // The default: the connection that named the old key names the new one. A file this editor may
    // not change leaves the connection alone, and the run then waits for delivery instead.
    try {
      d.connection = checkConnectionUpdate(session.connection, ctx.cwd);
    } catch (err) {
      if (!isSfauthError(err)) throw err;
      ctx.out.warn(`connection '${home.name}' will not be updated: ${err.message}`);
    }
  }
  return d;
}

/** The command that retires the old key later: this command line, with --finish --apply. */
export function finishCommand(argv: readonly string[] | undefined, fallback: string): string {
  if (!argv) return fallback;
  const drop = new Set(['--apply', '--yes', '-y', '--json', '--finish', '--retire-now', '--restart']);
  const words = argv.filter((a) => !drop.has(a));
  return ['sfauth', ...words, '--finish', '--apply'].map(shellWord).join(' ');
}

function shellWord(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------------
// A fleet: --targets FILE.

interface FleetFlags {
  targets: string[];
  source: string;
  concurrency: number;
  outDir?: string;
}

/** Default and ceiling of --concurrency: enough to hide latency, few enough to be polite to Snowflake. */
const DEFAULT_CONCURRENCY = 4;
const MAX_CONCURRENCY = 32;

/** `--targets` and the flags that go with it, checked before the session and any network call. */
async function fleetFlags(options: RotateOptions, ctx: CommandContext): Promise<FleetFlags | undefined> {
  const fleetOnly = (['concurrency', 'outDir', 'shard'] as const).filter((k) => options[k] !== undefined);
  if (options.targets === undefined) {
    if (fleetOnly.length) throw new UsageError('ERR_USAGE', `${fleetOnly.map((k) => (k === 'outDir' ? '--out-dir' : `--${k}`)).join(' and ')} go${fleetOnly.length === 1 ? 'es' : ''} with --targets FILE`, { hint: 'for one user, --out PATH names the new key' });
    return undefined;
  }
  const shard = options.shard !== undefined ? parseShard(options.shard) : undefined;
  for (const [flag, given] of [['--target-user', options.targetUser], ['--out', options.out], ['--update-connection', options.updateConnection], ['--in-place', options.inPlace]] as const) {
    if (given !== undefined && given !== false) {
      throw new UsageError('ERR_USAGE', `${flag} does not go with --targets`, {
        hint: flag === '--out' ? '--out-dir DIR puts each user\'s new key there as <user>_<type>_key.<date>.p8' : 'list the users in the --targets file; a fleet rotates other users, with the connection as the admin',
      });
    }
  }
  if (options.encrypt !== false && !options.newPassphraseFile) {
    throw new UsageError('ERR_PASSPHRASE_MISSING', 'a fleet rotation needs to know how to protect the new keys', {
      hint: 'pass --new-passphrase-file PATH (one passphrase for every new key) or --no-encrypt; a fleet never prompts',
    });
  }
  let concurrency = DEFAULT_CONCURRENCY;
  if (options.concurrency !== undefined) {
    concurrency = Number(options.concurrency);
    if (!/^\d+$/.test(options.concurrency.trim()) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
      throw new UsageError('ERR_USAGE', `invalid --concurrency '${options.concurrency}'`, { hint: `a whole number from 1 to ${MAX_CONCURRENCY} (default ${DEFAULT_CONCURRENCY})` });
    }
  }
  const fromStdin = options.targets === '-';
  if (fromStdin && (options.privateKey === '-' || options.privateKeyFile === '-' || options.privateKeyPath === '-')) {
    throw new UsageError('ERR_USAGE', '--targets - and --private-key - cannot both read stdin', { hint: 'give one of them as a file' });
  }
  const source = fromStdin ? 'stdin' : options.targets;
  const text = (fromStdin ? await ctx.readStdin() : await readInputFile(resolve(ctx.cwd, options.targets), 'targets file', '--targets')).toString('utf8');
  let outDir: string | undefined;
  if (options.outDir !== undefined) {
    outDir = resolve(ctx.cwd, options.outDir);
    if (!existsSync(outDir) || !statSync(outDir).isDirectory()) {
      throw new UsageError('ERR_OUTPUT_UNWRITABLE', `--out-dir ${options.outDir} is not a folder`, { hint: 'create it first (mkdir -m 0700 …)' });
    }
    assertSafeChain(outDir, '--out-dir');
  }
  const listed = parseTargets(text, source, { allowEmpty: true });
  const targets = inShard(listed, shard);
  return { targets, source: shard ? `shard ${shard.index}/${shard.count} of ${source} (${targets.length} of ${listed.length} users)` : source, concurrency, ...(outDir ? { outDir } : {}) };
}

async function runFleet(
  options: RotateOptions,
  ctx: CommandContext,
  session: Session,
  account: string,
  fleet: FleetFlags,
  common: { pair: ReturnType<typeof namedPairFrom>; graceHours: number | undefined; threshold: number | undefined },
): Promise<number> {
  const authUser = session.connection.user;
  const self = authUser ? fleet.targets.find((t) => normalizeUserName(t) === normalizeUserName(authUser)) : undefined;
  if (self) {
    throw new UsageError('ERR_USAGE', `the targets include ${self}, the user this command authenticates as`, {
      hint: 'a fleet is rotated by an admin; rotate the admin\'s own key on its own (sfauth rotate without --targets)',
    });
  }
  const jwtAccount = accountForJwt(account);
  const timeoutMs = parseDuration(session.timeoutLabel, '--timeout') * 1000;
  const apply = options.apply === true;
  if (needsConfirmation(ctx, options)) {
    ctx.out.info(`${fleet.targets.length} users from ${fleet.source}: ${fleet.targets.slice(0, 8).join(', ')}${fleet.targets.length > 8 ? ', …' : ''}`);
    ctx.out.info(options.storeCmd !== undefined ? 'each new key goes to --store-cmd, then the old key is retired' : options.finish ? 'the old keys of users awaiting delivery are retired (--finish)' : 'each new key is written to the out folder; the old keys keep working until --finish (awaiting delivery)');
    await confirmOrCancel(ctx, `Apply the rotation of ${fleet.targets.length} users?`);
  }
  const counter = await ctx.progress.counter(fleet.targets.length, apply ? 'Rotating' : 'Planning');
  const results = await rotateFleet(
    {
      ctx,
      session,
      targets: fleet.targets,
      concurrency: fleet.concurrency,
      ...(fleet.outDir ? { outDir: fleet.outDir } : {}),
      storeOnly: options.storeCmd !== undefined && !fleet.outDir,
      timeoutMs,
      ...(options.restart ? { restart: true } : {}),
      common: {
        options: { ...options, out: undefined },
        session,
        account,
        jwtAccount,
        keepOld: options.keepOld === true,
        apply,
        ...(options.retireNow ? { retireNow: true } : {}),
        ...(options.finish ? { finish: true } : {}),
        ...(options.keepOldKeyFile ? { keepOldKeyFile: true } : {}),
        ...(common.pair ? { pair: common.pair } : {}),
        ...(common.graceHours !== undefined ? { graceHours: common.graceHours } : {}),
        ...(common.threshold !== undefined ? { threshold: common.threshold } : {}),
        ...(options.storeCmd !== undefined ? { handOver: { storeCmd: options.storeCmd, account, timeoutMs, timeoutLabel: session.timeoutLabel } } : {}),
      },
    },
    (res) => counter.advance(fleetLine(res), res.outcome !== 'failed'),
  );
  counter.end();
  const failed = results.filter((x) => x.outcome === 'failed');
  if (inGitHubActions(ctx.env)) {
    fleetToGitHub(ctx, jwtAccount, fleet.source, results.map((x) => ({ user: x.user, outcome: x.outcome, key: placeText(x), oldFingerprint: x.oldFingerprint, newFingerprint: x.newFingerprint, error: x.error ? `${x.error.code}: ${x.error.message}` : null })), apply);
  }
  if (ctx.out.json) ctx.out.document(results);
  else {
    const rows = [['USER', 'OUTCOME', 'KEY', 'OLD', 'NEW', 'STORE', 'ERROR']];
    for (const x of results) {
      rows.push([
        x.user,
        x.outcome,
        placeText(x),
        x.oldFingerprint ?? '-',
        x.newFingerprint ?? '-',
        x.store ? (x.store.handedOver ? 'ok' : `failed (${x.store.exitCode ?? 'killed'})`) : '-',
        x.error ? `${x.error.code}: ${x.error.message}` : '',
      ]);
    }
    const st = ctx.out.dataStyle;
    const outcomeColour: Record<string, (t: string) => string> = { rotated: st.green, 'awaiting-delivery': st.yellow, planned: st.yellow, failed: st.red };
    const paint = (text: string, row: number, column: number) => (row === 0 ? st.bold(text) : column === 1 && outcomeColour[text] ? outcomeColour[text]!(text) : text);
    for (const line of layoutTable(rows, { width: ctx.out.tableWidth(options.wide === true), fingerprintColumns: [3, 4], paint })) ctx.out.line(line);
    const count = (o: string) => results.filter((x) => x.outcome === o).length;
    ctx.out.info(
      `${results.length} users: ${[['rotated', count('rotated')], ['awaiting delivery', count('awaiting-delivery')], ['planned', count('planned')], ['not due', count('not-due')], ['skipped', count('skipped')], ['failed', failed.length]]
        .filter(([, n]) => n)
        .map(([w, n]) => `${n} ${w}`)
        .join(', ')}` + (apply ? '' : ' (plan only: nothing was changed; run again with --apply)'),
    );
  }
  const waiting = results.filter((x) => x.outcome === 'awaiting-delivery');
  if (waiting.length && !ctx.out.json) {
    ctx.out.info(`${waiting.length} user${waiting.length === 1 ? '' : 's'} await delivery: their old keys keep working. Deploy each new key to the program that runs as that user, then run:`);
    ctx.out.info(`      ${finishCommand(ctx.argv, `sfauth rotate --targets ${fleet.source} --finish --apply`)}`);
  }
  if (failed.length) {
    ctx.out.info(`${failed.length} of ${results.length} users failed; run the same command again to retry them (finished users are skipped)`);
    return 1;
  }
  return 0;
}

function fleetLine(x: FleetResult): string {
  switch (x.outcome) {
    case 'rotated':
      return `${x.user}: rotated, ${placeText(x)} = ${x.newFingerprint}${x.store ? ' (handed over)' : ''}`;
    case 'failed':
      return `${x.user}: failed: ${x.error?.code} ${x.error?.message}`;
    case 'awaiting-delivery':
      return `${x.user}: awaiting delivery, ${placeText(x)} = ${x.newFingerprint} (${x.privateKeyPath ?? ''}); the old key keeps working until --finish`;
    case 'not-due':
      return `${x.user}: not due`;
    case 'skipped':
      return `${x.user}: finished earlier in this fleet run, skipped`;
    default:
      return `${x.user}: ${x.kind === 'slot' ? `would go into ${placeText(x)}` : `would rotate ${placeText(x)}`}`;
  }
}

function render(r: Run, o: RotationOutcome): number {
  const { ctx } = r;
  switch (o.outcome) {
    case 'planned':
      if (!ctx.out.json) {
        ctx.out.info(
          ctx.out.style.yellow(
            o.report.resumed
              ? 'plan only: nothing was changed. Run again with --apply to finish this rotation.'
              : 'plan only: nothing was changed, locally or on the server. Run again with --apply to carry it out.',
          ),
        );
      }
      return 0;
    case 'rotated':
      return done(r, o.report, o.journal, o.view);
    case 'awaiting-delivery':
      return awaiting(r, o.report, o.journal, o.view);
    case 'nothing-to-finish':
      if (ctx.out.json) document(r, { user: r.target, account: r.jwtAccount, outcome: 'nothing-to-finish', applied: false, message: o.message });
      else ctx.out.line(o.message);
      return 0;
    case 'already-done':
      if (ctx.out.json) {
        document(r, { user: r.target, account: r.jwtAccount, outcome: 'already-done', applied: false, alreadyDone: true, oldFingerprint: o.entry.oldFingerprint, newFingerprint: o.entry.newFingerprint, privateKeyPath: o.entry.privateKeyPath, notes: [o.message] });
      } else {
        ctx.out.line(o.message);
        if (o.entry.privateKeyPath) ctx.out.info(`next: use the new key (${displayPath(o.entry.privateKeyPath, ctx.cwd)}); a new rotation then starts from that key`);
      }
      return 0;
    case 'not-due':
      return notDue(r, o.view, o.key, r.options.ifOlderThan!, o.spec, o.explanation);
  }
}

/** Every --json document of rotate, with where the connection's settings came from. */
function document(r: Run, doc: object): void {
  r.ctx.out.document({ ...doc, connection: connectionReport(r.session.connection) });
}

function done(r: Run, report: RotateReport, journal: RotationJournal, view: KeysView): number {
  const { ctx } = r;
  const out = ctx.out;
  const display = (p: string) => displayPath(p, ctx.cwd);
  Object.assign(report, keysOf(view));
  if (out.json) {
    document(r, { ...report, outcome: 'rotated' });
    return 0;
  }
  const t = journal.target;
  const where = t.kind === 'slot' ? slotProperty(t.newSlot) : `key pair ${t.name}`;
  let after = '';
  if (t.kind === 'slot' || t.kind === 'migrate') {
    const old = t.kind === 'slot' ? t.oldSlot : t.fromSlot;
    if (old !== null && journal.oldFingerprint) after = r.keepOld ? `; ${slotProperty(old)} kept (--keep-old)` : `; ${slotProperty(old)} removed`;
  } else {
    const rotatedOut = view.pairs.find((p) => isRotatedOut(p) && sameFingerprint(p.fingerprint, journal.oldFingerprint));
    after =
      t.graceHours === 0
        ? `; the old key ${rotatedOut ? `(${rotatedOut.name}) ` : ''}was disabled (--grace 0)`
        : `; the old key works until ${rotatedOut?.expiresAt ? timeText(rotatedOut.expiresAt) : `the grace period of ${t.graceHours} h ends`}${rotatedOut ? ` as ${rotatedOut.name}` : ''}`;
  }
  const keyAt = report.privateKeyRemoved ? 'handed over by --store-cmd, no file kept' : display(report.privateKeyPath);
  out.line(`${t.kind === 'migrate' ? 'migrated' : 'rotated'} ${report.user}: ${where} = ${journal.newFingerprint} (${keyAt})${after}`);
  out.info('');
  const conn = r.options.connection;
  const role = roleOf(t);
  const stored = report.store?.handedOver === true;
  const next = report.inPlace?.replaced
    ? `${display(report.inPlace.path)} now holds the new key: whatever reads it picks it up${stored ? ', and --store-cmd has it' : ''}`
    : report.connectionUpdate?.updated
    ? `connection '${report.connectionUpdate.name}' already uses the new key${stored ? ', and --store-cmd has it' : ''}`
    : stored
      ? `the new key is in your store (--store-cmd); whatever reads it from there picks it up`
      : r.self
        ? `use the new key: set private_key_file = "${journal.privateKeyPath}"${conn ? ` in connection '${conn}'` : ''} (or --private-key / SNOWFLAKE_PRIVATE_KEY_FILE)`
        : `hand ${display(journal.privateKeyPath)} to whatever runs as ${report.user} (its private_key_file)`;
  out.info(
    out.style.bold('next: ') +
      next +
      (journal.encrypted ? (journal.passphraseSource === 'current-key' ? '; its passphrase is the old one' : '') : '') +
      (role ? `; it authenticates only with role ${role}` : ''),
  );
  const kept = t.kind === 'slot' ? t.oldSlot : t.kind === 'migrate' ? t.fromSlot : null;
  if (r.keepOld && kept !== null && journal.oldFingerprint) out.info(`      the old key stays in ${slotProperty(kept)}; remove it later with: ${unsetPublicKeySql(report.user, kept)};`);
  if (report.removedFiles.length) out.info(`removed the files of the retired key: ${report.removedFiles.map(display).join(', ')}`);
  statementsRan(r, report);
  return 0;
}

/** After applying, the statements that changed the server (DESIGN.md §1 v3 "Confirmation"). */
function statementsRan(r: Run, report: RotateReport): void {
  statementsRun(r.ctx, report.statementsRun);
}

/** The run stopped after verification: both keys registered until the new one is deployed. */
function awaiting(r: Run, report: RotateReport, journal: RotationJournal, view: KeysView): number {
  const { ctx } = r;
  const display = (p: string) => displayPath(p, ctx.cwd);
  Object.assign(report, keysOf(view));
  const finish = finishCommand(ctx.argv, `sfauth rotate --target-user ${r.target} --finish --apply`);
  if (ctx.out.json) {
    document(r, { ...report, outcome: 'awaiting-delivery', finish });
    return 0;
  }
  const t = journal.target;
  const where = t.kind === 'slot' ? slotProperty(t.newSlot) : `key pair ${t.name}`;
  ctx.out.line(`awaiting delivery: ${report.user}'s ${where} = ${journal.newFingerprint} (${display(journal.privateKeyPath)}); the old key ${journal.oldFingerprint ?? ''} keeps working`);
  ctx.out.info('');
  ctx.out.info(`${ctx.out.style.bold('next: ')}deploy ${display(journal.privateKeyPath)} to ${report.delivery.readFrom}${journal.encrypted && journal.passphraseSource === 'current-key' ? ' (its passphrase is the old one)' : ''}; the old key keeps working until you run:`);
  ctx.out.info(`      ${finish}`);
  statementsRan(r, report);
  return 0;
}

function notDue(r: Run, view: KeysView, key: RegisteredKey, limit: string, spec: KeySpec, explanation: string): number {
  const { ctx } = r;
  const age = ageSeconds(setTimeOf(key), ctx.now())!;
  const where = key.kind === 'slot' ? `slot ${key.slot}` : `key pair ${key.name}`;
  const message = `the current key (${where}, ${key.fingerprint}) is ${formatDuration(age)} old, younger than ${limit}: nothing to do`;
  if (ctx.out.json) {
    document(r, {
      user: r.target,
      account: r.jwtAccount,
      kind: key.kind,
      applied: false,
      resumed: false,
      due: false,
      alreadyDone: false,
      ifOlderThan: limit,
      ...(key.kind === 'slot' ? { currentSlot: key.slot, oldSlot: key.slot, newSlot: key.slot === 1 ? 2 : 1 } : { currentKeyPair: key.name, keyPair: key.name }),
      currentFingerprint: key.fingerprint,
      currentKeyAgeDays: Math.floor(age / 86400),
      oldFingerprint: key.fingerprint,
      newFingerprint: null,
      newKey: { type: spec.type, ...(spec.type === 'rsa' ? { bits: spec.bits } : { curve: spec.curve }) },
      slotChoice: explanation,
      notes: [message],
      steps: [],
      ...keysOf(view),
    });
  } else {
    ctx.out.line(message);
  }
  return 0;
}

function printPlan(r: Run, report: RotateReport, view: KeysView, marks: KeyMarks): void {
  const { ctx } = r;
  if (ctx.out.json) {
    if (!r.apply) document(r, report);
    return;
  }
  const slots = view.slots.map((s) => ({ slot: s.slot, fingerprint: s.fingerprint, lastSetTime: s.lastSetTime, lastSetTimeText: s.lastSetTimeText ?? null }));
  for (const line of renderPlan(report, { slots, pairs: view.pairs }, marks, ctx.now(), ctx.out.dataStyle, (p) => displayPath(p, ctx.cwd))) ctx.out.line(line);
  ctx.out.line();
}

