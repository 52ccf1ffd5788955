/**
 * One user's PAT rotation on the rotation engine (DESIGN.md §3 "Programmatic access tokens"): the same
 * states as a key's rotation, run by the same loop (engine.ts `runStates`), with transitions for a
 * secret Snowflake makes and shows once:
 *
 *   written ──ROTATE──▶ registered ──verify──▶ verified ──deliver──▶ handed-over ──retire──▶ retired ──confirm──▶ complete
 *
 * - written → registered: ROTATE PROGRAMMATIC ACCESS TOKEN; the new secret is held in memory only.
 *   The rotated-out object keeps the program's (old) secret for the grace period, at least until the
 *   new one is delivered, so the program is never without a working secret.
 * - registered → verified: authenticate with the new secret (and its role restriction).
 * - verified → handed-over: the secret goes to its one place (secret.ts).
 * - handed-over → retired: with `--grace 0` only, REMOVE the rotated-out object (the old secret).
 * - retired → complete: a fresh listing shows the rotation; the journal goes.
 *
 * A run that stops after ROTATE and before delivery has lost the new secret for good (it was never
 * written anywhere). The journal records the step and the names of the token objects, never a secret,
 * so the rerun tells them apart: it rotates again, delivers the newest secret, and REMOVEs the object
 * that holds the lost one (what the second ROTATE names as rotated out), never `rotatedTokenName`,
 * whose secret the program still uses. Each transition re-reads the token list first.
 */
import type { CommandContext } from '../context.js';
import { CheckFailedError, isSfauthError, ServiceError, type SfauthError } from '../errors.js';
import { formatDuration } from '../core/duration.js';
import type { PatJournal } from '../core/pat-journal.js';
import { removePatSql, rotateGraceHours, rotatePatSql } from '../core/pat-sql.js';
import type { RotationState } from '../core/rotation-journal.js';
import { normalizeUserName } from '../core/rotation-plan.js';
import { timeText } from '../core/time-text.js';
import { setInterruptHint } from '../io/cleanup.js';
import { processAlive } from '../io/files.js';
import { identityOf, killGroupIfSame } from '../io/process-identity.js';
import { readUserTokens } from '../keys/read.js';
import { patCounts, patIsActive, type PatToken } from '../keys/types.js';
import { runStates } from '../rotate/engine.js';
import { acquireRotationLock } from '../rotate/lock.js';
import { verifyNewKey } from '../rotate/verify.js';
import type { SnowflakeClient } from '../snowflake/client.js';
import { patNamed, rotatedOutOf, showPats } from '../snowflake/pats.js';
import { homeDirOf, makeClient, type Session } from '../snowflake/session.js';
import type { Throttle } from '../snowflake/throttle.js';
import { patJournalPath, preparePatJournalFolder, readPatJournal, removePatJournal, updatePatJournal, writePatJournal } from './journal.js';
import { assertBelowLimit } from './refusals.js';
import { secretOf, unavailable } from './register.js';
import { deliverSecret, destinationWords, type SecretDestination } from './secret.js';

/** The default grace of a ROTATE (EXPIRE_ROTATED_TOKEN_AFTER_HOURS, §8.2), and the margin `--grace 0` keeps until delivery. */
export const DEFAULT_GRACE_HOURS = 24;

export interface PatRotationRequest {
  ctx: CommandContext;
  session: Session;
  /** The client for reads and ALTERs (a fleet's own, with its deadline and gate). */
  client: SnowflakeClient;
  /** The account as the connection names it (SFAUTH_ACCOUNT) and its JWT form (journals, locks). */
  account: string;
  jwtAccount: string;
  target: string;
  name: string;
  /** `--grace` in hours (default 24; 0: the old secret is removed once the new one is delivered). */
  graceHours: number;
  /** `--if-expiring-within`, in seconds. */
  threshold?: number;
  dest: SecretDestination;
  apply: boolean;
  deadline: number;
  timeoutLabel: string;
  storeTimeoutMs: number;
  throttle?: Throttle;
  pausedBase?: number;
  /** On a terminal at --apply: show the plan and ask (throws ERR_CANCELLED on anything but yes). */
  confirm?(plan: PatPlan): Promise<void>;
}

