/**
 * Commander wiring, and nothing else: options → lazy import of the command → exit code.
 * Only the subcommand being run is registered (a measurable part of start-up, DESIGN.md §6); help
 * and unknown commands register them all. The one error handler lives at the bottom.
 */
import { Command, CommanderError, Option } from 'commander';
import { InterruptedError, isSfauthError, UsageError, type SfauthError } from './errors.js';
import { Output, colorEnabled, detectTerminal, fdSink } from './ui/output.js';
import { terminalPrompter } from './ui/prompt.js';
import { makeProgress, spinnerAllowed, type Progress } from './ui/progress.js';
import type { CommandContext } from './context.js';
import { runInterruptCleanups } from './io/cleanup.js';

declare const __SFAUTH_VERSION__: string;
const VERSION = typeof __SFAUTH_VERSION__ === 'string' ? __SFAUTH_VERSION__ : '0.0.0-dev';

/** A command module: `run` returns the exit code (0, or 1 when a check failed). */
export interface CommandModule {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command types its own options
  run(options: any, ctx: CommandContext): Promise<number | void>;
}

interface CommandSpec {
  name: string;
  summary: string;
  examples: string[];
  configure(cmd: Command): void;
  load(): Promise<CommandModule>;
  /** Positional arguments → option names. */
  positional?: string[];
}

const stdout = fdSink(1);
const stderr = fdSink(2);

// ---------------------------------------------------------------------------------------------
// Option groups with one meaning everywhere (DESIGN.md §1 "Options that recur").

// Each command's help lists its options in groups (DESIGN.md §1 v3 "Human output"): what the command
// does first (with --apply at the top), then the connection, the new key, named pairs, hand-over,
// fleet and output.
function jsonOption(cmd: Command): void {
  cmd.optionsGroup('Output:');
  cmd.option('--json', 'print one JSON document on stdout');
}

function wideOption(cmd: Command): void {
  cmd.optionsGroup('Output:');
  cmd.option('--wide', 'on a terminal, keep tables whole (fingerprints unshortened) however wide');
}

function passphraseOption(cmd: Command): void {
  cmd.option('--passphrase-file <path>', 'file holding the private key passphrase (or PRIVATE_KEY_PASSPHRASE)');
}

function privateKeyOptions(cmd: Command): void {
  cmd.option('--private-key <path>', "private key file, '-' for stdin (or SNOWFLAKE_PRIVATE_KEY_FILE / _PATH / _RAW)");
  cmd.addOption(new Option('--private-key-file <path>').hideHelp());
  cmd.addOption(new Option('--private-key-path <path>').hideHelp());
  passphraseOption(cmd);
}

function identityOptions(cmd: Command): void {
  cmd.optionsGroup('Connection:');
  cmd.option('-c, --connection <name>', 'a connection from the Snowflake CLI config (connections.toml)');
  cmd.option('--account <id>', 'account identifier, e.g. myorg-myaccount (or SNOWFLAKE_ACCOUNT)');
  cmd.option('--user <name>', 'login name that authenticates (or SNOWFLAKE_USER)');
  privateKeyOptions(cmd);
}

function connectionOptions(cmd: Command): void {
  identityOptions(cmd);
  cmd.option('--token-file <path>', 'OAuth or programmatic access token file instead of a key pair (or SNOWFLAKE_TOKEN)');
  cmd.option('--token-type <type>', 'oauth | pat: what --token-file / SNOWFLAKE_TOKEN holds');
  cmd.option('--host <host-or-url>', 'override the host derived from the account (or SNOWFLAKE_HOST)');
  cmd.option('--role <role>', 'role for the SQL API request (or SNOWFLAKE_ROLE)');
  cmd.option('--warehouse <name>', 'warehouse for the SQL API request (or SNOWFLAKE_WAREHOUSE)');
  cmd.option('--timeout <duration>', 'network deadline for the whole command', '30s');
}

/** A named key pair's properties (keygen, sql, register). */
function keyPairOptions(cmd: Command): void {
  cmd.optionsGroup('Named key pairs:');
  cmd.option('--key-pair <name>', 'a named key pair instead of a legacy slot');
  cmd.option('--role-restriction <role>', 'named pair (or register --pat): authenticate only with this role (granted to the user)');
  cmd.option('--expires-in <days>', 'named pair (or register --pat): expires after this many days (90 or 90d; 2w works too)');
  cmd.option('--comment <text>', 'named pair (or register --pat): a comment');
}

function patOption(cmd: Command, what: string): void {
  cmd.optionsGroup('Programmatic access tokens:');
  cmd.option('--pat <name>', what);
}

