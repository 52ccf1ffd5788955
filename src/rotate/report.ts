/**
 * The plan / outcome of a rotation: its steps (DESIGN.md §3 "Rotation") with their exact SQL and
 * status, as a JSON document (`--json`) or as text for stdout. The step names follow the target:
 * a legacy rotation sets and unsets slots, a named one rotates and retires a pair, a migration adds a
 * pair and unsets the slot.
 */
import { timeText } from '../core/time-text.js';
import { formatDuration } from '../core/duration.js';
import { ageSeconds } from '../core/rotation-plan.js';
import type { PassphraseSource, RotationTarget } from '../core/rotation-journal.js';
import { showKeyPairsSql } from '../core/key-pair-sql.js';
import { describeUserSql, slotProperty, type Slot } from '../core/sql.js';
import { plannedRetireSql, registerStatement } from '../keys/rotation-target.js';
import type { PairKey } from '../keys/types.js';
import { VERIFY_SQL } from './verify.js';
import type { HandOverReport } from './hand-over.js';
import { plainLine } from '../core/untrusted-text.js';
import type { ChalkInstance } from 'chalk';

export type StepStatus = 'planned' | 'done' | 'already-done' | 'skipped' | 'failed';
export type StepName = 'describe' | 'choose-slot' | 'choose-key-pair' | 'write-key' | 'set' | 'rotate' | 'add' | 'verify' | 'hand-over' | 'unset' | 'retire';
/** The engine's transitions, which the steps of the report stand for. */
export type StepRole = 'read' | 'choose' | 'write' | 'register' | 'verify' | 'hand-over' | 'retire';

export interface StepReport {
  step: number;
  name: StepName;
  description: string;
  /** The statements of this step, in order (no trailing `;`). */
  sql: string[];
  status: StepStatus;
}

export interface SlotReport {
  slot: Slot;
  property: string;
  fingerprint: string | null;
  lastSetTime: string | null;
}

export interface PairReport {
  name: string;
  fingerprint: string;
  status: string;
  createdOn: string | null;
  expiresAt: string | null;
  rotatedTo: string | null;
  roleRestriction: string | null;
}

export interface RotateReport {
  user: string;
  account: string;
  /** `slot` (legacy), `pair` (named rotation) or `migrate` (slot → pair). */
  kind: RotationTarget['kind'];
  /** True once this run changed something (files or server). */
  applied: boolean;
  /** An unfinished rotation (found through its journal) was picked up. */
  resumed: boolean;
  /** False when --if-older-than found the current key young enough (nothing else happens). */
  due: boolean;
  /** The rotation was already complete: nothing left to do. */
  alreadyDone: boolean;
  /** Legacy: the slots; null for a named pair. */
  oldSlot: Slot | null;
  newSlot: Slot | null;
  /** Named rotation and migration: the pair's name. */
  keyPair: string | null;
  /** Named rotation: hours the old key lives on (0: disabled once the new one is verified). */
  graceHours?: number;
  roleRestriction?: string | null;
  oldFingerprint: string | null;
  /** Null in a plan: the key is made at --apply. */
  newFingerprint: string | null;
  privateKeyPath: string;
  publicKeyPath: string;
  journalPath: string;
  newKey: { type: 'rsa' | 'ec'; bits?: number; curve?: string; encrypted: boolean; passphrase: PassphraseSource };
  keepOld: boolean;
  slotChoice: string;
  notes: string[];
  steps: StepReport[];
  /** Both slots as last read. */
  slots: SlotReport[];
  /** The named pairs as last read (rotated-out ones included); absent when the server has none. */
  keyPairs?: PairReport[];
  /** `--store-cmd`: how it ended. */
  store?: HandOverReport['store'];
  /** `--update-connection`: the line changed. */
  connectionUpdate?: HandOverReport['connection'];
  /** `--in-place`: the file replaced. */
  inPlace?: HandOverReport['inPlace'];
  /** The private key file was removed after the hand-over (`--store-cmd` without `--out`). */
  privateKeyRemoved?: boolean;
  /** The statements that changed the server in this run, in order (for "after applying, list them"). */
  statementsRun: string[];
  /** Who keeps working, and when the old key stops (DESIGN.md §3 v3 "The plan says who is affected and when"). */
  delivery: DeliveryReport;
  /** Old private key files removed (or to be removed) because the server no longer accepts their key. */
  removedFiles: string[];
}