export interface PatPlan {
  user: string;
  name: string;
  roleRestriction: string | null;
  expiresAt: Date | null;
  /** The hours the ROTATE asks the old secret to live (before `--grace 0` removes it). */
  rotateHours: number;
  graceHours: number;
  /** When the old secret stops working, as planned (with --grace 0: once the new one is delivered). */
  oldSecretEndsAt: Date | null;
  sql: string[];
  destination: string;
  /** An unfinished rotation of this token is resumed. */
  resumes: PatJournal['step'] | null;
  /** The old secret has less than an hour left: the ROTATE ends it at once (nothing can extend it). */
  endsAtRotate: boolean;
}

export type PatOutcome =
  | { outcome: 'planned'; plan: PatPlan }
  | { outcome: 'not-due'; token: PatToken; explanation: string }
  | { outcome: 'rotated'; plan: PatPlan; token: PatToken; rotatedTokenName: string | null; oldSecretEndsAt: Date | null; statementsRun: string[]; notes: string[] };

interface Run extends PatRotationRequest {
  path: string;
  journal: PatJournal;
  /** The new secret, between ROTATE and delivery: memory only. */
  secret?: string;
  loginName: string;
  roleRestriction: string | null;
  statementsRun: string[];
  notes: string[];
  last?: PatToken[];
}

