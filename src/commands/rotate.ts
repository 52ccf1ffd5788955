/**
 * `sfauth rotate`: replace a user's key with a new one through the two key slots, so that no moment
 * is without a working key (DESIGN.md §3 "Rotation"):
 *   1. read DESC USER of the target;  2. keep the slot of the current key, pick the other;
 *   3. write the new key (0600, never over a file) and a journal beside it, before any server change;
 *   4. SET the new public key;  5. authenticate with the new key (retrying while it propagates);
 *   6. UNSET the old slot (unless --keep-old) and read DESC USER again to confirm.
 * Without --apply it prints the plan and the exact SQL and writes nothing. Interrupted anywhere and
 * run again with the same arguments, it finds its journal, re-reads DESC USER to see which steps took
 * effect, and finishes the same rotation without making a second key.
 */
import { existsSync, unlinkSync } from 'node:fs';
import type { CommandContext } from '../context.js';
import { CheckFailedError, isSfauthError, SfauthError, UsageError } from '../errors.js';
import { connectionReport, requireValue } from '../config/index.js';
import { accountForJwt } from '../core/account.js';
import { formatDuration, parseDuration } from '../core/duration.js';
import { sameFingerprint } from '../core/fingerprint.js';
import { generateKeyPair, privateKeyPem, type KeySpec } from '../core/generate-key.js';
import { publicKeyBody, publicKeyPem } from '../core/public-key-body.js';
import {
  ageSeconds,
  chooseSlots,
  isOlderThan,
  normalizeUserName,
  otherSlot,
  pendingJournal,
  resumeState,
  slotHolding,
  unsafeSet,
  type RotationJournal,
} from '../core/rotation-plan.js';
import { slotProperty, unsetPublicKeySql, type Slot } from '../core/sql.js';
import { fingerprintOf } from '../core/fingerprint.js';
import { assertCanCreate, writeNewFiles } from '../io/files.js';
import type { LoadedKey } from '../io/load-key.js';
import { displayPath } from '../io/paths.js';
import type { SnowflakeClient } from '../snowflake/client.js';
import { homeDirOf, keyPairCredential, makeClient, openSession, type Session, type SessionFlags } from '../snowflake/session.js';
import { acquireRotationLock } from '../rotate/lock.js';
import { setInterruptHint } from '../io/cleanup.js';
import { describeUser, setUserKey, unsetUserKey, type UserDescription } from '../snowflake/users.js';
import { showKeyPairs } from '../snowflake/key-pairs.js';
import { isActive } from '../keys/types.js';
import { findJournals, journalFile, updateJournal, type FoundJournal } from '../rotate/journal.js';
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
} from '../rotate/new-key.js';
import { buildSteps, fillPublicKey, renderPlan, setStatus, type RotateReport, type SlotReport } from '../rotate/plan.js';
import { verifyNewKey } from '../rotate/verify.js';
import { dirname, resolve } from 'node:path';

export interface RotateOptions extends SessionFlags, NewKeyFlags {
  targetUser?: string;
  apply?: boolean;
  keepOld?: boolean;
  overwriteOther?: boolean;
  ifOlderThan?: string;
  json?: boolean;
}

/** Everything one run knows, shared by the fresh and the resumed paths. */
interface Run {
  ctx: CommandContext;
  options: RotateOptions;
  session: Session;
  account: string;
  jwtAccount: string;
  target: string;
  /** The authenticating user rotates its own key. */
  self: boolean;
  /** The target's current key, when it is the key we authenticate with. */
  currentKey?: LoadedKey;
  localFingerprint: string | null;
  keepOld: boolean;
  apply: boolean;
  notes: string[];
  /** The client for DESC/ALTER: the session's, or the new key's once the old one is gone. */
  worker: SnowflakeClient;
  /** The trusted journals of this target where this run puts its key. */
  journals: FoundJournal[];
}

export async function run(options: RotateOptions, ctx: CommandContext): Promise<number> {
  const threshold = options.ifOlderThan !== undefined ? parseDuration(options.ifOlderThan, '--if-older-than') : undefined;
  if (options.encrypt === false && options.newPassphraseFile) {
    throw new UsageError('ERR_USAGE', '--no-encrypt and --new-passphrase-file contradict each other', { hint: 'drop one of them' });
  }
  const session = await openSession(options, ctx);
  const conn = session.connection;
  const account = requireValue(conn, 'account');
  const authUser = conn.user;
  const target = options.targetUser ?? requireValue(conn, 'user');
  const self = !options.targetUser || (authUser !== undefined && normalizeUserName(options.targetUser) === normalizeUserName(authUser));
  if (self && session.key && !session.key.path && !options.out && !options.keepOld) {
    // The key lives nowhere sfauth could put the new one: in CI the working folder dies with the job,
    // and with the old key removed the service would be locked out.
    throw new UsageError('ERR_NO_KEY_DESTINATION', `the key in use came from ${session.key.label}, so there is no key file to put the new key beside`, {
      hint: 'say where the new private key goes: --out PATH (somewhere that outlives this run, not a CI working folder), or --keep-old to keep the current key registered too',
    });
  }
  const r: Run = {
    ctx,
    options,
    session,
    account,
    jwtAccount: accountForJwt(account),
    target,
    self,
    currentKey: self ? session.key : undefined,
    localFingerprint: session.key ? (session.identity.fingerprint ?? null) : null,
    keepOld: options.keepOld === true,
    apply: options.apply === true,
    notes: [],
    worker: session.client,
    journals: [],
  };

  // The journal of an unfinished rotation, looked for where this run would put its key.
  const spec = newKeySpec(options, r.currentKey);
  const searchDir = options.out ? dirname(resolve(ctx.cwd, options.out)) : defaultKeyDir(ctx, r.currentKey);
  const scan = await findJournals(searchDir, { account: r.jwtAccount, targetUser: target, selfFingerprint: self ? r.localFingerprint : null });
  for (const why of scan.ignored) ctx.out.warn(why);
  const journals = scan.found;
  r.journals = journals;
  const pendingJ = pendingJournal(journals.map((j) => j.journal));
  const pending = pendingJ ? journals.find((j) => j.journal === pendingJ) : undefined;
  // A new rotation's inputs are checked before the network: a misconfigured cron job fails every
  // time, not only on the day the key is due.
  const fresh = pending ? undefined : { passphrase: await planPassphrase(options, ctx, r.currentKey, target), paths: newKeyPaths(options, ctx, r.currentKey, spec, target, ctx.now()) };
  if (fresh && r.apply) assertCanCreate(fresh.paths.privateKeyPath);

  // Two rotations of one user never interleave: the second waits for nothing, it stops.
  const lock = r.apply ? acquireRotationLock(ctx.env, homeDirOf(ctx), r.jwtAccount, target, ctx.now()) : undefined;
  try {
    // Step 1: DESC USER.
    const desc = await readUser(r, pending, journals);
    if (pending) return await resume(r, pending, desc);
    await refuseNamedPairInUse(r, desc);
    return await rotateFresh(r, desc, spec, fresh!, threshold);
  } finally {
    lock?.release();
    setInterruptHint(undefined);
  }
}

