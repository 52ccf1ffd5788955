/**
 * One user's rotation from start to finish (DESIGN.md §3 "Rotation"): find an unfinished rotation's
 * journal, take the user's lock, read the keys, plan (src/keys/rotation-target.ts picks a legacy slot,
 * a named pair or a migration, or refuses), write the new key and its journal, and run the engine
 * (engine.ts). It returns what happened; how that is shown is the caller's (commands/rotate.ts for one
 * user, the fleet for many). Interrupted anywhere and run again with the same inputs, it finds its
 * journal, re-reads the keys to see which steps took effect, and finishes the same rotation.
 */
import { timeText } from '../core/time-text.js';
import { existsSync, unlinkSync } from 'node:fs';
import { deliveryHint, homeWords, type DeliveryPlan } from './delivery.js';
import { appendHistory, entriesOf, readHistory, rewriteHistory, rotatedOut, rotatedOutWords, type HistoryEntry } from './history.js';
import { publicKeyPathFor } from '../commands/keygen.js';
import { dirname, resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { CheckFailedError, isSfauthError, UsageError } from '../errors.js';
import { sameFingerprint, fingerprintOf } from '../core/fingerprint.js';
import { generateKeyPair, privateKeyPem, type KeySpec } from '../core/generate-key.js';
import { publicKeyBody, publicKeyPem } from '../core/public-key-body.js';
import { isOlderThan, normalizeUserName, unsafeSet } from '../core/rotation-plan.js';
import { journalMatches, pendingJournal, reached, type RotationJournal, type RotationTarget } from '../core/rotation-journal.js';
import { slotProperty } from '../core/sql.js';
import { assertCanCreate, writeNewFiles } from '../io/files.js';
import type { LoadedKey } from '../io/load-key.js';
import { displayPath } from '../io/paths.js';
import { setInterruptHint } from '../io/cleanup.js';
import { isAuthenticatingUser, keysSummary, placeHolding, readUserKeys, viewOf, type UserKeys } from '../keys/read.js';
import { chooseTarget, holdsActive, observe, placeOf, roleOf, type KeysView } from '../keys/rotation-target.js';
import { isActive, setTimeOf, type RegisteredKey } from '../keys/types.js';
import type { SnowflakeClient } from '../snowflake/client.js';
import { homeDirOf, keyPairCredential, makeClient, type Session } from '../snowflake/session.js';
import type { Throttle } from '../snowflake/throttle.js';
import { advance, type Engine, type Rotation } from './engine.js';
import { handOver, inPlaceBackupPath, type HandOverOptions, type HandOverReport } from './hand-over.js';
import { lostKeyError, rotationKeys, unaccountedError, unsafeError } from './failure.js';
import { findJournals, journalFile, type FoundJournal } from './journal.js';
import { acquireRotationLock } from './lock.js';
import {
  defaultKeyDir,
  describeSpec,
  loadJournaledKey,
  newKeyPaths,
  newKeySpec,
  passphraseValue,
  planPassphrase,
  type NewKeyFlags,
  type NewKeyPaths,
  type PassphrasePlan,
} from './new-key.js';
import { buildSteps, fillPublicKey, pairReports, setStatus, stepName, type DeliveryReport, type KeyMarks, type RotateReport, type SlotReport } from './report.js';
import type { NamedPairSpec } from '../commands/key-pair-flags.js';

/** How the caller shows a rotation while it runs. */
export interface RotationDisplay {
  /** The plan (before --apply, and at --apply once the new key exists). */
  plan(report: RotateReport, view: KeysView, marks: KeyMarks): void;
  /** The report as it stands when a step fails (the --json document goes out before the error). */
  document(report: RotateReport): void;
  /** On a terminal at --apply: ask before anything is written (throws ERR_CANCELLED on anything but yes). */
  confirm?(report: RotateReport): Promise<void>;
}

/** One user's rotation, as the flags and the session give it. */
export interface RotationRequest {
  ctx: CommandContext;
  /** keygen's flags for the new key, `--out`, `--overwrite-other`, the connection's name. */
  options: NewKeyFlags & { overwriteOther?: boolean; connection?: string };
  session: Session;
  account: string;
  /** JWT form of the account. */
  jwtAccount: string;
  target: string;
  /** The authenticating user rotates its own key. */
  self: boolean;
  keepOld: boolean;
  apply: boolean;
  /** `--key-pair` with keygen's pair flags (a migration's new pair). */
  pair?: NamedPairSpec;
  graceHours?: number;
  /** `--if-older-than`, in seconds. */
  threshold?: number;
  /** Step 6: `--store-cmd` and/or `--update-connection`. */
  handOver?: HandOverOptions;
  /**
   * Where new keys go when neither `--out` nor the current key's folder says (`--store-cmd` without
   * `--out`: sfauth's own state folder, and the private key file is removed once handed over).
   */
  keyDir?: string;
  /** Remove the new private key file once the rotation is complete (it lives in the store). */
  removeKeyWhenDone?: boolean;
  /** Where the program that uses the old key reads it from, and whether this run's hand-over reaches it. */
  delivery: DeliveryPlan;
  /** `--retire-now`: retire the old key after verification even when the new key was not delivered. */
  retireNow?: boolean;
  /** `--finish`: retire the old key of a rotation awaiting delivery (nothing else). */
  finish?: boolean;
  /** `--keep-old-key-file`: leave the private key files of retired keys alone. */
  keepOldKeyFile?: boolean;
  /** A fleet's one read of the history (this user's entries are picked from it). */
  history?: readonly HistoryEntry[];
  /** A fleet's one scan of its --out-dir (this user's journals are picked from it). */
  journals?: FoundJournal[];
  /** A fleet's: the client for this user (its own deadline, the shared rate-limit gate), and its deadline. */
  client?: SnowflakeClient;
  deadline?: number;
  throttle?: Throttle;
  /** The gate's pause total when `deadline` was set: later pauses move the deadline. */
  pausedBase?: number;
  show: RotationDisplay;
}

export type RotationOutcome =
  | { outcome: 'planned'; report: RotateReport }
  | { outcome: 'rotated'; report: RotateReport; journal: RotationJournal; view: KeysView }
  | { outcome: 'awaiting-delivery'; report: RotateReport; journal: RotationJournal; view: KeysView }
  | { outcome: 'nothing-to-finish'; message: string }
  | { outcome: 'already-done'; entry: HistoryEntry; message: string; view: KeysView }
  | { outcome: 'not-due'; key: RegisteredKey; view: KeysView; spec: KeySpec; explanation: string };

/** Everything one run knows, shared by the fresh and the resumed paths. */
interface Run extends RotationRequest {
  /** The target's current key, when it is the key we authenticate with. */
  currentKey?: LoadedKey;
  localFingerprint: string | null;
  notes: string[];
  /** The client for reads and ALTERs: the session's, or the new key's once the old one is gone. */
  worker: SnowflakeClient;
  /** The trusted journals of this target where this run puts its key. */
  journals: FoundJournal[];
  /** This user's completed rotations (the history file). */
  history: HistoryEntry[];
}

export async function rotateUser(req: RotationRequest): Promise<RotationOutcome> {
  const { ctx, options, session, target, self } = req;
  const r: Run = {
    ...req,
    currentKey: self ? session.key : undefined,
    localFingerprint: session.key ? (session.identity.fingerprint ?? null) : null,
    notes: [],
    worker: req.client ?? session.client,
    journals: [],
    history: entriesOf(req.history ?? readHistory(ctx.env, homeDirOf(ctx)), req.jwtAccount, target),
  };
  // The journal of an unfinished rotation, looked for where this run would put its key.
  const spec = newKeySpec(options, r.currentKey);
  const searchDir = options.out ? dirname(resolve(ctx.cwd, options.out)) : (req.keyDir ?? defaultKeyDir(ctx, r.currentKey));
  if (req.journals) {
    r.journals = req.journals.filter((j) => journalMatches(j.journal, r.jwtAccount, target));
  } else {
    const scan = await findJournals(searchDir, { account: r.jwtAccount, targetUser: target, selfFingerprint: self ? r.localFingerprint : null });
    for (const why of scan.ignored) ctx.out.warn(why);
    r.journals = scan.found;
  }
  const pendingJ = pendingJournal(r.journals.map((j) => j.journal));
  const pending = pendingJ ? r.journals.find((j) => j.journal === pendingJ) : undefined;
  if (req.finish && !pending) {
    return { outcome: 'nothing-to-finish', message: `no rotation of ${target} awaits delivery here: --finish has nothing to do` };
  }
  // A new rotation's inputs are checked before the network: a misconfigured cron job fails every
  // time, not only on the day the key is due.
  const fresh = pending ? undefined : { passphrase: await planPassphrase(options, ctx, r.currentKey, target), paths: newKeyPaths(options, ctx, r.currentKey, spec, target, ctx.now(), req.keyDir) };
  if (fresh && r.apply) assertCanCreate(fresh.paths.privateKeyPath);

  // Two rotations of one user never interleave: the second waits for nothing, it stops.
  const lock = r.apply ? acquireRotationLock(ctx.env, homeDirOf(ctx), r.jwtAccount, target, ctx.now()) : undefined;
  try {
    const read = await readKeys(r, pending);
    if (!self && isAuthenticatingUser(read, target, { user: session.identity.user })) {
      // An admin or fleet run never rotates (and so never retires) the key it authenticates with.
      throw new UsageError('ERR_TARGET_IS_SELF', `${target} is the user this command authenticates as (LOGIN_NAME ${read.description.loginName ?? target})`, {
        hint: 'rotate your own key on its own (sfauth rotate without --target-user or --targets); a fleet is rotated by an admin',
        data: { user: target },
      });
    }
    if (r.apply) sweepRetiredKeyFiles(r, viewOf(read));
    if (pending) return await resume(r, pending, read);
    return await rotateFresh(r, read, spec, fresh!, r.threshold);
  } finally {
    lock?.release();
    setInterruptHint(undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// A rotation that starts now: plan, write the key and the journal, run the engine.

async function rotateFresh(r: Run, read: UserKeys, spec: KeySpec, fresh: { passphrase: PassphrasePlan; paths: NewKeyPaths }, threshold: number | undefined): Promise<RotationOutcome> {
  const { ctx, options, self, target } = r;
  const view = viewOf(read);
  const now = ctx.now();

  // A finished rotation of this very key whose new key is still registered: nothing to do.
  const finished = self && r.localFingerprint ? [...r.history].reverse().find((e) => sameFingerprint(e.oldFingerprint, r.localFingerprint) && holdsActive(view, e.newFingerprint, now)) : undefined;
  if (finished) return alreadyDone(r, finished, view);

  const choice = chooseTarget({
    view,
    localFingerprint: self ? r.localFingerprint : null,
    ...(r.pair ? { keyPair: r.pair.name, newPair: r.pair } : {}),
    ...(r.graceHours !== undefined ? { graceHours: r.graceHours } : {}),
    keepOld: r.keepOld,
    now,
  });
  r.notes.push(...choice.notes);
  const t = choice.target;

  if (threshold !== undefined) {
    // Judged on the key actually held: a recovery is always due; so is, for an admin, a pair whose
    // rotated-out key still works while nothing here records where its new key went (a runner that
    // died between the ROTATE and the hand-over leaves exactly that).
    const unrecorded =
      !self &&
      t.kind === 'pair' &&
      view.pairs.some((p) => p.name.startsWith(`${t.name}_ROTATED_`) && isActive(p, now)) &&
      !r.history.some((e) => sameFingerprint(e.newFingerprint, choice.oldFingerprint));
    const due = choice.recovery === true || unrecorded || !choice.oldKey || isOlderThan(setTimeOf(choice.oldKey), threshold, now);
    if (!due) return { outcome: 'not-due', key: choice.oldKey!, view, spec, explanation: choice.explanation };
  }

  const { passphrase, paths } = fresh;
  if (passphrase.source === 'none' && options.encrypt !== false) r.notes.push(passphrase.describe);
  // The new key authenticates as the target's LOGIN_NAME (for a self-rotation: the login used now).
  const loginName = read.description.loginName ?? (self && r.session.connection.user ? r.session.connection.user : target);
  const display = (p: string) => displayPath(p, ctx.cwd);
  const steps = buildSteps({
    user: target,
    loginName,
    target: t,
    keepOld: r.keepOld,
    hasOld: choice.oldFingerprint !== null,
    newPublicKey: null,
    ...paths,
    choice: choice.explanation,
    ...handOverWords(r),
    awaiting: !mayRetire(r),
    display,
  });
  setStatus(steps, 'describe', 'done');
  setStatus(steps, stepName(t.kind, 'choose'), 'done');
  const report = newReport(r, t, { oldFingerprint: choice.oldFingerprint, newFingerprint: null, ...paths, newKey: keyInfo(spec, passphrase), choice: choice.explanation, steps, view, resumed: false });
  report.delivery = deliveryReport(r, t, choice.oldFingerprint, paths.privateKeyPath, view);
  const marks = keyMarks(r, view, t, choice.oldFingerprint);
  const refusal = slotRefusal(r, view, t);

  if (!r.apply) {
    if (refusal) r.notes.push(refusal.note);
    r.show.plan(report, view, marks);
    return { outcome: 'planned', report };
  }
  if (refusal) throw refusal.error;
  if (r.show.confirm) {
    r.show.plan(report, view, marks);
    await r.show.confirm(report);
  }

  // Make the key and write it (with the journal) before anything changes on the server.
  const secret = await passphraseValue(passphrase, ctx, display(paths.privateKeyPath));
  const genStep = await ctx.progress.step(`Generating the new ${describeSpec(spec)} key`, { quiet: true });
  const pair = await generateKeyPair(spec);
  genStep.succeed();
  const body = publicKeyBody(pair.publicKey);
  const newFingerprint = fingerprintOf(pair.publicKey);
  report.newFingerprint = newFingerprint;
  fillPublicKey(steps, target, t, body);
  if (!r.show.confirm) r.show.plan(report, view, marks);

  const at = new Date(now).toISOString();
  const journal: RotationJournal = {
    version: 2,
    kind: 'sfauth-rotate',
    account: r.jwtAccount,
    targetUser: target,
    targetKey: normalizeUserName(target),
    loginName,
    self,
    target: t,
    oldFingerprint: choice.oldFingerprint,
    newFingerprint,
    newPublicKey: body,
    privateKeyPath: paths.privateKeyPath,
    publicKeyPath: paths.publicKeyPath,
    keyType: spec.type,
    ...(spec.type === 'rsa' ? { bits: spec.bits } : { curve: spec.curve }),
    encrypted: passphrase.encrypted,
    passphraseSource: passphrase.source,
    authFingerprint: r.localFingerprint,
    createdAt: at,
    updatedAt: at,
    step: 'written',
  };
  const write = await ctx.progress.step(`Writing ${display(paths.privateKeyPath)}`);
  const pem = Buffer.from(privateKeyPem(pair.privateKey, secret));
  try {
    writeNewFiles(
      [
        journalFile(paths.journalPath, journal), // first: a key file never exists without its journal
        { path: paths.privateKeyPath, data: pem, mode: 0o600 },
        { path: paths.publicKeyPath, data: publicKeyPem(pair.publicKey), mode: 'umask' },
      ],
      { overwrite: false },
    );
  } catch (err) {
    write.fail(`Could not write ${display(paths.privateKeyPath)}`);
    if (isSfauthError(err) && err.code === 'ERR_FILE_EXISTS') {
      throw new UsageError(err.code, err.message, { hint: 'another sfauth rotate may be writing the same new key; let it finish (then run this again to see its result), or choose another --out' });
    }
    throw err;
  }
  write.succeed(`Wrote ${display(paths.privateKeyPath)} (0600), ${display(paths.publicKeyPath)} and the journal`);
  setStatus(steps, 'write-key', 'done');
  report.applied = true;

  const newKey: LoadedKey = { ...loadedFrom(pair.privateKey, pair.publicKey, spec, passphrase.encrypted), label: display(paths.privateKeyPath), path: paths.privateKeyPath };
  const rotation: Rotation = { path: paths.journalPath, journal, newKey, newKeyPem: pem, planned: view };
  const engine = engineFor(r, report);
  const done = await advance(engine, rotation);
  return completed(r, report, rotation, done, engine.lastView ?? view);
}

/** A legacy SET that could remove the only working key, or overwrite a key nothing accounts for. */
function slotRefusal(r: Run, view: KeysView, t: RotationTarget): { error: CheckFailedError; note: string } | null {
  if (t.kind !== 'slot') return null;
  const unsafe = unsafeSet(view.slots, t.newSlot, r.localFingerprint);
  if (unsafe) {
    return {
      error: unsafeError(r.target, t.newSlot, unsafe),
      note: `--apply would refuse: ${unsafe}, and setting slot ${t.newSlot} could leave no working key`,
    };
  }
  const replaced = t.replacesFingerprint;
  if (replaced && !r.options.overwriteOther && !accountedFor(r, replaced)) {
    return {
      error: unaccountedError(r.target, t.newSlot, replaced),
      note: `--apply would refuse: ${slotProperty(t.newSlot)} holds ${replaced}, a key no rotation here accounts for (--overwrite-other replaces it)`,
    };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Step 1, with the fallback an interrupted self-rotation needs: its old key may already be retired.

async function readKeys(r: Run, pending: FoundJournal | undefined): Promise<UserKeys> {
  const { ctx, target } = r;
  const step = await ctx.progress.step(`Reading the keys of ${target}`);
  try {
    const read = await readUserKeys(r.worker, target);
    step.succeed(`Read the keys of ${target}: ${keysSummary(viewOf(read))}`);
    return read;
  } catch (err) {
    if (isSfauthError(err) && err.code === 'ERR_AUTH_REFUSED' && r.self && r.currentKey) {
      if (pending && existsSync(pending.journal.privateKeyPath)) {
        const newKey = await loadJournaledKey(pending.journal, r.options, ctx, r.currentKey);
        r.worker = newKeyClient(r, newKey, pending.journal.loginName, roleOf(pending.journal.target));
        r.notes.push('the current key was refused (the unfinished rotation had already retired it); continued with the new key');
        try {
          const read = await readUserKeys(r.worker, target);
          step.succeed(`Read the keys of ${target} with the new key: ${keysSummary(viewOf(read))}`);
          return read;
        } catch (err2) {
          step.fail(`Could not read the keys of ${target}`);
          throw err2;
        }
      }
      const out = r.localFingerprint ? rotatedOut(r.history, r.localFingerprint) : null;
      if (out) {
        step.fail(`The current key was rotated out`);
        const words = rotatedOutWords(out, (p) => displayPath(p, ctx.cwd));
        throw new CheckFailedError('ERR_KEY_ROTATED', words.message, {
          details: words.details,
          hint: `${words.hint}, then run again`,
          data: { privateKeyPath: out.newest.privateKeyPath, newFingerprint: out.newest.newFingerprint },
        });
      }
    }
    step.fail(`Could not read the keys of ${target}`);
    throw err;
  }
}

function newKeyClient(r: Run, key: LoadedKey, loginName: string, role: string | null): SnowflakeClient {
  const { credential, identity } = keyPairCredential(key, r.account, loginName);
  const conn = r.session.connection;
  return makeClient(
    {
      baseUrl: r.session.baseUrl,
      credential,
      identity,
      deadline: r.deadline ?? r.session.deadline,
      timeoutLabel: r.session.timeoutLabel,
      ...(r.throttle ? { throttle: r.throttle, pausedBase: r.pausedBase ?? r.throttle.pausedMs() } : {}),
      // A role-restricted pair authenticates only with its role; otherwise the authenticating user's
      // role fits its own key, and another user may not have it.
      ...(role ? { role, warehouse: r.self ? conn.warehouse : undefined } : r.self ? { role: conn.role, warehouse: conn.warehouse } : {}),
    },
    r.ctx,
  );
}

function engineFor(r: Run, report: RotateReport): Engine {
  const engine: Engine = {
    ctx: r.ctx,
    user: r.target,
    self: r.self,
    keepOld: r.keepOld,
    overwriteOther: r.options.overwriteOther === true,
    worker: r.worker,
    deadline: r.deadline ?? r.session.deadline,
    timeoutLabel: r.session.timeoutLabel,
    clientFor: (key, loginName, role) => newKeyClient(r, key, loginName, role),
    accountedFor: (fp) => accountedFor(r, fp),
    report,
    documentOnFailure: () => r.show.document(report),
    deliveryCovered: r.delivery.covered,
    retireAnyway: r.retireNow === true || r.finish === true,
  };
  const h = r.handOver;
  if (h) {
    engine.handOver = async (rot) => {
      const got: HandOverReport = {};
      try {
        await handOver(r.ctx, rot.journal, h, got, rot.newKeyPem);
      } finally {
        if (got.store) report.store = got.store;
        if (got.connection) report.connectionUpdate = got.connection;
        if (got.inPlace) report.inPlace = got.inPlace;
      }
      const delivered = r.delivery.targets;
      rot.journal = { ...rot.journal, deliveredTo: delivered, ...(h.inPlace ? { inPlacePath: h.inPlace.path } : {}) };
    };
  }
  return engine;
}

/** Step 6 in words, when there is a hand-over. */
function handOverWords(r: Run): { handOver?: string } {
  const h = r.handOver;
  if (!h) return {};
  const parts = [
    ...(h.storeCmd ? [`run --store-cmd with the new private key on its stdin${r.removeKeyWhenDone ? ' (the key file is removed once the rotation is complete)' : ''}`] : []),
    ...(h.updateConnection ? [`point connection '${h.updateConnection.name}' (${displayPath(h.updateConnection.file, r.ctx.cwd)}) at the new key`] : []),
    ...(h.inPlace ? [`replace ${displayPath(h.inPlace.path, r.ctx.cwd)} with the new key (its old content kept 0600 beside the journal until the old key is retired)`] : []),
  ];
  return { handOver: `hand the new key over: ${parts.join('; then ')}; a failure keeps both keys registered` };
}

/**
 * Where a run ends: paused awaiting delivery, or complete. A complete rotation leaves its facts in the
 * history and no journal behind (DESIGN.md §3 v3 "Housekeeping"); a key that now lives in the store or
 * in the replaced file leaves no second copy; old key files the server no longer accepts go.
 */
function completed(r: Run, report: RotateReport, rotation: Rotation, journal: RotationJournal, view: KeysView): RotationOutcome {
  if (journal.step === 'awaiting-delivery') return { outcome: 'awaiting-delivery', report, journal, view };
  const now = r.ctx.now();
  let keyAt: string | null = journal.privateKeyPath;
  if (journal.inPlacePath) {
    // The new key lives in the file the old one was read from: the dated copy is a second copy.
    removeFile(journal.privateKeyPath);
    removeFile(journal.publicKeyPath);
    keyAt = journal.inPlacePath;
    report.privateKeyPath = journal.inPlacePath;
  } else if (r.removeKeyWhenDone) {
    removeFile(journal.privateKeyPath);
    removeFile(journal.publicKeyPath);
    report.privateKeyRemoved = true;
    keyAt = null;
  }
  const oldFiles = oldKeyFiles(r, journal.oldFingerprint, journal.privateKeyPath, journal.inPlacePath);
  const oldGone = placeHolding(view, journal.oldFingerprint, now) === null && !(journal.authFingerprint && placeHolding(view, journal.authFingerprint, now) && !sameFingerprint(journal.authFingerprint, journal.newFingerprint));
  let pending: string[] = [];
  if (!r.keepOldKeyFile && oldFiles.length) {
    if (oldGone) {
      for (const f of oldFiles) removeFile(f);
      report.removedFiles = oldFiles;
    } else {
      pending = oldFiles;
    }
  }
  const t = journal.target;
  const rotatedOutPair = t.kind === 'pair' ? view.pairs.find((p) => isRotatedOutPair(p.name, t.name) && sameFingerprint(p.fingerprint, journal.oldFingerprint)) : undefined;
  const entry: HistoryEntry = {
    at: new Date(now).toISOString(),
    account: r.jwtAccount,
    user: r.target,
    userKey: normalizeUserName(r.target),
    place: placeOf(t),
    oldFingerprint: journal.oldFingerprint,
    newFingerprint: journal.newFingerprint,
    deliveredTo: journal.deliveredTo ?? [],
    privateKeyPath: keyAt,
    oldKeyFiles: pending,
    oldKeyEnds: oldGone ? new Date(now).toISOString() : rotatedOutPair?.expiresAt ? rotatedOutPair.expiresAt.toISOString() : null,
  };
  try {
    appendHistory(r.ctx.env, homeDirOf(r.ctx), entry);
  } catch (err) {
    r.ctx.out.warn(`could not record the rotation in the history: ${isSfauthError(err) ? err.message : String(err)}`);
  }
  // The history keeps the facts; a finished journal would only be warned about by later runs.
  removeFile(rotation.path);
  return { outcome: 'rotated', report, journal, view };
}

const isRotatedOutPair = (name: string, of: string): boolean => name.startsWith(`${of}_ROTATED_`);

/**
 * The private key files of `oldFingerprint` that sfauth wrote or replaced: an earlier rotation's new
 * key file (the history says sfauth wrote it), and the old content an --in-place hand-over kept. Never
 * the file that now holds the new key.
 */
function oldKeyFiles(r: Run, oldFingerprint: string | null, newKeyPath: string, inPlacePath: string | undefined): string[] {
  const files: string[] = [];
  if (inPlacePath) files.push(inPlaceBackupPath(newKeyPath));
  if (oldFingerprint) {
    const wrote = [...r.history].reverse().find((e) => sameFingerprint(e.newFingerprint, oldFingerprint) && e.privateKeyPath);
    const p = wrote?.privateKeyPath;
    if (p && p !== inPlacePath && p !== newKeyPath) files.push(p, publicKeyPathFor(p));
  }
  return files.filter((f) => existsSync(f));
}


/**
 * Old key files left for later because the server still accepted their key (a named pair's grace
 * period): removed once a read shows that key is no longer registered.
 */
function sweepRetiredKeyFiles(r: Run, view: KeysView): void {
  const now = r.ctx.now();
  const due = r.history.filter((e) => e.oldKeyFiles.length && e.oldFingerprint && placeHolding(view, e.oldFingerprint, now) === null);
  if (!due.length) return;
  for (const e of due) for (const f of e.oldKeyFiles) removeFile(f);
  r.notes.push(`removed the files of keys that no longer work: ${due.flatMap((e) => e.oldKeyFiles).map((f) => displayPath(f, r.ctx.cwd)).join(', ')}`);
  try {
    rewriteHistory(r.ctx.env, homeDirOf(r.ctx), (e) => (due.some((d) => d.at === e.at && d.newFingerprint === e.newFingerprint) ? { ...e, oldKeyFiles: [] } : e));
  } catch {
    // the next run tries again
  }
}

/** The old key may be retired in this run: delivered everywhere, or the user says so. */
function mayRetire(r: Run): boolean {
  return r.delivery.covered || r.retireNow === true || r.finish === true;
}

/** Who keeps working and when the old key stops, for the plan and the report. */
function deliveryReport(r: Run, t: RotationTarget, oldFingerprint: string | null, newKeyPath: string, view: KeysView): DeliveryReport {
  const d = r.delivery;
  const display = (p: string) => displayPath(p, r.ctx.cwd);
  const retire = mayRetire(r);
  let stops: string;
  if (!oldFingerprint) stops = 'n/a: there is no old key';
  else if (t.kind === 'pair') {
    const pair = view.pairs.find((p) => p.name === t.name);
    const cap = pair?.expiresAt ? ` (or when the pair expires, ${timeText(pair.expiresAt)})` : '';
    stops =
      t.graceHours === 0
        ? retire
          ? 'at the end of this run (--grace 0: disabled once the new key is delivered)'
          : 'when you run --finish after deploying the new key, or at the latest when its 1 h grace period ends'
        : `at the end of the grace period, ${t.graceHours} h after the ROTATE${cap}`;
  } else if (r.keepOld) stops = 'not in this run: --keep-old keeps it registered';
  else if (retire) stops = r.retireNow && !d.covered ? 'at the end of this run (--retire-now: you deployed the new key yourself)' : 'at the end of this run, once the new key is delivered';
  else stops = 'only when you run --finish after deploying the new key: this run stops with both keys registered';
  const files = r.keepOldKeyFile ? [] : [...(r.handOver?.inPlace ? [inPlaceBackupPath(newKeyPath)] : []), ...oldKeyFiles(r, oldFingerprint, newKeyPath, undefined)];
  return {
    readFrom: homeWords(d.home, display),
    deliveredTo: d.targets,
    covered: d.covered,
    oldKeyStops: stops,
    ...(d.covered ? {} : { hint: deliveryHint(d.home) }),
    filesToRemove: files,
  };
}


function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------------
// Resuming: the journal says what was meant, the keys as read say what took effect.

async function resume(r: Run, found: FoundJournal, read: UserKeys): Promise<RotationOutcome> {
  const { ctx, target } = r;
  let journal = found.journal;
  const display = (p: string) => displayPath(p, ctx.cwd);
  const view = viewOf(read);
  const t = journal.target;
  const seen = observe(t, view, rotationKeys(journal), ctx.now());
  r.notes.push(`resuming the unfinished rotation begun ${timeText(journal.createdAt)} (journal ${display(found.path)}, last step: ${journal.step})`);
  if (r.options.out && resolve(ctx.cwd, r.options.out) !== journal.privateKeyPath) {
    r.notes.push(`--out is ignored: the unfinished rotation's key is ${display(journal.privateKeyPath)}`);
  }
  const planned = t.kind === 'slot' ? null : t.name;
  if (r.pair && r.pair.name !== planned) r.notes.push(`--key-pair ${r.pair.name} is ignored: the unfinished rotation is of ${placeOf(t)}`);
  if (r.graceHours !== undefined && !(t.kind === 'pair' && t.graceHours === r.graceHours)) {
    r.notes.push(`--grace is ignored: the unfinished rotation keeps what it began with${t.kind === 'pair' ? ` (${t.graceHours} h)` : ''}`);
  }
  const oldPlace = t.kind === 'slot' ? t.oldSlot : t.kind === 'migrate' ? t.fromSlot : null;
  if (oldPlace !== null && !seen.oldActive && journal.oldFingerprint) {
    const now = view.slots.find((s) => s.slot === oldPlace)?.fingerprint;
    if (now && !sameFingerprint(now, journal.newFingerprint)) r.notes.push(`slot ${oldPlace} now holds a key this rotation did not expect; it is left as it is`);
  }
  let passphrase: PassphrasePlan = { encrypted: journal.encrypted, source: journal.passphraseSource, describe: '' };
  let regenerate = false;
  if (!existsSync(journal.privateKeyPath)) {
    if (seen.registered || seen.newInOtherSlot !== null) throw lostKeyError(target, ctx.cwd, journal);
    // The run stopped before its key file was complete and before any server change: make it again.
    regenerate = true;
    r.notes.push(`${display(journal.privateKeyPath)} was never completed; a key is made again under the same name`);
    passphrase = await planPassphrase(r.options, ctx, r.currentKey, target);
  }

  const spec: KeySpec = journal.keyType === 'rsa' ? { type: 'rsa', bits: (journal.bits ?? 2048) as 2048 } : { type: 'ec', curve: (journal.curve ?? 'P-256') as 'P-256' };
  const choice = describeJournalTarget(t);
  const steps = buildSteps({
    user: target,
    loginName: journal.loginName,
    target: t,
    keepOld: r.keepOld,
    hasOld: journal.oldFingerprint !== null,
    newPublicKey: regenerate ? null : journal.newPublicKey,
    privateKeyPath: journal.privateKeyPath,
    publicKeyPath: journal.publicKeyPath,
    journalPath: found.path,
    choice,
    ...handOverWords(r),
    awaiting: !mayRetire(r),
    display,
  });
  setStatus(steps, 'describe', 'done');
  setStatus(steps, stepName(t.kind, 'choose'), 'already-done');
  if (!regenerate) setStatus(steps, 'write-key', 'already-done');
  if (seen.registered || reached(journal, 'registered')) setStatus(steps, stepName(t.kind, 'register'), 'already-done');
  if (reached(journal, 'verified')) setStatus(steps, 'verify', 'already-done');
  if (reached(journal, 'handed-over')) setStatus(steps, 'hand-over', 'already-done');
  const report = newReport(r, t, {
    oldFingerprint: journal.oldFingerprint,
    newFingerprint: regenerate ? null : journal.newFingerprint,
    privateKeyPath: journal.privateKeyPath,
    publicKeyPath: journal.publicKeyPath,
    journalPath: found.path,
    newKey: keyInfo(spec, passphrase),
    choice,
    steps,
    view,
    resumed: true,
  });
  report.delivery = deliveryReport(r, t, journal.oldFingerprint, journal.privateKeyPath, view);
  if (journal.step === 'awaiting-delivery' && !mayRetire(r)) {
    report.notes.push(`this rotation awaits delivery: the new key ${journal.newFingerprint} is registered and verified, and the old key keeps working until --finish`);
  }
  const marks = keyMarks(r, view, t, journal.oldFingerprint, journal.newFingerprint);

  if (!r.apply) {
    r.show.plan(report, view, marks);
    return { outcome: 'planned', report };
  }
  if (r.show.confirm) {
    r.show.plan(report, view, marks);
    await r.show.confirm(report);
  }

  let newKey: LoadedKey;
  let newKeyPem: Buffer;
  if (regenerate) {
    const secret = await passphraseValue(passphrase, ctx, display(journal.privateKeyPath));
    const pair = await generateKeyPair(spec);
    const body = publicKeyBody(pair.publicKey);
    journal = {
      ...journal,
      newFingerprint: fingerprintOf(pair.publicKey),
      newPublicKey: body,
      encrypted: passphrase.encrypted,
      passphraseSource: passphrase.source,
      updatedAt: new Date(ctx.now()).toISOString(),
      step: 'written',
    };
    report.newFingerprint = journal.newFingerprint;
    fillPublicKey(steps, target, t, body);
    if (!r.show.confirm) r.show.plan(report, view, marks);
    const write = await ctx.progress.step(`Writing ${display(journal.privateKeyPath)}`);
    writeNewFiles([journalFile(found.path, journal)], { overwrite: true });
    newKeyPem = Buffer.from(privateKeyPem(pair.privateKey, secret));
    writeNewFiles(
      [
        { path: journal.privateKeyPath, data: newKeyPem, mode: 0o600 },
        { path: journal.publicKeyPath, data: publicKeyPem(pair.publicKey), mode: 'umask' },
      ],
      { overwrite: existsSync(journal.publicKeyPath) }, // a .pub left without its private key is this rotation's own
    );
    write.succeed(`Wrote ${display(journal.privateKeyPath)} (0600), ${display(journal.publicKeyPath)} and the journal`);
    setStatus(steps, 'write-key', 'done');
    newKey = { ...loadedFrom(pair.privateKey, pair.publicKey, spec, passphrase.encrypted), label: display(journal.privateKeyPath), path: journal.privateKeyPath };
  } else {
    if (!r.show.confirm) r.show.plan(report, view, marks);
    const loaded = await loadJournaledKey(journal, r.options, ctx, r.currentKey);
    newKey = loaded;
    newKeyPem = loaded.pem;
    if (!existsSync(journal.publicKeyPath)) {
      writeNewFiles([{ path: journal.publicKeyPath, data: publicKeyPem(newKey.publicKey), mode: 'umask' }], { overwrite: false });
      r.notes.push(`${display(journal.publicKeyPath)} was missing and has been written again`);
    }
  }
  report.applied = true;
  const engine = engineFor(r, report);
  const rotation: Rotation = { path: found.path, journal, newKey, newKeyPem, planned: view };
  const done = await advance(engine, rotation);
  return completed(r, report, rotation, done, engine.lastView ?? view);
}

function describeJournalTarget(t: RotationTarget): string {
  switch (t.kind) {
    case 'slot':
      return t.oldSlot === null ? `slot ${t.newSlot} (from the journal)` : `slot ${t.newSlot} gets the new key, slot ${t.oldSlot} held the old one (from the journal)`;
    case 'pair':
      return `key pair ${t.name} is rotated, the old key kept ${t.graceHours === 0 ? 'until the new one is verified (--grace 0)' : `for ${t.graceHours} h`} (from the journal)`;
    case 'migrate':
      return `the new key becomes key pair ${t.name}${t.fromSlot !== null ? `, replacing the legacy slot ${t.fromSlot}` : ''} (from the journal)`;
  }
}


// ---------------------------------------------------------------------------------------------
// Reports.

function newReport(
  r: Run,
  t: RotationTarget,
  x: {
    oldFingerprint: string | null;
    newFingerprint: string | null;
    privateKeyPath: string;
    publicKeyPath: string;
    journalPath: string;
    newKey: RotateReport['newKey'];
    choice: string;
    steps: RotateReport['steps'];
    view: KeysView;
    resumed: boolean;
  },
): RotateReport {
  return {
    user: r.target,
    account: r.jwtAccount,
    kind: t.kind,
    applied: false,
    resumed: x.resumed,
    due: true,
    alreadyDone: false,
    oldSlot: t.kind === 'slot' ? t.oldSlot : t.kind === 'migrate' ? t.fromSlot : null,
    newSlot: t.kind === 'slot' ? t.newSlot : null,
    keyPair: t.kind === 'slot' ? null : t.name,
    ...(t.kind === 'pair' ? { graceHours: t.graceHours } : {}),
    ...(t.kind !== 'slot' ? { roleRestriction: t.roleRestriction } : {}),
    oldFingerprint: x.oldFingerprint,
    newFingerprint: x.newFingerprint,
    privateKeyPath: x.privateKeyPath,
    publicKeyPath: x.publicKeyPath,
    journalPath: x.journalPath,
    newKey: x.newKey,
    keepOld: r.keepOld,
    slotChoice: x.choice,
    notes: r.notes,
    steps: x.steps,
    ...keysOf(x.view),
    statementsRun: [],
    delivery: { readFrom: '', deliveredTo: [], covered: true, oldKeyStops: '', filesToRemove: [] },
    removedFiles: [],
  };
}

export function keysOf(view: KeysView): { slots: SlotReport[]; keyPairs?: RotateReport['keyPairs'] } {
  return {
    slots: view.slots.map((s) => ({
      slot: s.slot,
      property: slotProperty(s.slot),
      fingerprint: s.fingerprint,
      lastSetTime: s.lastSetTime ? s.lastSetTime.toISOString() : (s.lastSetTimeText ?? null),
    })),
    ...(view.namedPairsAvailable ? { keyPairs: pairReports(view.pairs) } : {}),
  };
}

function alreadyDone(r: Run, entry: HistoryEntry, view: KeysView): RotationOutcome {
  const display = (p: string) => displayPath(p, r.ctx.cwd);
  const where = entry.deliveredTo.length ? entry.deliveredTo.join(', ') : entry.privateKeyPath ? display(entry.privateKeyPath) : 'the store';
  const message = `this key was already rotated on ${timeText(entry.at)}: ${entry.place} holds the new key ${entry.newFingerprint} (delivered to ${where}); nothing to do`;
  return { outcome: 'already-done', entry, message, view };
}


// ---------------------------------------------------------------------------------------------
// Small helpers.


/** A key in a slot is accounted for when it is the key in use or one an earlier rotation here replaced. */
function accountedFor(r: Run, fingerprint: string): boolean {
  return (
    sameFingerprint(fingerprint, r.localFingerprint) ||
    r.journals.some((j) => sameFingerprint(j.journal.oldFingerprint, fingerprint)) ||
    r.history.some((e) => sameFingerprint(e.oldFingerprint, fingerprint))
  );
}

function keyMarks(r: Run, view: KeysView, t: RotationTarget, oldFingerprint: string | null, newFingerprint?: string): KeyMarks {
  const marks: KeyMarks = new Map();
  const tag = (k: number | string, fp: string | null, isOld: boolean, isTargetPlace: boolean) => {
    const tags: string[] = [];
    const isNew = Boolean(newFingerprint && fp && sameFingerprint(fp, newFingerprint));
    if (isNew) tags.push('the new key');
    if (r.localFingerprint && fp && sameFingerprint(fp, r.localFingerprint)) tags.push('matches the local key');
    if (isOld && fp) tags.push(t.kind === 'pair' ? `old key (kept ${t.graceHours === 0 ? 'until the new one is verified' : `${t.graceHours} h`} as ${t.name}_ROTATED_<ms>)` : r.keepOld ? 'old key (kept)' : 'old key (removed at the end)');
    if (isTargetPlace && !isNew) tags.push(t.kind === 'pair' ? '← rotated to the new key' : fp ? '← overwritten by the new key' : '← the new key goes here');
    if (tags.length) marks.set(k as never, tags.join(', '));
  };
  const oldSlot = t.kind === 'slot' ? t.oldSlot : t.kind === 'migrate' ? t.fromSlot : null;
  for (const s of view.slots) tag(s.slot, s.fingerprint, s.slot === oldSlot && sameFingerprint(s.fingerprint, oldFingerprint), t.kind === 'slot' && s.slot === t.newSlot);
  for (const p of view.pairs) tag(p.name, p.fingerprint, t.kind === 'pair' && p.name === t.name, t.kind === 'pair' && p.name === t.name);
  if (t.kind === 'migrate' && !view.pairs.some((p) => p.name === t.name)) marks.set(t.name, '← added with the new key');
  return marks;
}

function keyInfo(spec: KeySpec, passphrase: Pick<PassphrasePlan, 'encrypted' | 'source'>): RotateReport['newKey'] {
  return {
    type: spec.type,
    ...(spec.type === 'rsa' ? { bits: spec.bits } : { curve: spec.curve }),
    encrypted: passphrase.encrypted,
    passphrase: passphrase.source,
  };
}

function loadedFrom(privateKey: LoadedKey['privateKey'], publicKey: LoadedKey['publicKey'], spec: KeySpec, encrypted: boolean): Omit<LoadedKey, 'label'> {
  return {
    privateKey,
    publicKey,
    type: spec.type,
    ...(spec.type === 'rsa' ? { bits: spec.bits } : { curve: spec.curve }),
    alg: spec.type === 'rsa' ? 'RS256' : spec.curve === 'P-256' ? 'ES256' : spec.curve === 'P-384' ? 'ES384' : 'ES512',
    format: encrypted ? 'pkcs8-encrypted' : 'pkcs8',
    encoding: 'pem',
    encrypted,
  };
}

