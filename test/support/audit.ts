/**
 * Shared checks of the bad-input, fault, secrets and interrupt suites (issue 7): the shape of an
 * error report (text and `--json`), file-tree snapshots (no partial file, no stray temp file), secret
 * scans over output and files, and a pseudo-terminal runner for prompts and Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect } from 'vitest';
import { BIN, baseEnv, STACK_TRACE, type CliResult } from './cli.js';

// ---------------------------------------------------------------------------------------------
// Error reports

export interface ExpectedFailure {
  /** Documented exit code. */
  exit: number;
  /** The stable error code (checked under --json; a list = any of them). */
  code?: string | string[];
  /** The message (first line in text mode, `message` under --json). */
  message?: RegExp;
  /** Default true: nothing on stdout. */
  stdoutEmpty?: boolean;
  /** Text mode: progress lines (✓ / ✗) may come before the error (a failure after some work was done). */
  afterProgress?: boolean;
}

/** Context for failure messages: the command line and what it printed. */
export function describeRun(args: readonly string[], r: CliResult): string {
  return `sfauth ${args.join(' ')}\n  exit ${r.code}\n  stdout: ${JSON.stringify(r.stdout.slice(0, 600))}\n  stderr: ${JSON.stringify(r.stderr.slice(0, 1200))}`;
}

/** No secret in stdout or stderr. */
export function expectNoSecrets(r: CliResult, secrets: readonly string[], context: string): void {
  for (const s of secrets) {
    if (s.length < 8) throw new Error(`secret too short to scan for: ${JSON.stringify(s)}`);
    expect(r.stderr.includes(s), `${context}\n  secret on stderr: ${s.slice(0, 12)}…`).toBe(false);
    expect(r.stdout.includes(s), `${context}\n  secret on stdout: ${s.slice(0, 12)}…`).toBe(false);
  }
}

/**
 * The CLI contract for a failure (DESIGN.md §1): the exit code; in text mode a first line
 * `sfauth: …`, optional detail lines and a last line `hint: …`; under `--json` exactly one JSON line
 * `{"error":{code,message,hint}}` on stderr; stdout empty; never a stack trace; never a secret.
 */
export function expectFailure(
  args: readonly string[],
  r: CliResult,
  want: ExpectedFailure,
  secrets: readonly string[] = [],
): { code?: string; message: string; hint: string } {
  const context = describeRun(args, r);
  expect(r.code, context).toBe(want.exit);
  expect(r.stderr, context).not.toMatch(STACK_TRACE);
  expect(r.stdout, context).not.toMatch(STACK_TRACE);
  if (want.stdoutEmpty !== false) expect(r.stdout, context).toBe('');
  expectNoSecrets(r, secrets, context);
  const json = args.includes('--json') || args.includes('--format=json') || args.join(' ').includes('--format json');
  const codes = want.code === undefined ? undefined : Array.isArray(want.code) ? want.code : [want.code];
  if (json) {
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, context).toHaveLength(1);
    let doc: { error?: { code?: unknown; message?: unknown; hint?: unknown } };
    try {
      doc = JSON.parse(lines[0]!);
    } catch {
      throw new Error(`stderr is not JSON\n${context}`);
    }
    expect(Object.keys(doc), context).toEqual(['error']);
    const e = doc.error!;
    expect(typeof e.code, context).toBe('string');
    expect(e.code as string, context).toMatch(/^ERR_[A-Z_]+$/);
    if (codes) expect(codes, context).toContain(e.code);
    expect(typeof e.message, context).toBe('string');
    expect((e.message as string).length, context).toBeGreaterThan(0);
    if (want.message) expect(e.message as string, context).toMatch(want.message);
    expect(typeof e.hint, context).toBe('string');
    expect((e.hint as string).length, context).toBeGreaterThan(0);
    return { code: e.code as string, message: e.message as string, hint: e.hint as string };
  }
  let lines = r.stderr.trimEnd().split('\n');
  if (want.afterProgress) {
    const at = lines.findIndex((l) => l.startsWith('sfauth: '));
    expect(lines.slice(0, Math.max(at, 0)).every((l) => /^[✓✗] /.test(l)), context).toBe(true);
    lines = lines.slice(Math.max(at, 0));
  }
  expect(lines[0], context).toMatch(/^sfauth: \S/);
  if (want.message) expect(lines[0]!.slice('sfauth: '.length), context).toMatch(want.message);
  expect(lines.length, context).toBeGreaterThanOrEqual(2);
  expect(lines.at(-1), context).toMatch(/^hint: \S/);
  expect(lines.filter((l) => l.startsWith('sfauth: ')), context).toHaveLength(1);
  return { message: lines[0]!.slice('sfauth: '.length), hint: lines.at(-1)!.slice('hint: '.length) };
}

// ---------------------------------------------------------------------------------------------
// Files

