/**
 * The audit's findings as pure rules (DESIGN.md §3 v3 "Audit": stable ids, default severities), each
 * with its evidence and the command that fixes it. Snowflake's CIS benchmark asks for key rotation
 * every 180 days (the `--max-age` default); service users should not have passwords
 * (https://docs.snowflake.com/en/user-guide/admin-user-management#types-of-users).
 */
import { formatDuration } from '../duration.js';
import { quoteIdentifier } from '../sql.js';
import { credentialLabel, severityRank, type AuditCredential, type AuditUser, type Finding, type Severity } from './model.js';

export interface AuditLimits {
  nowMs: number;
  maxAgeSeconds: number;
  expiringWithinSeconds: number;
  unusedForSeconds: number;
  /** ` -c NAME` (or '') for the fix commands: the connection the audit itself used. */
  connectionArgs: string;
}

/** `expiring-soon` is high within this, medium within --expiring-within. */
export const EXPIRING_HIGH_SECONDS = 7 * 86400;

const days = (ms: number) => formatDuration(ms / 1000);

/** Every finding for one user, worst first. */
export function findingsFor(user: AuditUser, limits: AuditLimits): Finding[] {
  const out: Finding[] = [];
  const who = quoteIdentifier(user.name);
  const add = (rule: Finding['rule'], severity: Severity, credential: string | null, evidence: string, fix: string) => out.push({ rule, severity, user: user.name, credential, evidence, fix });
  const rotate = (c: AuditCredential | null) =>
    `sfauth rotate${limits.connectionArgs} --target-user ${who}${c?.kind === 'pair' ? ` --key-pair ${c.name}` : ''} --apply`;
  const service = user.type === 'SERVICE' || user.type === 'LEGACY_SERVICE';

  if (service && user.hasPassword) {
    add('service-user-password', 'high', null, `a ${user.type} user with a password`, `as an admin: ALTER USER ${who} UNSET PASSWORD (programs authenticate with keys; check that none logs in with the password first)`);
  }
  if (user.type === 'LEGACY_SERVICE') {
    add('legacy-service-type', 'medium', null, 'TYPE = LEGACY_SERVICE, which Snowflake is retiring', `as an admin, once it has no password: ALTER USER ${who} SET TYPE = SERVICE`);
  }

  const live = user.credentials.filter((c) => !c.rotatedTo);
  for (const c of user.credentials) {
    const label = credentialLabel(c);
    const expires = c.expiresAt?.getTime();
    const active = c.status === 'ACTIVE' && !(expires !== undefined && expires <= limits.nowMs);
    if (!active && (c.status === 'EXPIRED' || (expires !== undefined && expires <= limits.nowMs))) {
      add('expired', 'low', label, `expired ${c.expiresAt ? `${days(limits.nowMs - c.expiresAt.getTime())} ago` : ''}`.trim() + ', still registered', removeFix(c, who, limits));
      continue;
    }
    if (!active) continue;
    if (expires !== undefined && !c.rotatedTo) {
      const left = expires - limits.nowMs;
      if (left <= EXPIRING_HIGH_SECONDS * 1000 || left <= limits.expiringWithinSeconds * 1000) {
        add('expiring-soon', left <= EXPIRING_HIGH_SECONDS * 1000 ? 'high' : 'medium', label, `expires in ${days(left)}`, c.kind === 'pat' ? patRotateFix(c, who, limits) : rotate(c));
      }
    }
    if (c.kind !== 'pat' && !c.rotatedTo && c.createdOn && limits.nowMs - c.createdOn.getTime() > limits.maxAgeSeconds * 1000) {
      add('key-too-old', 'medium', label, `${c.kind === 'slot' ? 'set' : 'created'} ${days(limits.nowMs - c.createdOn.getTime())} ago, more than ${days(limits.maxAgeSeconds * 1000)}`, rotate(c));
    }
    if (c.kind !== 'slot' && c.lastUseKnown && !c.rotatedTo) {
      const since = c.lastUsedOn?.getTime() ?? c.createdOn?.getTime();
      if (since !== undefined && limits.nowMs - since > limits.unusedForSeconds * 1000) {
        const evidence = c.lastUsedOn ? `last used ${days(limits.nowMs - since)} ago` : `never used in the ${days(limits.nowMs - since)} since it was created`;
        add('unused', 'low', label, evidence, c.kind === 'pair' ? `sfauth revoke${limits.connectionArgs} --target-user ${who} --key-pair ${c.name} --disable --apply` : `as an admin: ALTER USER ${who} MODIFY PROGRAMMATIC ACCESS TOKEN ${c.name} SET DISABLED = TRUE`);
      }
    }
    if (c.kind === 'pat' && !c.roleRestriction && !c.rotatedTo) {
      add('pat-no-role-restriction', 'medium', label, 'no role restriction: a session with it may use every role the user has', `a PAT's role restriction cannot be changed: sfauth register${limits.connectionArgs} --target-user ${who} --pat ${c.name}_R --role-restriction ROLE --store-cmd CMD --apply, move the program to it, then sfauth revoke${limits.connectionArgs} --target-user ${who} --pat ${c.name} --apply`);
    }
  }

  const slots = live.filter((c) => c.kind === 'slot');
  if (slots.length === 2) {
    const older = [...slots].sort((a, b) => (a.createdOn?.getTime() ?? 0) - (b.createdOn?.getTime() ?? 0))[0]!;
    add('two-legacy-keys', 'low', null, 'both RSA_PUBLIC_KEY and RSA_PUBLIC_KEY_2 hold a key', `once nothing uses the older one: sfauth revoke${limits.connectionArgs} --target-user ${who} --slot ${older.name === 'RSA_PUBLIC_KEY_2' ? 2 : 1} --apply`);
  }
  if (slots.length > 0 && user.features.namedPairs) {
    add('legacy-slots', 'info', null, `${slots.length === 2 ? 'both legacy slots are' : `${credentialLabel(slots[0]!)} is`} in use; named key pairs add expiry, role restriction and a grace period`, `sfauth rotate${limits.connectionArgs} --target-user ${who} --key-pair ${defaultPairName(user.name)} --apply   # moves the key to a named pair`);
  }
  return sortFindings(out);
}