export async function rotatePatUser(req: PatRotationRequest): Promise<PatOutcome> {
  const { ctx, target, name } = req;
  const path = patJournalPath(ctx, req.jwtAccount, target, name);
  const lock = req.apply ? acquireRotationLock(ctx.env, homeDirOf(ctx), req.jwtAccount, target, ctx.now()) : undefined;
  try {
    const pending = readPatJournal(path, req.jwtAccount, target, name);
    const read = await readUserTokens(req.client, target);
    if (!read.pats.available) throw unavailable(read.pats.why);
    const pats = read.pats.pats;
    const token = patNamed(pats, name);
    if (!token) {
      throw new CheckFailedError('ERR_PAT_NOT_FOUND', `${target} has no programmatic access token named ${name}`, {
        hint: `create it: sfauth register --target-user ${target} --pat ${name} --apply`,
        details: pats.length ? [`tokens: ${pats.map((t) => t.name).join(', ')}`] : [],
        data: { pat: name },
      });
    }
    const now = ctx.now();
    if (!pending && !patIsActive(token, now)) {
      const disabled = token.status === 'DISABLED';
      throw new CheckFailedError('ERR_PAT_NOT_ACTIVE', `token ${name} of ${target} is ${disabled ? 'disabled' : 'expired'}: a new secret for it would not authenticate`, {
        hint: disabled ? `enable it first (sfauth revoke --target-user ${target} --pat ${name} --enable --apply), or create a new one` : `an expired token cannot be brought back: sfauth register --target-user ${target} --pat NEW_NAME --apply, then revoke this one`,
        data: { pat: name, status: token.status },
      });
    }
    if (!pending && req.threshold !== undefined && token.expiresAt && token.expiresAt.getTime() - now > req.threshold * 1000) {
      return { outcome: 'not-due', token, explanation: `token ${name} of ${target} expires ${timeText(token.expiresAt)}, in ${formatDuration((token.expiresAt.getTime() - now) / 1000)}: more than ${formatDuration(req.threshold)}; nothing to do` };
    }
    if (!pending) assertBelowLimit(target, pats, now, `rotating ${name} (its rotated-out object counts)`);
    // --out over an existing file is refused, unless this run only finishes a rotation already delivered.
    if (req.dest.kind === 'file' && req.dest.taken && !(pending && (pending.step === 'handed-over' || pending.step === 'retired'))) throw req.dest.taken;
    const plan = planOf(req, token, pending, now);
    if (!req.apply) return { outcome: 'planned', plan };
    await req.confirm?.(plan);

    const journal: PatJournal = pending ?? {
      version: 1,
      kind: 'sfauth-rotate-pat',
      account: req.jwtAccount.toUpperCase(),
      targetUser: target,
      targetKey: normalizeUserName(target),
      name,
      roleRestriction: token.roleRestriction,
      graceHours: req.graceHours,
      destination: req.dest.kind,
      knownRotated: rotatedOutOf(pats, name).map((t) => t.name),
      rotatedTokenName: null,
      lost: [],
      createdAt: new Date(now).toISOString(),
      updatedAt: new Date(now).toISOString(),
      step: 'written',
    };
    const r: Run = { ...req, path, journal, loginName: read.description.loginName ?? target, roleRestriction: token.roleRestriction, statementsRun: [], notes: [] };
    if (pending) {
      // A killed run's store command may still be running with the secret it was given (now lost):
      // it must not write that over the newer secret this run delivers.
      if (pending.storeProcess) {
        if (killGroupIfSame(pending.storeProcess)) r.notes.push(`stopped the store command the earlier run left running (process group ${pending.storeProcess.pid}): it held the lost secret`);
        else if (pending.storeProcess.start === null && processAlive(pending.storeProcess.pid)) ctx.out.warn(`the store command of an earlier run may still be running (pid ${pending.storeProcess.pid}); it holds a lost secret: make sure it cannot write it over the new one`);
        r.journal = updatePatJournal(path, r.journal, { storeProcess: null }, now);
      }
      // A run stopped between ROTATE and delivery: its secret was never written anywhere.
      if (pending.step === 'registered' || pending.step === 'verified') {
        r.notes.push(`an earlier run stopped after Snowflake made a new secret for ${name} and before it was delivered; that secret is lost, so the token is rotated again and the object holding it removed`);
        r.journal = updatePatJournal(path, r.journal, { step: 'written' }, now);
      } else if (pending.step === 'written') {
        r.notes.push(`resuming the unfinished rotation of ${name} begun ${timeText(pending.createdAt)}`);
      }
      // The rerun keeps the first run's --grace: the rotated-out object was made with it.
      r.graceHours = pending.graceHours;
    } else {
      preparePatJournalFolder(ctx, path);
      writePatJournal(path, journal, true);
    }
    setInterruptHint('run the same command again: it rotates the token again, delivers the newest secret and removes the token object whose secret was lost');
    await runStates({
      state: () => r.journal.step,
      transitions: {
        written: () => rotate(r),
        registered: () => verify(r),
        verified: () => deliver(r),
        'handed-over': () => retire(r),
        // A token rotation never waits for a delivery by hand: delivering is one of its steps.
        'awaiting-delivery': () => retire(r),
        retired: () => confirm(r),
      },
      record: (_from, next) => {
        r.journal = updatePatJournal(path, r.journal, { step: next }, ctx.now());
      },
    });
    // A journal left at `complete` (killed before it went): the confirmation is read again.
    if (!r.last) r.last = await freshList(r, 'confirming');
    removePatJournal(path);
    const now2 = ctx.now();
    const fresh = patNamed(r.last, name);
    if (!fresh) throw new CheckFailedError('ERR_ROTATION_UNCONFIRMED', `the tokens of ${target} no longer list ${name}`, { hint: 'someone removed it meanwhile; check with sfauth status' });
    const rotatedObj = r.journal.rotatedTokenName ? patNamed(r.last, r.journal.rotatedTokenName) : undefined;
    return {
      outcome: 'rotated',
      plan,
      token: fresh,
      rotatedTokenName: r.journal.rotatedTokenName,
      oldSecretEndsAt: rotatedObj?.expiresAt ?? (r.graceHours === 0 ? new Date(now2) : null),
      statementsRun: r.statementsRun,
      notes: r.notes,
    };
  } finally {
    lock?.release();
    setInterruptHint(undefined);
  }
}