export interface DeliveryReport {
  /** Where the program that uses the old key reads it from, in words. */
  readFrom: string;
  /** Where the new key goes, in words (empty: only its own file). */
  deliveredTo: string[];
  /** The new key reaches every place the old one is read from. */
  covered: boolean;
  /** When the old key stops working, in words. */
  oldKeyStops: string;
  /** How to reach the place the old key is still read from (when not covered). */
  hint?: string;
  /** Files that go once the old key no longer works (unless --keep-old-key-file). */
  filesToRemove: string[];
}

export interface StepInput {
  user: string;
  loginName: string;
  target: RotationTarget;
  keepOld: boolean;
  /** An old key is registered (something to retire). */
  hasOld: boolean;
  /** Null in a plan: the SQL then shows a placeholder for the body. */
  newPublicKey: string | null;
  privateKeyPath: string;
  publicKeyPath: string;
  journalPath: string;
  choice: string;
  /** Step 6, when there is a hand-over: what it does, in words. */
  handOver?: string;
  /** The run stops after step 6 (the new key does not reach every place the old one is read from). */
  awaiting?: boolean;
  display(path: string): string;
}

export const PUBLIC_KEY_PLACEHOLDER = '<public key of the new key, made at --apply>';

const NAMES: Record<RotationTarget['kind'], { choose: StepName; register: StepName; retire: StepName }> = {
  slot: { choose: 'choose-slot', register: 'set', retire: 'unset' },
  pair: { choose: 'choose-key-pair', register: 'rotate', retire: 'retire' },
  migrate: { choose: 'choose-key-pair', register: 'add', retire: 'unset' },
};

/** The report's name of the step that stands for an engine transition. */
export function stepName(kind: RotationTarget['kind'], role: StepRole): StepName {
  switch (role) {
    case 'read':
      return 'describe';
    case 'write':
      return 'write-key';
    case 'verify':
      return 'verify';
    case 'hand-over':
      return 'hand-over';
    default:
      return NAMES[kind][role];
  }
}

function registerWords(t: RotationTarget): string {
  switch (t.kind) {
    case 'slot':
      return `register the new public key in ${slotProperty(t.newSlot)}`;
    case 'pair':
      return `rotate key pair ${t.name} to the new public key (the old key becomes ${t.name}_ROTATED_<ms>${t.graceHours === 0 ? ', kept for 1 h at most' : `, kept for ${t.graceHours} h`})`;
    case 'migrate':
      return t.via === 'add'
        ? `add the new public key as key pair ${t.name}${t.roleRestriction ? ` (role restriction ${t.roleRestriction})` : ''}`
        : `rotate key pair ${t.name}, which holds a key nobody here accounts for, to the new public key`;
  }
}

function retireWords(t: RotationTarget, keepOld: boolean, hasOld: boolean, user: string): string {
  const confirm = `then read the keys of ${user} again to confirm`;
  if (t.kind === 'pair') {
    return t.graceHours === 0 ? `disable the rotated-out pair (--grace 0; REMOVE if the server refuses), ${confirm}` : `nothing to remove: the grace period retires the old key; read the keys again to confirm`;
  }
  const slot = t.kind === 'slot' ? t.oldSlot : t.fromSlot;
  if (slot === null || !hasOld) return `no old key to remove; ${confirm.replace('then ', '')}`;
  return keepOld ? `keep the old key in ${slotProperty(slot)} (--keep-old); ${confirm.replace('then ', '')}` : `remove the old key from ${slotProperty(slot)}, ${confirm}`;
}

