/**
 * The rotation engine: one state machine over the registered keys (DESIGN.md §3 "Rotation", §5).
 *
 *   written ──register──▶ registered ──verify──▶ verified ──hand over──▶ handed-over ──retire──▶ retired ──confirm──▶ complete
 *                                                                                │                     ▲
 *                                                                                └─▶ awaiting-delivery ┘ (--finish, --retire-now,
 *                                                                                                         or a delivery that covers)
 *
 * The old key is retired only once the new one has reached every place the old one is read from
 * (delivery.ts decides; DESIGN.md §3 step 7). Otherwise the run pauses at `awaiting-delivery` with
 * both keys registered, and `--finish` later takes the same transition to `retired`.
 * `written` is reached before any change on the server (the new key and its journal are on disk).
 * Each transition re-reads the keys first, skips its statement when the read shows it already took
 * effect (a rerun after a crash), stops when the keys changed under it, and records the state it
 * reached in the journal. The same transitions serve a legacy slot, a named pair and a migration:
 * src/keys/rotation-target.ts says, per kind, which statement a step sends and how its effect shows.
 */
import type { CommandContext } from '../context.js';
import { CheckFailedError, isSfauthError, SfauthError } from '../errors.js';
import { sameFingerprint } from '../core/fingerprint.js';
import { unsafeSet } from '../core/rotation-plan.js';
import type { RotationJournal, RotationState } from '../core/rotation-journal.js';
import type { LoadedKey } from '../io/load-key.js';
import { setInterruptHint } from '../io/cleanup.js';
import { keysSummary, readUserKeys, viewKey, viewOf } from '../keys/read.js';
import { confirmProblem, observe, placeOf, plannedRetireSql, registerStatement, retireSteps, roleOf, type KeysView } from '../keys/rotation-target.js';
import type { SnowflakeClient } from '../snowflake/client.js';
import { updateJournal } from './journal.js';
import { conflict, finishHint, interrupted, rotationKeys, unaccountedError, unsafeError, verifyFailed } from './failure.js';
import { fillRetireSql, setStatus, stepName, type RotateReport, type StepRole, type StepStatus } from './report.js';
import { verifyNewKey } from './verify.js';

/** What the engine needs from the command: the clients, the flags that steer it, the report it fills. */
export interface Engine {
  ctx: CommandContext;
  /** The target user. */
  user: string;
  /** The authenticating user rotates its own key. */
  self: boolean;
  keepOld: boolean;
  overwriteOther: boolean;
  /** The client for reads and ALTERs: the session's, or the new key's once the old one may be gone. */
  worker: SnowflakeClient;
  deadline: number;
  timeoutLabel: string;
  /** A client that authenticates with `key` as `loginName` (and `role`, for a role-restricted pair). */
  clientFor(key: LoadedKey, loginName: string, role: string | null): SnowflakeClient;
  /** A key nothing else accounts for must not be overwritten (the key in use, or one a journal here replaced). */
  accountedFor(fingerprint: string): boolean;
  report: RotateReport;
  /** Writes the --json document before a failure's error (stdout gets the report even then). */
  documentOnFailure(): void;
  /** Step 6 (DESIGN.md §3): hand the verified key over before the old one is retired. */
  handOver?(r: Rotation): Promise<void>;
  /** The hand-over reaches every place the old key is read from (delivery.ts). */
  deliveryCovered: boolean;
  /** `--retire-now` or `--finish`: the user says the new key is deployed. */
  retireAnyway: boolean;
  /** Set by the retire step: whether it sent anything (false: a rerun found it done). */
  retiredNow?: boolean;
  /** The keys as the confirmation read them. */
  lastView?: KeysView;
}

export interface Rotation {
  /** The journal's path. */
  path: string;
  journal: RotationJournal;
  newKey: LoadedKey;
  /** The new private key's file bytes as registered (generated here, or re-read and checked): what is handed over. */
  newKeyPem: Buffer;
  /** The keys as read when this run planned: a change before a statement stops the run. */
  planned: KeysView;
}

type Transition = (e: Engine, r: Rotation) => Promise<RotationState>;

/** Every state but the last, with the transition that leaves it. */
export const TRANSITIONS: Readonly<Record<Exclude<RotationState, 'complete'>, Transition>> = {
  written: register,
  registered: verify,
  verified: handOver,
  'handed-over': retireIfDelivered,
  'awaiting-delivery': finishDelivery,
  retired: confirm,
};

