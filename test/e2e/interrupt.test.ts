/**
 * Ctrl-C (issue 7): at a prompt on a real pseudo-terminal (python3's `pty`), and as SIGINT/SIGTERM
 * to the process group while keygen or rotate generate a key or a request hangs. Always exit 130,
 * `sfauth: interrupted…` and no stack trace; no partial key, no temp file, no journal; nothing
 * changed on the server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, STACK_TRACE, baseEnv, tempDir } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';
import { Rng } from '../support/fuzz.js';
import { runCliInPty, sleep, threadCount } from '../support/audit.js';

const ACCOUNT = 'myorg-myaccount';
const PASS = `SECRET-PASS-7f3a${randomBytes(4).toString('hex')}`;

let tmp: { dir: string; cleanup: () => void };
let home: string;
let sf: Emulator;
let plainKey: string;
let encKey: string;
/** Threads of an idle node process (the libuv pool adds to them once it starts). */
let idleThreads: number | undefined;

const fresh = () => mkdtempSync(join(tmp.dir, 'run-'));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts the CLI in its own process group (as a shell job is) and signals the whole group, the way a
 * terminal delivers Ctrl-C, once `when` resolves.
 */
function runAndSignal(
  args: string[],
  cwd: string,
  signal: NodeJS.Signals,
  when: (pid: number, stderr: () => string) => Promise<void>,
  env: Record<string, string> = {},
): Promise<Exit & { signalledAfterMs: number; exitedAfterSignalMs: number; saidAfterSignalMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: baseEnv({ HOME: home, ...env }), detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    let saidAt = 0;
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (!saidAt && /sfauth: interrupted/.test(stderr)) saidAt = Date.now();
    });
    child.stdin.end();
    const started = Date.now();
    let signalledAt = 0;
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code, sig) => {
      clearTimeout(killer);
      resolve({
        code,
        signal: sig,
        stdout,
        stderr,
        signalledAfterMs: signalledAt - started,
        exitedAfterSignalMs: Date.now() - signalledAt,
        saidAfterSignalMs: saidAt ? saidAt - signalledAt : Infinity,
      });
    });
    when(child.pid!, () => stderr).then(
      () => {
        signalledAt = Date.now();
        try {
          process.kill(-child.pid!, signal);
        } catch {
          // already gone
        }
      },
      (err) => reject(err),
    );
  });
}

/** Resolves once the libuv thread pool of `pid` runs (key generation has started), or after `fallbackMs`. */
async function poolStarted(pid: number, fallbackMs = 600): Promise<void> {
  const until = Date.now() + fallbackMs;
  while (Date.now() < until) {
    const n = threadCount(pid);
    if (n !== undefined && idleThreads !== undefined && n > idleThreads) return;
    await sleep(5);
  }
}

async function stderrShows(stderr: () => string, pattern: RegExp, thenMs: number): Promise<void> {
  const until = Date.now() + 20_000;
  while (!pattern.test(stderr()) && Date.now() < until) await sleep(10);
  await sleep(thenMs);
}

function expectInterrupted(r: { code: number | null; stdout: string; stderr: string }, message = /^sfauth: interrupted/m): void {
  expect(r.code, r.stderr).toBe(130);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  expect(r.stdout).toBe('');
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
  tmp = tempDir('sfauth-e2e-interrupt-');
  home = join(tmp.dir, 'home');
  mkdirSync(home);
  const alice = generateKeyPairSync('rsa', { modulusLength: 2048 });
  plainKey = join(tmp.dir, 'alice.p8');
  writeFileSync(plainKey, alice.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  encKey = join(tmp.dir, 'alice.enc.p8');
  writeFileSync(encKey, alice.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASS }), { mode: 0o600 });
  sf = await startEmulator({ account: 'MYORG-MYACCOUNT' });
  sf.addUser('alice', { rsaPublicKey: alice.publicKey });

  // The thread count of an idle node process, to tell when the CLI's libuv pool starts.
  const idle = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1500)']);
  await sleep(500);
  idleThreads = threadCount(idle.pid!);
  idle.kill();
});

afterAll(async () => {
  await sf?.close();
  tmp?.cleanup();
});

