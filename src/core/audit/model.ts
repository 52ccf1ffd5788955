/**
 * What an audit knows about the account (DESIGN.md §3 v3 "Audit"): each user with the credentials a
 * program can hold (legacy key slots, named key pairs, programmatic access tokens), however it was
 * read (live SHOW/DESC statements or the ACCOUNT_USAGE views). Pure data.
 */

export type CredentialKind = 'slot' | 'pair' | 'pat';

export interface AuditCredential {
  kind: CredentialKind;
  /** `RSA_PUBLIC_KEY` / `RSA_PUBLIC_KEY_2` for a slot, else the pair's or token's name. */
  name: string;
  /** SHA256:… for keys; null for PATs (and keys whose fingerprint the source does not give). */
  fingerprint: string | null;
  /** ACTIVE, EXPIRED or DISABLED (a slot that holds a key is ACTIVE). */
  status: string;
  /** When it was set (slot) or created; null when the source does not say. */
  createdOn: Date | null;
  expiresAt: Date | null;
  /** Last use; null = never used or not known (see `lastUseKnown`). */
  lastUsedOn: Date | null;
  /** Whether the source reports last use at all (SHOW USER PATS does not; slots never do). */
  lastUseKnown: boolean;
  roleRestriction: string | null;
  /** For a rotated-out pair or token: the one that replaced it. */
  rotatedTo: string | null;
}

export interface AuditUser {
  name: string;
  loginName: string | null;
  /** PERSON, SERVICE, LEGACY_SERVICE, or null (Snowflake treats null as PERSON). */
  type: string | null;
  disabled: boolean | null;
  hasPassword: boolean | null;
  hasMfa: boolean | null;
  lastSuccessLogin: Date | null;
  credentials: AuditCredential[];
  /** The credentials could not be read: the role may not see them, or the reads failed. */
  unreadable?: { code: string; message: string };
  /** Whether the server knows named key pairs and PATs (an unknown statement means it does not). */
  features: { namedPairs: boolean; pats: boolean };
}

export type Severity = 'high' | 'medium' | 'low' | 'info';
export const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low', 'info'];

export type RuleId =
  | 'service-user-password'
  | 'legacy-service-type'
  | 'expiring-soon'
  | 'expired'
  | 'key-too-old'
  | 'unused'
  | 'two-legacy-keys'
  | 'pat-no-role-restriction'
  | 'legacy-slots';

export interface Finding {
  rule: RuleId;
  severity: Severity;
  user: string;
  /** `slot 1`, `key pair CI_KEY`, `PAT ETL_TOKEN`, or null for a finding about the user itself. */
  credential: string | null;
  evidence: string;
  /** The sfauth command (or, where sfauth has none yet, the SQL) that fixes it. */
  fix: string;
}

/** How a credential is named in findings and tables. */
export function credentialLabel(c: Pick<AuditCredential, 'kind' | 'name'>): string {
  if (c.kind === 'slot') return c.name === 'RSA_PUBLIC_KEY_2' ? 'slot 2' : 'slot 1';
  return c.kind === 'pair' ? `key pair ${c.name}` : `PAT ${c.name}`;
}

/** Severity rank: high 0 … info 3. */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}