/** Relative path → content hash (`dir`, `link:<target>`) of everything under `dir`. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return;
    }
    for (const name of entries) {
      const p = join(d, name);
      const rel = relative(dir, p);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out[rel] = `link:${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir:${(st.mode & 0o777).toString(8)}`;
        walk(p);
      } else {
        let hash: string;
        try {
          hash = createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16);
        } catch {
          hash = 'unreadable';
        }
        out[rel] = `${(st.mode & 0o777).toString(8)}:${st.size}:${hash}`;
      }
    }
  };
  walk(dir);
  return out;
}

/** Every regular file under `dir` (absolute paths). */
export function filesUnder(dir: string): string[] {
  return Object.entries(snapshot(dir))
    .filter(([, v]) => !v.startsWith('dir:') && !v.startsWith('link:'))
    .map(([rel]) => join(dir, rel));
}

/** Files under `dir` that contain one of `secrets`, with the first 12 characters of what they hold. */
export function filesWithSecrets(dir: string, secrets: readonly string[], except: (path: string) => boolean = () => false): string[] {
  const hits: string[] = [];
  for (const file of filesUnder(dir)) {
    if (except(file)) continue;
    let text: string;
    try {
      text = readFileSync(file).toString('latin1');
    } catch {
      continue;
    }
    for (const s of secrets) if (text.includes(s)) hits.push(`${file}: ${s.slice(0, 12)}…`);
  }
  return hits;
}

/** The base64 lines of every PEM body in `pem` (what a leak of the key would show). */
export function pemBodyLines(pem: string): string[] {
  return pem
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l));
}

// ---------------------------------------------------------------------------------------------
// Pseudo-terminal

/** pty.spawn copies our stdin to the terminal and the terminal to our stdout; exit status passes through. */
const PTY_DRIVER = [
  'import os, pty, sys',
  'status = pty.spawn(sys.argv[1:])',
  'sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))',
].join('\n');

/** The same with a window size (rows 24, columns from argv[1]), for output that needs a terminal width. */
const PTY_SIZED_DRIVER = [
  'import fcntl, os, pty, select, struct, sys, termios',
  'pid, fd = pty.fork()',
  'if pid == 0:',
  '    os.execv(sys.argv[2], sys.argv[2:])',
  "fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 24, int(sys.argv[1]), 0, 0))",
  'inputs = [fd, 0]',
  'while True:',
  '    ready = select.select(inputs, [], [])[0]',
  '    if fd in ready:',
  '        try:',
  '            data = os.read(fd, 4096)',
  '        except OSError:',
  '            data = b""',
  '        if not data:',
  '            break',
  '        os.write(1, data)',
  '    if 0 in ready:',
  '        data = os.read(0, 4096)',
  '        if data:',
  '            os.write(fd, data)',
  '        else:',
  '            inputs.remove(0)',
  'status = os.waitpid(pid, 0)[1]',
  'sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))',
].join('\n');

export interface PtyStep {
  /** Wait until the terminal output (since the last step) matches. */
  waitFor: RegExp;
  /** Then type this ('\x03' is Ctrl-C). */
  send: string;
  /** Pause before typing (ms), so the prompt is ready for input. */
  delayMs?: number;
}

export interface PtyResult {
  code: number | null;
  /** Everything the terminal showed (stdout and stderr share it), ANSI sequences removed. */
  output: string;
  /** The same with its escape sequences (to check colour). */
  raw: string;
  ms: number;
}

/** Strips ANSI escape sequences and carriage returns. */
export function plain(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b[()][A-Z0-9]|\u001b[=>]/g, '').replace(/\r/g, '');
}

/**
 * Runs the built CLI on a pseudo-terminal (python3's `pty`, present wherever the test image is),
 * typing `steps` as their prompts appear. stdin, stdout and stderr of the CLI are all the terminal.
 */
export function runCliInPty(
  args: string[],
  options: { cwd: string; env?: Record<string, string | undefined>; steps: PtyStep[]; timeoutMs?: number; columns?: number },
): Promise<PtyResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const driver = options.columns ? ['-c', PTY_SIZED_DRIVER, String(options.columns)] : ['-c', PTY_DRIVER];
    const child = spawn('python3', [...driver, process.execPath, BIN, ...args], {
      cwd: options.cwd,
      env: baseEnv({ TERM: 'xterm', ...options.env }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let seen = 0;
    let step = 0;
    let typing = false;
    const advance = () => {
      const next = options.steps[step];
      if (!next || typing) return;
      const fresh = plain(output.slice(seen));
      if (!next.waitFor.test(fresh)) return;
      typing = true;
      setTimeout(() => {
        seen = output.length;
        step++;
        typing = false;
        child.stdin.write(next.send);
        advance();
      }, next.delayMs ?? 150);
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      advance();
    });
    let errors = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (errors += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (errors.trim() !== '') output += `\n[pty driver] ${errors}`;
      resolve({ code, output: plain(output), raw: output, ms: Date.now() - started });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Number of threads of a process (Linux), or undefined when /proc cannot tell. */
export function threadCount(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