function planOf(req: PatRotationRequest, token: PatToken, pending: PatJournal | null, nowMs: number): PatPlan {
  const graceHours = pending?.graceHours ?? req.graceHours;
  const rotateHours = rotateGraceHours(graceHours === 0 ? DEFAULT_GRACE_HOURS : graceHours, token.expiresAt, nowMs);
  const sql = [rotatePatSql(req.target, req.name, rotateHours)];
  if (graceHours === 0) sql.push(removePatSql(req.target, `${req.name}_ROTATED_<ms>`, true));
  return {
    user: req.target,
    name: req.name,
    roleRestriction: token.roleRestriction,
    expiresAt: token.expiresAt,
    rotateHours,
    graceHours,
    oldSecretEndsAt: graceHours === 0 ? null : new Date(nowMs + rotateHours * 3_600_000),
    sql,
    destination: req.dest.kind,
    resumes: pending?.step ?? null,
    endsAtRotate: rotateHours === 0,
  };
}

async function freshList(r: Run, what: string): Promise<PatToken[]> {
  try {
    const listing = await showPats(r.client, r.target);
    if (!listing.available) throw unavailable(listing.why);
    return listing.pats;
  } catch (err) {
    if (!isSfauthError(err)) throw err;
    throw new ServiceError(err.code, `could not list the tokens of ${r.target} again before ${what}: ${err.message}`, { hint: 'run the same command again to finish', details: err.details, data: err.data });
  }
}

async function run(r: Run, sql: string): Promise<void> {
  await r.client.execute(sql);
  r.statementsRun.push(sql);
}

/**
 * Before a REMOVE, a fresh listing: each object to remove must be a rotated-out object of this token
 * (or gone already), and never the one whose secret the program still uses.
 */
async function assertRemovable(r: Run, names: readonly string[], keep: string | null): Promise<void> {
  const pats = await freshList(r, 'removing a rotated-out object');
  for (const n of names) {
    const t = patNamed(pats, n);
    if (n === keep || (t && t.rotatedTo !== r.name)) {
      throw new CheckFailedError('ERR_ROTATION_CONFLICT', `${n} is not a rotated-out object of ${r.name} holding a lost secret; nothing was removed`, {
        details: [`listed now: ${pats.map((p) => `${p.name}${p.rotatedTo ? ` (rotated out of ${p.rotatedTo})` : ''}`).join(', ') || 'no tokens'}`],
        hint: 'someone changed the tokens meanwhile, or the journal is not this rotation\'s; check with sfauth status',
        data: { step: r.journal.step, pat: r.name },
      });
    }
  }
}

/** Removes the objects holding lost secrets (IF EXISTS: a rerun finds some gone), then forgets them. */
async function removeLost(r: Run): Promise<void> {
  if (r.journal.lost.length === 0) return;
  await assertRemovable(r, r.journal.lost, r.journal.rotatedTokenName);
  for (const name of r.journal.lost) {
    const step = await r.ctx.progress.step(`Removing ${name}: it holds a secret that was never delivered`);
    try {
      await run(r, removePatSql(r.target, name, true));
    } catch (err) {
      step.fail(`Could not remove ${name}`);
      throw err;
    }
    step.succeed(`Removed ${name} (its secret was lost before delivery)`);
  }
  r.journal = updatePatJournal(r.path, r.journal, { lost: [] }, r.ctx.now());
}

