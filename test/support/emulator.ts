/**
 * # Local Snowflake SQL API emulator (test support)
 *
 * A loopback HTTP server (node:http on 127.0.0.1, port 0) that behaves like Snowflake's SQL API as
 * DESIGN.md §3 describes it and enforces its rules strictly, so that e2e tests of `sfauth
 * test-connection`, `status`, `rotate` and `pg-token` run over real HTTP. Point the CLI at it with
 * `--host <emulator.url> --account <account>`.
 *
 * ```ts
 * import { startEmulator } from '../support/emulator.js';
 * const sf = await startEmulator({ account: 'MYORG-MYACCOUNT' });
 * sf.addUser('alice', { rsaPublicKey: spkiBase64OrPem });
 * // run sfauth … --host sf.url --account myorg-myaccount --user alice
 * expect(sf.requests.at(-1)?.authOutcome).toBe('ok');
 * await sf.close();
 * ```
 *
 * ## Endpoints
 * - `POST /api/v2/statements?requestId=<uuid>[&retry=true]` with body
 *   `{"statement": "...", "timeout"?: n, "role"?: ..., "warehouse"?: ...}`.
 * - `GET /api/v2/statements/<handle>`: the state of a statement the same user submitted
 *   (202 while running, then its 200/422 answer). Unknown handle → 404 `000709`.
 * - Any other path → 404; another method on the statements path → 405.
 *
 * ## Checks, in order (each failure answers at once; JSON errors are `{"code","message",…}`)
 * | check | status | code | message |
 * |---|---|---|---|
 * | queued transport fault (see Faults) | as the fault | | |
 * | `Accept` contains `application/json` | 406 | `391901` | `Unsupported Accept header …` |
 * | `User-Agent` starts with `sfauth/` | 400 | `391905` | `User-Agent … must start with 'sfauth/'` |
 * | POST: `requestId` present and a UUID | 400 | `391903` | `requestId … must be a UUID` |
 * | POST: `Content-Type` is `application/json` | 415 | `391902` | `Unsupported Content-Type …` |
 * | `Authorization: Bearer <token>` present | 401 | `391001` | `Authorization header is missing …` |
 * | `X-Snowflake-Authorization-Token-Type` ∈ KEYPAIR_JWT, OAUTH, PROGRAMMATIC_ACCESS_TOKEN | 401 | `391001` | `… token type header is missing or not supported …` |
 * | authentication (below) | 401 | | |
 * | body is a JSON object with a string `statement`, `timeout` a non-negative integer if present | 400 | `391904` | |
 * | requestId already used without `retry=true` | 400 | `391907` | `Duplicate requestId …` |
 * | `retry=true` with a requestId used for another statement | 400 | `391908` | |
 * | body `role` is a role granted to the user | 422 | `390189` | `Role 'X' specified in the connect string is not granted to this user. …` |
 * | statement | 200 / 422 | | |
 *
 * All 401 bodies: `{"code", "message", "data": null, "success": false}`.
 * Every response carries a `Date` header from the server clock (real clock + `clockSkewSeconds`).
 * JSON answers have `Content-Type: application/json`; HTML fault pages `text/html`.
 *
 * ## Authentication
 * KEYPAIR_JWT, verified here with node:crypto only (no JWT library), in this order:
 * | failure | code | message (`<uuid>` is a fresh UUID each time) |
 * |---|---|---|
 * | not 3 segments / not base64url JSON / empty signature / iss not `X.Y.SHA256:fp` / sub ≠ the `ACCOUNT.USER` of iss | `390144` | `JWT token is invalid. [<uuid>]` |
 * | `alg` ∉ RS256 RS384 RS512 ES256 ES384 ES512, or `typ` ≠ `JWT` | `394305` | `JWT token is invalid: the algorithm is not accepted. [<uuid>]` |
 * | account ≠ emulator account (exact, upper-case) | `394307` | `JWT token is invalid: the account in the token does not match the account in the URL. [<uuid>]` |
 * | user not upper-case, or no user has that LOGIN_NAME | `394300` | `JWT token is invalid: the user in the issuer is not the LOGIN_NAME of an existing user. [<uuid>]` |
 * | iat / exp missing or not numbers | `394301` | `JWT token is invalid: the issue time (iat) or the expiration time (exp) is missing or not a number. [<uuid>]` |
 * | iat > server now + 60 s, or exp − iat > 3600, or exp ≤ iat | `394302` | `JWT token is invalid: the issue time is too far from the current server time. [<uuid>]` |
 * | exp ≤ server now | `394303` | `JWT token is invalid: the token has expired. [<uuid>]` |
 * | fingerprint in iss ≠ a usable slot (propagation elapsed) | `394304` | `JWT token is invalid: the public key fingerprint in the issuer does not match any public key of the user. [<uuid>]` |
 * | signature (RS* PKCS#1 v1.5; ES* raw r‖s only) fails, or alg does not fit the key | `394306` | `JWT token is invalid: the signature does not verify with the registered public key. [<uuid>]` |
 *
 * Scheme: by default (`jwtErrors: 'specific'`) the specific code is sent, and every JWT message
 * begins `JWT token is invalid` and ends ` [<uuid>]`. With `jwtErrors: 'generic'` every JWT failure
 * is sent as Snowflake really does: `390144` `JWT token is invalid. [<uuid>]`. Either way the precise
 * reason is kept under that uuid: {@link Emulator.loginFailure}, and the SQL
 * `SELECT SYSTEM$GET_LOGIN_FAILURE_DETAILS('<uuid>')` returns it as a JSON string
 * `{"clientIP", "clientType", "clientVersion", "username", "errorCode": "JWT_TOKEN_INVALID_PUBLIC_KEY_FINGERPRINT_MISMATCH", "timestamp"}`
 * (the documented shape; see the SYSTEM$GET_LOGIN_FAILURE_DETAILS case below).
 *
 * OAUTH: unknown → `390303` `Invalid OAuth access token.`; added with `{expired: true}` → `390318`
 * `OAuth access token expired.`. PROGRAMMATIC_ACCESS_TOKEN: unknown → `394400`
 * `Programmatic access token is invalid.`. (A token of the wrong kind under a type header fails as
 * that type: a PAT sent as KEYPAIR_JWT is `390144`.)
 *
 * ## Users, names and keys
 * `addUser(name)` reads `name` like `CREATE USER`: a plain identifier is upper-cased (`alice` →
 * `ALICE`), anything else is kept exactly (`john.doe@x.com`), and LOGIN_NAME is always the name
 * upper-cased. The JWT must carry the upper-case LOGIN_NAME; SQL finds users by NAME, with identifier
 * rules (`DESC USER alice` → `ALICE`, `DESC USER "john.doe@x.com"`). Setup methods (`user`, `grant`,
 * tokens) accept either the name or the login name, case-insensitively.
 * A SET key authenticates only `propagationDelayMs` after the SET (until then that slot authenticates
 * nobody, even with its former key); UNSET takes effect at once; keys given to `addUser`/`setKey` are
 * usable at once unless `setKey(..., {delayMs})`.
 *
 * ## Statements (one per request; case-insensitive keywords, any whitespace, comments, one trailing `;`)
 * String literals follow Snowflake: `''` → `'` AND backslash escapes (`\\` → `\`, `\'`, `\n`, …);
 * `$$…$$` is verbatim. (So a client must escape `\` as well as `'`.)
 * - `SELECT CURRENT_ACCOUNT(), CURRENT_USER(), CURRENT_ROLE()` (also `CURRENT_WAREHOUSE()`,
 *   `CURRENT_ACCOUNT_NAME()`, `CURRENT_ORGANIZATION_NAME()`, literals, `AS alias`, any order): one row;
 *   column name = the expression text upper-cased. CURRENT_ACCOUNT = emulator account; CURRENT_USER =
 *   the user's NAME (= LOGIN_NAME for plain names); CURRENT_ROLE = body `role`, else the user's default
 *   role, else `PUBLIC`. Unknown function → 422 `002140` `SQL compilation error:\nUnknown function F`;
 *   wrong arguments → 422 `001044`.
 * - `DESC[RIBE] USER <name>` → columns `property`, `value`, `default`, `description`, rows NAME, …,
 *   RSA_PUBLIC_KEY(_2), RSA_PUBLIC_KEY(_2)_FP, RSA_PUBLIC_KEY(_2)_LAST_SET_TIME, … .
 *   Every cell is a STRING; an empty value is the string `"null"` (as Snowflake's DESC USER shows it),
 *   never JSON null. LAST_SET_TIME is `YYYY-MM-DD HH:MM:SS.mmm ±HHMM` in the server's fixed time zone
 *   (`timeZoneOffsetMinutes`, default −480 → `-0800`), e.g. `2026-11-23 16:40:00.123 -0800`; a key
 *   whose set time is unknown (`lastSet1: null`) shows `"null"`. Keys show as the base64 SPKI body,
 *   fingerprints as `SHA256:<base64>`.
 * - `ALTER USER [IF EXISTS] <name> SET RSA_PUBLIC_KEY='<body>' [RSA_PUBLIC_KEY_2='<body>']` and
 *   `ALTER USER <name> UNSET RSA_PUBLIC_KEY[, RSA_PUBLIC_KEY_2]` → 200, column `status`, row
 *   `["Statement executed successfully."]`. The body must be standard base64 of an SPKI DER with no
 *   delimiters or whitespace, an RSA ≥ 2048 or EC P-256/384/521 key; else 422 `100133` sqlState
 *   `22023` `SQL execution error: New public key rejected by current policy. Reason: '<why>'.`.
 *   Other properties → 422 `002029` `SQL compilation error:\ninvalid property 'X' for 'USER'`.
 * - Unknown user (or DESC of a user one may not manage) → 422 `002003` sqlState `02000`
 *   `SQL compilation error:\nUser 'X' does not exist or not authorized.`; ALTER of an existing user one
 *   may not manage → 422 `003001` sqlState `42501` `SQL access control error:\nInsufficient privileges to operate on user 'X'`.
 *   A user may always DESC/ALTER itself; `grant(admin, target)` (target `'*'` = everyone) adds more.
 * - `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('<instance>', '<pg user>')`: the instance literal
 *   is upper-cased unless it is itself double-quoted (`'"Reporting_server"'` → exact); the pg user is
 *   exact. Unknown instance, or a login without USAGE → 422 `002003` `SQL compilation error:\nPostgres
 *   instance 'X' does not exist or not authorized.`; pg user not in the instance's `users` → 422
 *   `002003` `SQL compilation error:\nPostgres role 'x' does not exist on instance 'X'.`. Success: one
 *   row, a 64-char base64url token, recorded in {@link Emulator.pgTokens} (15-minute expiry).
 * - Anything else → 422 `001003` sqlState `42000`
 *   `SQL compilation error:\nsyntax error line L at position P unexpected 'TOKEN'.`;
 *   two statements → 422 `000008` sqlState `0A000`.
 * 200 bodies: `{resultSetMetaData: {numRows, format: "jsonv2", rowType: [{name, type: "text",
 * nullable: true, …}]}, data, code: "090001", statementStatusUrl, requestId, sqlState: "00000",
 * statementHandle, message: "Statement executed successfully.", createdOn}`; cells are strings or null.
 * 422 bodies: `{code, message, sqlState, statementHandle, statementStatusUrl, requestId, createdOn}`.
 *
 * ## Named key pairs (options `namedKeyPairs`, default on; rules in emulator/key-pairs.ts)
 * - `SHOW USER KEY PAIRS [FOR USER <name>]` → columns `name, user_name, fingerprint, role_scope, status,
 *   comment, created_on, created_by, last_used_on, expires_at, rotated_to`; times as the SQL API sends
 *   timestamps (`<epoch s>.<ns>`, or text with `showTimeFormat: 'text'`); fingerprint `SHA256:…` (or
 *   bare, `showFingerprint: 'bare'`); legacy slots as `PUBLIC_KEY_1/2` rows only with `showLegacySlots`.
 * - `ALTER USER <u> ADD KEY PAIR <n> PUBLIC_KEY='…' [ROLE_RESTRICTION='r'] [DAYS_TO_EXPIRY=d] [COMMENT='c']`,
 *   `ROTATE KEY PAIR <n> PUBLIC_KEY='…' [EXPIRE_ROTATED_KEY_PAIR_AFTER_HOURS=h]`,
 *   `MODIFY KEY PAIR <n> SET DISABLED = TRUE|FALSE [COMMENT='c']`, `REMOVE KEY PAIR <n>` → 200 `status`;
 *   refusals are 422 with the emulator's own codes (KEY_PAIR_ERRORS: 003530 reserved name, 002002 name
 *   taken, 003531 key already active, 003532 limit, 003533 role not granted, 003534 days, 003535 no such
 *   pair, 003536 rotated-out pair, 003537 hours).
 * - Authentication looks at the legacy slots and the ACTIVE pairs (not disabled, not expired); a pair
 *   with a role restriction authenticates a POST only when its body's `role` is that role (else 401
 *   `390144`, login failure `JWT_TOKEN_INVALID_ROLE_RESTRICTION`); success sets `last_used_on`.
 * - `SHOW USERS [LIKE 'p'] [STARTS WITH 's'] [LIMIT n [FROM 'name']]` → the documented columns (name,
 *   created_on, login_name, …, disabled, default_role, last_success_login, has_password,
 *   has_rsa_public_key, type, has_mfa, has_workload_identity, has_pat), booleans as `"true"`/`"false"`,
 *   times as SQL API timestamps; only the users the caller may see (itself and those it manages),
 *   sorted by name; LIKE case-insensitive with `%`, `_`, `\` escapes; FROM starts after that name.
 *   Users get `type`, `hasPassword`, `hasMfa`, `disabled`, `lastSuccessLogin`, `createdOn`, `comment`
 *   from `addUser`.
 * - `SHOW USER { PROGRAMMATIC ACCESS TOKENS | PATS } [FOR USER u]` → `name, user_name, role_restriction,
 *   expires_at, status, comment, created_on, created_by, mins_to_bypass_network_policy_requirement,
 *   rotated_to` for the PAT objects of `addPatObject` (with `pats: false`, 422 `001003` as before PATs).
 * - `SELECT <columns> FROM SNOWFLAKE.ACCOUNT_USAGE.USERS [WHERE DELETED_ON IS NULL]` and
 *   `… .CREDENTIALS` (named pairs as TYPE `KEYPAIR` with ADDITIONAL_DETAILS `{KEY_TYPE, PUBLIC_KEY_FP}`,
 *   PATs as TYPE `PAT` with `{ROLE_RESTRICTION: [..], ROTATED_TO}`; legacy slots are not listed, as no
 *   page says they are): only for a caller that manages everyone (else 422 `002003` "Object … does not
 *   exist or not authorized"), only with a warehouse (else 422 `000606` "No active warehouse selected
 *   in the current session. …"); an unknown column is 422 `000904`.
 * - Results of more than `partitionRows` rows (default 1000) come in partitions: `partitionInfo` lists
 *   them, partition 0 is inline, `GET /api/v2/statements/{handle}?partition=N` answers `{data}` for the
 *   others (gzipped, `Content-Encoding: gzip`, when the request's `Accept-Encoding` has gzip; the record
 *   notes `partition` and `gzip`); a partition out of range is 400 `391911`. A fault with `partition:
 *   true` strikes only partition requests.
 * - `latencyMs` / `setLatency(ms)` answers every request that much later (fleet tests, the bench);
 *   a fault's `user` strikes only statements about that user.
 * - `namedKeyPairs: false` is a server from before July 2026: every KEY PAIR statement is 422 `001003`.
 * - `modifyRotatedOut: 'refused'` refuses MODIFY on a rotated-out pair (003536), as a server might
 *   (unconfirmed); REMOVE of one is always allowed.
 *
 * ## Idempotence
 * A POST with a requestId whose statement already ran and `retry=true` gets the same answer (same
 * statementHandle) without running it again; the record has `replayed: true`. Reusing a requestId
 * WITHOUT `retry=true` is refused (400 `391907`), as is `retry=true` with a different statement.
 *
 * ## Faults ({@link Fault}), queued, each for the next `times` (default 1) matching requests
 * `match` tests the statement text (for a poll: the polled statement). Transport faults (`status`,
 * `reset`, `hang`, `html`, `invalid-json`, `truncated-json`, `missing-fields`) strike before any check,
 * so the statement does NOT run. `fail-auth` strikes after authentication succeeded (filters: `match`,
 * `login`, `fingerprint`), answering 401 with its code (default `390144`). Execution faults (`async`,
 * `never-complete`, `drop-after-execute`) strike only on a POST that would run its statement afresh
 * (never on a replay): `async` runs it and answers 202 `333334`, then polls answer 202 `polls` times
 * (default 1) before the result; `never-complete` does not run it and answers 202 forever;
 * `drop-after-execute` runs it, remembers the answer for a retry, and resets the connection.
 * `status` bodies are JSON `{"message": "<reason phrase>", "success": false}` (+ `Retry-After` if
 * `retryAfterSeconds`); `html` is an nginx-like page (default 502); `invalid-json` / `truncated-json` /
 * `missing-fields` are 200 `application/json` with a broken body (a complete HTTP message).
 *
 * ## Where each answer's shape comes from
 * Checked one by one against its source (issue 24); "ours" marks what no source fixes, which sfauth
 * must therefore treat as opaque (it reads such answers by message and code only, never by shape).
 * | answer | source |
 * |---|---|
 * | 200 result `{resultSetMetaData{numRows, format, rowType}, data, code, sqlState, message, statementHandle, statementStatusUrl, createdOn (epoch ms)}` | sqlapi.yaml `ResultSet` (snowflakedb/snowflake-rest-api-specs, specifications/sqlapi.yaml) |
 * | 202 `333334` `{code, sqlState, message, statementHandle, statementStatusUrl, createdOn}` | sqlapi.yaml `QueryStatus` |
 * | 422 `{code, sqlState, message, statementHandle, statementStatusUrl, createdOn}` | sqlapi.yaml `QueryFailureStatus` |
 * | 400/401/404/405/406/415/429/5xx statuses | sqlapi.yaml responses; their bodies (`{code, message, data, success}`) are ours: the spec gives none |
 * | JWT claims and the 390144 / 394300–394307 codes and meanings | https://docs.snowflake.com/en/user-guide/key-pair-auth-troubleshooting and /developer-guide/sql-api/authenticating; the specific messages' words are ours |
 * | `SYSTEM$GET_LOGIN_FAILURE_DETAILS` `{clientIP, clientType, clientVersion, username, errorCode (a name), timestamp}` | https://docs.snowflake.com/en/sql-reference/functions/system_get_login_failure_details; names other than the documented four (emulator/jwt.ts) and `JWT_TOKEN_INVALID_ROLE_RESTRICTION` are ours (unconfirmed) |
 * | DESC USER columns `property, value, default, description`, `"null"` cells, `RSA_PUBLIC_KEY*_FP`, `*_LAST_SET_TIME` | https://docs.snowflake.com/sql-reference/sql/desc-user |
 * | ALTER USER SET/UNSET RSA_PUBLIC_KEY(_2), status row `Statement executed successfully.` | https://docs.snowflake.com/sql-reference/sql/alter-user, /user-guide/key-pair-auth |
 * | SHOW USER KEY PAIRS columns, ADD/ROTATE/MODIFY/REMOVE KEY PAIR | ../shared/named-key-pairs.md [SHOW], [ADD], [ROTATE], [MODIFY], [REMOVE]; refusal codes 0035xx are ours |
 * | 002003 / 003001 / 001003 / 000008 / 002140 messages | Snowflake's SQL error texts as the connectors' tests quote them; codes as the SQL API reports them |
 * | `GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER` | DESIGN.md §3 (pg-token); its refusals' words are ours |
 * | SHOW USERS columns, LIKE / STARTS WITH / LIMIT … FROM | https://docs.snowflake.com/en/sql-reference/sql/show-users |
 * | SHOW USER PROGRAMMATIC ACCESS TOKENS columns (`rotated_to` from the PAT guide's example) | ../shared/named-key-pairs.md §8.5 [PAT-SHOW], [PAT-GUIDE] |
 * | ADD PROGRAMMATIC ACCESS TOKEN answer `token_name, token_secret`; IF NOT EXISTS with no secret; 15-token limit; DAYS_TO_EXPIRY 1–365 (15); role restriction required for SERVICE users | ../shared/named-key-pairs.md §8.1 [PAT-ADD], [PAT-GUIDE] (emulator/pats.ts) |
 * | ROTATE … answer `token_name, token_secret, rotated_token_name`; `<NAME>_ROTATED_<ms>` with `rotated_to`; EXPIRE_ROTATED_TOKEN_AFTER_HOURS 0 to the hours left (24) | ../shared/named-key-pairs.md §8.2 [PAT-ROT] |
 * | MODIFY … SET/UNSET; REMOVE answer `status` "Programmatic access token <NAME> successfully removed." | ../shared/named-key-pairs.md §8.3–8.4 [PAT-MOD], [PAT-REM] |
 * | PAT authentication (Bearer + PROGRAMMATIC_ACCESS_TOKEN), 394400 PAT_INVALID, the session runs as the role restriction | ../shared/named-key-pairs.md §8.7, §8.1 ROLE_RESTRICTION; refusing a request that asks for another role is ours (unconfirmed) |
 * | A PAT session cannot MODIFY/ROTATE/REMOVE PATs | ../shared/named-key-pairs.md §8.6; the refusal's code 003557 and words are ours (undocumented), as are the other PAT refusal codes 00355x |
 * | ACCOUNT_USAGE.USERS and .CREDENTIALS columns, ADDITIONAL_DETAILS keys | https://docs.snowflake.com/en/sql-reference/account-usage/users and /credentials; the 000606 / 000904 texts are Snowflake's as clients quote them |
 * | partitions: `partitionInfo`, `?partition=N`, `Accept-Encoding: gzip` | sqlapi.yaml `ResultSet.resultSetMetaData.partitionInfo`, parameters `partition` and `acceptEncoding`; "later partitions carry only data" from the SQL API guide's "Handling responses"; the 391911 refusal is ours |
 * | `Date` header | RFC 9110 §6.6.1 (every origin server with a clock sends it) |
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { AddressInfo, Socket } from 'node:net';
import { KeyRejected, parseAlterKeyBody, parseSetupKey, type ParsedPublicKey } from './emulator/keys.js';
import { JWT_FAILURES, verifyKeypairJwt, type JwtFailureCode } from './emulator/jwt.js';
import { likeRegExp, parseStatement, SqlSyntaxError, StatementCountError, type KeyPairAction, type PatAction, type SelectItem, type Statement } from './emulator/sql.js';
import { countedPats, newPatSecret, PAT_DEFAULT_DAYS, PAT_ERRORS, PAT_LIMIT, PAT_MAX_DAYS, PatError, patStatus, prunePats, type PatObject } from './emulator/pats.js';
import { KEY_PAIR_ERRORS, KeyPairError, pairStatus, prunePairs, RESERVED_PAIR_NAMES, ROTATED_NAME, type KeyPairRules, type NamedPair, type PairStatus } from './emulator/key-pairs.js';
import { formatSnowflakeTime } from './emulator/time.js';

export { formatSnowflakeTime } from './emulator/time.js';
export { fingerprintOfDer } from './emulator/keys.js';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

export interface EmulatorOptions {
  /** The account this server "is", upper-case; default `MYORG-MYACCOUNT`. */
  account?: string;
  /** Server clock = real clock + skew. Affects the `Date` header, iat/exp checks and LAST_SET_TIME. */
  clockSkewSeconds?: number;
  /** A key SET becomes usable for authentication only after this delay (default 0). */
  propagationDelayMs?: number;
  /** Every request is answered this much later (a network's latency; default 0). */
  latencyMs?: number;
  /** `'specific'` (default): 3943xx codes; `'generic'`: always 390144, as real Snowflake. */
  jwtErrors?: 'specific' | 'generic';
  /** Fixed time zone of LAST_SET_TIME text, minutes east of UTC; default -480 (`-0800`). */
  timeZoneOffsetMinutes?: number;
  /** Serve HTTPS with this certificate and key (PEM), e.g. from test/support/tls.ts; default plain HTTP. */
  tls?: { cert: string; key: string };
  /** Listen on this port (default 0: any free port). */
  port?: number;
  /** Named key pairs (July 2026); false: a server from before, where SHOW USER KEY PAIRS and the KEY PAIR forms are syntax errors. */
  namedKeyPairs?: boolean;
  /** A server that knows SHOW USER PATS (default true); false: it is a syntax error, as before PATs. */
  pats?: boolean;
  /**
   * Rows per result partition (default 1000): a larger result comes as partitions (sqlapi.yaml
   * `partitionInfo`), partition 0 inline and the rest from `GET …/statements/{handle}?partition=N`,
   * gzipped when the request accepts it.
   */
  partitionRows?: number;
  /** Pairs per user, rotated-out ones included (default 10). */
  keyPairLimit?: number;
  /** Unconfirmed: SHOW's fingerprint as `SHA256:<b64>` (default) or bare base64. */
  showFingerprint?: 'prefixed' | 'bare';
  /** Unconfirmed: SHOW also lists the legacy slots as PUBLIC_KEY_1 / PUBLIC_KEY_2 (default false). */
  showLegacySlots?: boolean;
  /** SHOW's time columns as the SQL API sends timestamps (epoch seconds with nanoseconds, default) or as text. */
  showTimeFormat?: 'epoch' | 'text';
  /** Unconfirmed: a pair rotated out with 0 hours of grace is listed as DISABLED (default) or not at all. */
  rotatedOutAtZeroGrace?: KeyPairRules['rotatedOutAtZeroGrace'];
  /** Unconfirmed: ROTATE restarts the expiry from DAYS_TO_EXPIRY (default) or keeps the old time. */
  rotateExpiry?: KeyPairRules['rotateExpiry'];
  /** Unconfirmed: MODIFY on a rotated-out pair is allowed (default) or refused (then only REMOVE ends it early). */
  modifyRotatedOut?: KeyPairRules['modifyRotatedOut'];
}

