/**
 * Fleet rotation (DESIGN.md §3 "Fleet"): the same credential (an admin) rotates each target user,
 * `concurrency` at a time, each with its own journal, lock, deadline and `--store-cmd` run, and all of
 * them behind one rate-limit gate (a 429 slows the whole fleet down and never fails it). One result
 * per user.
 *
 * A fleet run is remembered (DESIGN.md §3 v3 "fleet runs"): `<state>/fleets/<hash of account and
 * targets>.json` records each user's outcome as it lands. The same command while that run is
 * unfinished (a user failed, was interrupted, or awaits delivery) resumes it: finished users are
 * skipped, the rest retried. Once every user finished the record goes, so the next run rotates
 * everyone again; `--restart` forgets an unfinished run.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, unlinkSync, writeFileSync, lstatSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { planDelivery } from './delivery.js';
import { readHistory } from './history.js';
import { normalizeUserName } from '../core/rotation-plan.js';
import type { CommandContext } from '../context.js';
import { isSfauthError } from '../errors.js';
import { slotProperty } from '../core/sql.js';
import type { Output } from '../ui/output.js';
import type { Progress } from '../ui/progress.js';
import { homeDirOf, transportOf, type Session } from '../snowflake/session.js';
import { Throttle } from '../snowflake/throttle.js';
import { eachAtMost } from '../snowflake/pool.js';
import { ensurePrivateFolder, keyStateFolder, stateDir } from './lock.js';
import { rotateUser, type RotationOutcome, type RotationRequest } from './rotation.js';
import { findJournals, type FoundJournal } from './journal.js';

export type FleetOutcome = 'rotated' | 'awaiting-delivery' | 'not-due' | 'failed' | 'skipped' | 'planned';

/** Outcomes that finish a user in a fleet run (a rerun skips them). */
export const FINISHED: ReadonlySet<string> = new Set(['rotated', 'not-due', 'skipped']);

/** One user's line of the report (`--json`: the array of these). */
export interface FleetResult {
  user: string;
  outcome: FleetOutcome;
  kind: 'slot' | 'pair' | 'migrate' | null;
  slot: 1 | 2 | null;
  keyPair: string | null;
  oldFingerprint: string | null;
  newFingerprint: string | null;
  privateKeyPath: string | null;
  store: { exitCode: number | null; durationMs: number; handedOver: boolean } | null;
  error: { code: string; message: string } | null;
  durationMs: number;
}

/** What every user's rotation shares (the flags), less the target. */
export type FleetCommon = Omit<RotationRequest, 'ctx' | 'target' | 'self' | 'show' | 'keyDir' | 'removeKeyWhenDone' | 'client' | 'deadline' | 'throttle' | 'delivery'>;

export interface FleetInput {
  ctx: CommandContext;
  session: Session;
  targets: string[];
  concurrency: number;
  /** `--out-dir` (absolute), else the current folder; `--store-cmd` without it: sfauth's state folder. */
  outDir?: string;
  storeOnly: boolean;
  /** `--timeout` for each user, in ms (from that user's start; rate-limit pauses do not count). */
  timeoutMs: number;
  /** `--restart`: forget an unfinished run of these targets. */
  restart?: boolean;
  common: FleetCommon;
}

export interface FleetRecord {
  kind: 'sfauth-fleet-run';
  account: string;
  startedAt: string;
  /** Outcome per user (normalized name) as it landed. */
  users: Record<string, string>;
}

/** Where this account's run of these targets is remembered (`scope`: what is rotated, when not keys: `pat:NAME`). */
export function fleetRecordPath(ctx: CommandContext, account: string, targets: readonly string[], scope?: string): string {
  const hash = createHash('sha256').update([account.toUpperCase(), ...targets.map(normalizeUserName), ...(scope ? [`\u0000${scope}`] : [])].join('\n')).digest('hex').slice(0, 32);
  return join(stateDir(ctx.env, homeDirOf(ctx)), 'fleets', `${hash}.json`);
}

