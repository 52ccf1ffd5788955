/**
 * Helpers shared by the rotate end-to-end tests: a run of the built binary that a test can SIGKILL
 * mid-flight, the files a rotation leaves in its folder, and waiting on the emulator (which runs in
 * the test's own process, so it keeps answering while the test waits).
 */
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, baseEnv, type CliResult } from './cli.js';

/** Starts `sfauth <args>`; `kill()` sends SIGKILL (no cleanup, no journal update: a crash). */
export function spawnKillable(args: string[], cwd: string, env: Record<string, string>): { done: Promise<CliResult>; kill(): void } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: baseEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  child.stdin.end();
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? (signal ? -1 : null), stdout, stderr })));
  return { done, kill: () => void child.kill('SIGKILL') };
}

/** New private keys written by rotate in `dir` (dated names). */
export function newKeys(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.\d{4}-\d{2}-\d{2}(-\d+)?\.p8$/.test(f))
    .map((f) => join(dir, f));
}

/** The rotation journals in `dir`, as JSON. */
export function journals(dir: string): Array<Record<string, unknown>> {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.rotate.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>);
}

/** Polls until `cond` holds. */
export async function until(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `SHA256:` fingerprint of a public key, computed here rather than by src/. */
export function fingerprintOf(key: KeyObject | string): string {
  const pub = typeof key === 'string' ? createPublicKey(key) : key;
  return 'SHA256:' + createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('base64');
}