export interface KeyPairInit {
  roleRestriction?: string;
  daysToExpiry?: number;
  comment?: string;
  disabled?: boolean;
  createdOn?: Date;
  /** Override the expiry (server time), e.g. in the past for an EXPIRED pair. */
  expiresAt?: Date | null;
  /** Make it a rotated-out pair: the name it was rotated to. */
  rotatedTo?: string;
  lastUsedOn?: Date | null;
}

export interface KeyPairView {
  name: string;
  fingerprint: string;
  publicKey: string;
  status: PairStatus;
  roleScope: string | null;
  comment: string | null;
  createdOn: Date;
  lastUsedOn: Date | null;
  expiresAt: Date | null;
  rotatedTo: string | null;
}

export interface SlotState {
  /** Standard base64 of the SPKI DER. */
  publicKey: string;
  /** `SHA256:<base64>`. */
  fingerprint: string;
  /** Server time of the SET; null = unknown (DESC shows `null`). */
  lastSetTime: Date | null;
  /** Real-clock time from which the key authenticates (propagation). */
  usableAt: Date;
}

export interface UserView {
  name: string;
  loginName: string;
  defaultRole: string | null;
  roles: string[];
  slots: { 1: SlotState | null; 2: SlotState | null };
  type: 'PERSON' | 'SERVICE' | 'LEGACY_SERVICE' | null;
  hasPassword: boolean;
}