function newKeyOptions(cmd: Command): void {
  cmd.optionsGroup('New key:');
  // No commander defaults: keygen must tell "--curve given" (which means EC) from "nothing given".
  cmd.option('--type <type>', 'rsa | ec (default: rsa; --curve alone means ec)');
  cmd.option('--bits <bits>', 'RSA size: 2048 | 3072 | 4096 (default: 2048)');
  cmd.option('--curve <curve>', 'EC curve: P-256 | P-384 | P-521 (default: P-256)');
  cmd.option('--no-encrypt', 'write the private key unencrypted (explicit opt-out)');
}

// Literal imports so the bundler sees every command; each stays lazy (only evaluated when run).
const loaders: Record<string, () => Promise<CommandModule>> = {
  keygen: () => import('./commands/keygen.js') as Promise<CommandModule>,
  fingerprint: () => import('./commands/fingerprint.js') as Promise<CommandModule>,
  sql: () => import('./commands/sql.js') as Promise<CommandModule>,
  jwt: () => import('./commands/jwt.js') as Promise<CommandModule>,
  inspect: () => import('./commands/inspect.js') as Promise<CommandModule>,
  'test-connection': () => import('./commands/test-connection.js') as Promise<CommandModule>,
  status: () => import('./commands/status.js') as Promise<CommandModule>,
  register: () => import('./commands/register.js') as Promise<CommandModule>,
  revoke: () => import('./commands/revoke.js') as Promise<CommandModule>,
  rotate: () => import('./commands/rotate.js') as Promise<CommandModule>,
  'pg-token': () => import('./commands/pg-token.js') as Promise<CommandModule>,
  doctor: () => import('./commands/doctor.js') as Promise<CommandModule>,
  audit: () => import('./commands/audit.js') as Promise<CommandModule>,
  completion: () => import('./commands/completion.js') as Promise<CommandModule>,
  export: () => import('./commands/export.js') as Promise<CommandModule>,
  connections: () => import('./commands/connections.js') as Promise<CommandModule>,
  init: () => import('./commands/init.js') as Promise<CommandModule>,
};

