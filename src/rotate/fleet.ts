/**
 * Fleet rotation (DESIGN.md §3 "Fleet"): the same credential (an admin) rotates each target user,
 * `concurrency` at a time, each with its own journal, lock, deadline and `--store-cmd` run, and all of
 * them behind one rate-limit gate (a 429 slows the whole fleet down and never fails it). One result
 * per user; a rerun finishes the unfinished users and skips the finished ones.
 */
import { resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { isSfauthError } from '../errors.js';
import { slotProperty } from '../core/sql.js';
import type { Output } from '../ui/output.js';
import type { Progress } from '../ui/progress.js';
import { homeDirOf, transportOf, type Session } from '../snowflake/session.js';
import { Throttle } from '../snowflake/throttle.js';
import { ensurePrivateFolder, keyStateFolder } from './lock.js';
import { rotateUser, type RotationOutcome, type RotationRequest } from './rotation.js';
import { findJournals, type FoundJournal } from './journal.js';

export type FleetOutcome = 'rotated' | 'not-due' | 'failed' | 'skipped' | 'planned';

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
export type FleetCommon = Omit<RotationRequest, 'ctx' | 'target' | 'self' | 'show' | 'keyDir' | 'removeKeyWhenDone' | 'client' | 'deadline' | 'throttle' | 'skipFinished'>;

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
  common: FleetCommon;
}

const SILENT_STEP = { succeed: () => {}, fail: () => {}, update: () => {} };
const silentProgress: Progress = { step: async () => SILENT_STEP, counter: async () => ({ advance: () => {}, end: () => {} }) };

/** Each user's messages (warnings, the store command's output) carry the user's name. */
function outputFor(out: Output, user: string): Output {
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
  const results: FleetResult[] = new Array(input.targets.length);
  let next = 0;
  // One scan of the shared folder for every user's earlier journals (each user's own state folder,
  // with --store-cmd and no --out-dir, is scanned by its rotation).
  let shared: FoundJournal[] | undefined;
  if (!input.storeOnly) {
    const scan = await findJournals(input.outDir ?? resolve(ctx.cwd), { account: input.common.jwtAccount });
    for (const why of scan.ignored) ctx.out.warn(why);
    shared = scan.found;
  }

  const one = async (user: string): Promise<FleetResult> => {
    const started = ctx.now();
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
        skipFinished: true,
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

  const worker = async () => {
    for (let i = next++; i < input.targets.length; i = next++) {
      results[i] = await one(input.targets[i]!);
      onResult(results[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(input.concurrency, input.targets.length) }, worker));
  return results;
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
  const r = o.report;
  const outcome: FleetOutcome = o.outcome === 'already-done' ? 'skipped' : o.outcome;
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