export function readFleetRecord(path: string): FleetRecord | null {
  try {
    const st = lstatSync(path);
    const uid = process.getuid?.();
    if (!st.isFile() || (uid !== undefined && st.uid !== uid) || st.mode & 0o022) return null;
    const v = JSON.parse(readFileSync(path, 'utf8')) as FleetRecord;
    return v && v.kind === 'sfauth-fleet-run' && v.users && typeof v.users === 'object' ? v : null;
  } catch {
    return null;
  }
}

/**
 * The record of this fleet run (at --apply): an unfinished run of the same account and targets (and
 * `scope`) resumes, with its finished users skipped; `restart` forgets it; else a new one begins.
 */
export function openFleetRun(ctx: CommandContext, account: string, targets: readonly string[], restart: boolean, scope?: string): { recordPath: string; record: FleetRecord } {
  const recordPath = fleetRecordPath(ctx, account, targets, scope);
  ensurePrivateFolder(join(stateDir(ctx.env, homeDirOf(ctx)), 'fleets'), 'fleet state folder');
  if (restart) removeQuietly(recordPath);
  const found = readFleetRecord(recordPath);
  if (found) ctx.out.info(`resuming the unfinished fleet run begun ${found.startedAt}: finished users are skipped (--restart starts anew)`);
  return { recordPath, record: found ?? { kind: 'sfauth-fleet-run', account, startedAt: new Date(ctx.now()).toISOString(), users: {} } };
}

export function writeFleetRecord(path: string, record: FleetRecord): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(record) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

const SILENT_STEP = { succeed: () => {}, fail: () => {}, update: () => {} };
export const silentProgress: Progress = { step: async () => SILENT_STEP, counter: async () => ({ advance: () => {}, end: () => {} }) };

/** Each user's messages (warnings, the store command's output) carry the user's name. */
export function outputFor(out: Output, user: string): Output {
  const own = Object.create(out) as Output;
  own.info = (text = '') => out.info(text === '' ? '' : `[${user}] ${text.trimStart()}`);
  own.warn = (text) => out.warn(`[${user}] ${text}`);
  own.success = (text) => out.success(`[${user}] ${text}`);
  return own;
}