const specs: CommandSpec[] = [
  {
    name: 'keygen',
    summary: 'make a key pair (RSA or EC), encrypted PKCS#8 PEM by default, and print the ALTER USER SQL',
    examples: [
      'sfauth keygen --user SVC_LOADER',
      'sfauth keygen --type ec --curve P-384 --out loader.p8 --passphrase-file ./pass.txt',
      'sfauth keygen --no-encrypt --out /secrets/rsa_key.p8 --json',
      'sfauth keygen --user SVC_LOADER --key-pair CI_KEY --expires-in 90d --comment "CI runner"',
    ],
    configure(cmd) {
      newKeyOptions(cmd);
      cmd.option('--out <path>', 'private key path (default rsa_key.p8 / ec_key.p8)');
      cmd.option('--pub-out <path>', 'public key path (default: --out with .pub)');
      passphraseOption(cmd);
      cmd.option('--force', 'replace existing files');
      cmd.optionsGroup('Printed SQL:');
      cmd.option('--user <name>', 'user name for the printed SQL');
      cmd.option('--slot <slot>', 'legacy key slot for the printed SQL: 1 (default) | 2');
      keyPairOptions(cmd);
      jsonOption(cmd);
    },
    load: loaders.keygen!,
  },
  {
    name: 'fingerprint',
    summary: 'print the SHA256 fingerprint of private or public keys',
    examples: [
      'sfauth fingerprint rsa_key.pub',
      'sfauth fingerprint rsa_key.p8 --expect SHA256:2Xu8…=',
      'cat rsa_key.pub | sfauth fingerprint -',
    ],
    configure(cmd) {
      cmd.argument('<key...>', "key files (any format), '-' for stdin");
      cmd.option('--expect <fingerprint>', 'exit 1 unless the fingerprint is this (SHA256: prefix optional)');
      passphraseOption(cmd);
      jsonOption(cmd);
    },
    positional: ['keys'],
    load: loaders.fingerprint!,
  },
  {
    name: 'sql',
    summary: 'print a key-management statement: legacy SET/UNSET RSA_PUBLIC_KEY[_2], named ADD/ROTATE/MODIFY/REMOVE KEY PAIR',
    examples: [
      'sfauth sql --user SVC_LOADER --public-key rsa_key.pub',
      'sfauth sql --user SVC_LOADER --slot 2 --public-key rsa_key.p8',
      'sfauth sql --user SVC_LOADER --unset --slot 1',
      'sfauth sql --user SVC_LOADER --key-pair CI_KEY --public-key rsa_key.pub --expires-in 90d --comment "CI"',
      'sfauth sql --user SVC_LOADER --key-pair CI_KEY --rotate --public-key new.pub --grace 2h',
    ],
    configure(cmd) {
      cmd.option('--user <name>', 'the user whose keys to change (or SNOWFLAKE_USER)');
      cmd.option('--slot <slot>', 'legacy key slot: 1 (RSA_PUBLIC_KEY, the default) | 2 (RSA_PUBLIC_KEY_2)');
      cmd.option('--public-key <path>', "public key file (a private key works too), '-' for stdin");
      cmd.option('--unset', 'legacy: the UNSET statement for --slot (required) instead');
      keyPairOptions(cmd);
      cmd.option('--rotate', 'named: ROTATE KEY PAIR to --public-key');
      cmd.option('--grace <duration>', 'named, with --rotate: how long the old key keeps working, whole hours (24h, 2d; a bare number is hours; 0 = stop it at once)');
      cmd.option('--disable', 'named: MODIFY KEY PAIR … SET DISABLED = TRUE');
      cmd.option('--enable', 'named: MODIFY KEY PAIR … SET DISABLED = FALSE');
      cmd.option('--remove', 'named: REMOVE KEY PAIR');
      passphraseOption(cmd);
      jsonOption(cmd);
    },
    load: loaders.sql!,
  },
  {
    name: 'jwt',
    summary: 'mint the key-pair JWT that Snowflake accepts; the token alone on stdout',
    examples: [
      'sfauth jwt --account myorg-myaccount --user SVC_LOADER --private-key rsa_key.p8',
      'TOKEN=$(sfauth jwt -c loader --lifetime 10m)',
    ],
    configure(cmd) {
      identityOptions(cmd);
      cmd.option('--lifetime <duration>', 'token lifetime, at most 1h (90s, 10m, 1h, or seconds)', '1h');
      cmd.option('--alg <alg>', 'RS256 (default), RS384 or RS512 for an RSA key; an EC key signs with its curve\'s ES256/ES384/ES512');
      jsonOption(cmd);
    },
    load: loaders.jwt!,
  },
  {
    name: 'inspect',
    summary: "decode a JWT and check it against Snowflake's rules",
    examples: ['sfauth inspect "$TOKEN"', 'sfauth jwt -c loader | sfauth inspect - --public-key rsa_key.pub'],
    configure(cmd) {
      cmd.argument('<token>', "the JWT, or '-' for stdin");
      cmd.option('--public-key <path>', 'verify the signature and fingerprint with this key (a private key works too)');
      passphraseOption(cmd);
      jsonOption(cmd);
    },
    positional: ['token'],
    load: loaders.inspect!,
  },
  {
    name: 'test-connection',
    summary: 'authenticate against the account and report who you are',
    examples: [
      'sfauth test-connection --account myorg-myaccount --user SVC_LOADER --private-key rsa_key.p8',
      'sfauth test-connection -c loader --json',
      'SNOWFLAKE_TOKEN=$(cat pat.txt) sfauth test-connection --account myorg-myaccount --token-type pat',
    ],
    configure(cmd) {
      connectionOptions(cmd);
      jsonOption(cmd);
    },
    load: loaders['test-connection']!,
  },
  {
    name: 'status',
    summary: "every key registered on a user (legacy slots and named key pairs): fingerprint, status, age, expiry, which local key matches",
    examples: [
      'sfauth status -c loader',
      'sfauth status -c admin --target-user SVC_LOADER --json',
      'sfauth status -c loader --max-age 90d    # exit 1 when the key in use is older (monitoring)',
      'sfauth status -c loader --expiring-within 14d    # exit 1 when an active key expires within 14 days',
    ],
    configure(cmd) {
      cmd.option('--target-user <name>', 'the user to describe (default: the authenticating --user)');
      cmd.option('--max-age <duration>', 'exit 1 when the key in use is older than this (e.g. 90d)');
      cmd.option('--expiring-within <duration>', 'exit 1 when an active key (the key in use first) expires within this (e.g. 14d)');
      connectionOptions(cmd);
      jsonOption(cmd);
      wideOption(cmd);
    },
    load: loaders.status!,
  },
  {
    name: 'register',
    summary: 'register a public key for a user (legacy slot or named key pair), plan first, and confirm it took effect',
    examples: [
      'sfauth register -c admin --target-user SVC_LOADER --public-key rsa_key.pub             # plan',
      'sfauth register -c admin --target-user SVC_LOADER --public-key rsa_key.pub --key-pair CI_KEY --expires-in 90d --apply',
      "sfauth register -c admin --target-user SVC_BI --pat BI_TOKEN --role-restriction BI_READER --expires-in 90d --out bi.token --apply",
    ],
    configure(cmd) {
      cmd.option('--apply', 'run it (without: print the plan and the SQL, change nothing)');
      cmd.option('-y, --yes', 'with --apply on a terminal: do not ask for confirmation');
      cmd.option('--public-key <path>', "the key to register (a private key works too), '-' for stdin");
      cmd.option('--target-user <name>', 'the user to register it for (default: the authenticating --user)');
      cmd.option('--slot <slot>', 'legacy slot 1 | 2 (default: an empty one)');
      cmd.option('--overwrite', 'replace the key a legacy slot holds');
      keyPairOptions(cmd);
      patOption(cmd, 'create a programmatic access token NAME instead of registering a key (with --role-restriction/--expires-in/--comment)');
      cmd.option('--store-cmd <cmd>', "--pat: run CMD with sh, the token's secret alone on its stdin and SFAUTH_PAT_* in its environment");
      cmd.option('--out <path>', '--pat: write the secret to this new file (0600; never over a file)');
      connectionOptions(cmd);
      jsonOption(cmd);
    },
    load: loaders.register!,
  },
  {
    name: 'revoke',
    summary: 'remove or disable a registered key, refusing to lock anyone out',
    examples: [
      'sfauth revoke -c admin --target-user SVC_LOADER --slot 1                        # plan',
      'sfauth revoke -c admin --target-user SVC_LOADER --key-pair OLD_KEY --disable --apply',
      'sfauth revoke -c admin --target-user SVC_LOADER --fingerprint SHA256:2Xu8…= --apply',
      'sfauth revoke -c admin --target-user SVC_BI --pat BI_TOKEN --apply',
    ],
    configure(cmd) {
      cmd.option('--apply', 'run it (without: print the plan and the SQL, change nothing)');
      cmd.option('-y, --yes', 'with --apply on a terminal: do not ask for confirmation');
      cmd.option('--target-user <name>', 'whose key (default: the authenticating --user)');
      cmd.option('--slot <slot>', 'the legacy slot 1 | 2');
      cmd.option('--key-pair <name>', 'the named key pair');
      cmd.option('--fingerprint <fp>', 'the key with this fingerprint, wherever it is registered');
      cmd.option('--disable', 'named key pairs and tokens: disable (reversible) instead of remove');
      patOption(cmd, 'the programmatic access token (REMOVE; with --disable/--enable: MODIFY … SET DISABLED)');
      cmd.option('--enable', '--pat: enable a disabled token again');
      cmd.option('--force', 'allow revoking the key this command uses, or the last working key');
      connectionOptions(cmd);
      jsonOption(cmd);
    },
    load: loaders.revoke!,
  },
  {
    name: 'rotate',
    summary: 'replace a key (legacy slot or named key pair) with a new one, with no moment where no key works',
    examples: [
      'sfauth rotate -c loader                                # print the plan and the exact SQL, change nothing',
      'sfauth rotate -c loader --apply                        # the connection is pointed at the new key, then the old one goes',
      'sfauth rotate --private-key rsa_key.p8 --in-place --apply   # the file itself gets the new key',
      'sfauth rotate -c admin --target-user SVC_LOADER --no-encrypt --apply   # stops at awaiting delivery; then --finish --apply',
      'sfauth rotate -c loader --apply --grace 2h             # a named pair: the old key works 2 more hours',
      'sfauth rotate -c loader --apply --key-pair LOADER_KEY  # migrate from a legacy slot to a named pair',
      "sfauth rotate --apply --store-cmd 'gh secret set SVC_LOADER_P8'   # CI: the new key goes to the secret store",
      "sfauth rotate -c admin --target-user SVC_BI --pat BI_TOKEN --if-expiring-within 14d --store-cmd 'gh secret set BI_TOKEN' --apply",
      'sfauth rotate -c admin --targets users.txt --concurrency 8 --out-dir keys --no-encrypt --apply --if-older-than 90d',
      'sfauth rotate -c loader --apply --if-older-than 90d    # from cron: a no-op while the key is young',
      'sfauth rotate -c admin --target-user SVC_LOADER --new-passphrase-file svc.pass --apply',
    ],
    configure(cmd) {
      cmd.option('--apply', 'carry out the plan (without it nothing changes, locally or on the server)');
      cmd.option('-y, --yes', 'with --apply on a terminal: do not ask for confirmation');
      cmd.option('--target-user <name>', 'the user whose key to rotate (default: the authenticating --user)');
      cmd.option('--if-older-than <duration>', 'do nothing while the current key is younger than this (e.g. 90d)');
      cmd.option('--finish', 'retire the old key of a rotation awaiting delivery (after you deployed the new key); nothing else');
      cmd.option('--retire-now', 'retire the old key in this run even though sfauth did not deliver the new key (you deployed it)');
      cmd.option('--keep-old', 'legacy or migration: leave the old key registered in its slot');
      cmd.option('--overwrite-other', 'legacy: allow replacing a key in the other slot that nothing here accounts for');
      cmd.option('--keep-old-key-file', 'keep the private key file of the retired key (default: removed once Snowflake no longer accepts it)');
      connectionOptions(cmd);
      cmd.optionsGroup('New key:');
      cmd.option('--out <path>', 'new private key path (default: beside the current key, dated: rsa_key.2026-11-23.p8)');
      cmd.option('--type <type>', 'new key type: rsa | ec (default: that of the current key, else rsa)');
      cmd.option('--bits <bits>', 'RSA size: 2048 | 3072 | 4096 (default: that of the current key, else 2048)');
      cmd.option('--curve <curve>', 'EC curve: P-256 | P-384 | P-521 (default: that of the current key, else P-256)');
      cmd.option('--no-encrypt', 'write the new private key unencrypted');
      cmd.option('--new-passphrase-file <path>', "passphrase for the new key (default: the current key's; --passphrase-file is the current key's)");
      keyPairOptions(cmd);
      cmd.option('--grace <duration>', 'named pair or token: how long the old key or secret keeps working, whole hours (24h default, 2d; a bare number is hours; 0 = end it once the new one is verified and delivered)');
      patOption(cmd, "rotate the programmatic access token NAME: its new secret goes to --store-cmd, --out or stdout (alone)");
      cmd.option('--if-expiring-within <duration>', '--pat: do nothing while the token has longer than this to live (e.g. 14d)');
      cmd.optionsGroup('Hand-over:');
      cmd.option('--store-cmd <cmd>', 'hand the verified new key over: run CMD with sh, the private key PEM on its stdin and SFAUTH_* in its environment');
      cmd.option('--update-connection', "point the connection's private_key_file in the Snowflake CLI config at the new key (the default when the key in use came from it)");
      cmd.option('--no-update-connection', 'leave the connection alone (the old key is then retired only by --finish)');
      cmd.option('--in-place', 'replace the very file the old key was read from with the new key (atomically; its old content kept until the old key is retired)');
      cmd.optionsGroup('Fleet:');
      cmd.option('--targets <file>', "rotate every user listed in FILE (one per line, # comments; '-' = stdin) as the admin the connection names");
      cmd.option('--concurrency <n>', 'users rotated at a time (default 4, at most 32)');
      cmd.option('--out-dir <dir>', 'folder for the new keys, <user>_<type>_key.<date>.p8 (default: the current folder)');
      cmd.option('--restart', 'forget an unfinished run of these targets and start a new one');
      cmd.option('--shard <k/n>', 'rotate only the K-th of N slices of the targets (by a hash of the user name): one slice per CI matrix job');
      jsonOption(cmd);
      wideOption(cmd);
    },
    load: loaders.rotate!,
  },

  {
    name: 'pg-token',
    summary: 'fetch a 15-minute Snowflake Postgres access token',
    examples: [
      'PGPASSWORD=$(sfauth pg-token -c loader --instance REPORTING --pg-user app) psql "host=… user=app sslmode=require"',
      'eval "export $(sfauth pg-token -c loader --instance REPORTING --pg-user app --format env)"',
    ],
    configure(cmd) {
      connectionOptions(cmd);
      cmd.option('--instance <name>', 'Snowflake Postgres instance (double-quote it for a case-sensitive name)');
      cmd.option('--pg-user <name>', 'Postgres user (case-sensitive)');
      cmd.option('--format <format>', 'token | env | json', 'token');
      jsonOption(cmd);
    },
    load: loaders['pg-token']!,
  },
  {
    name: 'doctor',
    summary: 'explain why authentication fails (or prove it works): config, key, account, network, clock, registration',
    examples: ['sfauth doctor -c loader', 'sfauth doctor -c loader --admin-connection admin --json'],
    configure(cmd) {
      connectionOptions(cmd);
      cmd.option('--admin-connection <name>', "after a failure, look at the user's keys and the login-failure details with this connection");
      cmd.option('--login-failure <uuid>', 'the id from a "JWT token is invalid. [uuid]" message to explain');
      jsonOption(cmd);
    },
    load: loaders.doctor!,
  },
  {
    name: 'audit',
    summary: 'every user of the account and their keys and tokens, judged: old, expiring, unused, risky; exit 1 on findings at or above --fail-on',
    examples: [
      'sfauth audit -c admin                                   # the report, worst first',
      'sfauth audit -c admin --type service --fail-on medium   # CI: exit 1 on medium or worse',
      'sfauth audit -c admin --targets-out due.txt && sfauth rotate -c admin --targets due.txt --out-dir keys',
      'sfauth audit -c admin --format csv > audit.csv',
      'sfauth audit -c admin --source account-usage --warehouse ADMIN_WH --json',
    ],
    configure(cmd) {
      cmd.option('--users <pattern>', "only users whose name matches this SHOW USERS LIKE pattern (% any run, _ one character, \\ escapes)");
      cmd.option('--type <type>', 'service | person | all (default: all)');
      cmd.option('--max-age <duration>', 'a key set or created longer ago is key-too-old (default 180d, as the CIS benchmark asks)');
      cmd.option('--expiring-within <duration>', 'a credential expiring within this is expiring-soon (default 14d; within 7d it is high)');
      cmd.option('--unused-for <duration>', 'a named pair or PAT not used for this long is unused (default 90d)');
      cmd.option('--fail-on <severity>', 'exit 1 when a finding is at or above: high | medium | low | info | none (default: high)');
      cmd.option('--source <source>', 'live (each user read now; default) | account-usage (two ACCOUNT_USAGE views, up to 2 h old; needs --warehouse)');
      cmd.option('--concurrency <n>', 'users read at a time (live; default 8, at most 64)');
      cmd.option('--targets-out <path>', 'write the users with a key due for rotation, in rotate --targets form');
      cmd.option('--shard <k/n>', 'audit only the K-th of N slices of the users (by a hash of the user name)');
      connectionOptions(cmd);
      cmd.optionsGroup('Output:');
      cmd.option('--format <format>', 'table | json | csv | markdown (default: table; --json = json)');
      jsonOption(cmd);
      wideOption(cmd);
    },
    load: loaders.audit!,
  },
  {
    name: 'init',
    summary: 'first-time set-up: a key, its registration (by an admin connection, or printed and waited for), a Snowflake CLI connection written, and a test',
    examples: [
      'sfauth init                                                 # on a terminal: asks for what is missing, then shows the plan',
      'sfauth init --connection-name loader --account myorg-myaccount --user SVC_LOADER --admin-connection admin --apply',
      'sfauth init --connection-name loader --account myorg-myaccount --user SVC_LOADER --no-encrypt --wait 30m --apply   # prints the SQL and waits',
    ],
    configure(cmd) {
      cmd.option('--apply', 'carry out the plan (without it nothing changes)');
      cmd.option('-y, --yes', 'with --apply on a terminal: do not ask for confirmation');
      cmd.option('--connection-name <name>', 'the connection to write (default: the user name, lower-cased)');
      cmd.option('--account <id>', 'account identifier (or SNOWFLAKE_ACCOUNT)');
      cmd.option('--user <name>', 'the user the key is for (or SNOWFLAKE_USER)');
      cmd.option('--admin-connection <name>', 'register the key with this connection (else: print the SQL and --wait)');
      cmd.option('--wait <duration>', 'without an admin: how long to wait for the key to work once the SQL is printed (default 10m)');
      cmd.option('--service-user', 'with --admin-connection, once the key works: UNSET PASSWORD and SET TYPE = SERVICE');
      cmd.option('--role <role>', 'role written into the connection');
      cmd.option('--warehouse <name>', 'warehouse written into the connection');
      cmd.option('--host <host-or-url>', 'host written into the connection (default: derived from the account)');
      cmd.option('--force', 'replace a connection of that name that exists and does not work');
      cmd.option('--timeout <duration>', 'network deadline for each request', '30s');
      cmd.optionsGroup('New key:');
      cmd.option('--key-out <path>', 'private key path (default: <Snowflake CLI folder>/keys/<name>_<type>_key.p8); an existing key there is used');
      cmd.option('--type <type>', 'rsa | ec (default: rsa)');
      cmd.option('--bits <bits>', 'RSA size: 2048 | 3072 | 4096 (default: 2048)');
      cmd.option('--curve <curve>', 'EC curve: P-256 | P-384 | P-521 (default: P-256)');
      cmd.option('--no-encrypt', 'write the private key unencrypted');
      passphraseOption(cmd);
      jsonOption(cmd);
    },
    load: loaders.init!,
  },
  {
    name: 'connections',
    summary: 'list the Snowflake CLI connections sfauth sees (file, default, account, user, auth, key file), with warnings; --test authenticates each',
    examples: ['sfauth connections', 'sfauth connections --test', 'sfauth connections --json'],
    configure(cmd) {
      cmd.option('--test', 'authenticate with each connection (4 at a time); exit 1 if one fails');
      cmd.option('--timeout <duration>', 'network deadline for each test', '30s');
      jsonOption(cmd);
    },
    load: loaders.connections!,
  },
  {
    name: 'export',
    summary: 'print a private key in the form another tool expects: PKCS#8 PEM, one-line PEM, bare body, or SNOWFLAKE_PRIVATE_KEY_RAW',
    examples: [
      'sfauth export rsa_key.p8 --format pem-escaped          # one line with \\n, still encrypted',
      'sfauth export rsa_key.p8 --format env --decrypt | gh secret set SNOWFLAKE_ENV',
      'sfauth export old_pkcs1.pem --decrypt --out rsa_key.p8  # PKCS#1 → PKCS#8, 0600',
    ],
    configure(cmd) {
      cmd.argument('<key>', "the private key file (any format sfauth reads), '-' for stdin");
      cmd.option('--format <format>', 'pem | pem-escaped | body | env (default: pem)');
      cmd.option('--decrypt', 'write it unencrypted (only to --out or a pipe, never a terminal)');
      cmd.option('--out <path>', 'write it to this file (0600) instead of stdout');
      cmd.option('--force', 'with --out: replace an existing file');
      passphraseOption(cmd);
    },
    positional: ['key'],
    load: loaders.export!,
  },
  {
    name: 'completion',
    summary: 'print a completion script for bash, zsh or fish (commands, flags, connection names)',
    examples: ['source <(sfauth completion bash)', 'sfauth completion fish > ~/.config/fish/completions/sfauth.fish'],
    configure(cmd) {
      cmd.argument('[shell]', 'bash | zsh | fish');
      cmd.addOption(new Option('--list-connections', 'the connection names, one per line (used by the scripts)').hideHelp());
    },
    positional: ['shell'],
    load: loaders.completion!,
  },
];

