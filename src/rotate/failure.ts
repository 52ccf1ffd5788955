/**
 * What a rotation says when a step fails: where the keys stand (from a fresh read, DESIGN.md §3
 * "Concurrency": every statement about the server's state comes from a fresh read, and no undo ever
 * removes the only working key), how to finish, and how to undo when undoing is safe.
 */
import { unlinkSync } from 'node:fs';
import { CheckFailedError, isSfauthError, SfauthError, UsageError } from '../errors.js';
import type { RotationJournal } from '../core/rotation-journal.js';
import { slotProperty, type Slot } from '../core/sql.js';
import { displayPath } from '../io/paths.js';
import { keysSummary, placeHolding, readUserKeys, viewOf } from '../keys/read.js';
import { observe, oldPlaceOf, placeOf, undoStatement, type KeysView } from '../keys/rotation-target.js';
import type { Engine, Rotation } from './engine.js';

export function finishHint(): string {
  return 'run the same command again to finish this rotation (it resumes from the journal)';
}

/** Time a read of the keys after a failure may take, even past --timeout: it only looks. */
const AFTERWORD_READ_MS = 5000;

export function rotationKeys(j: RotationJournal) {
  return { newFingerprint: j.newFingerprint, oldFingerprint: j.oldFingerprint, heldFingerprint: j.authFingerprint };
}

/** Where the keys stand now, read afresh after a failure. */
export async function standing(e: Engine, journal: RotationJournal): Promise<{ lines: string[]; undo?: string; newKeyRegistered?: boolean }> {
  let view: KeysView;
  try {
    const client = e.worker.withDeadline(Math.max(e.deadline, e.ctx.now() + AFTERWORD_READ_MS));
    view = viewOf(await readUserKeys(client, e.user));
  } catch (err) {
    const why = isSfauthError(err) ? err.message : String(err);
    return { lines: [`the keys of ${e.user} could not be read again (${why}); check them with sfauth status before undoing anything`] };
  }
  const now = e.ctx.now();
  const o = observe(journal.target, view, rotationKeys(journal), now);
  const oldAt = placeHolding(view, journal.oldFingerprint, now) ?? placeHolding(view, journal.authFingerprint, now);
  const lines = [`read just now: ${keysSummary(view)}`];
  if (!o.registered) {
    lines.push(oldAt ? `the new key is not registered; the old key is in ${oldAt}: no one is locked out` : 'the new key is not registered');
    return { lines, newKeyRegistered: false };
  }
  if (oldAt) {
    lines.push(`the new key is in ${placeOf(journal.target)} and the old key stays in ${oldAt}: no one is locked out`);
    const undo = undoStatement(e.user, journal.target, { ...o, oldActive: true });
    return { lines, ...(undo ? { undo: `${undo};` } : {}), newKeyRegistered: true };
  }
  lines.push(`the new key is in ${placeOf(journal.target)} and the old key is no longer registered: the new key is the one that works now`);
  return { lines, newKeyRegistered: true };
}

/** Removes the files of a rotation whose registration never took effect, so a rerun starts clean. */
export function discardRotation(r: Rotation): void {
  for (const p of [r.journal.privateKeyPath, r.journal.publicKeyPath, r.path]) {
    try {
      unlinkSync(p);
    } catch {
      // already gone
    }
  }
}

export type FailedAt = 'register' | 'verify' | 'hand-over' | 'retire' | 'confirm';

/** An error from a step, with the standing of the keys and how to finish or undo. */
export async function interrupted(e: Engine, r: Rotation, err: unknown, at: FailedAt): Promise<unknown> {
  if (!isSfauthError(err)) return err;
  const journal = r.journal;
  const display = (p: string) => displayPath(p, e.ctx.cwd);
  e.documentOnFailure();
  // A 422 means the statement did not run: a privilege is missing, or the server refuses the form.
  const refused = err.code === 'ERR_STATEMENT_FAILED';
  const where = placeOf(journal.target);
  const grantHint = `the role in use needs OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on user ${e.user}: pass --role with a role that has it (or grant it), then run the command again`;
  const data = { ...(err.data ?? {}), privateKeyPath: journal.privateKeyPath, ...targetData(journal), step: at };
  if (at === 'register' && refused) {
    const now = await standing(e, journal);
    const cleaned = now.newKeyRegistered === false;
    if (cleaned) discardRotation(r);
    const verb = journal.target.kind === 'slot' ? `set ${where}` : journal.target.kind === 'pair' ? `rotate ${where}` : `add ${where}`;
    return new CheckFailedError(err.code, `Snowflake refused to ${verb} of ${e.user}: ${err.message.replace(/^Snowflake refused the statement: /, '')}`, {
      details: [...now.lines, cleaned ? `nothing changed; the new key files and the journal were removed` : `kept: ${display(journal.privateKeyPath)} and its journal ${display(r.path)}`],
      hint: err.hint && !/privilege|authorized/i.test(err.message) ? err.hint : grantHint,
      data: { ...data, cleanedUp: cleaned },
      cause: err,
    });
  }
  let lines: string[];
  let undo: string | undefined;
  if (at === 'register' || at === 'verify' || at === 'hand-over') {
    ({ lines, undo } = await standing(e, journal));
  } else {
    // The new key authenticated moments ago (step 5), and the lock keeps other runs here away.
    lines = [`the new key in ${where} authenticated a moment ago: no one is locked out`];
  }
  const retireRefused = refused && at === 'retire';
  const details = [
    ...err.details,
    ...lines,
    `new key   ${display(journal.privateKeyPath)} ${journal.newFingerprint}`,
    `journal   ${display(r.path)}`,
    `to finish: run the same command again${retireRefused && journal.target.kind !== 'pair' ? ' with a role that may change the user, or with --keep-old to leave the old key registered' : ''}`,
    ...(undo ? [`to undo:   ${undo}  (then delete the new key files and the journal)`] : []),
  ];
  return new SfauthError(err.code, err.message, err.exitCode, {
    details,
    hint: retireRefused
      ? `removing the old key needs OWNERSHIP or MODIFY PROGRAMMATIC AUTHENTICATION METHODS on user ${e.user} (--role)${journal.target.kind === 'pair' ? '' : '; or finish with --keep-old'}`
      : at === 'hand-over' && err.hint
        ? err.hint
        : finishHint(),
    data,
    cause: err,
  });
}

