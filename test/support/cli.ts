/**
 * Runs the built binary the way a user or CI script would: a child process with no TTY, colour off,
 * and an environment we control. Returns stdout, stderr and the exit code.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'bin/sfauth');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  timeoutMs?: number;
}

/** A clean environment: no Snowflake or proxy variables from the developer's shell leak into tests. */
export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(SNOWFLAKE_|PRIVATE_KEY_PASSPHRASE|SFAUTH_|GITHUB_|FORCE_COLOR|CI$)/.test(k)) continue;
    if (/^(https?_proxy|no_proxy|all_proxy|NODE_EXTRA_CA_CERTS)$/i.test(k)) continue;
    env[k] = v;
  }
  env.NO_COLOR = '1';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function runCli(args: string[], options: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: baseEnv(options.env),
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Async variant, for tests that must keep serving HTTP (the emulator) while the CLI runs. */
export function runCliAsync(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: baseEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = 'sfauth-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs openssl; throws with its stderr on failure. */
export function openssl(args: string[], options: { cwd?: string; input?: string | Buffer } = {}): Buffer {
  const r = spawnSync('openssl', args, { cwd: options.cwd, input: options.input });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr?.toString()}`);
  return r.stdout;
}

/** OpenSSL's fingerprint pipeline from DESIGN.md §2, on an SPKI PEM file. */
export function opensslFingerprint(publicPemPath: string): string {
  const der = openssl(['pkey', '-pubin', '-in', publicPemPath, '-outform', 'DER']);
  const digest = openssl(['dgst', '-sha256', '-binary'], { input: der });
  return 'SHA256:' + openssl(['enc', '-base64', '-A'], { input: digest }).toString().trim();
}

/** A line with something that looks like a stack frame. */
export const STACK_TRACE = /\n\s+at .+\(.+:\d+:\d+\)|\bat Object\.<anonymous>|node:internal/;