/** Every command's flags, for `sfauth completion` (only built when it runs). */
function describeCommands(): unknown[] {
  return specs.map((spec) => {
      const cmd = new Command(spec.name);
      spec.configure(cmd);
      return {
        name: spec.name,
        summary: spec.summary,
        options: cmd.options
          .filter((o) => !o.hidden && o.long)
          .map((o) => ({
            flags: [o.short, o.long].filter((f): f is string => Boolean(f)),
            description: o.description,
            takesValue: o.required || o.optional,
            path: /<(path|file)>/.test(o.flags),
          })),
      };
  });
}

// ---------------------------------------------------------------------------------------------

function register(program: Command, spec: CommandSpec, run: (spec: CommandSpec, cmd: Command) => Promise<void>): void {
  const cmd = program.command(spec.name).description(spec.summary);
  spec.configure(cmd);
  cmd.addHelpText('after', '\nExamples:\n' + spec.examples.map((e) => `  $ ${e}`).join('\n'));
  cmd.action(async (...args: unknown[]) => {
    await run(spec, cmd);
  });
}

function wantsJson(argv: string[]): boolean {
  return argv.includes('--json') || argv.includes('--format=json') || /--format\s+json/.test(argv.join(' '));
}

async function main(argv: string[]): Promise<number> {
  const env = process.env;
  const terminal = detectTerminal();
  const noColorFlag = argv.includes('--no-color');
  const out = new Output({
    json: wantsJson(argv),
    color: () => colorEnabled(env, terminal.stderr, noColorFlag),
    dataColor: () => colorEnabled(env, terminal.stdout, noColorFlag),
    dataWidth: () => (terminal.stdout ? process.stdout.columns || Number(env.COLUMNS) || 80 : undefined),
    stdout,
    stderr,
  });
  signalOutput = out;

  let exitCode = 0;
  const program = new Command('sfauth')
    .description('Manage the whole life of a Snowflake key pair.')
    .version(VERSION, '-V, --version')
    .option('--no-color', 'no colour in the output (also NO_COLOR)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => stdout.write(s),
      writeErr: (s) => stderr.write(s),
      outputError: () => {}, // reported by our handler below
      getOutHelpWidth: () => (terminal.stdout ? Math.min(process.stdout.columns ?? 100, 100) : 100),
      getErrHelpWidth: () => 100,
      // commander's defaults would build process.stdout/stderr streams just to ask.
      getOutHasColors: () => colorEnabled(env, terminal.stdout, noColorFlag),
      getErrHasColors: () => colorEnabled(env, terminal.stderr, noColorFlag),
    })
    .showSuggestionAfterError(true);
  program.addHelpText(
    'after',
    '\nExamples:\n  $ sfauth keygen --user SVC_LOADER\n  $ sfauth test-connection -c loader\n  $ sfauth rotate -c loader --apply\n\nExit codes: 0 ok · 1 check failed · 2 bad usage or input · 3 network/service failure · 70 bug in sfauth · 130 interrupted',
  );

  const runCommand = async (spec: CommandSpec, cmd: Command) => {
    const options: Record<string, unknown> = { ...cmd.opts(), color: program.opts().color };
    spec.positional?.forEach((name, i) => (options[name] = cmd.processedArgs[i]));
    if (spec.name === 'completion') options.commands = describeCommands();
    const mod = await spec.load();
    let progress: Progress | undefined;
    const ctx: CommandContext = {
      env,
      argv,
      cwd: process.cwd(),
      now: () => Date.now(),
      // Loaded only when a command reads stdin: the fast paths never pay for the file layer.
      readStdin: async () => (await import('./io/files.js')).readStreamBounded(process.stdin),
      out,
      // Asked only when used: the fast paths never load node:tty (DESIGN.md §6).
      prompter: terminalPrompter(() => terminal.stdin && terminal.stderr),
      get progress() {
        return (progress ??= makeProgress(out, spinnerAllowed(env, terminal.stderr)));
      },
    };
    exitCode = (await mod.run(options, ctx)) ?? 0;
  };

  const first = argv.find((a) => !a.startsWith('-'));
  const only = specs.find((s) => s.name === first);
  if (argv.every((a) => a === '--no-color')) {
    // `sfauth` alone prints the help on stdout and exits 0, as `gh` does.
    for (const spec of specs) register(program, spec, runCommand);
    program.outputHelp();
    return 0;
  }
  for (const spec of only ? [only] : specs) register(program, spec, runCommand);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    // A key sfauth rotated out is named as such, never "register it" (DESIGN.md §3 v3 "History and advice").
    if (isSfauthError(err) && err.code === 'ERR_AUTH_REFUSED') {
      const { adviseRefusal } = await import('./rotate/history.js');
      return report(adviseRefusal(err, env), out, env, first && only ? first : undefined);
    }
    return report(err, out, env, first && only ? first : undefined);
  }
}