export type PublicKeyInput = string | KeyObject;

export interface UserInit {
  /** base64 SPKI body, or PEM (public or private), or a KeyObject. */
  rsaPublicKey?: PublicKeyInput;
  rsaPublicKey2?: PublicKeyInput;
  /** A role granted to the user (also the default role when `defaultRole` is not given). */
  role?: string;
  /** More granted roles. PUBLIC is always granted. */
  roles?: string[];
  defaultRole?: string;
  /** Set time of slot 1 (default: server now; null: unknown). */
  lastSet1?: Date | null;
  lastSet2?: Date | null;
  /** What SHOW USERS and ACCOUNT_USAGE.USERS show (docs: show-users, account-usage/users). */
  type?: 'PERSON' | 'SERVICE' | 'LEGACY_SERVICE' | null;
  hasPassword?: boolean;
  hasMfa?: boolean;
  disabled?: boolean;
  lastSuccessLogin?: Date | null;
  createdOn?: Date;
  comment?: string | null;
}

/** A programmatic access token as SHOW USER PATS and ACCOUNT_USAGE.CREDENTIALS show it. */
export interface PatInit {
  roleRestriction?: string | null;
  expiresAt?: Date | null;
  disabled?: boolean;
  comment?: string | null;
  createdOn?: Date;
  lastUsedOn?: Date | null;
  rotatedTo?: string | null;
  /** A secret that authenticates as this token (none: listed only). */
  secret?: string;
  /** DAYS_TO_EXPIRY it was created with (15). */
  daysToExpiry?: number;
}

/**
 * A fault strikes the next `times` requests (default 1) whose statement matches `match`, and, with
 * `user`, only statements about that user (`DESC USER u`, `ALTER USER u …`, `SHOW … FOR USER u`): a
 * fault for one user of a fleet.
 */
export type Fault = FaultKind & { user?: string; /** Only requests for a result partition (`?partition=N`). */ partition?: boolean };
type FaultKind =
  | { kind: 'status'; status: 429 | 500 | 502 | 503 | 504; times?: number; match?: RegExp; retryAfterSeconds?: number }
  | { kind: 'reset'; times?: number; match?: RegExp }
  | { kind: 'hang'; times?: number; match?: RegExp }
  | { kind: 'html'; status?: number; times?: number; match?: RegExp }
  | { kind: 'invalid-json' | 'truncated-json' | 'missing-fields'; times?: number; match?: RegExp }
  | { kind: 'async'; polls?: number; times?: number; match?: RegExp }
  | { kind: 'never-complete'; times?: number; match?: RegExp }
  | { kind: 'drop-after-execute'; times?: number; match?: RegExp }
  | { kind: 'fail-auth'; code?: string; times?: number; match?: RegExp; login?: string; fingerprint?: string }
  /** Any answer, before the statement runs: `body` may quote the request's bearer token (a hostile server). */
  | { kind: 'answer'; status: number; body: string | ((bearer: string) => string); headers?: Record<string, string>; chunked?: boolean; times?: number; match?: RegExp };

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** Parsed JSON, else the raw text (undefined when empty). */
  body: unknown;
  /** The statement text (POST body, or the polled statement for a GET). */
  statement?: string;
  requestId?: string;
  retry: boolean;
  /** A retry answered from the remembered result, without running the statement again. */
  replayed: boolean;
  /** The statement ran (state may have changed) during this request. */
  executed: boolean;
  /** 'ok', the auth error code, or null when authentication was not reached. */
  authOutcome: 'ok' | string | null;
  tokenType?: string;
  /** The authenticated (or claimed, for JWT failures) login name. */
  login?: string;
  /** A result partition fetched (`?partition=N`), and whether its answer was gzipped. */
  partition?: number;
  gzip?: boolean;
  /** Decoded JWT parts, when a KEYPAIR_JWT could be decoded. */
  jwt?: { header: Record<string, unknown>; payload: Record<string, unknown> };
  /** HTTP status answered; undefined if the connection was reset or left hanging. */
  status?: number;
  /** Kind of the fault that struck this request, if any. */
  fault?: Fault['kind'];
  at: Date;
}