export function buildSteps(input: StepInput): StepReport[] {
  const { user, target: t } = input;
  const reads = [describeUserSql(user), showKeyPairsSql(user)];
  const register = registerStatement(user, t, input.newPublicKey ?? 'PLACEHOLDER').replace("'PLACEHOLDER'", `'${PUBLIC_KEY_PLACEHOLDER}'`);
  return [
    { step: 1, name: 'describe', description: `read the keys of ${user} (legacy slots and named key pairs)`, sql: reads, status: 'planned' },
    { step: 2, name: stepName(t.kind, 'choose'), description: input.choice, sql: [], status: 'planned' },
    {
      step: 3,
      name: 'write-key',
      description: `write the new private key ${input.display(input.privateKeyPath)} (0600), ${input.display(input.publicKeyPath)} and the journal ${input.display(input.journalPath)}, before any change on the server`,
      sql: [],
      status: 'planned',
    },
    { step: 4, name: stepName(t.kind, 'register'), description: registerWords(t), sql: [register], status: 'planned' },
    {
      step: 5,
      name: 'verify',
      description: `authenticate as ${input.loginName} with the new key${t.kind !== 'slot' && t.roleRestriction ? ` and role ${t.roleRestriction} (the pair's role restriction)` : ''} (retrying while the key propagates)`,
      sql: [VERIFY_SQL],
      status: 'planned',
    },
    { step: 6, name: 'hand-over' as const, description: input.handOver ?? 'deliver the new key: nothing in this run delivers it (it stays in its file)', sql: [], status: 'planned' as const },
    {
      step: 7,
      name: stepName(t.kind, 'retire'),
      description:
        input.awaiting && plannedRetireSql(user, t, input.keepOld, input.hasOld).length > 0
          ? `stop here, both keys registered (awaiting delivery): the old key is retired by --finish once the new key is deployed (${retireWords(t, input.keepOld, input.hasOld, user)})`
          : retireWords(t, input.keepOld, input.hasOld, user),
      sql: [...plannedRetireSql(user, t, input.keepOld, input.hasOld), ...reads],
      status: 'planned',
    },
  ];
}

export function setStatus(steps: StepReport[], name: StepName, status: StepStatus): void {
  const s = steps.find((x) => x.name === name);
  if (s) s.status = status;
}

/** Replaces the placeholder in step 4 once the key exists. */
export function fillPublicKey(steps: StepReport[], user: string, t: RotationTarget, body: string): void {
  const s = steps[3];
  if (s) s.sql = [registerStatement(user, t, body)];
}

/** Replaces the planned retirement SQL with what was sent. */
export function fillRetireSql(steps: StepReport[], sql: string[]): void {
  const s = steps.at(-1);
  if (s) s.sql = [...sql, ...s.sql.filter((q) => !/^ALTER/i.test(q))];
}

export interface SlotLine {
  slot: Slot;
  fingerprint: string | null;
  lastSetTime: Date | null;
  lastSetTimeText: string | null;
}

/** Marks beside the keys in the plan, by slot number or pair name. */
export type KeyMarks = Map<Slot | string, string>;

/** The plan as text for stdout. */
export function renderPlan(
  report: RotateReport,
  keys: { slots: SlotLine[]; pairs: readonly PairKey[] },
  marks: KeyMarks,
  nowMs: number,
  style: ChalkInstance,
  display: (p: string) => string,
): string[] {
  const lines: string[] = [];
  const mark = (k: Slot | string) => (marks.get(k) ? `  ${marks.get(k)}` : '');
  const since = (d: Date | null, text: string | null, verb: string) => {
    const age = ageSeconds(d, nowMs);
    if (!d && !text) return `${verb} at an unknown time`;
    return `${verb} ${d ? timeText(d) : text}${age !== null ? ` (${formatDuration(age)} ago)` : ''}`;
  };
  lines.push(`Rotation ${report.applied ? '' : 'plan '}for ${report.user} (account ${report.account})${report.resumed ? ' — resuming an unfinished rotation' : ''}`);
  for (const s of keys.slots) {
    const prop = slotProperty(s.slot).padEnd(16);
    lines.push(s.fingerprint ? `  slot ${s.slot}  ${prop}  ${s.fingerprint}  ${since(s.lastSetTime, s.lastSetTimeText, 'set')}${mark(s.slot)}` : `  slot ${s.slot}  ${prop}  (empty)${mark(s.slot)}`);
  }
  for (const p of keys.pairs) {
    const state = p.rotatedTo ? `rotated out, expires ${p.expiresAt ? timeText(p.expiresAt) : 'at an unknown time'}` : `${p.status}${p.expiresAt ? `, expires ${timeText(p.expiresAt)}` : ''}`;
    const used = p.lastUsedOn ? `; last used ${timeText(p.lastUsedOn)}` : '';
    lines.push(`  pair    ${p.name.padEnd(16)}  ${p.fingerprint}  ${state}; ${since(p.createdOn, null, 'created')}${p.roleScope ? `; role ${p.roleScope}` : ''}${used}${mark(p.name)}`);
  }
  for (const [name, text] of marks) {
    if (typeof name === 'string' && !keys.pairs.some((p) => p.name === name)) lines.push(`  pair    ${name.padEnd(16)}  (not there yet)  ${text}`);
  }
  const k = report.newKey;
  const spec = k.type === 'rsa' ? `RSA ${k.bits}` : `EC ${k.curve}`;
  lines.push(`  new key: ${spec}, ${passphraseWords(k)}`);
  lines.push(`           ${display(report.privateKeyPath)} (0600) and ${display(report.publicKeyPath)}${report.newFingerprint ? `, ${report.newFingerprint}` : ''}`);
  const d = report.delivery;
  lines.push(`  who keeps working:`);
  lines.push(`    the old key is read from ${d.readFrom}`);
  lines.push(`    the new key goes to ${d.deliveredTo.length ? d.deliveredTo.join(' and ') : `${display(report.privateKeyPath)} only`}`);
  lines.push(`    the old key stops working ${d.oldKeyStops}`);
  if (!d.covered && d.hint) lines.push(`    to deliver it in this run: ${d.hint}, or --retire-now once you have deployed it yourself`);
  if (d.filesToRemove.length) lines.push(`    removed once the old key no longer works: ${d.filesToRemove.map(display).join(', ')} (--keep-old-key-file keeps them)`);
  for (const n of report.notes) lines.push(`  note: ${plainLine(n)}`);
  for (const s of report.steps) {
    const tag = s.status === 'planned' ? '' : `  [${s.status}]`;
    lines.push(`  ${s.step}. ${s.description}${tag}`);
    for (const q of s.sql) lines.push(`       ${style.cyan(q + ';')}`);
  }
  return lines;
}

function passphraseWords(k: RotateReport['newKey']): string {
  switch (k.passphrase) {
    case 'current-key':
      return "encrypted with the current key's passphrase";
    case '--new-passphrase-file':
      return 'encrypted with the passphrase from --new-passphrase-file';
    case 'prompt':
      return 'encrypted with a passphrase asked for on the terminal';
    default:
      return 'not encrypted';
  }
}

export function pairReports(pairs: readonly PairKey[]): PairReport[] {
  return pairs.map((p) => ({
    name: p.name,
    fingerprint: p.fingerprint,
    status: p.status,
    createdOn: p.createdOn ? p.createdOn.toISOString() : null,
    expiresAt: p.expiresAt ? p.expiresAt.toISOString() : null,
    rotatedTo: p.rotatedTo,
    roleRestriction: p.roleScope,
  }));
}