function removeFix(c: AuditCredential, who: string, limits: AuditLimits): string {
  if (c.kind === 'pair') return `sfauth revoke${limits.connectionArgs} --target-user ${who} --key-pair ${c.name} --apply`;
  if (c.kind === 'pat') return `sfauth revoke${limits.connectionArgs} --target-user ${who} --pat ${c.name} --apply`;
  return `sfauth revoke${limits.connectionArgs} --target-user ${who} --slot ${c.name === 'RSA_PUBLIC_KEY_2' ? 2 : 1} --apply`;
}

function patRotateFix(c: AuditCredential, who: string, limits: AuditLimits): string {
  return `sfauth rotate${limits.connectionArgs} --target-user ${who} --pat ${c.name} --store-cmd CMD --apply   # the new secret goes to CMD's stdin`;
}

/** A name for the pair a user's slot key moves to: the user's name with _KEY (within the 255 limit). */
function defaultPairName(user: string): string {
  const plain = user.toUpperCase().replace(/[^A-Z0-9_]/g, '_').replace(/^([^A-Z_])/, '_$1');
  return `${plain.slice(0, 200)}_KEY`;
}

/** Worst first, then by user, rule and credential: a stable order for every format. */
export function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      severityRank(a.severity) - severityRank(b.severity) ||
      (a.user < b.user ? -1 : a.user > b.user ? 1 : 0) ||
      (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0) ||
      (a.credential ?? '').localeCompare(b.credential ?? ''),
  );
}

/** Exit 1 when a finding is at or above this; `none` never fails. */
export function failsOn(findings: readonly Finding[], threshold: Severity | 'none'): boolean {
  if (threshold === 'none') return false;
  return findings.some((f) => severityRank(f.severity) <= severityRank(threshold));
}

/**
 * Users with a key due for rotation (key-too-old, or expiring-soon on a key), split in two: those a
 * `rotate --targets` run can rotate as listed (the due key is the one rotate picks by itself: a slot
 * of a user without active named pairs, or the user's only active pair), and those whose due pair
 * must be named with `--key-pair`, one command each.
 */
export function dueUsers(findings: readonly Finding[], users: readonly AuditUser[], nowMs: number): { targets: string[]; byPair: Array<{ user: string; pairs: string[] }> } {
  const due = new Map<string, Set<string>>();
  for (const f of findings) {
    if (!f.credential || f.credential.startsWith('PAT ')) continue;
    if (f.rule === 'key-too-old' || f.rule === 'expiring-soon') {
      if (!due.has(f.user)) due.set(f.user, new Set());
      due.get(f.user)!.add(f.credential);
    }
  }
  const targets: string[] = [];
  const byPair: Array<{ user: string; pairs: string[] }> = [];
  for (const [name, labels] of [...due].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const user = users.find((u) => u.name === name);
    const activePairs = (user?.credentials ?? []).filter((c) => c.kind === 'pair' && !c.rotatedTo && c.status === 'ACTIVE' && !(c.expiresAt && c.expiresAt.getTime() <= nowMs));
    const duePairs = [...labels].filter((l) => l.startsWith('key pair ')).map((l) => l.slice('key pair '.length));
    const slotsDue = [...labels].some((l) => l.startsWith('slot '));
    if ((slotsDue && activePairs.length === 0) || (!slotsDue && activePairs.length === 1 && duePairs.length === 1)) targets.push(name);
    else byPair.push({ user: name, pairs: duePairs.length ? duePairs : activePairs.map((p) => p.name) });
  }
  return { targets, byPair };
}