export interface IssuedPgToken {
  token: string;
  instance: string;
  pgUser: string;
  login: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface ExecutedStatement {
  requestId: string;
  statement: string;
  login: string;
  statementHandle: string;
  status: number;
  at: Date;
}

export interface LoginFailure {
  uuid: string;
  code: string;
  error: string;
  detail: string;
  tokenType: string;
  login?: string;
  fingerprint?: string;
  at: Date;
}

export interface Emulator {
  /** `http://127.0.0.1:PORT` (`https://` when started with `tls`) */
  readonly url: string;
  readonly account: string;
  addUser(loginName: string, init?: UserInit): void;
  user(loginName: string): UserView;
  /** Admin may DESC/ALTER target (`'*'` = every user). A user can always DESC/ALTER itself. */
  grant(adminLogin: string, targetLogin: string): void;
  addOAuthToken(token: string, loginName: string, opts?: { expired?: boolean }): void;
  addPat(token: string, loginName: string): void;
  /** Changes what SHOW USERS shows of a user (its type, password, MFA, …). */
  updateUser(loginName: string, patch: Pick<UserInit, 'type' | 'hasPassword' | 'hasMfa' | 'disabled' | 'lastSuccessLogin' | 'comment'>): void;
  /** A PAT object on the user (SHOW USER PATS, ACCOUNT_USAGE.CREDENTIALS); `addPat` gives a token that authenticates. */
  addPatObject(loginName: string, name: string, init?: PatInit): void;
  /** Every secret ADD / ROTATE PROGRAMMATIC ACCESS TOKEN answered with, in order. */
  issuedPatSecrets(): string[];
  /** The user's token objects now, secrets included (for tests: what authenticates). */
  patsOf(loginName: string): Array<{ name: string; status: string; roleRestriction: string | null; expiresAt: Date | null; rotatedTo: string | null; comment: string | null; secret: string | null }>;
  addPostgresInstance(name: string, opts?: { caseSensitive?: boolean; users?: string[]; allowedUsers?: string[] }): void;
  /** Set or clear a slot behind the API's back (e.g. another admin's change). */
  setKey(loginName: string, slot: 1 | 2, key: PublicKeyInput | null, opts?: { lastSet?: Date | null; delayMs?: number }): void;
  /** Add a named key pair behind the API's back (no checks but the reserved names). */
  addKeyPair(loginName: string, name: string, key: PublicKeyInput, init?: KeyPairInit): void;
  /** The user's named key pairs as SHOW would list them now. */
  keyPairs(loginName: string): KeyPairView[];
  injectFault(fault: Fault): void;
  /** Faults still queued (with their remaining `times`). */
  pendingFaults(): Fault[];
  setClockSkew(seconds: number): void;
  /** Changes the latency of every request from now on. */
  setLatency(ms: number): void;
  setJwtErrors(mode: 'specific' | 'generic'): void;
  /** Server clock. */
  now(): Date;
  readonly requests: RecordedRequest[];
  readonly executed: ExecutedStatement[];
  readonly pgTokens: IssuedPgToken[];
  readonly loginFailures: LoginFailure[];
  loginFailure(uuid: string): LoginFailure | undefined;
  /** Clear requests, executed, pgTokens, loginFailures and faults (not users, tokens or requestIds). */
  reset(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Internal state
// ---------------------------------------------------------------------------------------------

interface Slot {
  key: ParsedPublicKey;
  lastSetTime: Date | null;
  usableAt: number;
}

interface User {
  name: string;
  login: string;
  defaultRole: string | null;
  roles: Set<string>;
  slots: { 1: Slot | null; 2: Slot | null };
  manages: Set<string>; // logins, or '*'
  pairs: NamedPair[];
  type: 'PERSON' | 'SERVICE' | 'LEGACY_SERVICE' | null;
  hasPassword: boolean;
  hasMfa: boolean;
  disabled: boolean;
  lastSuccessLogin: Date | null;
  createdOn: Date;
  comment: string | null;
  pats: PatObject[];
}

interface Answer {
  status: number;
  body: unknown;
}

interface Handle {
  id: string;
  login: string;
  statement: string;
  requestId: string;
  pollsLeft: number;
  final: Answer | null; // null = never completes
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TOKEN_TYPES = new Set(['KEYPAIR_JWT', 'OAUTH', 'PROGRAMMATIC_ACCESS_TOKEN']);
const TRANSPORT_FAULTS = new Set<Fault['kind']>(['status', 'reset', 'hang', 'html', 'invalid-json', 'truncated-json', 'missing-fields', 'answer']);
const EXEC_FAULTS = new Set<Fault['kind']>(['async', 'never-complete', 'drop-after-execute']);
const OK_MESSAGE = 'Statement executed successfully.';
const ASYNC_MESSAGE = 'Asynchronous execution in progress. Use provided query id to perform query monitoring and management.';
const REASONS: Record<number, string> = {
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

class StatementError extends Error {
  constructor(
    readonly code: string,
    readonly sqlState: string,
    message: string,
  ) {
    super(message);
  }
}

/** Identifier semantics of CREATE USER for setup names. */
/** As Snowflake resolves a name: plain → upper case; `"quoted"` → its exact inside; else exact. */
function identName(name: string): string {
  if (name.length >= 2 && name.startsWith('"') && name.endsWith('"')) return name.slice(1, -1).replace(/""/g, '"');
  return /^[A-Za-z_][A-Za-z0-9_$]*$/.test(name) ? name.toUpperCase() : name;
}

function roleName(role: string): string {
  if (role.length >= 2 && role.startsWith('"') && role.endsWith('"')) return role.slice(1, -1).replace(/""/g, '"');
  return identName(role);
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const account = (options.account ?? 'MYORG-MYACCOUNT').toUpperCase();
  let skewMs = (options.clockSkewSeconds ?? 0) * 1000;
  let jwtErrors = options.jwtErrors ?? 'specific';
  const propagationDelayMs = options.propagationDelayMs ?? 0;
  const tzOffset = options.timeZoneOffsetMinutes ?? -480;
  const namedKeyPairs = options.namedKeyPairs ?? true;
  const patsKnown = options.pats ?? true;
  const partitionRows = options.partitionRows ?? 1000;
  /** The partitions after the first of each partitioned result, by statement handle. */
  const laterPartitions = new Map<string, Array<Array<Array<string | null>>>>();
  let latencyMs = options.latencyMs ?? 0;
  const rules: KeyPairRules = {
    limit: options.keyPairLimit ?? 10,
    rotatedOutAtZeroGrace: options.rotatedOutAtZeroGrace ?? 'disabled',
    rotateExpiry: options.rotateExpiry ?? 'restart',
    modifyRotatedOut: options.modifyRotatedOut ?? 'allowed',
  };

  const users = new Map<string, User>(); // by NAME
  const oauth = new Map<string, { login: string; expired: boolean }>();
  const pats = new Map<string, { login: string }>();
  /** Every PAT secret ADD or ROTATE answered with (tests scan outputs and files for them). */
  const issuedSecrets: string[] = [];
  const pgInstances = new Map<string, { name: string; users?: Set<string>; allowed?: Set<string> }>();
  const faults: Array<{ fault: Fault; left: number }> = [];
  const requests: RecordedRequest[] = [];
  const executed: ExecutedStatement[] = [];
  const pgTokens: IssuedPgToken[] = [];
  const loginFailures: LoginFailure[] = [];
  const handles = new Map<string, Handle>();
  const byRequestId = new Map<string, Handle>();
  const seenRequestIds = new Set<string>();
  const hanging = new Set<Socket>();

  const nowMs = () => Date.now() + skewMs;
  const now = () => new Date(nowMs());

  // -- lookups --------------------------------------------------------------------------------
  function findSetupUser(nameOrLogin: string): User | undefined {
    const exact = users.get(nameOrLogin) ?? users.get(identName(nameOrLogin));
    if (exact) return exact;
    const upper = nameOrLogin.toUpperCase();
    for (const u of users.values()) if (u.login === upper || u.name.toUpperCase() === upper) return u;
    return undefined;
  }
  function mustUser(nameOrLogin: string): User {
    const u = findSetupUser(nameOrLogin);
    if (!u) throw new Error(`emulator: no user ${JSON.stringify(nameOrLogin)}`);
    return u;
  }
  /** Login name of a setup name; users may be added later (then the name is read as in CREATE USER). */
  function loginOf(nameOrLogin: string): string {
    return findSetupUser(nameOrLogin)?.login ?? identName(nameOrLogin).toUpperCase();
  }
  function findByLogin(login: string): User | undefined {
    for (const u of users.values()) if (u.login === login) return u;
    return undefined;
  }
  function canManage(actor: User, target: User): boolean {
    return actor === target || actor.manages.has('*') || actor.manages.has(target.login);
  }
  function makeSlot(input: PublicKeyInput, lastSet: Date | null | undefined, delayMs: number): Slot {
    return { key: parseSetupKey(input), lastSetTime: lastSet === undefined ? now() : lastSet, usableAt: Date.now() + delayMs };
  }
  function slotView(s: Slot | null): SlotState | null {
    return s && { publicKey: s.key.body, fingerprint: s.key.fingerprint, lastSetTime: s.lastSetTime, usableAt: new Date(s.usableAt) };
  }

  // -- faults ---------------------------------------------------------------------------------
  function aboutUser(statement: string, user: string): boolean {
    const m = /\b(?:FOR|ALTER|DESC|DESCRIBE)\s+USER\s+("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)/i.exec(statement);
    return m !== null && roleName(m[1]!) === roleName(user);
  }

  function takeFault(kinds: Set<Fault['kind']>, statement: string | undefined, extra?: { login?: string; fingerprint?: string; partition?: boolean }): Fault | undefined {
    const idx = faults.findIndex(({ fault }) => {
      if (!kinds.has(fault.kind)) return false;
      if (fault.partition && !extra?.partition) return false;
      if (fault.match) {
        if (statement === undefined) return false;
        fault.match.lastIndex = 0;
        if (!fault.match.test(statement)) return false;
      }
      if (fault.user !== undefined && (statement === undefined || !aboutUser(statement, fault.user))) return false;
      if (fault.kind === 'fail-auth') {
        if (fault.login !== undefined && extra?.login !== fault.login.toUpperCase()) return false;
        if (fault.fingerprint !== undefined && extra?.fingerprint !== fault.fingerprint) return false;
      }
      return true;
    });
    if (idx < 0) return undefined;
    const entry = faults[idx]!;
    entry.left -= 1;
    if (entry.left <= 0) faults.splice(idx, 1);
    return entry.fault;
  }

  // -- responses ------------------------------------------------------------------------------
  function send(res: ServerResponse, rec: RecordedRequest, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.statusCode = status;
    res.setHeader('Date', now().toUTCString());
    res.setHeader('Content-Type', headers['Content-Type'] ?? 'application/json');
    for (const [k, v] of Object.entries(headers)) if (k !== 'Content-Type') res.setHeader(k, v);
    res.setHeader('Content-Length', Buffer.byteLength(text));
    rec.status = status;
    res.end(text);
  }
  function protocolError(res: ServerResponse, rec: RecordedRequest, status: number, code: string, message: string): void {
    send(res, rec, status, { code, message, data: null, success: false });
  }
  function resetSocket(req: IncomingMessage): void {
    const socket = req.socket as Socket & { resetAndDestroy?: () => void };
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  }
  function statusUrl(handle: string, requestId?: string): string {
    return `/api/v2/statements/${handle}${requestId ? `?requestId=${requestId}` : ''}`;
  }
  function resultBody(columns: string[], allRows: Array<Array<string | null>>, handle: string, requestId: string): unknown {
    const parts: Array<Array<Array<string | null>>> = [];
    for (let i = 0; i < allRows.length || parts.length === 0; i += partitionRows) parts.push(allRows.slice(i, i + partitionRows));
    if (parts.length > 1) laterPartitions.set(handle, parts.slice(1));
    const rows = parts[0]!;
    return {
      resultSetMetaData: {
        numRows: allRows.length,
        format: 'jsonv2',
        partitionInfo: parts.map((part) => ({ rowCount: part.length, uncompressedSize: JSON.stringify(part).length })),
        rowType: columns.map((name) => ({
          name,
          database: '',
          schema: '',
          table: '',
          nullable: true,
          type: 'text',
          length: 16777216,
          byteLength: 16777216,
          precision: null,
          scale: null,
          collation: null,
        })),
      },
      data: rows,
      code: '090001',
      statementStatusUrl: statusUrl(handle, requestId),
      requestId,
      sqlState: '00000',
      statementHandle: handle,
      message: OK_MESSAGE,
      createdOn: nowMs(),
    };
  }
  function errorBody(err: StatementError, handle: string, requestId: string): unknown {
    return {
      code: err.code,
      message: err.message,
      sqlState: err.sqlState,
      statementHandle: handle,
      statementStatusUrl: statusUrl(handle, requestId),
      requestId,
      createdOn: nowMs(),
    };
  }
  function asyncBody(handle: Handle): unknown {
    return { code: '333334', message: ASYNC_MESSAGE, statementHandle: handle.id, statementStatusUrl: statusUrl(handle.id, handle.requestId) };
  }
  function authFailureMessage(code: string, uuid: string): string {
    if (code in JWT_FAILURES) {
      const text = code === '390144' ? 'JWT token is invalid' : JWT_FAILURES[code as JwtFailureCode].text;
      return `${text}. [${uuid}]`;
    }
    if (code === '390303') return 'Invalid OAuth access token.';
    if (code === '390318') return 'OAuth access token expired.';
    if (code === '394400') return 'Programmatic access token is invalid.';
    return `Authentication failed. [${uuid}]`;
  }

  // -- authentication ---------------------------------------------------------------------------
  type AuthResult = { ok: true; user: User; fingerprint?: string; viaPat?: boolean; pat?: PatObject } | { ok: false; code: string; message: string };

  function authenticate(req: IncomingMessage, rec: RecordedRequest): AuthResult {
    const authz = req.headers.authorization;
    const m = typeof authz === 'string' ? /^Bearer +(\S+)\s*$/i.exec(authz) : null;
    if (!m) {
      return { ok: false, code: '391001', message: "Authorization header is missing or is not 'Bearer <token>'." };
    }
    const token = m[1]!;
    const typeHeader = req.headers['x-snowflake-authorization-token-type'];
    const type = typeof typeHeader === 'string' ? typeHeader : undefined;
    if (type === undefined || !TOKEN_TYPES.has(type)) {
      return {
        ok: false,
        code: '391001',
        message: `X-Snowflake-Authorization-Token-Type header is missing or not supported (${JSON.stringify(type ?? null)}); use KEYPAIR_JWT, OAUTH or PROGRAMMATIC_ACCESS_TOKEN.`,
      };
    }
    rec.tokenType = type;
    const fail = (code: string, detail: string, extra: { login?: string; fingerprint?: string } = {}): AuthResult => {
      const uuid = randomUUID();
      const error = code in JWT_FAILURES ? JWT_FAILURES[code as JwtFailureCode].name : code === '390303' ? 'OAUTH_ACCESS_TOKEN_INVALID' : code === '390318' ? 'OAUTH_ACCESS_TOKEN_EXPIRED' : code === '394400' ? 'PROGRAMMATIC_ACCESS_TOKEN_INVALID' : 'AUTHENTICATION_FAILED';
      loginFailures.push({ uuid, code, error, detail, tokenType: type, ...extra, at: now() });
      const sent = type === 'KEYPAIR_JWT' && jwtErrors === 'generic' ? '390144' : code;
      return { ok: false, code: sent, message: authFailureMessage(sent, uuid) };
    };

    if (type === 'KEYPAIR_JWT') {
      const result = verifyKeypairJwt(token, {
        account,
        nowSeconds: nowMs() / 1000,
        userExists: (login) => findByLogin(login) !== undefined,
        usableKeys: (login) => {
          const u = findByLogin(login);
          if (!u) return [];
          const t = Date.now();
          const slots = ([1, 2] as const).flatMap((slot) => {
            const s = u.slots[slot];
            return s && s.usableAt <= t ? [{ slot, key: s.key }] : [];
          });
          // Authentication looks at the legacy slots and the ACTIVE named pairs.
          u.pairs = prunePairs(u.pairs, nowMs());
          const pairs = namedKeyPairs ? u.pairs.filter((p) => pairStatus(p, nowMs()) === 'ACTIVE' && p.usableAt <= t).map((p) => ({ pair: p.name, key: p.key })) : [];
          return [...slots, ...pairs];
        },
      });
      if (result.header && result.payload) rec.jwt = { header: result.header, payload: result.payload };
      if (!result.ok) {
        if (result.login) rec.login = result.login;
        return fail(result.code, result.detail, { login: result.login, fingerprint: result.fingerprint });
      }
      rec.login = result.login;
      const user = findByLogin(result.login)!;
      if (result.pair) {
        const pair = user.pairs.find((p) => p.name === result.pair)!;
        // A role-restricted pair authenticates only when the request asks for that role.
        const body = rec.body as { role?: unknown } | undefined;
        const asked = rec.method === 'POST' && body && typeof body.role === 'string' ? roleName(body.role) : undefined;
        if (pair.roleScope !== null && rec.method === 'POST' && asked !== pair.roleScope) {
          const uuid = randomUUID();
          loginFailures.push({
            uuid,
            code: '390144',
            error: 'JWT_TOKEN_INVALID_ROLE_RESTRICTION',
            detail: `key pair ${pair.name} is restricted to role ${pair.roleScope}; the request asked for ${asked ?? 'no role'}`,
            tokenType: type,
            login: user.login,
            fingerprint: result.fingerprint,
            at: now(),
          });
          return { ok: false, code: '390144', message: authFailureMessage('390144', uuid) };
        }
        pair.lastUsedOn = now();
      }
      return { ok: true, user, fingerprint: result.fingerprint };
    }
    if (type === 'OAUTH') {
      const entry = oauth.get(token);
      const user = entry && findByLogin(entry.login);
      if (!entry || !user) return fail('390303', 'unknown OAuth access token');
      rec.login = user.login;
      if (entry.expired) return fail('390318', 'OAuth access token expired', { login: user.login });
      return { ok: true, user };
    }
    const entry = pats.get(token);
    const user = entry && findByLogin(entry.login);
    if (entry && user) {
      rec.login = user.login;
      return { ok: true, user, viaPat: true };
    }
    // A token object's secret (named-key-pairs.md §8.7): PAT_INVALID when it is gone, disabled or expired.
    for (const u of users.values()) {
      u.pats = prunePats(u.pats, nowMs());
      const t = u.pats.find((x) => x.secret === token);
      if (!t) continue;
      rec.login = u.login;
      if (patStatus(t, nowMs()) !== 'ACTIVE' || u.disabled) return fail('394400', `programmatic access token ${t.name} is ${u.disabled ? 'of a disabled user' : patStatus(t, nowMs()).toLowerCase()}`, { login: u.login });
      const body = rec.body as { role?: unknown } | undefined;
      const asked = rec.method === 'POST' && body && typeof body.role === 'string' ? roleName(body.role) : undefined;
      // A token whose role was revoked from the user stops working (named-key-pairs.md §8.1 ROLE_RESTRICTION).
      if (t.roleRestriction !== null && !u.roles.has(t.roleRestriction)) return fail('394400', `programmatic access token ${t.name}: role ${t.roleRestriction} is no longer granted to ${u.name}`, { login: u.login });
      if (t.roleRestriction !== null && asked !== undefined && asked !== t.roleRestriction) {
        return fail('394400', `programmatic access token ${t.name} is restricted to role ${t.roleRestriction}; the request asked for ${asked}`, { login: u.login });
      }
      t.lastUsedOn = now();
      return { ok: true, user: u, viaPat: true, pat: t };
    }
    return fail('394400', 'unknown programmatic access token');
  }

  // -- statements -------------------------------------------------------------------------------
  interface Ctx {
    user: User;
    role: string;
    warehouse: string | null;
    /** The session authenticated with a PAT (it may not manage PATs). */
    viaPat?: boolean;
  }

  function runStatement(sql: string, ctx: Ctx, handle: string, requestId: string): Answer {
    try {
      let stmt: Statement;
      try {
        stmt = parseStatement(sql);
      } catch (e) {
        if (e instanceof SqlSyntaxError) throw new StatementError('001003', '42000', e.message);
        if (e instanceof StatementCountError) throw new StatementError('000008', '0A000', e.message);
        throw e;
      }
      const { columns, rows } = execute(stmt, ctx);
      return { status: 200, body: resultBody(columns, rows, handle, requestId) };
    } catch (e) {
      if (e instanceof StatementError) return { status: 422, body: errorBody(e, handle, requestId) };
      throw e;
    }
  }

  function userNotFound(name: string): StatementError {
    return new StatementError('002003', '02000', `SQL compilation error:\nUser '${name}' does not exist or not authorized.`);
  }

  /** The user an ALTER USER changes; undefined for a missing one under IF EXISTS (a no-op). */
  function alterTarget(stmt: { user: string; ifExists: boolean }, ctx: Ctx): User | undefined {
    const target = users.get(stmt.user);
    if (!target) {
      if (stmt.ifExists) return undefined;
      throw userNotFound(stmt.user);
    }
    if (!canManage(ctx.user, target)) {
      throw new StatementError('003001', '42501', `SQL access control error:\nInsufficient privileges to operate on user '${stmt.user}'`);
    }
    return target;
  }

  function execute(stmt: Statement, ctx: Ctx): { columns: string[]; rows: Array<Array<string | null>> } {
    switch (stmt.kind) {
      case 'select': {
        const row = stmt.items.map((item) => evalItem(item, ctx));
        return { columns: stmt.items.map((i) => i.column), rows: [row] };
      }
      case 'desc-user': {
        const target = users.get(stmt.user);
        if (!target || !canManage(ctx.user, target)) throw userNotFound(stmt.user);
        return { columns: ['property', 'value', 'default', 'description'], rows: describeUser(target) };
      }
      case 'alter-user': {
        const target = alterTarget(stmt, ctx);
        if (!target) return { columns: ['status'], rows: [[OK_MESSAGE]] };
        const slotOf = (prop: string): 1 | 2 => {
          if (prop === 'RSA_PUBLIC_KEY') return 1;
          if (prop === 'RSA_PUBLIC_KEY_2') return 2;
          throw new StatementError('002029', '42601', `SQL compilation error:\ninvalid property '${prop}' for 'USER'`);
        };
        // ALTER USER … SET TYPE = PERSON|SERVICE|LEGACY_SERVICE, UNSET PASSWORD (docs: sql-reference/sql/alter-user).
        if (stmt.set?.every((c) => c.prop === 'TYPE')) {
          for (const { value } of stmt.set) {
            if (!['PERSON', 'SERVICE', 'LEGACY_SERVICE'].includes(value.toUpperCase())) throw new StatementError('002029', '42601', `SQL compilation error:\ninvalid value '${value}' for property 'TYPE'`);
            target.type = value.toUpperCase() as User['type'];
          }
          return { columns: ['status'], rows: [[OK_MESSAGE]] };
        }
        if (stmt.unset?.every((c) => c.prop === 'PASSWORD')) {
          target.hasPassword = false;
          return { columns: ['status'], rows: [[OK_MESSAGE]] };
        }
        if (stmt.set) {
          const changes = stmt.set.map(({ prop, value }) => {
            const slot = slotOf(prop);
            try {
              return { slot, key: parseAlterKeyBody(value) };
            } catch (e) {
              if (e instanceof KeyRejected) {
                throw new StatementError('100133', '22023', `SQL execution error: New public key rejected by current policy. Reason: '${e.reason}'.`);
              }
              throw e;
            }
          });
          for (const { slot, key } of changes) {
            target.slots[slot] = { key, lastSetTime: now(), usableAt: Date.now() + propagationDelayMs };
          }
        } else {
          const slots = (stmt.unset ?? []).map(({ prop }) => slotOf(prop));
          for (const slot of slots) target.slots[slot] = null;
        }
        return { columns: ['status'], rows: [[OK_MESSAGE]] };
      }
      case 'show-users':
        return showUsers(stmt, ctx);
      case 'show-pats': {
        if (!patsKnown) throw new StatementError('001003', '42000', "SQL compilation error:\nsyntax error line 1 at position 10 unexpected 'PATS'.");
        const name = stmt.user ?? ctx.user.name;
        const target = users.get(name);
        if (!target || !canManage(ctx.user, target)) throw userNotFound(name);
        return showPats(target);
      }
      case 'account-usage':
        return accountUsage(stmt, ctx);
      case 'show-key-pairs': {
        if (!namedKeyPairs) throw keyPairsUnavailable();
        const name = stmt.user ?? ctx.user.name;
        const target = users.get(name);
        if (!target || !canManage(ctx.user, target)) throw userNotFound(name);
        return showKeyPairs(target);
      }
      case 'pat': {
        if (!patsKnown) throw new StatementError('001003', '42000', "SQL compilation error:\nsyntax error line 1 at position 5 unexpected 'USER'.");
        const target = alterTarget(stmt, ctx);
        if (!target) return { columns: ['status'], rows: [[OK_MESSAGE]] };
        try {
          return applyPatAction(target, stmt.action, ctx);
        } catch (e) {
          if (e instanceof PatError) throw new StatementError(e.code, e.sqlState, e.message);
          throw e;
        }
      }
      case 'key-pair': {
        if (!namedKeyPairs) throw keyPairsUnavailable();
        const target = alterTarget(stmt, ctx);
        if (!target) return { columns: ['status'], rows: [[OK_MESSAGE]] };
        try {
          applyKeyPairAction(target, stmt.action, ctx.user);
        } catch (e) {
          if (e instanceof KeyPairError) throw new StatementError(e.code, e.sqlState, e.message);
          throw e;
        }
        return { columns: ['status'], rows: [[OK_MESSAGE]] };
      }
    }
  }

  function keyPairsUnavailable(): StatementError {
    // A server from before July 2026 does not know the statement.
    return new StatementError('001003', '42000', "SQL compilation error:\nsyntax error line 1 at position 5 unexpected 'USER'.");
  }

  /** A timestamp as the SQL API sends it: `<epoch s>.<ns>` (or text with `showTimeFormat: 'text'`). */
  function sqlTime(d: Date | null): string | null {
    return d === null ? null : options.showTimeFormat === 'text' ? formatSnowflakeTime(d, tzOffset) : `${Math.floor(d.getTime() / 1000)}.${String(d.getTime() % 1000).padStart(3, '0')}000000`;
  }
  const bool = (b: boolean) => (b ? 'true' : 'false');

  /**
   * SHOW USERS: the users the caller may see (itself, and those it manages), by name, with the
   * documented columns (https://docs.snowflake.com/en/sql-reference/sql/show-users). LIKE is
   * case-insensitive with `%`, `_` and `\` escapes; LIMIT … FROM 'name' starts after that name.
   */
  function showUsers(stmt: Extract<Statement, { kind: 'show-users' }>, ctx: Ctx): { columns: string[]; rows: Array<Array<string | null>> } {
    const like = stmt.like === undefined ? undefined : likeRegExp(stmt.like);
    let list = [...users.values()].filter((u) => canManage(ctx.user, u)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (like) list = list.filter((u) => like.test(u.name));
    if (stmt.startsWith !== undefined) list = list.filter((u) => u.name.startsWith(stmt.startsWith!));
    if (stmt.from !== undefined) list = list.filter((u) => u.name > stmt.from!);
    if (stmt.limit !== undefined) list = list.slice(0, stmt.limit);
    const columns = ['name', 'created_on', 'login_name', 'display_name', 'first_name', 'last_name', 'email', 'mins_to_unlock', 'days_to_expiry', 'comment', 'disabled', 'must_change_password', 'snowflake_lock', 'default_warehouse', 'default_namespace', 'default_role', 'default_secondary_roles', 'ext_authn_duo', 'ext_authn_uid', 'mins_to_bypass_mfa', 'owner', 'last_success_login', 'expires_at_time', 'locked_until_time', 'has_password', 'has_rsa_public_key', 'type', 'has_mfa', 'has_workload_identity', 'has_pat'];
    const rows = list.map((u) => {
      const row: Record<string, string | null> = {
        name: u.name,
        created_on: sqlTime(u.createdOn),
        login_name: u.login,
        display_name: u.name,
        comment: u.comment,
        disabled: bool(u.disabled),
        must_change_password: 'false',
        snowflake_lock: 'false',
        default_role: u.defaultRole,
        default_secondary_roles: '["ALL"]',
        ext_authn_duo: 'false',
        owner: 'USERADMIN',
        last_success_login: sqlTime(u.lastSuccessLogin),
        has_password: bool(u.hasPassword),
        has_rsa_public_key: bool(u.slots[1] !== null || u.slots[2] !== null),
        type: u.type,
        has_mfa: bool(u.hasMfa),
        has_workload_identity: 'false',
        has_pat: bool(u.pats.length > 0),
      };
      return columns.map((c) => row[c] ?? null);
    });
    return { columns, rows };
  }

  /** SHOW USER PATS columns (docs: show-user-programmatic-access-tokens; `rotated_to` from the PAT guide's example). */
  function showPats(u: User): { columns: string[]; rows: Array<Array<string | null>> } {
    const columns = ['name', 'user_name', 'role_restriction', 'expires_at', 'status', 'comment', 'created_on', 'created_by', 'mins_to_bypass_network_policy_requirement', 'rotated_to'];
    u.pats = prunePats(u.pats, nowMs());
    const rows = u.pats.map((t) => [t.name, u.name, t.roleRestriction, sqlTime(t.expiresAt), patStatus(t, nowMs()), t.comment, sqlTime(t.createdOn), t.createdBy, String(t.minsToBypass), t.rotatedTo]);
    return { columns, rows };
  }

  /**
   * SNOWFLAKE.ACCOUNT_USAGE.USERS and .CREDENTIALS (docs: sql-reference/account-usage/users and
   * /credentials): they need a warehouse and a role that may read the SNOWFLAKE database (here: one
   * that manages every user). CREDENTIALS lists named key pairs (TYPE KEYPAIR) and PATs (TYPE PAT);
   * whether it lists the legacy RSA_PUBLIC_KEY slots is not documented, so it does not.
   */
  function accountUsage(stmt: Extract<Statement, { kind: 'account-usage' }>, ctx: Ctx): { columns: string[]; rows: Array<Array<string | null>> } {
    const object = `SNOWFLAKE.ACCOUNT_USAGE.${stmt.view}`;
    if (!ctx.user.manages.has('*')) throw new StatementError('002003', '02000', `SQL compilation error:\nObject '${object}' does not exist or not authorized.`);
    if (!ctx.warehouse) {
      throw new StatementError('000606', '57P03', "No active warehouse selected in the current session.  Select an active warehouse with the 'use warehouse' command.\n");
    }
    const records: Array<Record<string, string | null>> = [];
    for (const u of [...users.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (stmt.view === 'USERS') {
        records.push({
          NAME: u.name,
          LOGIN_NAME: u.login,
          TYPE: u.type,
          DISABLED: bool(u.disabled),
          HAS_PASSWORD: bool(u.hasPassword),
          HAS_MFA: bool(u.hasMfa),
          HAS_RSA_PUBLIC_KEY: bool(u.slots[1] !== null || u.slots[2] !== null),
          HAS_PAT: bool(u.pats.length > 0),
          LAST_SUCCESS_LOGIN: sqlTime(u.lastSuccessLogin),
          CREATED_ON: sqlTime(u.createdOn),
          DELETED_ON: null,
        });
        continue;
      }
      u.pairs = prunePairs(u.pairs, nowMs());
      for (const p of u.pairs) {
        records.push({
          CREDENTIAL_ID: `kp-${u.name}-${p.name}`,
          NAME: p.name,
          USER_NAME: u.name,
          TYPE: 'KEYPAIR',
          DOMAIN: 'KEYPAIR',
          STATUS: pairStatus(p, nowMs()),
          ADDITIONAL_DETAILS: JSON.stringify({ KEY_TYPE: p.key.kind === 'ec' ? 'EC' : 'RSA', PUBLIC_KEY_FP: p.key.fingerprint, ...(p.roleScope ? { ROLE_RESTRICTION: p.roleScope } : {}), ...(p.rotatedTo ? { ROTATED_TO: p.rotatedTo } : {}) }),
          COMMENT: p.comment,
          CREATED_BY: p.createdBy,
          CREATED_ON: sqlTime(p.createdOn),
          LAST_USED_ON: sqlTime(p.lastUsedOn),
          EXPIRATION_DATE: sqlTime(p.expiresAt),
        });
      }
      for (const t of u.pats) {
        records.push({
          CREDENTIAL_ID: `pat-${u.name}-${t.name}`,
          NAME: t.name,
          USER_NAME: u.name,
          TYPE: 'PAT',
          DOMAIN: 'PROGRAMMATIC_ACCESS_TOKEN',
          STATUS: patStatus(t, nowMs()),
          ADDITIONAL_DETAILS: JSON.stringify({ ROLE_RESTRICTION: t.roleRestriction ? [t.roleRestriction] : [], ...(t.rotatedTo ? { ROTATED_TO: t.rotatedTo } : {}) }),
          COMMENT: t.comment,
          CREATED_BY: t.createdBy,
          CREATED_ON: sqlTime(t.createdOn),
          LAST_USED_ON: sqlTime(t.lastUsedOn),
          EXPIRATION_DATE: sqlTime(t.expiresAt),
        });
      }
    }
    const known = new Set(Object.keys(stmt.view === 'USERS' ? { NAME: 1, LOGIN_NAME: 1, TYPE: 1, DISABLED: 1, HAS_PASSWORD: 1, HAS_MFA: 1, HAS_RSA_PUBLIC_KEY: 1, HAS_PAT: 1, LAST_SUCCESS_LOGIN: 1, CREATED_ON: 1, DELETED_ON: 1 } : { CREDENTIAL_ID: 1, NAME: 1, USER_NAME: 1, TYPE: 1, DOMAIN: 1, STATUS: 1, ADDITIONAL_DETAILS: 1, COMMENT: 1, CREATED_BY: 1, CREATED_ON: 1, LAST_USED_ON: 1, EXPIRATION_DATE: 1 }));
    for (const c of stmt.columns) {
      if (!known.has(c)) throw new StatementError('000904', '42000', `SQL compilation error: error line 1 at position 7\ninvalid identifier '${c}'`);
    }
    return { columns: stmt.columns, rows: records.map((r) => stmt.columns.map((c) => r[c] ?? null)) };
  }

  /** SHOW USER KEY PAIRS rows (rotated-out pairs until they expire; legacy slots if so configured). */
  function showKeyPairs(u: User): { columns: string[]; rows: Array<Array<string | null>> } {
    u.pairs = prunePairs(u.pairs, nowMs());
    const time = sqlTime;
    const fp = (f: string) => (options.showFingerprint === 'bare' ? f.replace(/^SHA256:/, '') : f);
    const rows: Array<Array<string | null>> = [];
    if (options.showLegacySlots) {
      for (const slot of [1, 2] as const) {
        const st = u.slots[slot];
        if (st) rows.push([`PUBLIC_KEY_${slot}`, u.name, fp(st.key.fingerprint), null, 'ACTIVE', null, time(st.lastSetTime), u.name, null, null, null]);
      }
    }
    for (const p of u.pairs) {
      rows.push([p.name, u.name, fp(p.key.fingerprint), p.roleScope, pairStatus(p, nowMs()), p.comment, time(p.createdOn), p.createdBy, time(p.lastUsedOn), time(p.expiresAt), p.rotatedTo]);
    }
    const columns = ['name', 'user_name', 'fingerprint', 'role_scope', 'status', 'comment', 'created_on', 'created_by', 'last_used_on', 'expires_at', 'rotated_to'];
    return { columns, rows };
  }

  /** The fingerprints a new key may not repeat: the legacy slots and the ACTIVE pairs. */
  function activeKeyHolder(u: User, fingerprint: string): string | undefined {
    for (const slot of [1, 2] as const) if (u.slots[slot]?.key.fingerprint === fingerprint) return `RSA_PUBLIC_KEY${slot === 2 ? '_2' : ''}`;
    const pair = u.pairs.find((p) => p.key.fingerprint === fingerprint && pairStatus(p, nowMs()) === 'ACTIVE');
    return pair ? `key pair ${pair.name}` : undefined;
  }

  /** ADD / ROTATE / MODIFY / REMOVE PROGRAMMATIC ACCESS TOKEN (rules and sources: emulator/pats.ts). */
  function applyPatAction(u: User, action: PatAction, ctx: Ctx): { columns: string[]; rows: Array<Array<string | null>> } {
    const at = nowMs();
    u.pats = prunePats(u.pats, at);
    // The parser resolved the identifier already (plain: upper case; quoted: exact).
    const name = action.name;
    const found = u.pats.find((t) => t.name === name);
    const status = (text: string) => ({ columns: ['status'], rows: [[text]] });
    if (action.op !== 'add' && ctx.viaPat) throw PAT_ERRORS.patSession();
    if (action.op !== 'add' && !found) {
      if (action.guard) return status(OK_MESSAGE);
      throw PAT_ERRORS.unknown(name, u.name);
    }
    switch (action.op) {
      case 'add': {
        if (found) {
          if (action.guard) return { columns: ['token_name', 'token_secret'], rows: [[name, null]] };
          throw PAT_ERRORS.exists(name);
        }
        if (countedPats(u.pats, at) >= PAT_LIMIT) throw PAT_ERRORS.limit(u.name);
        const days = action.daysToExpiry ?? PAT_DEFAULT_DAYS;
        if (days < 1 || days > PAT_MAX_DAYS) throw PAT_ERRORS.days();
        const role = action.roleRestriction === undefined ? null : roleName(action.roleRestriction);
        if (role === null && (u.type === 'SERVICE' || u.type === 'LEGACY_SERVICE')) throw PAT_ERRORS.roleRequired(u.name);
        if (role !== null && !u.roles.has(role)) throw PAT_ERRORS.roleNotGranted(role, u.name);
        const secret = newPatSecret();
        issuedSecrets.push(secret);
        u.pats.push({ name, roleRestriction: role, expiresAt: new Date(at + days * 86_400_000), disabled: false, comment: action.comment ?? null, createdOn: new Date(at), createdBy: ctx.user.name, lastUsedOn: null, rotatedTo: null, daysToExpiry: days, minsToBypass: action.minsToBypass ?? 0, secret });
        return { columns: ['token_name', 'token_secret'], rows: [[name, secret]] };
      }
      case 'rotate': {
        const t = found!;
        if (t.rotatedTo !== null) throw PAT_ERRORS.rotatedOut(name);
        if (countedPats(u.pats, at) >= PAT_LIMIT) throw PAT_ERRORS.limit(u.name);
        const hoursLeft = t.expiresAt ? Math.max(0, Math.floor((t.expiresAt.getTime() - at) / 3_600_000)) : 24;
        const hours = action.expireAfterHours ?? Math.min(24, hoursLeft);
        if (hours > hoursLeft) throw PAT_ERRORS.hours(hoursLeft);
        let stamp = at;
        while (u.pats.some((x) => x.name === `${name}_ROTATED_${stamp}`)) stamp++;
        const rotated: PatObject = { ...t, name: `${name}_ROTATED_${stamp}`, rotatedTo: name, expiresAt: new Date(at + hours * 3_600_000) };
        const secret = newPatSecret();
        issuedSecrets.push(secret);
        Object.assign(t, { secret, expiresAt: new Date(at + t.daysToExpiry * 86_400_000), lastUsedOn: null });
        u.pats.splice(u.pats.indexOf(t), 0, rotated);
        return { columns: ['token_name', 'token_secret', 'rotated_token_name'], rows: [[name, secret, rotated.name]] };
      }
      case 'modify': {
        const t = found!;
        if (action.set.disabled !== undefined) t.disabled = action.set.disabled;
        if (action.set.comment !== undefined) t.comment = action.set.comment;
        if (action.set.minsToBypass !== undefined) t.minsToBypass = action.set.minsToBypass;
        for (const p of action.unset) {
          if (p === 'DISABLED') t.disabled = false;
          else if (p === 'COMMENT') t.comment = null;
          else t.minsToBypass = 0;
        }
        return status(OK_MESSAGE);
      }
      case 'remove':
        u.pats.splice(u.pats.indexOf(found!), 1);
        return status(`Programmatic access token ${name} successfully removed.`);
    }
  }

  function applyKeyPairAction(u: User, action: KeyPairAction, actor: User): void {
    u.pairs = prunePairs(u.pairs, nowMs());
    const name = action.name;
    if (RESERVED_PAIR_NAMES.has(name.toUpperCase())) throw KEY_PAIR_ERRORS.reserved(name);
    const find = () => u.pairs.find((p) => p.name === name);
    const newKey = (body: string) => {
      try {
        return parseAlterKeyBody(body);
      } catch (e) {
        if (e instanceof KeyRejected) throw new StatementError('100133', '22023', `SQL execution error: New public key rejected by current policy. Reason: '${e.reason}'.`);
        throw e;
      }
    };
    switch (action.op) {
      case 'add': {
        if (find()) throw KEY_PAIR_ERRORS.exists(name);
        if (u.pairs.length >= rules.limit) throw KEY_PAIR_ERRORS.limit(u.name, rules.limit);
        if (action.daysToExpiry !== undefined && action.daysToExpiry < 1) throw KEY_PAIR_ERRORS.days();
        const role = action.roleRestriction === undefined ? null : roleName(action.roleRestriction);
        if (role !== null && !u.roles.has(role)) throw KEY_PAIR_ERRORS.roleNotGranted(role, u.name);
        const key = newKey(action.publicKey);
        const holder = activeKeyHolder(u, key.fingerprint);
        if (holder) throw KEY_PAIR_ERRORS.duplicateKey(holder);
        const created = now();
        u.pairs.push({
          name,
          key,
          roleScope: role,
          disabled: false,
          comment: action.comment ?? null,
          createdOn: created,
          createdBy: actor.name,
          lastUsedOn: null,
          expiresAt: action.daysToExpiry ? new Date(created.getTime() + action.daysToExpiry * 86_400_000) : null,
          daysToExpiry: action.daysToExpiry ?? null,
          rotatedTo: null,
          usableAt: Date.now() + propagationDelayMs,
        });
        return;
      }
      case 'rotate': {
        const pair = find();
        if (!pair) {
          if (ROTATED_NAME.test(name) && u.pairs.some((p) => p.name === name)) throw KEY_PAIR_ERRORS.rotatedOut(name);
          throw KEY_PAIR_ERRORS.unknown(name, u.name);
        }
        if (pair.rotatedTo !== null) throw KEY_PAIR_ERRORS.rotatedOut(name);
        if (u.pairs.length >= rules.limit) throw KEY_PAIR_ERRORS.limit(u.name, rules.limit);
        const at = nowMs();
        const hoursLeft = pair.expiresAt ? Math.max(0, Math.floor((pair.expiresAt.getTime() - at) / 3_600_000)) : null;
        const hours = action.expireAfterHours ?? Math.min(24, hoursLeft ?? 24);
        if (hours < 0 || (hoursLeft !== null && hours > hoursLeft)) throw KEY_PAIR_ERRORS.hours(hoursLeft);
        const key = newKey(action.publicKey);
        const holder = activeKeyHolder(u, key.fingerprint);
        if (holder) throw KEY_PAIR_ERRORS.duplicateKey(holder);
        const tombstone: NamedPair = { ...pair, name: `${name}_ROTATED_${at}`, rotatedTo: name, expiresAt: new Date(at + hours * 3_600_000), disabled: hours === 0 };
        const created = new Date(at);
        Object.assign(pair, {
          key,
          createdOn: created,
          createdBy: actor.name,
          lastUsedOn: null,
          expiresAt: rules.rotateExpiry === 'restart' && pair.daysToExpiry ? new Date(at + pair.daysToExpiry * 86_400_000) : pair.expiresAt,
          usableAt: Date.now() + propagationDelayMs,
        });
        if (!(hours === 0 && rules.rotatedOutAtZeroGrace === 'unlisted')) u.pairs.splice(u.pairs.indexOf(pair), 0, tombstone);
        return;
      }
      case 'modify': {
        const pair = find();
        if (!pair) throw KEY_PAIR_ERRORS.unknown(name, u.name);
        if (pair.rotatedTo !== null && rules.modifyRotatedOut === 'refused') throw KEY_PAIR_ERRORS.rotatedOut(name);
        if (action.disabled !== undefined) pair.disabled = action.disabled;
        if (action.comment !== undefined) pair.comment = action.comment;
        return;
      }
      case 'remove': {
        const pair = find();
        if (!pair) throw KEY_PAIR_ERRORS.unknown(name, u.name);
        u.pairs.splice(u.pairs.indexOf(pair), 1);
        return;
      }
    }
  }

  function badArgs(item: Extract<SelectItem, { kind: 'func' }>): StatementError {
    const types = item.args.map((a) => (a.kind === 'string' ? `VARCHAR(${a.value.length})` : a.kind === 'number' ? 'NUMBER(1,0)' : 'UNKNOWN')).join(', ');
    return new StatementError('001044', '42P13', `SQL compilation error: error line 1 at position ${item.pos}\nInvalid argument types for function '${item.name}': (${types})`);
  }

  function evalItem(item: SelectItem, ctx: Ctx): string | null {
    if (item.kind === 'literal') return item.value;
    const noArgs = () => {
      if (item.args.length !== 0) throw badArgs(item);
    };
    const dash = account.indexOf('-');
    switch (item.name) {
      case 'CURRENT_ACCOUNT':
        noArgs();
        return account;
      case 'CURRENT_ACCOUNT_NAME':
        noArgs();
        return dash >= 0 ? account.slice(dash + 1) : account;
      case 'CURRENT_ORGANIZATION_NAME':
        noArgs();
        return dash >= 0 ? account.slice(0, dash) : null;
      case 'CURRENT_USER':
        noArgs();
        return ctx.user.name;
      case 'CURRENT_ROLE':
        noArgs();
        return ctx.role;
      case 'CURRENT_WAREHOUSE':
        noArgs();
        return ctx.warehouse;
      case 'SYSTEM$GET_LOGIN_FAILURE_DETAILS': {
        const [arg] = item.args;
        if (item.args.length !== 1 || arg?.kind !== 'string') throw badArgs(item);
        const f = loginFailures.find((x) => x.uuid === arg.value);
        if (!f) return null;
        // Reading another user's failures needs MONITOR on that user (here: the manage grant).
        const failed = f.login ? findByLogin(f.login) : undefined;
        if (failed && !canManage(ctx.user, failed)) {
          throw new StatementError('003001', '42501', `SQL access control error:\nInsufficient privileges to operate on user '${failed.name}' (MONITOR is required)`);
        }
        // The documented shape (https://docs.snowflake.com/en/sql-reference/functions/system_get_login_failure_details):
        // {clientIP, clientType, clientVersion, username, errorCode, timestamp}, where errorCode is a
        // STRING naming the error, paired with 390144/394300–394307 on
        // https://docs.snowflake.com/en/user-guide/key-pair-auth-troubleshooting. (The names of
        // 394300/394301/394303/394305/394306 in emulator/jwt.ts are unconfirmed; the rest are documented.)
        return JSON.stringify({
          clientIP: '127.0.0.1',
          clientType: 'OTHER',
          clientVersion: '',
          username: f.login ?? null,
          errorCode: f.error,
          timestamp: Math.floor(f.at.getTime() / 1000),
        });
      }
      case 'GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER': {
        const [a, b] = item.args;
        if (item.args.length !== 2 || a?.kind !== 'string' || b?.kind !== 'string') throw badArgs(item);
        const literal = a.value;
        const instName =
          literal.length >= 2 && literal.startsWith('"') && literal.endsWith('"') ? literal.slice(1, -1).replace(/""/g, '"') : literal.toUpperCase();
        const inst = pgInstances.get(instName);
        if (!inst || (inst.allowed && !inst.allowed.has(ctx.user.login))) {
          throw new StatementError('002003', '02000', `SQL compilation error:\nPostgres instance '${instName}' does not exist or not authorized.`);
        }
        if (inst.users && !inst.users.has(b.value)) {
          throw new StatementError('002003', '02000', `SQL compilation error:\nPostgres role '${b.value}' does not exist on instance '${inst.name}'.`);
        }
        const token = randomBytes(48).toString('base64url');
        const issuedAt = now();
        pgTokens.push({ token, instance: inst.name, pgUser: b.value, login: ctx.user.login, issuedAt, expiresAt: new Date(issuedAt.getTime() + 15 * 60_000) });
        return token;
      }
      default:
        throw new StatementError('002140', '42601', `SQL compilation error:\nUnknown function ${item.name}`);
    }
  }

  function describeUser(u: User): Array<Array<string | null>> {
    const s = (v: string | null | undefined) => (v === null || v === undefined ? 'null' : v);
    const slotRows = (slot: 1 | 2, prefix: string): string[][] => {
      const st = u.slots[slot];
      return [
        [prefix, s(st?.key.body), 'null', `RSA public key of the user${slot === 2 ? ' (second slot)' : ''}`],
        [`${prefix}_FP`, s(st?.key.fingerprint), 'null', 'Fingerprint of the RSA public key of the user'],
        [`${prefix}_LAST_SET_TIME`, s(st?.lastSetTime ? formatSnowflakeTime(st.lastSetTime, tzOffset) : null), 'null', 'The timestamp at which the RSA public key was last set for the user'],
      ];
    };
    return [
      ['NAME', u.name, 'null', 'Name'],
      ['COMMENT', 'null', 'null', 'user comment associated to an object in the dictionary'],
      ['DISPLAY_NAME', u.name, 'null', 'Display name of the associated object'],
      ['TYPE', s(u.type), 'null', 'Type of the user'],
      ['LOGIN_NAME', u.login, 'null', 'Login name of the user'],
      ['FIRST_NAME', 'null', 'null', 'First name of the user'],
      ['LAST_NAME', 'null', 'null', 'Last name of the user'],
      ['EMAIL', 'null', 'null', 'Email address of the user'],
      ['PASSWORD', 'null', 'null', 'Password of the user'],
      ['MUST_CHANGE_PASSWORD', 'false', 'false', 'User must change the password'],
      ['DISABLED', u.disabled ? 'true' : 'false', 'false', 'Whether the user is disabled'],
      ['SNOWFLAKE_LOCK', 'false', 'false', 'Whether the user or account is locked by Snowflake'],
      ['DEFAULT_WAREHOUSE', 'null', 'null', 'Default warehouse for this user'],
      ['DEFAULT_NAMESPACE', 'null', 'null', 'Default database namespace prefix for this user'],
      ['DEFAULT_ROLE', s(u.defaultRole), 'null', 'Primary principal of user session will be set to this role'],
      ['DEFAULT_SECONDARY_ROLES', 'null', 'null', 'The secondary roles will be set to all roles provided here'],
      ['MINS_TO_BYPASS_MFA', 'null', 'null', 'Temporary bypass MFA for the user for a specified number of minutes'],
      ...slotRows(1, 'RSA_PUBLIC_KEY'),
      ...slotRows(2, 'RSA_PUBLIC_KEY_2'),
      ['PASSWORD_LAST_SET_TIME', 'null', 'null', 'The timestamp on which the last non-null password was set for the user'],
      ['CUSTOM_LANDING_PAGE_URL', 'null', 'null', 'Snowflake Support is allowed to use the user or account'],
    ];
  }

  // -- request handling ---------------------------------------------------------------------------
  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 4 * 1024 * 1024) throw new Error('body too large');
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  function applyTransportFault(fault: Fault, req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): void {
    rec.fault = fault.kind;
    const handle = randomUUID();
    const requestId = rec.requestId ?? randomUUID();
    switch (fault.kind) {
      case 'answer': {
        const bearer = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
        const text = typeof fault.body === 'function' ? fault.body(bearer) : fault.body;
        if (fault.chunked) {
          // No Content-Length: the reader finds out how large it is only by reading.
          res.statusCode = fault.status;
          res.setHeader('Content-Type', 'application/json');
          rec.status = fault.status;
          res.end(text);
          return;
        }
        send(res, rec, fault.status, text, fault.headers ?? {});
        return;
      }
      case 'status': {
        const headers: Record<string, string> = {};
        if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
        send(res, rec, fault.status, { message: REASONS[fault.status] ?? 'Error', success: false }, headers);
        return;
      }
      case 'reset':
        resetSocket(req);
        return;
      case 'hang':
        hanging.add(req.socket);
        req.socket.once('close', () => hanging.delete(req.socket));
        return;
      case 'html': {
        const status = fault.status ?? 502;
        const reason = REASONS[status] ?? 'Error';
        send(
          res,
          rec,
          status,
          `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
          { 'Content-Type': 'text/html' },
        );
        return;
      }
      case 'invalid-json':
        send(res, rec, 200, `{"resultSetMetaData": {"numRows": 1, "format": "jsonv2"}, "data": [["ok"]], "code": "090001", statementHandle: ${handle}}`);
        return;
      case 'truncated-json': {
        const full = JSON.stringify(resultBody(['VALUE'], [['truncated']], handle, requestId));
        send(res, rec, 200, full.slice(0, Math.floor(full.length / 2)));
        return;
      }
      case 'missing-fields':
        send(res, rec, 200, { code: '090001', message: OK_MESSAGE, statementHandle: handle, requestId });
        return;
      default:
        throw new Error(`not a transport fault: ${fault.kind}`);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    const rec: RecordedRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: undefined,
      retry: url.searchParams.get('retry') === 'true',
      replayed: false,
      executed: false,
      authOutcome: null,
      at: now(),
    };
    requests.push(rec);
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    const raw = await readBody(req);
    if (raw.length > 0) {
      try {
        rec.body = JSON.parse(raw);
      } catch {
        rec.body = raw;
      }
    }

    const isSubmit = url.pathname === '/api/v2/statements' || url.pathname === '/api/v2/statements/';
    const pollMatch = /^\/api\/v2\/statements\/([^/]+)$/.exec(url.pathname);
    if (isSubmit && req.method !== 'POST') return protocolError(res, rec, 405, '391909', `Method ${req.method} is not allowed on ${url.pathname}; use POST.`);
    if (!isSubmit && pollMatch && req.method !== 'GET') return protocolError(res, rec, 405, '391909', `Method ${req.method} is not allowed on ${url.pathname}; use GET.`);
    if (!isSubmit && !pollMatch) return protocolError(res, rec, 404, '391910', `Unknown path ${url.pathname}.`);

    const requestId = url.searchParams.get('requestId') ?? undefined;
    if (requestId !== undefined) rec.requestId = requestId;
    const polled = pollMatch ? handles.get(decodeURIComponent(pollMatch[1]!)) : undefined;
    const body = rec.body as Record<string, unknown> | undefined;
    const bodyStatement = isSubmit && body && typeof body === 'object' && typeof body.statement === 'string' ? body.statement : undefined;
    rec.statement = isSubmit ? bodyStatement : polled?.statement;

    // A requestId is "used" the moment it reaches the server, whatever happens to the request.
    let duplicate = false;
    if (isSubmit && requestId !== undefined) {
      duplicate = seenRequestIds.has(requestId);
      seenRequestIds.add(requestId);
    }

    const partitionParam = pollMatch ? url.searchParams.get('partition') : null;
    const transport = takeFault(TRANSPORT_FAULTS, rec.statement, { partition: partitionParam !== null });
    if (transport) return applyTransportFault(transport, req, res, rec);

    const accept = headers['accept'] ?? '';
    if (!accept.split(',').some((a) => a.trim().split(';')[0]!.trim().toLowerCase() === 'application/json')) {
      return protocolError(res, rec, 406, '391901', `Unsupported Accept header ${JSON.stringify(headers['accept'] ?? null)} is specified; use application/json.`);
    }
    if (!(headers['user-agent'] ?? '').startsWith('sfauth/')) {
      return protocolError(res, rec, 400, '391905', `User-Agent ${JSON.stringify(headers['user-agent'] ?? null)} must start with 'sfauth/'.`);
    }
    if (isSubmit) {
      if (requestId === undefined || !UUID_RE.test(requestId)) {
        return protocolError(res, rec, 400, '391903', `requestId ${JSON.stringify(requestId ?? null)} is missing or is not a UUID.`);
      }
      const ctype = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (ctype !== 'application/json') {
        return protocolError(res, rec, 415, '391902', `Unsupported Content-Type ${JSON.stringify(headers['content-type'] ?? null)}; use application/json.`);
      }
    }

    const auth = authenticate(req, rec);
    if (!auth.ok) {
      rec.authOutcome = auth.code;
      return protocolError(res, rec, 401, auth.code, auth.message);
    }
    const failAuth = takeFault(new Set(['fail-auth']), rec.statement, { login: auth.user.login, fingerprint: auth.fingerprint });
    if (failAuth && failAuth.kind === 'fail-auth') {
      rec.fault = 'fail-auth';
      const code = failAuth.code ?? '390144';
      const uuid = randomUUID();
      loginFailures.push({
        uuid,
        code,
        error: code in JWT_FAILURES ? JWT_FAILURES[code as JwtFailureCode].name : 'AUTHENTICATION_FAILED',
        detail: 'injected fail-auth fault',
        tokenType: rec.tokenType ?? '',
        login: auth.user.login,
        fingerprint: auth.fingerprint,
        at: now(),
      });
      rec.authOutcome = code;
      return protocolError(res, rec, 401, code, authFailureMessage(code, uuid));
    }
    rec.authOutcome = 'ok';

    // -- GET: poll -------------------------------------------------------------------------------
    if (!isSubmit) {
      if (!polled || polled.login !== auth.user.login) {
        const id = decodeURIComponent(pollMatch![1]!);
        return send(res, rec, 404, { code: '000709', message: `Statement ${id} not found`, sqlState: '02000', statementHandle: id });
      }
      if (partitionParam !== null) return answerPartition(polled, partitionParam, req, res, rec);
      return answerHandle(polled, res, rec, true);
    }

    // -- POST: submit ----------------------------------------------------------------------------
    if (typeof rec.body !== 'object' || rec.body === null || Array.isArray(rec.body)) {
      return protocolError(res, rec, 400, '391904', raw.length === 0 ? 'Request body is empty; expected a JSON object.' : 'Request body is not valid JSON.');
    }
    if (bodyStatement === undefined) return protocolError(res, rec, 400, '391904', "Request body has no string 'statement' field.");
    const b = rec.body as Record<string, unknown>;
    if (b.timeout !== undefined && !(typeof b.timeout === 'number' && Number.isInteger(b.timeout) && b.timeout >= 0)) {
      return protocolError(res, rec, 400, '391904', "'timeout' must be a non-negative integer number of seconds.");
    }
    for (const field of ['role', 'warehouse', 'database', 'schema'] as const) {
      if (b[field] !== undefined && typeof b[field] !== 'string') return protocolError(res, rec, 400, '391904', `'${field}' must be a string.`);
    }

    const previous = byRequestId.get(requestId!);
    if (duplicate && !rec.retry) {
      return protocolError(res, rec, 400, '391907', `Duplicate requestId ${requestId}: a resubmission must add retry=true, a new statement must use a new requestId.`);
    }
    if (previous) {
      if (previous.statement !== bodyStatement) {
        return protocolError(res, rec, 400, '391908', `requestId ${requestId} was used for a different statement.`);
      }
      rec.replayed = true;
      return answerHandle(previous, res, rec, false);
    }

    const user = auth.user;
    let role = user.defaultRole ?? 'PUBLIC';
    if (typeof b.role === 'string') {
      role = roleName(b.role);
      if (!user.roles.has(role)) {
        return send(res, rec, 422, {
          code: '390189',
          message: `Role '${role}' specified in the connect string is not granted to this user. Contact your local system administrator, or attempt to login with another role, e.g. PUBLIC.`,
          sqlState: '08004',
        });
      }
    }
    // A role-restricted PAT's session runs as its role (named-key-pairs.md §8.1 ROLE_RESTRICTION).
    if (auth.pat?.roleRestriction && typeof b.role !== 'string') role = auth.pat.roleRestriction;
    const ctx: Ctx = { user, role, warehouse: typeof b.warehouse === 'string' ? roleName(b.warehouse) : null, viaPat: auth.viaPat === true };

    const execFault = takeFault(EXEC_FAULTS, bodyStatement);
    if (execFault) rec.fault = execFault.kind;
    const h: Handle = { id: randomUUID(), login: user.login, statement: bodyStatement, requestId: requestId!, pollsLeft: 0, final: null };
    handles.set(h.id, h);
    byRequestId.set(requestId!, h);

    if (execFault?.kind === 'never-complete') {
      h.pollsLeft = Infinity;
      return send(res, rec, 202, asyncBody(h));
    }
    h.final = runStatement(bodyStatement, ctx, h.id, requestId!);
    rec.executed = true;
    executed.push({ requestId: requestId!, statement: bodyStatement, login: user.login, statementHandle: h.id, status: h.final.status, at: now() });
    if (execFault?.kind === 'async') {
      h.pollsLeft = execFault.polls ?? 1;
      return send(res, rec, 202, asyncBody(h));
    }
    if (execFault?.kind === 'drop-after-execute') return resetSocket(req);
    return send(res, rec, h.final.status, h.final.body);
  }

  /**
   * `GET …/statements/{handle}?partition=N` (sqlapi.yaml `partition`): partition 0 is the first answer
   * again; a later one carries only `data` (the metadata came with partition 0, as the SQL API's
   * "Retrieving additional partitions" describes), gzipped when the request accepts gzip.
   */
  function answerPartition(h: Handle, raw: string, req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): void {
    if (h.final === null || h.pollsLeft > 0) return answerHandle(h, res, rec, true);
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    const later = laterPartitions.get(h.id) ?? [];
    if (!Number.isInteger(n) || n > later.length) {
      return protocolError(res, rec, 400, '391911', `Partition ${raw} is out of range: the result has ${later.length + 1} partition(s).`);
    }
    const text = n === 0 ? JSON.stringify(h.final.body) : JSON.stringify({ data: later[n - 1] });
    rec.partition = n;
    if (!/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return send(res, rec, 200, text);
    const zipped = gzipSync(text);
    res.statusCode = 200;
    res.setHeader('Date', now().toUTCString());
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Content-Length', zipped.length);
    rec.status = 200;
    rec.gzip = true;
    res.end(zipped);
  }

  function answerHandle(h: Handle, res: ServerResponse, rec: RecordedRequest, isPoll: boolean): void {
    if (h.final === null || h.pollsLeft > 0) {
      if (isPoll && h.pollsLeft !== Infinity) h.pollsLeft -= 1;
      return send(res, rec, 202, asyncBody(h));
    }
    return send(res, rec, h.final.status, h.final.body);
  }

  // -- server -------------------------------------------------------------------------------------
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      res.statusCode = 500;
      res.setHeader('Content-Type', 'application/json');
      res.setHeader('Date', now().toUTCString());
      res.end(JSON.stringify({ code: '000000', message: `emulator error: ${err instanceof Error ? err.message : String(err)}`, success: false }));
    });
  };
  const server: Server = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest) : createServer(onRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const emulator: Emulator = {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    account,
    addUser(loginName, init = {}) {
      const name = identName(loginName);
      if (users.has(name)) throw new Error(`emulator: user ${name} exists`);
      const roles = new Set(['PUBLIC', ...(init.roles ?? []).map(roleName)]);
      if (init.role) roles.add(roleName(init.role));
      if (init.defaultRole) roles.add(roleName(init.defaultRole));
      const defaultRoleRaw = init.defaultRole ?? init.role;
      users.set(name, {
        name,
        login: name.toUpperCase(),
        defaultRole: defaultRoleRaw ? roleName(defaultRoleRaw) : null,
        roles,
        slots: {
          1: init.rsaPublicKey ? makeSlot(init.rsaPublicKey, init.lastSet1, 0) : null,
          2: init.rsaPublicKey2 ? makeSlot(init.rsaPublicKey2, init.lastSet2, 0) : null,
        },
        manages: new Set(),
        pairs: [],
        type: init.type ?? null,
        hasPassword: init.hasPassword ?? false,
        hasMfa: init.hasMfa ?? false,
        disabled: init.disabled ?? false,
        lastSuccessLogin: init.lastSuccessLogin ?? null,
        createdOn: init.createdOn ?? now(),
        comment: init.comment ?? null,
        pats: [],
      });
    },
    updateUser(loginName, patch) {
      const u = mustUser(loginName);
      if (patch.type !== undefined) u.type = patch.type;
      if (patch.hasPassword !== undefined) u.hasPassword = patch.hasPassword;
      if (patch.hasMfa !== undefined) u.hasMfa = patch.hasMfa;
      if (patch.disabled !== undefined) u.disabled = patch.disabled;
      if (patch.lastSuccessLogin !== undefined) u.lastSuccessLogin = patch.lastSuccessLogin;
      if (patch.comment !== undefined) u.comment = patch.comment;
    },
    addPatObject(loginName, name, init = {}) {
      const u = mustUser(loginName);
      const days = init.daysToExpiry ?? PAT_DEFAULT_DAYS;
      u.pats.push({
        name: identName(name),
        roleRestriction: init.roleRestriction ? roleName(init.roleRestriction) : null,
        expiresAt: init.expiresAt === undefined ? new Date(nowMs() + days * 86_400_000) : init.expiresAt,
        disabled: init.disabled ?? false,
        comment: init.comment ?? null,
        createdOn: init.createdOn ?? now(),
        lastUsedOn: init.lastUsedOn ?? null,
        rotatedTo: init.rotatedTo ?? null,
        createdBy: u.name,
        daysToExpiry: days,
        minsToBypass: 0,
        secret: init.secret ?? null,
      });
    },
    issuedPatSecrets() {
      return [...issuedSecrets];
    },
    patsOf(loginName) {
      const u = mustUser(loginName);
      u.pats = prunePats(u.pats, nowMs());
      return u.pats.map((t) => ({ name: t.name, status: patStatus(t, nowMs()), roleRestriction: t.roleRestriction, expiresAt: t.expiresAt, rotatedTo: t.rotatedTo, comment: t.comment, secret: t.secret }));
    },
    user(loginName) {
      const u = mustUser(loginName);
      return { name: u.name, loginName: u.login, defaultRole: u.defaultRole, roles: [...u.roles], slots: { 1: slotView(u.slots[1]), 2: slotView(u.slots[2]) }, type: u.type, hasPassword: u.hasPassword };
    },
    grant(adminLogin, targetLogin) {
      const admin = mustUser(adminLogin);
      admin.manages.add(targetLogin === '*' ? '*' : mustUser(targetLogin).login);
    },
    addOAuthToken(token, loginName, opts = {}) {
      oauth.set(token, { login: loginOf(loginName), expired: opts.expired ?? false });
    },
    addPat(token, loginName) {
      pats.set(token, { login: loginOf(loginName) });
    },
    addPostgresInstance(name, opts = {}) {
      const stored = opts.caseSensitive ? name : name.toUpperCase();
      pgInstances.set(stored, {
        name: stored,
        users: opts.users ? new Set(opts.users) : undefined,
        allowed: opts.allowedUsers ? new Set(opts.allowedUsers.map(loginOf)) : undefined,
      });
    },
    setKey(loginName, slot, key, opts = {}) {
      const u = mustUser(loginName);
      u.slots[slot] = key === null ? null : makeSlot(key, opts.lastSet, opts.delayMs ?? 0);
    },
    addKeyPair(loginName, name, key, init = {}) {
      const u = mustUser(loginName);
      const pairName = identName(name);
      if (RESERVED_PAIR_NAMES.has(pairName.toUpperCase())) throw new Error(`emulator: ${pairName} is reserved`);
      const created = init.createdOn ?? now();
      u.pairs.push({
        name: pairName,
        key: parseSetupKey(key),
        roleScope: init.roleRestriction ? roleName(init.roleRestriction) : null,
        disabled: init.disabled ?? false,
        comment: init.comment ?? null,
        createdOn: created,
        createdBy: u.name,
        lastUsedOn: init.lastUsedOn ?? null,
        expiresAt: init.expiresAt !== undefined ? init.expiresAt : init.daysToExpiry ? new Date(created.getTime() + init.daysToExpiry * 86_400_000) : null,
        daysToExpiry: init.daysToExpiry ?? null,
        rotatedTo: init.rotatedTo ?? null,
        usableAt: 0,
      });
    },
    keyPairs(loginName) {
      const u = mustUser(loginName);
      u.pairs = prunePairs(u.pairs, nowMs());
      return u.pairs.map((p) => ({
        name: p.name,
        fingerprint: p.key.fingerprint,
        publicKey: p.key.body,
        status: pairStatus(p, nowMs()),
        roleScope: p.roleScope,
        comment: p.comment,
        createdOn: p.createdOn,
        lastUsedOn: p.lastUsedOn,
        expiresAt: p.expiresAt,
        rotatedTo: p.rotatedTo,
      }));
    },
    injectFault(fault) {
      faults.push({ fault, left: fault.times ?? 1 });
    },
    pendingFaults() {
      return faults.map(({ fault, left }) => ({ ...fault, times: left }));
    },
    setClockSkew(seconds) {
      skewMs = seconds * 1000;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    setJwtErrors(mode) {
      jwtErrors = mode;
    },
    now,
    requests,
    executed,
    pgTokens,
    loginFailures,
    loginFailure(uuid) {
      return loginFailures.find((f) => f.uuid === uuid);
    },
    reset() {
      requests.length = 0;
      executed.length = 0;
      pgTokens.length = 0;
      loginFailures.length = 0;
      faults.length = 0;
    },
    async close() {
      for (const socket of hanging) socket.destroy();
      hanging.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return emulator;
}
