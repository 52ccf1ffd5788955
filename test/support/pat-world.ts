/**
 * The world of the PAT end-to-end tests: an emulator with ADMIN (a key, manages everyone), SVC_BI (a
 * SERVICE user with role BI_READER) and ALICE (a person with a key), each world in its own folder and
 * HOME; a store command that records what it got; and the scan that no secret the emulator issued
 * reaches anything but its one place.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_TRACE, runCliAsync, tempDir, type CliResult } from './cli.js';
import { startEmulator, type Emulator, type EmulatorOptions } from './emulator.js';
import { spawnKillable } from './rotation.js';

const tmp = tempDir('sfauth-pat-');
export const adminKey = (): string => keys.admin.p8;
export const aliceKey = (): string => keys.alice.p8;
const emulators: Emulator[] = [];
afterAll(async () => {
  for (const e of emulators) await e.close();
  tmp.cleanup();
});

const keys: Record<'admin' | 'alice', { p8: string; publicKey: KeyObject }> = {} as never;
beforeAll(() => {
  for (const name of ['admin', 'alice'] as const) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const p8 = join(tmp.dir, `${name}.p8`);
    writeFileSync(p8, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    keys[name] = { p8, publicKey: pair.publicKey };
  }
});

export interface World {
  sf: Emulator;
  dir: string;
  env: Record<string, string>;
  /** Every command's output, for the secret scans. */
  outputs: CliResult[];
  admin(cmd: string, args: string[], o?: { stdinFile?: string }): Promise<CliResult>;
  as(args: string[]): Promise<CliResult>;
  spawn(cmd: string, args: string[]): ReturnType<typeof spawnKillable>;
}

let n = 0;

/** ADMIN (a key, manages everyone), SVC_BI (a SERVICE user with role BI_READER), ALICE (a person with a key). */
export async function world(options: EmulatorOptions = {}): Promise<World> {
  const sf = await startEmulator(options);
  emulators.push(sf);
  sf.addUser('ADMIN', { rsaPublicKey: keys.admin.publicKey });
  sf.grant('ADMIN', '*');
  sf.addUser('SVC_BI', { roles: ['BI_READER'], type: 'SERVICE' });
  sf.addUser('ALICE', { rsaPublicKey: keys.alice.publicKey, roles: ['ANALYST'] });
  const dir = join(tmp.dir, `w${n++}`);
  mkdirSync(join(dir, 'home'), { recursive: true });
  const env = { HOME: join(dir, 'home'), SNOWFLAKE_HOME: join(dir, 'home', 'sf') };
  const outputs: CliResult[] = [];
  const common = ['--account', 'myorg-myaccount', '--host', sf.url];
  const adminArgs = (cmd: string, args: string[]) => [cmd, ...common, '--user', 'ADMIN', '--private-key', keys.admin.p8, ...args];
  return {
    sf,
    dir,
    env,
    outputs,
    admin: async (cmd, args) => {
      const r = await runCliAsync(adminArgs(cmd, args), { cwd: dir, env, timeoutMs: 40_000 });
      outputs.push(r);
      return r;
    },
    as: async (args) => {
      const r = await runCliAsync(args, { cwd: dir, env, timeoutMs: 40_000 });
      outputs.push(r);
      return r;
    },
    spawn: (cmd, args) => spawnKillable(adminArgs(cmd, args), dir, env),
  };
}

export const alters = (sf: Emulator) => sf.executed.filter((e) => /^ALTER/.test(e.statement)).map((e) => e.statement);
export function lastError(r: CliResult): { code: string; message: string; hint?: string; details?: string[] } {
  return JSON.parse(r.stderr.trim().split('\n').at(-1)!).error;
}
export function refused(r: CliResult, exit: number, code: string, message: RegExp): void {
  expect(r.code, r.stderr).toBe(exit);
  expect(r.stdout).toBe('');
  const e = lastError(r);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(message);
  expect(r.stderr).not.toMatch(STACK_TRACE);
}
/** A store command that writes what it got on stdin, and its SFAUTH_* environment, beside it. */
export function store(w: World, name = 'stored'): { cmd: string; got(): string; env(): Record<string, string> } {
  const file = join(w.dir, `${name}.secret`);
  const envFile = join(w.dir, `${name}.env`);
  return {
    cmd: `cat > '${file}'; env | grep '^SFAUTH_' > '${envFile}'`,
    got: () => readFileSync(file, 'utf8'),
    env: () => Object.fromEntries(readFileSync(envFile, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])),
  };
}
/** The secret authenticates (as the PAT of its user, with its role restriction). */
export async function works(w: World, secret: string, role?: string): Promise<boolean> {
  const r = await runCliAsync(['test-connection', '--account', 'myorg-myaccount', '--host', w.sf.url, '--token-type', 'pat', ...(role ? ['--role', role] : []), '--json'], { cwd: w.dir, env: { ...w.env, SNOWFLAKE_TOKEN: secret }, timeoutMs: 30_000 });
  return r.code === 0;
}
/** Every file under `dir` (not following links), as text. */
function filesUnder(dir: string): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push({ path: p, text: readFileSync(p, 'utf8') });
  }
  return out;
}
/** No secret the emulator ever issued is in any output or file but the allowed ones. */
export function scanForSecrets(w: World, allowed: { files?: string[]; stdoutOf?: CliResult[] } = {}): void {
  const secrets = w.sf.issuedPatSecrets();
  for (const r of w.outputs) {
    for (const s of secrets) {
      expect(r.stderr.includes(s), `secret in stderr of: ${r.stderr.slice(0, 200)}`).toBe(false);
      if (!allowed.stdoutOf?.includes(r)) expect(r.stdout.includes(s), `secret in stdout: ${r.stdout.slice(0, 200)}`).toBe(false);
    }
  }
  for (const f of filesUnder(w.dir)) {
    if (allowed.files?.includes(f.path)) continue;
    for (const s of secrets) expect(f.text.includes(s), `secret in ${f.path}`).toBe(false);
  }
  // The requests sfauth made carry a secret only as the bearer token of a verification, never in a statement.
  for (const e of w.sf.executed) for (const s of secrets) expect(e.statement.includes(s)).toBe(false);
}