/**
 * A rotation of any kind, as the engine runs it: the state it is in, one transition per state (each
 * observes the server, skips what already took effect, and says the state it reached), and how a
 * reached state is recorded. Keys (below) and programmatic access tokens (src/pat/rotate.ts) are
 * two sets of transitions over the same states, run by the same loop.
 */
export interface StateMachine {
  state(): RotationState;
  transitions: Readonly<Record<Exclude<RotationState, 'complete'>, () => Promise<RotationState>>>;
  record(from: RotationState, next: RotationState): void;
}

/** Runs a machine to `complete`; a transition that stays where it is pauses the run there. */
export async function runStates(m: StateMachine): Promise<void> {
  while (m.state() !== 'complete') {
    const from = m.state() as Exclude<RotationState, 'complete'>;
    const next = await m.transitions[from]();
    if (next === from) break;
    m.record(from, next);
  }
}

/** Runs the machine from the journal's state to `complete`, recording each state reached. */
export async function advance(e: Engine, r: Rotation): Promise<RotationJournal> {
  // From here on an interruption leaves work to finish: say how.
  setInterruptHint(finishHint());
  // A rerun past verification works with the new key: the old one may be gone already.
  if (r.journal.step !== 'written' && r.journal.step !== 'registered' && e.self) e.worker = verifierOf(e, r);
  const bound = Object.fromEntries(Object.entries(TRANSITIONS).map(([state, t]) => [state, () => t(e, r)])) as StateMachine['transitions'];
  await runStates({
    state: () => r.journal.step,
    transitions: bound,
    record(from, next) {
      // Only awaiting-delivery stays where it is (the run pauses there, both keys registered); a
      // hand-over with nothing to hand over changes nothing worth recording.
      if (from === 'verified' && !e.handOver) r.journal = { ...r.journal, step: next };
      else r.journal = updateJournal(r.path, r.journal, next, e.ctx.now());
    },
  });
  return r.journal;
}

function mark(e: Engine, r: Rotation, role: StepRole, status: StepStatus): void {
  setStatus(e.report.steps, stepName(r.journal.target.kind, role), status);
}

function verifierOf(e: Engine, r: Rotation): SnowflakeClient {
  return e.clientFor(r.newKey, r.journal.loginName, roleOf(r.journal.target));
}