// written → registered: ROTATE, the new secret into memory.
async function rotate(r: Run): Promise<RotationState> {
  const pats = await freshList(r, 'the ROTATE');
  const token = patNamed(pats, r.name);
  if (!token || token.rotatedTo) {
    throw new CheckFailedError('ERR_ROTATION_CONFLICT', `token ${r.name} of ${r.target} is gone`, { hint: 'someone removed it meanwhile; sfauth status shows the tokens now', data: { step: 'rotate' } });
  }
  // Rotated-out objects nobody recorded: the first is what an unrecorded first ROTATE left (the
  // program's secret); any later one holds a secret a stopped run made and lost.
  const known = new Set([...r.journal.knownRotated, ...(r.journal.rotatedTokenName ? [r.journal.rotatedTokenName] : []), ...r.journal.lost]);
  const unaccounted = rotatedOutOf(pats, r.name).map((t) => t.name).filter((n) => !known.has(n));
  if (unaccounted.length) {
    if (!r.journal.rotatedTokenName) r.notes.push(`an earlier run's ROTATE of ${r.name} took effect but its answer, the only copy of the new secret, never arrived; that secret is lost, so the token is rotated again and the object holding it removed`);
    const rotatedTokenName = r.journal.rotatedTokenName ?? unaccounted[0]!;
    const lost = [...r.journal.lost, ...unaccounted.filter((n) => n !== rotatedTokenName)];
    r.journal = updatePatJournal(r.path, r.journal, { rotatedTokenName, lost }, r.ctx.now());
  }
  await removeLost(r);
  // The token itself holds a lost secret when it was rotated before: that secret ends at once.
  const relost = r.journal.rotatedTokenName !== null;
  const now = r.ctx.now();
  const hours = relost ? 0 : rotateGraceHours(r.graceHours === 0 ? DEFAULT_GRACE_HOURS : r.graceHours, token.expiresAt, now);
  if (!relost && pats.filter((t) => patCounts(t, now)).length >= 15) assertBelowLimit(r.target, pats, now, `rotating ${r.name}`);
  const sql = rotatePatSql(r.target, r.name, hours);
  const step = await r.ctx.progress.step(`Rotating token ${r.name} of ${r.target}`);
  let answer;
  try {
    answer = secretOf(await r.client.execute(sql), 'ROTATE PROGRAMMATIC ACCESS TOKEN');
    r.statementsRun.push(sql);
  } catch (err) {
    step.fail(`Could not rotate token ${r.name}`);
    throw err;
  }
  r.secret = answer.secret;
  const out = answer.rotatedTokenName;
  if (relost) {
    r.journal = updatePatJournal(r.path, r.journal, { lost: out ? [...r.journal.lost, out] : r.journal.lost, step: 'registered' }, r.ctx.now());
    step.succeed(`Rotated token ${r.name} of ${r.target} again${out ? ` (${out} holds the lost secret)` : ''}`);
    await removeLost(r);
  } else {
    r.journal = updatePatJournal(r.path, r.journal, { rotatedTokenName: out, step: 'registered' }, r.ctx.now());
    step.succeed(`Rotated token ${r.name} of ${r.target}: the old secret lives on as ${out ?? 'a rotated-out object'} for ${hours} h`);
  }
  return 'registered';
}

// registered → verified: the new secret authenticates, with the token's role restriction.
async function verify(r: Run): Promise<RotationState> {
  if (r.secret === undefined) return 'written';
  const verifier = makeClient(
    {
      baseUrl: r.session.baseUrl,
      credential: { kind: 'pat', token: r.secret },
      identity: { account: r.session.identity.account, user: r.loginName, authMethod: 'programmatic access token' },
      deadline: r.deadline,
      timeoutLabel: r.timeoutLabel,
      ...(r.roleRestriction ? { role: r.roleRestriction } : {}),
      ...(r.throttle ? { throttle: r.throttle, pausedBase: r.pausedBase ?? 0 } : {}),
    },
    r.ctx,
  );
  const step = await r.ctx.progress.step(`Verifying the new secret: authenticating as ${r.loginName}${r.roleRestriction ? ` with role ${r.roleRestriction}` : ''}`);
  let outcome;
  try {
    outcome = await verifyNewKey(verifier, { now: r.ctx.now, deadline: r.deadline, onRetry: (n) => step.update(`Verifying the new secret: refused (attempt ${n}), waiting`) });
  } catch (err) {
    step.fail('Could not verify the new secret');
    throw lostSecret(r, err);
  }
  if (!outcome.ok) {
    step.fail(`The new secret was refused ${outcome.attempts} time${outcome.attempts === 1 ? '' : 's'}`);
    throw lostSecret(r, outcome.lastError);
  }
  step.succeed(`Verified: authenticated as ${outcome.user ?? r.loginName} with the new secret`);
  return 'verified';
}