export async function verifyFailed(e: Engine, r: Rotation, last: SfauthError, attempts: number): Promise<CheckFailedError> {
  const journal = r.journal;
  const display = (p: string) => displayPath(p, e.ctx.cwd);
  e.documentOnFailure();
  const now = await standing(e, journal);
  const role = journal.target.kind === 'slot' ? null : journal.target.roleRestriction;
  return new CheckFailedError(
    'ERR_ROTATION_UNVERIFIED',
    `the new key could not be verified within ${e.timeoutLabel}: Snowflake refused it ${attempts} time${attempts === 1 ? '' : 's'} (${last.message.replace(/^authentication refused: /, '')})`,
    {
      details: [
        ...now.lines,
        ...(role ? [`verified with role ${role}, the pair's role restriction: the user must still hold that role`] : []),
        `new key   ${display(journal.privateKeyPath)} ${journal.newFingerprint}`,
        `to finish: run the same command again (a longer --timeout gives the key more time to propagate)`,
        ...(now.undo ? [`to undo:   ${now.undo}  (then delete the new key files and the journal ${display(r.path)})`] : []),
      ],
      hint: now.undo ? `rerun the same command to finish, or undo with ${now.undo}` : 'rerun the same command to finish; check with sfauth status before undoing anything',
      data: { privateKeyPath: journal.privateKeyPath, ...targetData(journal), newFingerprint: journal.newFingerprint, step: 'verify', code: last.data?.code },
    },
  );
}

/** The target as error data: `newSlot`/`oldSlot` for a legacy rotation, `keyPair` for a named one. */
export function targetData(j: RotationJournal): Record<string, unknown> {
  const t = j.target;
  if (t.kind === 'slot') return { newSlot: t.newSlot, oldSlot: t.oldSlot };
  return { keyPair: t.name, ...(t.kind === 'migrate' ? { fromSlot: t.fromSlot } : {}) };
}

export function conflict(user: string, before: KeysView, now: KeysView, what: string): CheckFailedError {
  return new CheckFailedError('ERR_ROTATION_CONFLICT', `the keys of ${user} changed while this rotation ran; nothing more was changed`, {
    details: [`read before: ${keysSummary(before)}`, `read now:    ${keysSummary(now)}`, `stopped before: ${what}`],
    hint: 'another rotation or a person changed the keys; check with sfauth status, then run the command again',
    data: { step: what },
  });
}

export function unaccountedError(user: string, slot: Slot, fingerprint: string): CheckFailedError {
  return new CheckFailedError(
    'ERR_SLOT_UNACCOUNTED',
    `refusing to overwrite ${slotProperty(slot)} of ${user}: it holds ${fingerprint}, a key that is not the one in use and that no rotation here replaced`,
    {
      hint: 'someone may be using that key (it may have been handed out after a --keep-old rotation); check with sfauth status, then pass --overwrite-other to replace it anyway',
      data: { slot, fingerprint },
    },
  );
}

export function unsafeError(user: string, slot: Slot, why: string): CheckFailedError {
  return new CheckFailedError('ERR_ROTATION_UNSAFE', `refusing to set ${slotProperty(slot)} of ${user}: ${why}, and writing it could leave no working key`, {
    hint: 'check the slots with sfauth status; register a second key by hand first (sfauth sql), or rotate from the key in the other slot',
  });
}

export function lostKeyError(user: string, cwd: string, journal: RotationJournal): UsageError {
  const undo = undoStatement(user, journal.target, { registered: true, oldActive: true, newInOtherSlot: null, placeTakenBy: null });
  const where = placeOf(journal.target);
  return new UsageError('ERR_NEW_KEY_MISSING', `the new private key ${displayPath(journal.privateKeyPath, cwd)} of the unfinished rotation is gone, but its public key is registered in ${where}`, {
    details: undo
      ? [`undo: ${undo};  then delete ${displayPath(journal.privateKeyPath + '.rotate.json', cwd)} and run the rotation again`]
      : [`the old key stays in ${oldPlaceOf(journal.target)} for the grace period; delete ${displayPath(journal.privateKeyPath + '.rotate.json', cwd)} and run the rotation again with the old key to rotate ${where} once more`],
    hint: `restore ${displayPath(journal.privateKeyPath, cwd)} from a backup and run the same command again, or ${undo ? 'undo as shown' : 'start over as shown'}`,
  });
}