/** A fresh read of the keys before a change; a failure to read stops without changing anything. */
async function freshRead(e: Engine, what: string): Promise<KeysView> {
  try {
    return viewOf(await readUserKeys(e.worker, e.user));
  } catch (err) {
    if (isSfauthError(err)) {
      throw new SfauthError(err.code, `could not read the keys of ${e.user} again before ${what}: ${err.message}`, err.exitCode, {
        hint: 'nothing more was changed; run the same command again to finish',
        details: err.details,
        data: err.data,
      });
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// written → registered: SET the slot, ROTATE the pair, or ADD it.

async function register(e: Engine, r: Rotation): Promise<RotationState> {
  const t = r.journal.target;
  const keys = rotationKeys(r.journal);
  const what = `the ${t.kind === 'slot' ? 'SET' : t.kind === 'pair' || t.via === 'rotate' ? 'ROTATE' : 'ADD'}`;
  const view = await freshRead(e, what);
  const seen = observe(t, view, keys, e.ctx.now());
  if (seen.registered) {
    mark(e, r, 'register', 'already-done');
    return 'registered';
  }
  if (t.kind === 'slot' && seen.newInOtherSlot !== null) {
    e.report.notes.push(`the new key is in slot ${seen.newInOtherSlot}, not slot ${t.newSlot} as planned; continuing from there`);
    r.journal = { ...r.journal, target: { ...t, newSlot: seen.newInOtherSlot, oldSlot: t.oldSlot === seen.newInOtherSlot ? null : t.oldSlot } };
    mark(e, r, 'register', 'already-done');
    return 'registered';
  }
  // The keys may have moved since they were read (another machine, a person): stop if so.
  if (viewKey(view) !== viewKey(r.planned)) throw conflict(e.user, r.planned, view, what);
  if (seen.placeTakenBy) throw conflict(e.user, r.planned, view, what);
  if (t.kind === 'slot') {
    const unsafe = unsafeSet(view.slots, t.newSlot, r.journal.authFingerprint);
    if (unsafe) throw unsafeError(e.user, t.newSlot, unsafe);
    const there = view.slots.find((s) => s.slot === t.newSlot)?.fingerprint ?? null;
    if (there && !e.overwriteOther && !sameFingerprint(there, t.replacesFingerprint) && !e.accountedFor(there)) throw unaccountedError(e.user, t.newSlot, there);
  }
  const place = placeOf(t);
  const [doing, did, verb] = t.kind === 'slot' ? ['Setting', 'Set', 'set'] : t.kind === 'pair' || t.via === 'rotate' ? ['Rotating', 'Rotated', 'rotate'] : ['Adding', 'Added', 'add'];
  const step = await e.ctx.progress.step(`${doing} ${place} of ${e.user}`);
  try {
    const sql = registerStatement(e.user, t, r.journal.newPublicKey);
    await e.worker.execute(sql);
    e.report.statementsRun.push(sql);
  } catch (err) {
    step.fail(`Could not ${verb} ${place}`);
    mark(e, r, 'register', 'failed');
    throw await interrupted(e, r, err, 'register');
  }
  step.succeed(verb === 'add' ? `${did} ${place} to ${e.user}: ${r.journal.newFingerprint}` : `${did} ${place} of ${e.user} to ${r.journal.newFingerprint}`);
  mark(e, r, 'register', 'done');
  return 'registered';
}

// ---------------------------------------------------------------------------------------------
// registered → verified: authenticate with the new key (with the pair's role restriction).

async function verify(e: Engine, r: Rotation): Promise<RotationState> {
  const verifier = verifierOf(e, r);
  const role = roleOf(r.journal.target);
  const step = await e.ctx.progress.step(`Verifying the new key: authenticating as ${r.journal.loginName}${role ? ` with role ${role}` : ''}`);
  let outcome;
  try {
    outcome = await verifyNewKey(verifier, {
      now: e.ctx.now,
      deadline: e.deadline,
      onRetry: (n) => step.update(`Verifying the new key: refused (attempt ${n}), waiting for it to propagate`),
    });
  } catch (err) {
    step.fail('Could not verify the new key');
    mark(e, r, 'verify', 'failed');
    throw await interrupted(e, r, err, 'verify');
  }
  if (!outcome.ok) {
    step.fail(`The new key was refused ${outcome.attempts} time${outcome.attempts === 1 ? '' : 's'}`);
    mark(e, r, 'verify', 'failed');
    throw await verifyFailed(e, r, outcome.lastError, outcome.attempts);
  }
  step.succeed(`Verified: authenticated as ${outcome.user ?? r.journal.loginName} with the new key${outcome.attempts > 1 ? ` (after ${outcome.attempts} tries)` : ''}`);
  mark(e, r, 'verify', 'done');
  // From here on a self-rotation works with the new key: the old one is about to go.
  if (e.self) e.worker = verifier;
  return 'verified';
}

// ---------------------------------------------------------------------------------------------
// verified → handed-over: the new key reaches wherever it lives (store command, connection).

async function handOver(e: Engine, r: Rotation): Promise<RotationState> {
  if (!e.handOver) {
    mark(e, r, 'hand-over', 'skipped');
    return 'handed-over';
  }
  try {
    await e.handOver(r);
  } catch (err) {
    mark(e, r, 'hand-over', 'failed');
    throw await interrupted(e, r, err, 'hand-over');
  }
  mark(e, r, 'hand-over', 'done');
  return 'handed-over';
}

// ---------------------------------------------------------------------------------------------
// handed-over → retired, or → awaiting-delivery when the new key has not reached every place the old
// one is read from (and there is an old key to retire now: a grace period or --keep-old retires none).

async function retireIfDelivered(e: Engine, r: Rotation): Promise<RotationState> {
  const t = r.journal.target;
  const retires = plannedRetireSql(e.user, t, e.keepOld, r.journal.oldFingerprint !== null).length > 0;
  if (retires && !e.deliveryCovered && !e.retireAnyway) {
    mark(e, r, 'retire', 'skipped');
    return 'awaiting-delivery';
  }
  return retire(e, r);
}

// awaiting-delivery → retired: `--finish` / `--retire-now`, or a rerun whose hand-over now covers
// every place (it runs that hand-over first); else the run pauses here again.

async function finishDelivery(e: Engine, r: Rotation): Promise<RotationState> {
  if (e.retireAnyway) return retire(e, r);
  if (e.deliveryCovered && e.handOver) {
    await handOver(e, r);
    return retire(e, r);
  }
  mark(e, r, 'retire', 'skipped');
  return 'awaiting-delivery';
}

// ---------------------------------------------------------------------------------------------
// → retired: UNSET the old slot, or disable the rotated-out pair (--grace 0).

async function retire(e: Engine, r: Rotation): Promise<RotationState> {
  const t = r.journal.target;
  const keys = rotationKeys(r.journal);
  const now = () => e.ctx.now();
  const view = await freshRead(e, 'retiring the old key');
  // The new key must still be where this rotation put it, so retiring never removes the only working key.
  if (!observe(t, view, keys, now()).registered) {
    throw new CheckFailedError('ERR_ROTATION_CONFLICT', `${placeOf(t)} of ${e.user} no longer holds the new key; the old key was left in place`, {
      details: [`read now: ${keysSummary(view)}`, `expected ${placeOf(t)} = ${r.journal.newFingerprint}`],
      hint: 'another rotation or a person changed the keys; check with sfauth status before removing anything',
      data: { step: 'retire' },
    });
  }
  const steps = retireSteps(e.user, t, view, keys, e.keepOld, now());
  const sent: string[] = [];
  for (const s of steps) {
    const step = await e.ctx.progress.step(retireWords(s.action, s.place, e.user, 0));
    let action: keyof typeof RETIRE_WORDS = s.action;
    try {
      try {
        await e.worker.execute(s.sql);
        sent.push(s.sql);
      } catch (err) {
        // A server that cannot MODIFY a rotated-out pair: REMOVE ends it as surely.
        if (!s.fallback || !isSfauthError(err) || err.code !== 'ERR_STATEMENT_FAILED') throw err;
        step.update(`${retireWords(s.action, s.place, e.user, 0)}: refused (${err.message.replace(/^Snowflake refused the statement: /, '')}); removing it instead`);
        action = 'remove';
        await e.worker.execute(s.fallback);
        sent.push(s.fallback);
      }
    } catch (err) {
      step.fail(`Could not ${s.what}`);
      mark(e, r, 'retire', 'failed');
      throw await interrupted(e, r, err, 'retire');
    }
    step.succeed(`${retireWords(action, s.place, e.user, 1)}${r.journal.oldFingerprint ? ` (the old key ${r.journal.oldFingerprint})` : ''}`);
  }
  if (sent.length) fillRetireSql(e.report.steps, sent);
  e.report.statementsRun.push(...sent);
  e.retiredNow = sent.length > 0;
  return 'retired';
}

const RETIRE_WORDS = { unset: ['Unsetting', 'Unset'], disable: ['Disabling', 'Disabled'], remove: ['Removing', 'Removed'] } as const;

function retireWords(action: keyof typeof RETIRE_WORDS, place: string, user: string, tense: 0 | 1): string {
  return `${RETIRE_WORDS[action][tense]} ${place} of ${user}`;
}

// ---------------------------------------------------------------------------------------------
// retired → complete: read the keys again and check they show the rotation.

async function confirm(e: Engine, r: Rotation): Promise<RotationState> {
  const step = await e.ctx.progress.step(`Confirming: reading the keys of ${e.user}`);
  let view: KeysView;
  try {
    view = viewOf(await readUserKeys(e.worker, e.user));
  } catch (err) {
    step.fail('Could not confirm');
    mark(e, r, 'retire', 'failed');
    throw await interrupted(e, r, err, 'confirm');
  }
  e.lastView = view;
  const problem = confirmProblem(r.journal.target, view, rotationKeys(r.journal), e.keepOld, e.ctx.now());
  if (problem) {
    step.fail('The keys do not show the rotation');
    mark(e, r, 'retire', 'failed');
    throw new CheckFailedError('ERR_ROTATION_UNCONFIRMED', `the keys of ${e.user} do not show the rotation: ${problem}`, {
      details: [`read now: ${keysSummary(view)}`],
      hint: 'someone may have changed the keys meanwhile; check with sfauth status, then run the same command again',
    });
  }
  step.succeed(`Confirmed: ${keysSummary(view)}`);
  const expected = plannedRetireSql(e.user, r.journal.target, e.keepOld, r.journal.oldFingerprint !== null).length > 0;
  mark(e, r, 'retire', e.retiredNow === false && expected ? 'already-done' : 'done');
  return 'complete';
}
