/**
 * The plan / outcome of a rotation: the six steps of DESIGN.md §3 with their exact SQL and status,
 * as a JSON document (`--json`) or as text for stdout.
 */
import { formatDuration } from '../core/duration.js';
import { ageSeconds, type PassphraseSource } from '../core/rotation-plan.js';
import { describeUserSql, setPublicKeySql, slotProperty, unsetPublicKeySql, type Slot } from '../core/sql.js';
import { VERIFY_SQL } from './verify.js';
import type { ChalkInstance } from 'chalk';

export type StepStatus = 'planned' | 'done' | 'already-done' | 'skipped' | 'failed';
export type StepName = 'describe' | 'choose-slot' | 'write-key' | 'set' | 'verify' | 'unset';

export interface StepReport {
  step: 1 | 2 | 3 | 4 | 5 | 6;
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

export interface RotateReport {
  user: string;
  account: string;
  /** True once this run changed something (files or server). */
  applied: boolean;
  /** An unfinished rotation (found through its journal) was picked up. */
  resumed: boolean;
  /** False when --if-older-than found the current key young enough (nothing else happens). */
  due: boolean;
  /** The rotation was already complete: nothing left to do. */
  alreadyDone: boolean;
  oldSlot: Slot | null;
  newSlot: Slot;
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
}

export interface StepInput {
  user: string;
  loginName: string;
  newSlot: Slot;
  oldSlot: Slot | null;
  keepOld: boolean;
  /** Null in a plan: the SQL then shows a placeholder for the body. */
  newPublicKey: string | null;
  privateKeyPath: string;
  publicKeyPath: string;
  journalPath: string;
  slotChoice: string;
  display(path: string): string;
}

export const PUBLIC_KEY_PLACEHOLDER = '<public key of the new key, made at --apply>';

export function buildSteps(input: StepInput): StepReport[] {
  const { user, newSlot, oldSlot } = input;
  const setSql = setPublicKeySql(user, newSlot, input.newPublicKey ?? 'PLACEHOLDER').replace("'PLACEHOLDER'", `'${PUBLIC_KEY_PLACEHOLDER}'`);
  const unset = oldSlot !== null && !input.keepOld;
  return [
    { step: 1, name: 'describe', description: `read both key slots of ${user}`, sql: [describeUserSql(user)], status: 'planned' },
    { step: 2, name: 'choose-slot', description: input.slotChoice, sql: [], status: 'planned' },
    {
      step: 3,
      name: 'write-key',
      description: `write the new private key ${input.display(input.privateKeyPath)} (0600), ${input.display(input.publicKeyPath)} and the journal ${input.display(input.journalPath)}, before any change on the server`,
      sql: [],
      status: 'planned',
    },
    { step: 4, name: 'set', description: `register the new public key in ${slotProperty(newSlot)}`, sql: [setSql], status: 'planned' },
    {
      step: 5,
      name: 'verify',
      description: `authenticate as ${input.loginName} with the new key (retrying while the key propagates)`,
      sql: [VERIFY_SQL],
      status: 'planned',
    },
    {
      step: 6,
      name: 'unset',
      description: unset
        ? `remove the old key from ${slotProperty(oldSlot)}, then read DESC USER again to confirm`
        : oldSlot === null
          ? 'no old key to remove; read DESC USER again to confirm'
          : `keep the old key in ${slotProperty(oldSlot)} (--keep-old); read DESC USER again to confirm`,
      sql: unset ? [unsetPublicKeySql(user, oldSlot), describeUserSql(user)] : [describeUserSql(user)],
      status: 'planned',
    },
  ];
}

export function setStatus(steps: StepReport[], name: StepName, status: StepStatus): void {
  const s = steps.find((x) => x.name === name);
  if (s) s.status = status;
}

/** Replaces the placeholder in step 4 once the key exists. */
export function fillPublicKey(steps: StepReport[], user: string, slot: Slot, body: string): void {
  const s = steps.find((x) => x.name === 'set');
  if (s) s.sql = [setPublicKeySql(user, slot, body)];
}

export interface SlotLine {
  slot: Slot;
  fingerprint: string | null;
  lastSetTime: Date | null;
  lastSetTimeText: string | null;
}

/** The plan as text for stdout. */
export function renderPlan(report: RotateReport, slots: SlotLine[], marks: Partial<Record<Slot, string>>, nowMs: number, style: ChalkInstance, display: (p: string) => string): string[] {
  const lines: string[] = [];
  lines.push(`Rotation ${report.applied ? '' : 'plan '}for ${report.user} (account ${report.account})${report.resumed ? ' — resuming an unfinished rotation' : ''}`);
  for (const s of slots) {
    const prop = slotProperty(s.slot).padEnd(16);
    if (!s.fingerprint) {
      lines.push(`  slot ${s.slot}  ${prop}  (empty)${marks[s.slot] ? `  ${marks[s.slot]}` : ''}`);
      continue;
    }
    const age = ageSeconds(s.lastSetTime, nowMs);
    const when = s.lastSetTimeText ? `set ${s.lastSetTimeText}${age !== null ? ` (${formatDuration(age)} ago)` : ''}` : 'set at an unknown time';
    lines.push(`  slot ${s.slot}  ${prop}  ${s.fingerprint}  ${when}${marks[s.slot] ? `  ${marks[s.slot]}` : ''}`);
  }
  const k = report.newKey;
  const spec = k.type === 'rsa' ? `RSA ${k.bits}` : `EC ${k.curve}`;
  lines.push(`  new key: ${spec}, ${passphraseWords(k)}`);
  lines.push(`           ${display(report.privateKeyPath)} (0600) and ${display(report.publicKeyPath)}${report.newFingerprint ? `, ${report.newFingerprint}` : ''}`);
  for (const n of report.notes) lines.push(`  note: ${n}`);
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