/** The one error handler: decides the exit code and prints one message (never a stack trace). */
function report(err: unknown, out: Output, env: Record<string, string | undefined>, command?: string): number {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    // One line: commander's "(Did you mean …?)" suggestion goes into the hint.
    const [message = 'invalid usage', ...rest] = err.message.replace(/^error: /, '').split('\n').filter((l) => l.trim() !== '');
    const suggestion = rest.join(' ').match(/\(Did you mean (.+)\?\)/)?.[1];
    const where = command ? `sfauth ${command} --help` : 'sfauth --help';
    out.error(new UsageError('ERR_USAGE', message, { hint: `${suggestion ? `did you mean ${suggestion}? ` : ''}see '${where}'` }));
    return 2;
  }
  if (isSfauthError(err)) {
    out.error(err as SfauthError);
    if (env.SFAUTH_DEBUG === '1' && (err as Error).stack) out.debug((err as Error).stack!);
    return (err as SfauthError).exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  out.error(
    new UsageError('ERR_INTERNAL', `internal error: ${message}`, {
      hint: 'this is a bug in sfauth; rerun with SFAUTH_DEBUG=1 for the stack trace and report it',
    }),
  );
  if (env.SFAUTH_DEBUG === '1' && err instanceof Error && err.stack) out.debug(err.stack);
  return 70;
}

/** The run's output, for the signal handler (JSON under --json, like every other error). */
let signalOutput: Output | undefined;

function onSignal(signal: NodeJS.Signals): void {
  const hint = runInterruptCleanups();
  const err = new InterruptedError(`interrupted (${signal})`, hint);
  try {
    if (signalOutput) signalOutput.error(err);
    else stderr.write(`sfauth: ${err.message}\n`);
  } catch {
    // stderr is gone: the exit code still says it
  }
  process.exit(130);
}
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    stderr.write(`sfauth: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(70);
  },
);