// verified → handed-over: the secret to its one place; then it is dropped from memory.
async function deliver(r: Run): Promise<RotationState> {
  if (r.secret === undefined) return 'written';
  const pats = await freshList(r, 'the delivery');
  const token = patNamed(pats, r.name);
  // The store's process group goes into the journal first: if this run is killed while it runs, the
  // rerun stops it before it can write the lost secret over the newer one.
  const recordStore = (pid: number) => {
    r.journal = updatePatJournal(r.path, r.journal, { storeProcess: identityOf(pid) }, r.ctx.now());
  };
  try {
    await deliverSecret(r.ctx, r.dest, r.secret, { account: r.account, user: r.target, name: r.name, expiresAt: token?.expiresAt ?? null, roleRestriction: r.roleRestriction }, { ms: r.storeTimeoutMs, label: r.timeoutLabel }, recordStore);
  } catch (err) {
    throw lostSecret(r, err);
  } finally {
    if (r.journal.storeProcess) r.journal = updatePatJournal(r.path, r.journal, { storeProcess: null }, r.ctx.now());
  }
  r.secret = undefined;
  return 'handed-over';
}

// handed-over → retired: with --grace 0, the old secret goes now that the new one is where it is read.
async function retire(r: Run): Promise<RotationState> {
  const old = r.journal.rotatedTokenName;
  if (r.graceHours !== 0 || !old) return 'retired';
  await assertRemovable(r, [old], null);
  const step = await r.ctx.progress.step(`Removing ${old}: the old secret of ${r.name}`);
  try {
    await run(r, removePatSql(r.target, old, true));
  } catch (err) {
    step.fail(`Could not remove ${old}`);
    throw err;
  }
  step.succeed(`Removed ${old} (the old secret of ${r.name}; the new one was delivered)`);
  return 'retired';
}

// retired → complete: the listing shows the rotation.
async function confirm(r: Run): Promise<RotationState> {
  const pats = await freshList(r, 'confirming');
  r.last = pats;
  const token = patNamed(pats, r.name);
  const problem = !token
    ? `${r.name} is not listed`
    : !patIsActive(token, r.ctx.now())
      ? `${r.name} is ${token.status}`
      : r.journal.lost.some((n) => patNamed(pats, n))
        ? 'an object holding a lost secret is still listed'
        : r.graceHours === 0 && r.journal.rotatedTokenName && patNamed(pats, r.journal.rotatedTokenName)
          ? `${r.journal.rotatedTokenName} is still listed`
          : null;
  if (problem) {
    throw new CheckFailedError('ERR_ROTATION_UNCONFIRMED', `the tokens of ${r.target} do not show the rotation: ${problem}`, { hint: 'someone may have changed them meanwhile; check with sfauth status, then run the same command again' });
  }
  return 'complete';
}

/** The secret was made but not delivered: say what the rerun does, and that the old secret still works. */
function lostSecret(r: Run, err: unknown): unknown {
  r.secret = undefined;
  if (!isSfauthError(err)) return err;
  const e = err as SfauthError;
  const old = r.journal.rotatedTokenName;
  return new (e.exitCode === 3 ? ServiceError : CheckFailedError)(e.code, e.message, {
    details: [...(e.details ?? []), `the new secret of ${r.name} was not delivered and is lost; the program's secret still works${old ? ` (${old}, until its grace ends)` : ''}`],
    hint: 'fix the cause, then run the same command again: it rotates the token again, delivers the newest secret and removes the object holding the lost one',
    data: { ...(e.data ?? {}), step: r.journal.step, pat: r.name, ...(old ? { rotatedTokenName: old } : {}) },
  });
}

export { destinationWords };
