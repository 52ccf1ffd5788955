/**
 * Programmatic access tokens in the emulator: ADD / ROTATE / MODIFY / REMOVE PROGRAMMATIC ACCESS
 * TOKEN and authentication with a token's secret. Every rule below is a documented fact, with its
 * source in ../shared/named-key-pairs.md §8 (each one links the docs page):
 *
 * - ADD answers `token_name, token_secret` (§8.1 "Output columns", docs:
 *   sql-reference/sql/alter-user-add-programmatic-access-token); `IF NOT EXISTS` on an existing name
 *   succeeds with no secret. DAYS_TO_EXPIRY 1–365, default 15. ROLE_RESTRICTION must be a granted role
 *   and is required for SERVICE / LEGACY_SERVICE users (the PAT_POLICY default). At most 15 tokens per
 *   user: disabled and rotated-out ones count, expired ones do not.
 * - ROTATE answers `token_name, token_secret, rotated_token_name` (§8.2, docs:
 *   alter-user-rotate-programmatic-access-token): the token keeps its name and gets a new secret and a
 *   new expiry (its DAYS_TO_EXPIRY again); the prior secret lives on as `<NAME>_ROTATED_<epoch ms>`
 *   (`rotated_to` = NAME) for EXPIRE_ROTATED_TOKEN_AFTER_HOURS (default 24, from 0 to the hours the
 *   current secret has left). The rotated-out object counts toward the 15 and can only be removed.
 * - MODIFY … SET DISABLED / COMMENT / MINS_TO_BYPASS…, UNSET (§8.3); REMOVE (§8.4) answers a `status`
 *   row "Programmatic access token <NAME> successfully removed."
 * - A session authenticated with a PAT cannot MODIFY, ROTATE or REMOVE PATs (§8.6). The refusal's text
 *   and code are not documented: PAT_ERRORS.patSession is the emulator's own (unconfirmed).
 * - Authentication (§8.7): `Authorization: Bearer <secret>` with token type PROGRAMMATIC_ACCESS_TOKEN;
 *   a disabled, expired or removed token is PAT_INVALID (394400). With a role restriction the session's
 *   role is that role; a request that asks for another role is refused (the emulator's choice, as
 *   JWT_TOKEN_INVALID_ROLE_RESTRICTION for key pairs: unconfirmed).
 * - Expired tokens are listed for seven days (§8.5, the usage note), then dropped.
 *
 * Not modelled: network policies (a SERVICE user needs one to generate and use a PAT, §8.1
 * Prerequisites), authentication policies, MINS_TO_BYPASS… semantics, RENAME. The error codes are
 * the emulator's own, as for key pairs (Snowflake documents none).
 */
import { randomBytes } from 'node:crypto';

export interface PatObject {
  name: string;
  roleRestriction: string | null;
  expiresAt: Date | null;
  disabled: boolean;
  comment: string | null;
  createdOn: Date;
  createdBy: string;
  lastUsedOn: Date | null;
  rotatedTo: string | null;
  /** DAYS_TO_EXPIRY as created (a ROTATE uses it again). */
  daysToExpiry: number;
  minsToBypass: number;
  /** The secret that authenticates as this object (null: none, e.g. a seeded listing-only row). */
  secret: string | null;
}

export const PAT_LIMIT = 15;
export const PAT_DEFAULT_DAYS = 15;
export const PAT_MAX_DAYS = 365;
const EXPIRED_LISTED_MS = 7 * 86_400_000;

export class PatError extends Error {
  constructor(
    readonly code: string,
    readonly sqlState: string,
    message: string,
  ) {
    super(message);
  }
}

/** The emulator's answers for refusals Snowflake does not document (codes are the emulator's own). */
export const PAT_ERRORS = {
  exists: (name: string) => new PatError('002002', '42710', `SQL compilation error:\nProgrammatic access token '${name}' already exists.`),
  unknown: (name: string, user: string) => new PatError('003550', '02000', `SQL compilation error:\nProgrammatic access token '${name}' does not exist for user '${user}'.`),
  limit: (user: string) => new PatError('003551', '54000', `SQL execution error: User '${user}' already has the maximum number of programmatic access tokens (${PAT_LIMIT}).`),
  roleNotGranted: (role: string, user: string) => new PatError('003552', '42501', `SQL execution error: Role '${role}' is not granted to user '${user}'.`),
  roleRequired: (user: string) => new PatError('003553', '22023', `SQL execution error: A role restriction is required for programmatic access tokens of service user '${user}'.`),
  days: () => new PatError('003554', '22023', `SQL compilation error:\nDAYS_TO_EXPIRY must be between 1 and ${PAT_MAX_DAYS}.`),
  rotatedOut: (name: string) => new PatError('003555', '42601', `SQL compilation error:\nProgrammatic access token '${name}' was rotated out; it can only be removed.`),
  hours: (max: number) => new PatError('003556', '22023', `SQL compilation error:\nEXPIRE_ROTATED_TOKEN_AFTER_HOURS must be between 0 and ${max}.`),
  patSession: () => new PatError('003557', '42501', 'SQL access control error:\nProgrammatic access tokens cannot be modified, rotated or removed in a session authenticated with a programmatic access token.'),
};

/** A new secret: random, URL-safe, long enough that no test guesses it. */
export function newPatSecret(): string {
  return `pat_${randomBytes(48).toString('base64url')}`;
}

export function patStatus(t: PatObject, nowMs: number): 'ACTIVE' | 'EXPIRED' | 'DISABLED' {
  if (t.disabled) return 'DISABLED';
  if (t.expiresAt && t.expiresAt.getTime() <= nowMs) return 'EXPIRED';
  return 'ACTIVE';
}

/** Drops tokens expired more than seven days ago. */
export function prunePats(pats: PatObject[], nowMs: number): PatObject[] {
  return pats.filter((t) => !(t.expiresAt && t.expiresAt.getTime() + EXPIRED_LISTED_MS <= nowMs));
}

/** The tokens that count toward the limit: all but the expired ones. */
export function countedPats(pats: PatObject[], nowMs: number): number {
  return pats.filter((t) => !(t.expiresAt && t.expiresAt.getTime() <= nowMs)).length;
}