export async function rotateFleet(input: FleetInput, onResult: (r: FleetResult) => void): Promise<FleetResult[]> {
  const { ctx, session } = input;
  const throttle = new Throttle(ctx.now);
  const transport = transportOf(ctx);
  // One scan of the shared folder for every user's earlier journals (each user's own state folder,
  // with --store-cmd and no --out-dir, is scanned by its rotation).
  let shared: FoundJournal[] | undefined;
  if (!input.storeOnly) {
    const scan = await findJournals(input.outDir ?? resolve(ctx.cwd), { account: input.common.jwtAccount });
    for (const why of scan.ignored) ctx.out.warn(why);
    shared = scan.found;
  }

  // The run this is: an unfinished one of the same targets resumes, anything else starts anew.
  const { recordPath, record } = input.common.apply ? openFleetRun(ctx, input.common.jwtAccount, input.targets, input.restart === true) : { recordPath: undefined, record: null };

  // One read of the history for every user (each picks its own entries).
  const history = readHistory(ctx.env, homeDirOf(ctx));

  const one = async (user: string): Promise<FleetResult> => {
    const started = ctx.now();
    const before = record?.users[normalizeUserName(user)];
    if (before && FINISHED.has(before)) return { ...emptyResult(user, 'skipped'), durationMs: 0 };
    const userCtx: CommandContext = { ...ctx, transport, progress: silentProgress, out: outputFor(ctx.out, user) };
    const deadline = started + input.timeoutMs;
    const pausedBase = throttle.pausedMs();
    const keyDir = input.storeOnly ? keyStateFolder(ctx.env, homeDirOf(ctx), input.common.jwtAccount, user) : (input.outDir ?? resolve(ctx.cwd));
    try {
      if (input.storeOnly && input.common.apply) ensurePrivateFolder(keyDir, 'key folder');
      const outcome = await rotateUser({
        ...input.common,
        ctx: userCtx,
        target: user,
        self: false,
        keyDir,
        ...(input.storeOnly ? { removeKeyWhenDone: true } : {}),
        client: session.client.forFleet(deadline, throttle, pausedBase),
        deadline,
        throttle,
        pausedBase,
        delivery: planDelivery({ kind: 'other-user', user }, { store: input.common.handOver?.storeCmd !== undefined }),
        history,
        ...(shared ? { journals: shared } : {}),
        show: { plan: () => {}, document: () => {} },
      });
      return resultOf(user, outcome, ctx.now() - started);
    } catch (err) {
      const error = isSfauthError(err) ? { code: err.code, message: err.message } : { code: 'ERR_INTERNAL', message: String(err) };
      const data = isSfauthError(err) ? (err.data as Record<string, unknown> | undefined) : undefined;
      return {
        user,
        outcome: 'failed',
        kind: null,
        slot: typeof data?.newSlot === 'number' ? (data.newSlot as 1 | 2) : null,
        keyPair: typeof data?.keyPair === 'string' ? data.keyPair : null,
        oldFingerprint: null,
        newFingerprint: typeof data?.newFingerprint === 'string' ? data.newFingerprint : null,
        privateKeyPath: typeof data?.privateKeyPath === 'string' ? data.privateKeyPath : null,
        store: null,
        error,
        durationMs: ctx.now() - started,
      };
    }
  };

  const results = await eachAtMost(input.targets, input.concurrency, one, (result, i) => {
    if (record && recordPath) {
      record.users[normalizeUserName(input.targets[i]!)] = result.outcome;
      writeFleetRecord(recordPath, record);
    }
    onResult(result);
  });
  // Every user finished: the run is over, and the next one rotates everyone again.
  if (recordPath && results.every((x) => FINISHED.has(x.outcome))) removeQuietly(recordPath);
  return results;
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
}

function emptyResult(user: string, outcome: FleetOutcome): FleetResult {
  return { user, outcome, kind: null, slot: null, keyPair: null, oldFingerprint: null, newFingerprint: null, privateKeyPath: null, store: null, error: null, durationMs: 0 };
}

function resultOf(user: string, o: RotationOutcome, durationMs: number): FleetResult {
  if (o.outcome === 'not-due') {
    const k = o.key;
    return {
      user,
      outcome: 'not-due',
      kind: k.kind,
      slot: k.kind === 'slot' ? k.slot : null,
      keyPair: k.kind === 'pair' ? k.name : null,
      oldFingerprint: k.fingerprint,
      newFingerprint: null,
      privateKeyPath: null,
      store: null,
      error: null,
      durationMs,
    };
  }
  if (o.outcome === 'nothing-to-finish') return { ...emptyResult(user, 'skipped'), durationMs };
  if (o.outcome === 'already-done') return { ...emptyResult(user, 'skipped'), oldFingerprint: o.entry.oldFingerprint, newFingerprint: o.entry.newFingerprint, privateKeyPath: o.entry.privateKeyPath, durationMs };
  const r = o.report;
  const outcome: FleetOutcome = o.outcome;
  return {
    user,
    outcome,
    kind: r.kind,
    slot: r.newSlot,
    keyPair: r.keyPair,
    oldFingerprint: r.oldFingerprint,
    newFingerprint: r.newFingerprint,
    privateKeyPath: r.privateKeyRemoved || outcome === 'planned' ? null : r.privateKeyPath,
    store: r.store ? { exitCode: r.store.exitCode, durationMs: r.store.durationMs, handedOver: r.store.handedOver } : null,
    error: null,
    durationMs,
  };
}

/** Where the new key went, for the table: `RSA_PUBLIC_KEY_2`, `CI_KEY`. */
export function placeText(r: FleetResult): string {
  return r.slot ? slotProperty(r.slot) : (r.keyPair ?? '-');
}
