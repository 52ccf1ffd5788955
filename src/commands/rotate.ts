/**
 * `sfauth rotate`: replace a user's key with a new one so that no moment is without a working key
 * (DESIGN.md §3 "Rotation"). This file parses the flags, opens the session, and renders what the
 * rotation of the user (src/rotate/rotation.ts, over the engine in src/rotate/engine.ts) reports:
 * the plan, the progress, the outcome, or why there was nothing to do.
 */
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
import { checkConnectionUpdate } from '../rotate/hand-over.js';
import { ensurePrivateFolder, keyStateFolder } from '../rotate/lock.js';
import type { NewKeyFlags } from '../rotate/new-key.js';
import { renderPlan, type KeyMarks, type RotateReport } from '../rotate/report.js';
import { keysOf, rotateUser, type RotationOutcome } from '../rotate/rotation.js';
import { namedPairFrom, type KeyPairFlags } from './key-pair-flags.js';

export interface RotateOptions extends SessionFlags, NewKeyFlags, Omit<KeyPairFlags, 'slot'> {
  targetUser?: string;
  apply?: boolean;
  keepOld?: boolean;
  overwriteOther?: boolean;
  ifOlderThan?: string;
  grace?: string;
  storeCmd?: string;
  updateConnection?: boolean;
  json?: boolean;
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
  const threshold = options.ifOlderThan !== undefined ? parseDuration(options.ifOlderThan, '--if-older-than') : undefined;
  if (options.encrypt === false && options.newPassphraseFile) {
    throw new UsageError('ERR_USAGE', '--no-encrypt and --new-passphrase-file contradict each other', { hint: 'drop one of them' });
  }
  const pair = namedPairFrom(options);
  const graceHours = options.grace !== undefined ? parseGrace(options.grace, parseDuration) : undefined;
  const session = await openSession(options, ctx);
  const conn = session.connection;
  const account = requireValue(conn, 'account');
  const authUser = conn.user;
  const target = options.targetUser ?? requireValue(conn, 'user');
  const self = !options.targetUser || (authUser !== undefined && normalizeUserName(options.targetUser) === normalizeUserName(authUser));
  if (self && session.key && !session.key.path && !options.out && !options.keepOld && !options.storeCmd) {
    // The key lives nowhere sfauth could put the new one: in CI the working folder dies with the job,
    // and with the old key removed the service would be locked out.
    throw new UsageError('ERR_NO_KEY_DESTINATION', `the key in use came from ${session.key.label}, so there is no key file to put the new key beside`, {
      hint: 'say where the new private key goes: --store-cmd CMD (your secret store), --out PATH (somewhere that outlives this run, not a CI working folder), or --keep-old to keep the current key registered too',
    });
  }
  if (options.storeCmd !== undefined && options.storeCmd.trim() === '') throw new UsageError('ERR_USAGE', '--store-cmd is empty', { hint: 'give the command that stores the new private key (it gets the PEM on stdin)' });
  const updateConnection = options.updateConnection ? checkConnectionUpdate(conn, ctx.cwd) : undefined;
  // With a store and no --out, the key never needs to stay on disk: it waits in sfauth's own state
  // folder until it is handed over, then goes (a rerun after a failed hand-over finds it there).
  const storeOnly = options.storeCmd !== undefined && !options.out && !updateConnection;
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
    ...(options.storeCmd !== undefined || updateConnection
      ? {
          handOver: {
            ...(options.storeCmd !== undefined ? { storeCmd: options.storeCmd } : {}),
            ...(updateConnection ? { updateConnection } : {}),
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
    },
  });
  return render(r, outcome);
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
    case 'already-done':
      if (ctx.out.json) document(r, o.report);
      else {
        ctx.out.line(o.message);
        ctx.out.info(`next: point the connection at ${displayPath(o.journal.privateKeyPath, ctx.cwd)}; a new rotation then starts from that key`);
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
    document(r, report);
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
        : `; the old key works until ${rotatedOut?.expiresAt ? rotatedOut.expiresAt.toISOString() : `the grace period of ${t.graceHours} h ends`}${rotatedOut ? ` as ${rotatedOut.name}` : ''}`;
  }
  const keyAt = report.privateKeyRemoved ? 'handed over by --store-cmd, no file kept' : display(journal.privateKeyPath);
  out.line(`${t.kind === 'migrate' ? 'migrated' : 'rotated'} ${report.user}: ${where} = ${journal.newFingerprint} (${keyAt})${after}`);
  out.info('');
  const conn = r.options.connection;
  const role = roleOf(t);
  const stored = report.store?.handedOver === true;
  const next = report.connectionUpdate?.updated
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