describe('Ctrl-C at a prompt (pseudo-terminal)', () => {
  it.concurrent('keygen, at the first passphrase prompt: 130, no file', async () => {
    const dir = fresh();
    const r = await runCliInPty(['keygen', '--user', 'SVC'], { cwd: dir, env: { HOME: home }, steps: [{ waitFor: /New passphrase for rsa_key\.p8/, send: '\x03' }] });
    expect(r.code, r.output).toBe(130);
    expect(r.output).toMatch(/sfauth: interrupted/);
    expect(r.output).not.toMatch(STACK_TRACE);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.concurrent('keygen, at the repeat prompt after typing the passphrase: 130, no file, the passphrase never shown', async () => {
    const dir = fresh();
    const r = await runCliInPty(['keygen', '--type', 'ec'], {
      cwd: dir,
      env: { HOME: home },
      steps: [
        { waitFor: /New passphrase for ec_key\.p8/, send: `${PASS}\r` },
        { waitFor: /Repeat the new passphrase/, send: '\x03' },
      ],
    });
    expect(r.code, r.output).toBe(130);
    expect(r.output).toMatch(/sfauth: interrupted/);
    expect(r.output).not.toContain(PASS);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.concurrent('jwt with an encrypted key: 130 at the passphrase prompt, no token', async () => {
    const dir = fresh();
    const r = await runCliInPty(['jwt', '--account', ACCOUNT, '--user', 'alice', '--private-key', encKey], {
      cwd: dir,
      env: { HOME: home },
      steps: [{ waitFor: /Passphrase to unlock/, send: '\x03' }],
    });
    expect(r.code, r.output).toBe(130);
    expect(r.output).toMatch(/sfauth: interrupted/);
    expect(r.output).not.toMatch(/eyJ/);
    expect(r.output).not.toMatch(STACK_TRACE);
  });

  it.concurrent('a wrong passphrase, then Ctrl-C at the retry prompt: 130', async () => {
    const dir = fresh();
    const r = await runCliInPty(['fingerprint', encKey], {
      cwd: dir,
      env: { HOME: home },
      steps: [
        { waitFor: /Passphrase to unlock/, send: 'not the passphrase\r' },
        { waitFor: /Wrong passphrase for .*; type it again/, send: '\x03' },
      ],
    });
    expect(r.code, r.output).toBe(130);
    expect(r.output).toMatch(/sfauth: interrupted/);
    expect(r.output).not.toMatch(/SHA256:/);
  });

  it.concurrent('rotate --apply with an encrypted key: 130 at the prompt, nothing written, nothing sent', async () => {
    const own = await startEmulator({ account: 'MYORG-MYACCOUNT' });
    try {
      own.addUser('alice', { rsaPublicKey: createPublicKey(createPrivateKey(readFileSync(plainKey))) });
      const dir = fresh();
      const key = join(dir, 'rsa_key.p8');
      writeFileSync(key, readFileSync(encKey), { mode: 0o600 });
      const r = await runCliInPty(['rotate', '--account', ACCOUNT, '--host', own.url, '--user', 'alice', '--private-key', key, '--apply'], {
        cwd: dir,
        env: { HOME: home },
        steps: [{ waitFor: /Passphrase to unlock/, send: '\x03' }],
      });
      expect(r.code, r.output).toBe(130);
      expect(r.output).toMatch(/sfauth: interrupted/);
      expect(readdirSync(dir)).toEqual(['rsa_key.p8']);
      expect(own.requests).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it.concurrent('status with an encrypted key: 130 at the prompt, no request sent', async () => {
    const own = await startEmulator({ account: 'MYORG-MYACCOUNT' });
    try {
      const r = await runCliInPty(['status', '--account', ACCOUNT, '--host', own.url, '--user', 'alice', '--private-key', encKey], {
        cwd: fresh(),
        env: { HOME: home },
        steps: [{ waitFor: /Passphrase to unlock/, send: '\x03' }],
      });
      expect(r.code, r.output).toBe(130);
      expect(own.requests).toEqual([]);
    } finally {
      await own.close();
    }
  });
});

describe('SIGINT / SIGTERM while working', () => {
  it.concurrent('SIGINT during RSA-4096 generation (keygen): 130, no file, no temp file', async () => {
    const dir = fresh();
    const r = await runAndSignal(['keygen', '--bits', '4096', '--out', 'big.p8'], dir, 'SIGINT', (pid) => poolStarted(pid), { PRIVATE_KEY_PASSPHRASE: PASS });
    expectInterrupted(r, /^sfauth: interrupted \(SIGINT\)$/m);
    // Said at once. The exit itself waits for the generation step in the thread pool to end (node
    // joins its pool threads on exit; OpenSSL cannot be stopped mid-way), and its result is dropped.
    expect(r.saidAfterSignalMs).toBeLessThan(5000);
    expect(r.exitedAfterSignalMs).toBeLessThan(20_000);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.concurrent('SIGTERM during RSA-4096 generation (keygen): 130, no file', async () => {
    const dir = fresh();
    const r = await runAndSignal(['keygen', '--bits', '4096', '--no-encrypt'], dir, 'SIGTERM', (pid) => poolStarted(pid));
    expectInterrupted(r, /^sfauth: interrupted \(SIGTERM\)$/m);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.concurrent('SIGINT while a request hangs: 130 at once', async () => {
    const own = await startEmulator({ account: 'MYORG-MYACCOUNT' });
    try {
      own.addUser('alice', { rsaPublicKey: createPublicKey(createPrivateKey(readFileSync(plainKey))) });
      own.injectFault({ kind: 'hang', times: 100 });
      const r = await runAndSignal(
        ['test-connection', '--account', ACCOUNT, '--host', own.url, '--user', 'alice', '--private-key', plainKey, '--timeout', '20s'],
        fresh(),
        'SIGINT',
        async () => {
          const until = Date.now() + 15_000;
          while (own.requests.length === 0 && Date.now() < until) await sleep(10);
        },
      );
      expectInterrupted(r);
      // Far below the --timeout of 20s it would otherwise wait for (generous for a busy machine).
      expect(r.saidAfterSignalMs).toBeLessThan(5000);
      expect(r.exitedAfterSignalMs).toBeLessThan(8000);
    } finally {
      await own.close();
    }
  });

  it.concurrent('SIGINT during rotate --apply while the new RSA-4096 key is generated: 130, no new key, no journal, no change on the server', async () => {
    const own = await startEmulator({ account: 'MYORG-MYACCOUNT' });
    try {
      const pub = createPublicKey(createPrivateKey(readFileSync(plainKey)));
      own.addUser('alice', { rsaPublicKey: pub });
      const dir = fresh();
      const key = join(dir, 'rsa_key.p8');
      writeFileSync(key, readFileSync(plainKey), { mode: 0o600 });
      const r = await runAndSignal(
        ['rotate', '--account', ACCOUNT, '--host', own.url, '--user', 'alice', '--private-key', key, '--apply', '--bits', '4096', '--no-encrypt'],
        dir,
        'SIGINT',
        (_pid, stderr) => stderrShows(stderr, /Read the keys of/, 30),
      );
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toMatch(/^sfauth: interrupted/m);
      expect(r.stderr).not.toMatch(STACK_TRACE);
      expect(readdirSync(dir)).toEqual(['rsa_key.p8']);
      expect(own.executed.map((e) => e.statement).filter((q) => /ALTER/i.test(q))).toEqual([]);
      expect(own.user('alice').slots[2]).toBeNull();
    } finally {
      await own.close();
    }
  });

  it('SIGINT at random moments of keygen: either the whole key pair or nothing, never a partial or temp file', async () => {
    // Seeded, so a failing delay reproduces. An EC keygen takes a few ms: the signal lands before,
    // during and after the writes.
    const rng = new Rng(Number(process.env.FUZZ_SEED ?? 0x5197));
    const outcomes = { interrupted: 0, completed: 0 };
    for (let i = 0; i < 10; i++) {
      const dir = fresh();
      const delay = rng.range(30, 200);
      const r = await runAndSignal(['keygen', '--type', 'ec', '--no-encrypt', '--json'], dir, 'SIGINT', () => sleep(delay));
      const files = readdirSync(dir).sort();
      const context = `delay ${delay} ms: exit ${r.code} ${r.signal ?? ''} files ${files.join(',')}\n${r.stderr}`;
      expect(r.stderr, context).not.toMatch(STACK_TRACE);
      if (r.code === 0) {
        outcomes.completed++;
        expect(files, context).toEqual(['ec_key.p8', 'ec_key.pub']);
        const priv = createPrivateKey(readFileSync(join(dir, 'ec_key.p8')));
        const pub = createPublicKey(readFileSync(join(dir, 'ec_key.pub')));
        expect(createPublicKey(priv).export({ type: 'spki', format: 'der' }).equals(pub.export({ type: 'spki', format: 'der' })), context).toBe(true);
      } else {
        outcomes.interrupted++;
        // 130 from our handler; a signal that lands before node has loaded the CLI kills it outright (the shell shows 130 too).
        expect(r.code === 130 || r.signal === 'SIGINT', context).toBe(true);
        // Interrupted after the (synchronous) writes finished, the pair is complete; else there is none.
        if (files.length > 0) expect(files, context).toEqual(['ec_key.p8', 'ec_key.pub']);
        else expect(files, context).toEqual([]);
      }
    }
    expect(outcomes.interrupted + outcomes.completed).toBe(10);
  });
});