/** Steps 2 to 6 of a rotation that starts now (no journal to resume). */
async function rotateFresh(
  r: Run,
  desc: UserDescription,
  spec: KeySpec,
  fresh: { passphrase: PassphrasePlan; paths: NewKeyPaths },
  threshold: number | undefined,
): Promise<number> {
  const { ctx, options, self, target } = r;
  const journals = r.journals;
  const authUser = r.session.connection.user;

  // A finished rotation of this very key whose new key is still registered: nothing to do.
  const finished = journals
    .map((j) => j.journal)
    .find((j) => j.step === 'complete' && self && r.localFingerprint && sameFingerprint(j.oldFingerprint, r.localFingerprint) && slotHolding(desc.slots, j.newFingerprint) !== null);
  if (finished) return alreadyDone(r, finished, desc);

  // Step 2: the slots.
  const choice = chooseSlots(desc.slots, r.localFingerprint);
  const oldView = choice.oldSlot === null ? undefined : desc.slots[choice.oldSlot - 1]!;
  if (choice.reason !== 'local-key' && self && r.localFingerprint) {
    r.notes.push(`the key this command authenticates with (${r.localFingerprint}) is in neither slot of ${target}`);
  }

  if (threshold !== undefined) {
    const due = !oldView || isOlderThan(oldView.lastSetTime, threshold, ctx.now());
    if (!due) return notDue(r, desc, choice.oldSlot!, options.ifOlderThan!, spec, choice.explanation);
  }

  const { passphrase, paths } = fresh!; // set whenever nothing was pending
  if (passphrase.source === 'none' && options.encrypt !== false) r.notes.push(passphrase.describe);
  // The new key authenticates as the target's LOGIN_NAME (for a self-rotation: the login used now).
  const loginName = desc.loginName ?? (self && authUser ? authUser : target);
  const display = (p: string) => displayPath(p, ctx.cwd);
  const steps = buildSteps({
    user: target,
    loginName,
    newSlot: choice.newSlot,
    oldSlot: choice.oldSlot,
    keepOld: r.keepOld,
    newPublicKey: null,
    ...paths,
    slotChoice: choice.explanation,
    display,
  });
  setStatus(steps, 'describe', 'done');
  setStatus(steps, 'choose-slot', 'done');
  const report: RotateReport = {
    user: target,
    account: r.jwtAccount,
    applied: false,
    resumed: false,
    due: true,
    alreadyDone: false,
    oldSlot: choice.oldSlot,
    newSlot: choice.newSlot,
    oldFingerprint: oldView?.fingerprint ?? null,
    newFingerprint: null,
    ...paths,
    newKey: keyInfo(spec, passphrase),
    keepOld: r.keepOld,
    slotChoice: choice.explanation,
    notes: r.notes,
    steps,
    slots: slotReports(desc),
  };
  const marks = slotMarks(r, desc, choice.newSlot, choice.oldSlot);
  const unsafe = unsafeSet(desc.slots, choice.newSlot, r.localFingerprint);
  const replaced = desc.slots[choice.newSlot - 1]!.fingerprint;
  const unaccounted = !unsafe && replaced && !options.overwriteOther && !accountedFor(r, replaced) ? replaced : null;

  if (!r.apply) {
    if (unsafe) r.notes.push(`--apply would refuse: ${unsafe}, and setting slot ${choice.newSlot} could leave no working key`);
    if (unaccounted) r.notes.push(`--apply would refuse: ${slotProperty(choice.newSlot)} holds ${unaccounted}, a key no rotation here accounts for (--overwrite-other replaces it)`);
    printPlan(r, report, desc, marks);
    if (!ctx.out.json) ctx.out.info(ctx.out.style.yellow('plan only: nothing was changed, locally or on the server. Run again with --apply to carry it out.'));
    return 0;
  }

  if (unsafe) throw unsafeError(r, choice.newSlot, unsafe);
  if (unaccounted) throw unaccountedError(r, choice.newSlot, unaccounted);

  // Step 3: make the key and write it (with the journal) before anything changes on the server.
  const secret = await passphraseValue(passphrase, ctx, display(paths.privateKeyPath));
  const genStep = await ctx.progress.step(`Generating the new ${describeSpec(spec)} key`, { quiet: true });
  const pair = await generateKeyPair(spec);
  genStep.succeed();
  const body = publicKeyBody(pair.publicKey);
  const newFingerprint = fingerprintOf(pair.publicKey);
  report.newFingerprint = newFingerprint;
  fillPublicKey(steps, target, choice.newSlot, body);
  printPlan(r, report, desc, marks);

  const now = new Date(ctx.now()).toISOString();
  let journal: RotationJournal = {
    version: 1,
    kind: 'sfauth-rotate',
    account: r.jwtAccount,
    targetUser: target,
    targetKey: normalizeUserName(target),
    loginName,
    self,
    newSlot: choice.newSlot,
    oldSlot: choice.oldSlot,
    oldFingerprint: oldView?.fingerprint ?? null,
    replacesFingerprint: replaced,
    newFingerprint,
    newPublicKey: body,
    privateKeyPath: paths.privateKeyPath,
    publicKeyPath: paths.publicKeyPath,
    keyType: spec.type,
    ...(spec.type === 'rsa' ? { bits: spec.bits } : { curve: spec.curve }),
    encrypted: passphrase.encrypted,
    passphraseSource: passphrase.source,
    authFingerprint: r.localFingerprint,
    createdAt: now,
    updatedAt: now,
    step: 'written',
  };
  const write = await ctx.progress.step(`Writing ${display(paths.privateKeyPath)}`);
  try {
    writeNewFiles(
      [
        journalFile(paths.journalPath, journal), // first: a key file never exists without its journal
        { path: paths.privateKeyPath, data: privateKeyPem(pair.privateKey, secret), mode: 0o600 },
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
  journal = await finish(r, { path: paths.journalPath, journal }, desc, newKey, report);
  return done(r, report, journal);
}

// ---------------------------------------------------------------------------------------------
// Step 1, with the fallback an interrupted self-rotation needs: its old key may already be unset.

async function readUser(r: Run, pending: FoundJournal | undefined, journals: FoundJournal[]): Promise<UserDescription> {
  const { ctx, target } = r;
  const step = await ctx.progress.step(`Reading DESC USER ${target}`);
  try {
    const desc = await describeUser(r.worker, target);
    step.succeed(`Read DESC USER ${target}: ${slotSummary(desc)}`);
    return desc;
  } catch (err) {
    if (isSfauthError(err) && err.code === 'ERR_AUTH_REFUSED' && r.self && r.currentKey) {
      if (pending && existsSync(pending.journal.privateKeyPath)) {
        const newKey = await loadJournaledKey(pending.journal, r.options, ctx, r.currentKey);
        r.worker = newKeyClient(r, newKey, pending.journal.loginName);
        r.notes.push('the current key was refused (the unfinished rotation had already removed it); continued with the new key');
        try {
          const desc = await describeUser(r.worker, target);
          step.succeed(`Read DESC USER ${target} with the new key: ${slotSummary(desc)}`);
          return desc;
        } catch (err2) {
          step.fail(`Could not read DESC USER ${target}`);
          throw err2;
        }
      }
      const finished = journals
        .map((j) => j.journal)
        .filter((j) => j.step === 'complete' && sameFingerprint(j.oldFingerprint, r.localFingerprint))
        .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))[0];
      if (finished) {
        step.fail(`The current key was rotated out`);
        throw new CheckFailedError('ERR_KEY_ROTATED', `this key was rotated out by sfauth rotate on ${finished.completedAt ?? finished.updatedAt}; Snowflake no longer accepts it`, {
          details: [`new key     ${displayPath(finished.privateKeyPath, ctx.cwd)}`, `fingerprint ${finished.newFingerprint} (${slotProperty(finished.newSlot)})`],
          hint: `point the connection at the new key (private_key_file = "${finished.privateKeyPath}", or --private-key) and run again`,
          data: { privateKeyPath: finished.privateKeyPath, newFingerprint: finished.newFingerprint },
        });
      }
    }
    step.fail(`Could not read DESC USER ${target}`);
    throw err;
  }
}

function newKeyClient(r: Run, key: LoadedKey, loginName: string): SnowflakeClient {
  const { credential, identity } = keyPairCredential(key, r.account, loginName);
  const conn = r.session.connection;
  return makeClient(
    {
      baseUrl: r.session.baseUrl,
      credential,
      identity,
      deadline: r.session.deadline,
      timeoutLabel: r.session.timeoutLabel,
      // The authenticating user's role fits its own key; another user may not have it.
      ...(r.self ? { role: conn.role, warehouse: conn.warehouse } : {}),
    },
    r.ctx,
  );
}

/**
 * This command moves keys between the legacy slots. When the key in use is a named key pair (or the
 * target has only named pairs), a slot rotation would add a legacy key beside the pair and leave the
 * pair as it was: refuse before anything is written, and say how a pair is rotated.
 */
async function refuseNamedPairInUse(r: Run, desc: UserDescription): Promise<void> {
  const listing = await showKeyPairs(r.worker, r.target);
  if (!listing.available) return;
  const now = r.ctx.now();
  const active = listing.pairs.filter((p) => isActive(p, now));
  const held = r.self && r.localFingerprint ? active.find((p) => sameFingerprint(p.fingerprint, r.localFingerprint)) : undefined;
  const onlyPairs = !held && desc.slots.every((s) => s.fingerprint === null) && active.length > 0 ? active[0] : undefined;
  const pair = held ?? onlyPairs;
  if (!pair) return;
  throw new CheckFailedError('ERR_NAMED_PAIR_IN_USE', `${held ? 'the key in use is' : `${r.target} authenticates with`} the named key pair ${pair.name}; sfauth rotate moves keys between the legacy slots and would leave ${pair.name} as it is`, {
    details: [
      'rotate the pair with ROTATE KEY PAIR (the old key keeps working for the grace period, 24 h by default):',
      `  sfauth keygen --out new_key.p8 && sfauth sql --user ${r.target} --key-pair ${pair.name} --rotate --public-key new_key.p8`,
    ],
    hint: `run that statement, then point the client at new_key.p8; sfauth status shows both keys until the old one expires`,
    data: { keyPair: pair.name, fingerprint: pair.fingerprint },
  });
}

// ---------------------------------------------------------------------------------------------
// Resuming: the journal says what was meant, DESC USER says what took effect.

async function resume(r: Run, found: FoundJournal, desc: UserDescription): Promise<number> {
  const { ctx, target } = r;
  let journal = found.journal;
  const display = (p: string) => displayPath(p, ctx.cwd);
  const state = resumeState(journal, desc.slots);
  r.notes.push(`resuming the unfinished rotation begun ${journal.createdAt} (journal ${display(found.path)}, last step: ${journal.step})`);
  if (r.options.out && resolve(ctx.cwd, r.options.out) !== journal.privateKeyPath) {
    r.notes.push(`--out is ignored: the unfinished rotation's key is ${display(journal.privateKeyPath)}`);
  }
  if (state.newKeyIn !== null && state.newKeyIn !== journal.newSlot) {
    r.notes.push(`the new key is in slot ${state.newKeyIn}, not slot ${journal.newSlot} as planned; continuing from there`);
    journal = { ...journal, newSlot: state.newKeyIn, oldSlot: journal.oldSlot === state.newKeyIn ? null : journal.oldSlot };
  }
  if (state.oldSlotChanged) {
    r.notes.push(`slot ${journal.oldSlot} now holds a key this rotation did not expect; it is left as it is`);
  }
  const keyFileThere = existsSync(journal.privateKeyPath);
  let passphrase: PassphrasePlan = {
    encrypted: journal.encrypted,
    source: journal.passphraseSource,
    describe: '',
  };
  let regenerate = false;
  if (!keyFileThere) {
    if (state.newKeyIn !== null) throw lostKeyError(r, journal, state.newKeyIn);
    // The run stopped before its key file was complete and before any server change: make it again.
    regenerate = true;
    r.notes.push(`${display(journal.privateKeyPath)} was never completed; a key is made again under the same name`);
    passphrase = await planPassphrase(r.options, ctx, r.currentKey, target);
  }

  const spec: KeySpec = journal.keyType === 'rsa' ? { type: 'rsa', bits: (journal.bits ?? 2048) as 2048 } : { type: 'ec', curve: (journal.curve ?? 'P-256') as 'P-256' };
  const steps = buildSteps({
    user: target,
    loginName: journal.loginName,
    newSlot: journal.newSlot,
    oldSlot: journal.oldSlot,
    keepOld: r.keepOld,
    newPublicKey: regenerate ? null : journal.newPublicKey,
    privateKeyPath: journal.privateKeyPath,
    publicKeyPath: journal.publicKeyPath,
    journalPath: found.path,
    slotChoice: journal.oldSlot === null ? `slot ${journal.newSlot} (from the journal)` : `slot ${journal.newSlot} gets the new key, slot ${journal.oldSlot} held the old one (from the journal)`,
    display,
  });
  setStatus(steps, 'describe', 'done');
  setStatus(steps, 'choose-slot', 'already-done');
  if (!regenerate) setStatus(steps, 'write-key', 'already-done');
  if (state.newKeyIn !== null) setStatus(steps, 'set', 'already-done');
  const oldGone = journal.oldSlot !== null && !state.oldKeyPresent;
  if (oldGone && state.newKeyIn !== null) setStatus(steps, 'verify', 'already-done');
  const report: RotateReport = {
    user: target,
    account: r.jwtAccount,
    applied: false,
    resumed: true,
    due: true,
    alreadyDone: false,
    oldSlot: journal.oldSlot,
    newSlot: journal.newSlot,
    oldFingerprint: journal.oldFingerprint,
    newFingerprint: regenerate ? null : journal.newFingerprint,
    privateKeyPath: journal.privateKeyPath,
    publicKeyPath: journal.publicKeyPath,
    journalPath: found.path,
    newKey: keyInfo(spec, passphrase),
    keepOld: r.keepOld,
    slotChoice: steps[1]!.description,
    notes: r.notes,
    steps,
    slots: slotReports(desc),
  };
  const marks = slotMarks(r, desc, journal.newSlot, journal.oldSlot, journal.newFingerprint);

  if (!r.apply) {
    printPlan(r, report, desc, marks);
    if (!ctx.out.json) ctx.out.info(ctx.out.style.yellow('plan only: nothing was changed. Run again with --apply to finish this rotation.'));
    return 0;
  }

  let newKey: LoadedKey;
  if (regenerate) {
    const secret = await passphraseValue(passphrase, ctx, display(journal.privateKeyPath));
    const pair = await generateKeyPair(spec);
    const body = publicKeyBody(pair.publicKey);
    const at = new Date(ctx.now()).toISOString();
    journal = {
      ...journal,
      newFingerprint: fingerprintOf(pair.publicKey),
      newPublicKey: body,
      encrypted: passphrase.encrypted,
      passphraseSource: passphrase.source,
      updatedAt: at,
      step: 'written',
    };
    report.newFingerprint = journal.newFingerprint;
    fillPublicKey(steps, target, journal.newSlot, body);
    printPlan(r, report, desc, marks);
    const write = await ctx.progress.step(`Writing ${display(journal.privateKeyPath)}`);
    writeNewFiles([journalFile(found.path, journal)], { overwrite: true });
    writeNewFiles(
      [
        { path: journal.privateKeyPath, data: privateKeyPem(pair.privateKey, secret), mode: 0o600 },
        { path: journal.publicKeyPath, data: publicKeyPem(pair.publicKey), mode: 'umask' },
      ],
      { overwrite: existsSync(journal.publicKeyPath) }, // a .pub left without its private key is this rotation's own
    );
    write.succeed(`Wrote ${display(journal.privateKeyPath)} (0600), ${display(journal.publicKeyPath)} and the journal`);
    setStatus(steps, 'write-key', 'done');
    newKey = { ...loadedFrom(pair.privateKey, pair.publicKey, spec, passphrase.encrypted), label: display(journal.privateKeyPath), path: journal.privateKeyPath };
  } else {
    printPlan(r, report, desc, marks);
    newKey = await loadJournaledKey(journal, r.options, ctx, r.currentKey);
    if (!existsSync(journal.publicKeyPath)) {
      writeNewFiles([{ path: journal.publicKeyPath, data: publicKeyPem(newKey.publicKey), mode: 'umask' }], { overwrite: false });
      r.notes.push(`${display(journal.publicKeyPath)} was missing and has been written again`);
    }
  }
  report.applied = true;
  journal = await finish(r, { path: found.path, journal }, desc, newKey, report);
  return done(r, report, journal);
}

// ---------------------------------------------------------------------------------------------
// Steps 4 to 6, shared by a fresh run and a resumed one.

async function finish(r: Run, found: FoundJournal, desc: UserDescription, newKey: LoadedKey, report: RotateReport): Promise<RotationJournal> {
  const { ctx, target } = r;
  let journal = found.journal;
  const steps = report.steps;
  const save = (step: RotationJournal['step']) => (journal = updateJournal(found.path, journal, step, ctx.now()));
  const state = resumeState(journal, desc.slots);

  // From here on an interruption leaves work to finish: say how.
  setInterruptHint(finishHint());

  // Step 4: SET (unless DESC USER already shows the new key).
  if (state.newKeyIn === null) {
    // The keys may have moved since they were read (another machine, a human): read them again.
    const now = await rereadUnchanged(r, desc, 'set');
    const unsafe = unsafeSet(now.slots, journal.newSlot, r.localFingerprint);
    if (unsafe) throw unsafeError(r, journal.newSlot, unsafe);
    const there = now.slots[journal.newSlot - 1]!.fingerprint;
    if (there && !r.options.overwriteOther && !sameFingerprint(there, journal.replacesFingerprint ?? null) && !accountedFor(r, there)) {
      throw unaccountedError(r, journal.newSlot, there);
    }
    const step = await ctx.progress.step(`Setting ${slotProperty(journal.newSlot)} of ${target}`);
    try {
      await setUserKey(r.worker, target, journal.newSlot, journal.newPublicKey);
    } catch (err) {
      step.fail(`Could not set ${slotProperty(journal.newSlot)}`);
      setStatus(steps, 'set', 'failed');
      throw await interrupted(r, report, journal, err, 'set', found.path);
    }
    step.succeed(`Set ${slotProperty(journal.newSlot)} of ${target} to ${journal.newFingerprint}`);
    setStatus(steps, 'set', 'done');
    save('set');
  } else if (journal.step === 'written') {
    save('set');
  }

  // Step 5: authenticate with the new key.
  const verifier = newKeyClient(r, newKey, journal.loginName);
  const vstep = await ctx.progress.step(`Verifying the new key: authenticating as ${journal.loginName}`);
  let outcome;
  try {
    outcome = await verifyNewKey(verifier, {
      now: ctx.now,
      deadline: r.session.deadline,
      onRetry: (n) => vstep.update(`Verifying the new key: refused (attempt ${n}), waiting for it to propagate`),
    });
  } catch (err) {
    vstep.fail('Could not verify the new key');
    setStatus(steps, 'verify', 'failed');
    throw await interrupted(r, report, journal, err, 'verify', found.path);
  }
  if (!outcome.ok) {
    vstep.fail(`The new key was refused ${outcome.attempts} time${outcome.attempts === 1 ? '' : 's'}`);
    setStatus(steps, 'verify', 'failed');
    throw await verifyFailed(r, report, journal, outcome.lastError, outcome.attempts);
  }
  vstep.succeed(`Verified: authenticated as ${outcome.user ?? journal.loginName} with the new key${outcome.attempts > 1 ? ` (after ${outcome.attempts} tries)` : ''}`);
  setStatus(steps, 'verify', 'done');
  save('verified');
  // From here on a self-rotation works with the new key: the old one is about to go.
  if (r.self) r.worker = verifier;

  // Step 6: UNSET the old slot (only if it still holds the old key, and the new key is still in its
  // slot: a fresh read, so a concurrent change never makes this remove the only working key), then confirm.
  const beforeUnset = journal.oldSlot !== null && !r.keepOld ? await rereadForUnset(r, journal) : desc;
  const oldStill = journal.oldSlot !== null && resumeState(journal, beforeUnset.slots).oldKeyPresent;
  if (journal.oldSlot !== null && !r.keepOld && oldStill) {
    const step = await ctx.progress.step(`Unsetting ${slotProperty(journal.oldSlot)} of ${target}`);
    try {
      await unsetUserKey(r.worker, target, journal.oldSlot);
    } catch (err) {
      step.fail(`Could not unset ${slotProperty(journal.oldSlot)}`);
      setStatus(steps, 'unset', 'failed');
      throw await interrupted(r, report, journal, err, 'unset', found.path);
    }
    step.succeed(`Unset ${slotProperty(journal.oldSlot)} of ${target} (the old key ${journal.oldFingerprint})`);
    save('unset');
  }
  const cstep = await ctx.progress.step(`Confirming with DESC USER ${target}`);
  let after: UserDescription;
  try {
    after = await describeUser(r.worker, target);
  } catch (err) {
    cstep.fail('Could not confirm');
    setStatus(steps, 'unset', 'failed');
    throw await interrupted(r, report, journal, err, 'confirm', found.path);
  }
  report.slots = slotReports(after);
  const newThere = sameFingerprint(after.slots[journal.newSlot - 1]!.fingerprint, journal.newFingerprint);
  const oldThere = journal.oldSlot !== null && sameFingerprint(after.slots[journal.oldSlot - 1]!.fingerprint, journal.oldFingerprint);
  if (!newThere || (oldThere && !r.keepOld)) {
    cstep.fail('DESC USER does not show the expected slots');
    setStatus(steps, 'unset', 'failed');
    throw new CheckFailedError('ERR_ROTATION_UNCONFIRMED', `DESC USER ${target} does not show the rotation: ${slotSummary(after)}`, {
      details: [`expected ${slotProperty(journal.newSlot)} = ${journal.newFingerprint}${journal.oldSlot !== null && !r.keepOld ? ` and ${slotProperty(journal.oldSlot)} empty` : ''}`],
      hint: 'someone may have changed the keys meanwhile; check with sfauth status, then run the same command again',
    });
  }
  cstep.succeed(`Confirmed: ${slotSummary(after)}`);
  setStatus(steps, 'unset', journal.oldSlot !== null && !r.keepOld ? (oldStill ? 'done' : 'already-done') : 'done');
  save('complete');
  return journal;
}

// ---------------------------------------------------------------------------------------------
// Fresh reads before every change (DESIGN.md §3 "Concurrency").

function slotsKey(desc: UserDescription): string {
  return desc.slots.map((s) => (s.fingerprint ?? '').replace(/^SHA256:/, '')).join('|');
}

function conflict(r: Run, before: UserDescription, now: UserDescription, what: string): CheckFailedError {
  return new CheckFailedError('ERR_ROTATION_CONFLICT', `the keys of ${r.target} changed while this rotation ran; nothing more was changed`, {
    details: [`read before: ${slotSummary(before)}`, `read now:    ${slotSummary(now)}`, `stopped before: ${what}`],
    hint: 'another rotation or a person changed the keys; check with sfauth status, then run the command again',
    data: { step: what },
  });
}

async function freshRead(r: Run, what: string): Promise<UserDescription> {
  try {
    return await describeUser(r.worker, r.target);
  } catch (err) {
    if (isSfauthError(err)) {
      throw new SfauthError(err.code, `could not read the keys of ${r.target} again before ${what}: ${err.message}`, err.exitCode, {
        hint: 'nothing more was changed; run the same command again to finish',
        details: err.details,
        data: err.data,
      });
    }
    throw err;
  }
}

/** Re-reads DESC USER and stops unless the slots are as they were when the plan was made. */
async function rereadUnchanged(r: Run, planned: UserDescription, step: string): Promise<UserDescription> {
  const now = await freshRead(r, `the ${step.toUpperCase()}`);
  if (slotsKey(now) !== slotsKey(planned)) throw conflict(r, planned, now, `the ${step.toUpperCase()}`);
  return now;
}

/** Before the UNSET: the new key must still be where this rotation put it. */
async function rereadForUnset(r: Run, journal: RotationJournal): Promise<UserDescription> {
  const now = await freshRead(r, 'the UNSET');
  if (!sameFingerprint(now.slots[journal.newSlot - 1]!.fingerprint, journal.newFingerprint)) {
    throw new CheckFailedError('ERR_ROTATION_CONFLICT', `${slotProperty(journal.newSlot)} of ${r.target} no longer holds the new key; the old key was left in place`, {
      details: [`read now: ${slotSummary(now)}`, `expected ${slotProperty(journal.newSlot)} = ${journal.newFingerprint}`],
      hint: 'another rotation or a person changed the keys; check with sfauth status before removing anything',
      data: { step: 'unset' },
    });
  }
  return now;
}

// ---------------------------------------------------------------------------------------------
// Endings.

/** Every --json document of rotate, with where the connection's settings came from. */
function document(r: Run, doc: object): void {
  r.ctx.out.document({ ...doc, connection: connectionReport(r.session.connection) });
}

function done(r: Run, report: RotateReport, journal: RotationJournal): number {
  const { ctx } = r;
  const out = ctx.out;
  const display = (p: string) => displayPath(p, ctx.cwd);
  if (out.json) {
    document(r, report);
    return 0;
  }
  const removed = journal.oldSlot !== null && !r.keepOld;
  out.line(
    `rotated ${report.user}: ${slotProperty(journal.newSlot)} = ${journal.newFingerprint} (${display(journal.privateKeyPath)})` +
      (journal.oldSlot === null ? '' : removed ? `; ${slotProperty(journal.oldSlot)} removed` : `; ${slotProperty(journal.oldSlot)} kept (--keep-old)`),
  );
  out.info('');
  const conn = r.options.connection;
  out.info(
    out.style.bold('next: ') +
      (r.self
        ? `use the new key: set private_key_file = "${journal.privateKeyPath}"${conn ? ` in connection '${conn}'` : ''} (or --private-key / SNOWFLAKE_PRIVATE_KEY_FILE)`
        : `hand ${display(journal.privateKeyPath)} to whatever runs as ${report.user} (its private_key_file)`) +
      (journal.encrypted ? (journal.passphraseSource === 'current-key' ? '; its passphrase is the old one' : '') : ''),
  );
  if (r.keepOld && journal.oldSlot !== null) out.info(`      the old key stays in ${slotProperty(journal.oldSlot)}; remove it later with: ${unsetPublicKeySql(report.user, journal.oldSlot)};`);
  return 0;
}

function alreadyDone(r: Run, journal: RotationJournal, desc: UserDescription): number {
  const { ctx } = r;
  const display = (p: string) => displayPath(p, ctx.cwd);
  const spec: KeySpec = journal.keyType === 'rsa' ? { type: 'rsa', bits: (journal.bits ?? 2048) as 2048 } : { type: 'ec', curve: (journal.curve ?? 'P-256') as 'P-256' };
  const message = `this key was already rotated on ${journal.completedAt ?? journal.updatedAt}: ${slotProperty(journal.newSlot)} holds the new key ${journal.newFingerprint} (${display(journal.privateKeyPath)}); nothing to do`;
  if (ctx.out.json) {
    const steps = buildSteps({
      user: r.target,
      loginName: journal.loginName,
      newSlot: journal.newSlot,
      oldSlot: journal.oldSlot,
      keepOld: r.keepOld,
      newPublicKey: journal.newPublicKey,
      privateKeyPath: journal.privateKeyPath,
      publicKeyPath: journal.publicKeyPath,
      journalPath: journal.privateKeyPath + '.rotate.json',
      slotChoice: `slot ${journal.newSlot} (from the journal)`,
      display,
    }).map((s) => ({ ...s, status: 'already-done' as const }));
    const report: RotateReport = {
      user: r.target,
      account: r.jwtAccount,
      applied: false,
      resumed: false,
      due: true,
      alreadyDone: true,
      oldSlot: journal.oldSlot,
      newSlot: journal.newSlot,
      oldFingerprint: journal.oldFingerprint,
      newFingerprint: journal.newFingerprint,
      privateKeyPath: journal.privateKeyPath,
      publicKeyPath: journal.publicKeyPath,
      journalPath: journal.privateKeyPath + '.rotate.json',
      newKey: keyInfo(spec, { encrypted: journal.encrypted, source: journal.passphraseSource }),
      keepOld: r.keepOld,
      slotChoice: steps[1]!.description,
      notes: [message],
      steps,
      slots: slotReports(desc),
    };
    document(r, report);
  } else {
    ctx.out.line(message);
    ctx.out.info(`next: point the connection at ${display(journal.privateKeyPath)}; a new rotation then starts from that key`);
  }
  return 0;
}

function notDue(r: Run, desc: UserDescription, slot: Slot, limit: string, spec: KeySpec, explanation: string): number {
  const { ctx } = r;
  const view = desc.slots[slot - 1]!;
  const age = ageSeconds(view.lastSetTime, ctx.now())!;
  const message = `the current key (slot ${slot}, ${view.fingerprint}) is ${formatDuration(age)} old, younger than ${limit}: nothing to do`;
  if (ctx.out.json) {
    document(r, {
      user: r.target,
      account: r.jwtAccount,
      applied: false,
      resumed: false,
      due: false,
      alreadyDone: false,
      ifOlderThan: limit,
      currentSlot: slot,
      currentFingerprint: view.fingerprint,
      currentKeyAgeDays: Math.floor(age / 86400),
      oldSlot: slot,
      newSlot: otherSlot(slot),
      oldFingerprint: view.fingerprint,
      newFingerprint: null,
      newKey: { type: spec.type, ...(spec.type === 'rsa' ? { bits: spec.bits } : { curve: spec.curve }) },
      slotChoice: explanation,
      notes: [message],
      steps: [],
      slots: slotReports(desc),
    });
  } else {
    ctx.out.line(message);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Errors that say how to finish or undo.

function finishHint(): string {
  return 'run the same command again to finish this rotation (it resumes from the journal)';
}

function undoSql(r: Run, journal: RotationJournal): string {
  return `${unsetPublicKeySql(r.target, journal.newSlot)};`;
}

/** Time a read of the keys after a failure may take, even past --timeout: it only looks. */
const AFTERWORD_READ_MS = 5000;

/**
 * Where the keys stand now, read afresh after a failure (DESIGN.md §3: every statement about the
 * server's state comes from a fresh read, and no undo ever removes the only working key).
 */
async function standing(r: Run, journal: RotationJournal): Promise<{ lines: string[]; undo?: string; newKeyRegistered?: boolean }> {
  let now: UserDescription;
  try {
    now = await describeUser(r.worker.withDeadline(Math.max(r.session.deadline, r.ctx.now() + AFTERWORD_READ_MS)), r.target);
  } catch (err) {
    const why = isSfauthError(err) ? err.message : String(err);
    return { lines: [`the keys of ${r.target} could not be read again (${why}); check them with sfauth status before undoing anything`] };
  }
  const newIn = now.slots.find((s) => sameFingerprint(s.fingerprint, journal.newFingerprint))?.slot ?? null;
  const oldIn = journal.oldFingerprint ? (now.slots.find((s) => sameFingerprint(s.fingerprint, journal.oldFingerprint))?.slot ?? null) : null;
  const lines = [`read just now: ${slotSummary(now)}`];
  if (newIn === null) {
    lines.push(oldIn !== null ? `the new key is not registered; the old key is in ${slotProperty(oldIn)}: no one is locked out` : 'the new key is not registered');
    return { lines, newKeyRegistered: false };
  }
  if (oldIn !== null && oldIn !== newIn) {
    lines.push(`the new key is in ${slotProperty(newIn)} and the old key stays in ${slotProperty(oldIn)}: no one is locked out`);
    return { lines, undo: `${unsetPublicKeySql(r.target, newIn)};`, newKeyRegistered: true };
  }
  lines.push(`the new key is in ${slotProperty(newIn)} and the old key is no longer registered: the new key is the one that works now`);
  return { lines, newKeyRegistered: true };
}

/** Removes the files of a rotation whose SET never took effect, so a rerun starts clean. */
function discardRotation(journalPath: string, journal: RotationJournal): void {
  for (const p of [journal.privateKeyPath, journal.publicKeyPath, journalPath]) {
    try {
      unlinkSync(p);
    } catch {
      // already gone
    }
  }
}

async function interrupted(r: Run, report: RotateReport, journal: RotationJournal, err: unknown, at: 'set' | 'verify' | 'unset' | 'confirm', journalPath: string): Promise<unknown> {
  if (!isSfauthError(err)) return err;
  const display = (p: string) => displayPath(p, r.ctx.cwd);
  if (r.ctx.out.json) document(r, report);
  // A 422 means the statement did not run: the role lacks a privilege. Retrying cannot help.
  const refused = err.code === 'ERR_STATEMENT_FAILED';
  if (at === 'set' && refused) {
    const now = await standing(r, journal);
    const cleaned = now.newKeyRegistered === false;
    if (cleaned) discardRotation(journalPath, journal);
    return new CheckFailedError(err.code, `Snowflake refused to set ${slotProperty(journal.newSlot)} of ${r.target}: ${err.message.replace(/^Snowflake refused the statement: /, '')}`, {
      details: [
        ...now.lines,
        cleaned ? `nothing changed; the new key files and the journal were removed` : `kept: ${display(journal.privateKeyPath)} and its journal ${display(journalPath)}`,
      ],
      hint: `the role in use needs OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on user ${r.target}: pass --role with a role that has it (or grant it), then run the command again`,
      data: { ...(err.data ?? {}), step: at, cleanedUp: cleaned },
      cause: err,
    });
  }
  let lines: string[];
  let undo: string | undefined;
  if (at === 'set' || at === 'verify') {
    ({ lines, undo } = await standing(r, journal));
  } else {
    // The new key authenticated moments ago (step 5), and the lock keeps other runs here away.
    lines = [`the new key in ${slotProperty(journal.newSlot)} authenticated a moment ago: no one is locked out`];
  }
  const unsetRefused = refused && at === 'unset';
  const details = [
    ...err.details,
    ...lines,
    `new key   ${display(journal.privateKeyPath)} ${journal.newFingerprint}`,
    `journal   ${display(journalPath)}`,
    `to finish: run the same command again${unsetRefused ? ' with a role that may change the user, or with --keep-old to leave the old key registered' : ''}`,
    ...(undo ? [`to undo:   ${undo}  (then delete the new key files and the journal)`] : []),
  ];
  return new SfauthError(err.code, err.message, err.exitCode, {
    details,
    hint: unsetRefused
      ? `removing the old key needs OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on user ${r.target} (--role); or finish with --keep-old`
      : finishHint(),
    data: { ...(err.data ?? {}), privateKeyPath: journal.privateKeyPath, newSlot: journal.newSlot, oldSlot: journal.oldSlot, step: at },
    cause: err,
  });
}

async function verifyFailed(r: Run, report: RotateReport, journal: RotationJournal, last: SfauthError, attempts: number): Promise<CheckFailedError> {
  const display = (p: string) => displayPath(p, r.ctx.cwd);
  if (r.ctx.out.json) document(r, report);
  const now = await standing(r, journal);
  return new CheckFailedError(
    'ERR_ROTATION_UNVERIFIED',
    `the new key could not be verified within ${r.session.timeoutLabel}: Snowflake refused it ${attempts} time${attempts === 1 ? '' : 's'} (${last.message.replace(/^authentication refused: /, '')})`,
    {
      details: [
        ...now.lines,
        `new key   ${display(journal.privateKeyPath)} ${journal.newFingerprint}`,
        `to finish: run the same command again (a longer --timeout gives the key more time to propagate)`,
        ...(now.undo ? [`to undo:   ${now.undo}  (then delete the new key files and the journal ${display(report.journalPath)})`] : []),
      ],
      hint: now.undo ? `rerun the same command to finish, or undo with ${now.undo}` : 'rerun the same command to finish; check with sfauth status before undoing anything',
      data: { privateKeyPath: journal.privateKeyPath, newSlot: journal.newSlot, oldSlot: journal.oldSlot, newFingerprint: journal.newFingerprint, step: 'verify', code: last.data?.code },
    },
  );
}

/** A key in a slot is accounted for when it is the key in use or one an earlier rotation here replaced. */
function accountedFor(r: Run, fingerprint: string): boolean {
  return sameFingerprint(fingerprint, r.localFingerprint) || r.journals.some((j) => sameFingerprint(j.journal.oldFingerprint, fingerprint));
}

function unaccountedError(r: Run, slot: Slot, fingerprint: string): CheckFailedError {
  return new CheckFailedError(
    'ERR_SLOT_UNACCOUNTED',
    `refusing to overwrite ${slotProperty(slot)} of ${r.target}: it holds ${fingerprint}, a key that is not the one in use and that no rotation here replaced`,
    {
      hint: 'someone may be using that key (it may have been handed out after a --keep-old rotation); check with sfauth status, then pass --overwrite-other to replace it anyway',
      data: { slot, fingerprint },
    },
  );
}

function unsafeError(r: Run, slot: Slot, why: string): CheckFailedError {
  return new CheckFailedError('ERR_ROTATION_UNSAFE', `refusing to set ${slotProperty(slot)} of ${r.target}: ${why}, and writing it could leave no working key`, {
    hint: 'check the slots with sfauth status; register a second key by hand first (sfauth sql), or rotate from the key in the other slot',
  });
}

function lostKeyError(r: Run, journal: RotationJournal, slot: Slot): UsageError {
  return new UsageError('ERR_NEW_KEY_MISSING', `the new private key ${displayPath(journal.privateKeyPath, r.ctx.cwd)} of the unfinished rotation is gone, but its public key is registered in ${slotProperty(slot)}`, {
    details: [`undo: ${unsetPublicKeySql(r.target, slot)};  then delete ${displayPath(journal.privateKeyPath + '.rotate.json', r.ctx.cwd)} and run the rotation again`],
    hint: `restore ${displayPath(journal.privateKeyPath, r.ctx.cwd)} from a backup and run the same command again, or undo as shown`,
  });
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

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

function slotReports(desc: UserDescription): SlotReport[] {
  return desc.slots.map((s) => ({
    slot: s.slot,
    property: slotProperty(s.slot),
    fingerprint: s.fingerprint,
    lastSetTime: s.lastSetTime ? s.lastSetTime.toISOString() : s.lastSetTimeText,
  }));
}

function slotSummary(desc: UserDescription): string {
  return desc.slots.map((s) => `slot ${s.slot} ${s.fingerprint ?? 'empty'}`).join(', ');
}

function slotMarks(r: Run, desc: UserDescription, newSlot: Slot, oldSlot: Slot | null, newFingerprint?: string): Partial<Record<Slot, string>> {
  const marks: Partial<Record<Slot, string>> = {};
  for (const s of desc.slots) {
    const tags: string[] = [];
    if (newFingerprint && sameFingerprint(s.fingerprint, newFingerprint)) tags.push('the new key');
    if (r.localFingerprint && sameFingerprint(s.fingerprint, r.localFingerprint)) tags.push('matches the local key');
    if (s.slot === oldSlot && s.fingerprint) tags.push(r.keepOld ? 'old key (kept)' : 'old key (removed at the end)');
    if (s.slot === newSlot && !(newFingerprint && sameFingerprint(s.fingerprint, newFingerprint))) tags.push(s.fingerprint ? '← overwritten by the new key' : '← the new key goes here');
    if (tags.length) marks[s.slot] = tags.join(', ');
  }
  return marks;
}

function printPlan(r: Run, report: RotateReport, desc: UserDescription, marks: Partial<Record<Slot, string>>): void {
  const { ctx } = r;
  if (ctx.out.json) {
    if (!r.apply) document(r, report);
    return;
  }
  for (const line of renderPlan(report, desc.slots, marks, ctx.now(), ctx.out.dataStyle, (p) => displayPath(p, ctx.cwd))) ctx.out.line(line);
  ctx.out.line();
}

