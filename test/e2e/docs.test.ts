/**
 * The README and docs/ run as written (issue 24): every `sh` block of README.md and docs/*.md is run
 * verbatim, a page at a time in one shell session (so a `cd` or an `export` carries on, as it would
 * for a reader typing along), with `set -e`: a command that fails fails the test, naming its block.
 *
 * The world each page runs in: a throw-away HOME (so `~/…` is sandboxed) holding the Snowflake CLI's
 * `~/.snowflake/connections.toml` with the connections the examples name (`loader` = SVC_LOADER,
 * `key_admin` and `admin` = users allowed to manage others; the loader's key is `~/.keys/rsa_key.p8`,
 * and `~/pat.txt` holds a programmatic access token of SVC_LOADER; SVC_BI is a service user with role
 * BI_READER for the token examples), all pointed at the emulator, and
 * SNOWFLAKE_HOST pointing there too, so `--account myorg-myaccount` reaches it; `sfauth` on PATH;
 * PRIVATE_KEY_PASSPHRASE set for the keys the examples encrypt. A block marked
 * `<!-- run: in the background -->` (the emulator of the walk-through) runs in the background until
 * the page is done. `<!-- recipe: NAME -->` blocks are run by recipes.test.ts; a block marked
 * `<!-- not run: REASON -->` is skipped, and must say why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, baseEnv, tempDir } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';

interface Block {
  file: string;
  line: number;
  lang: string;
  body: string;
  marker?: { kind: 'not run' | 'run' | 'recipe'; text: string };
}

const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

function blocksOf(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    const marker = /^<!-- (not run|run|recipe):\s*(.*?)\s*-->$/.exec(lines[i - 1] ?? '');
    blocks.push({
      file,
      line: i + 1,
      lang: open[1]!,
      body: lines.slice(i + 1, end).join('\n'),
      ...(marker ? { marker: { kind: marker[1] as 'not run' | 'run' | 'recipe', text: marker[2]! } } : {}),
    });
    i = end;
  }
  return blocks;
}

const PASSPHRASE = 'docs-passphrase-1';
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
});

/** The emulator and the home folder a page runs in. */
async function world(): Promise<{ home: string; env: Record<string, string>; sf: Emulator }> {
  const sf = await startEmulator();
  const { dir: home, cleanup } = tempDir('sfauth-docs-');
  cleanups.push(async () => {
    await sf.close();
    cleanup();
  });
  const keys = join(home, '.keys');
  mkdirSync(keys, { mode: 0o700 });
  const key = (name: string) => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(keys, `${name}.p8`), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    return pair.publicKey;
  };
  sf.addUser('SVC_LOADER', { rsaPublicKey: key('rsa_key'), roles: ['LOADER'] });
  // set 200 days ago: due for rotation (audit's key-too-old, rotate --if-older-than 90d)
  sf.addUser('SVC_REPORTING', { rsaPublicKey: key('svc_reporting'), lastSet1: new Date(Date.now() - 200 * 86_400_000), type: 'SERVICE' });
  sf.addUser('SVC_ETL', { rsaPublicKey: key('svc_etl') });
  // A service user of a BI tool, for the programmatic access token examples (docs/pat.md).
  sf.addUser('SVC_BI', { roles: ['BI_READER'], type: 'SERVICE' });
  sf.addUser('KEY_ADMIN', { rsaPublicKey: key('key_admin') });
  sf.addUser('ADMIN', { rsaPublicKey: key('admin') });
  sf.grant('KEY_ADMIN', '*');
  sf.grant('ADMIN', '*');
  const sfHome = join(home, '.snowflake');
  mkdirSync(sfHome, { mode: 0o700 });
  const connection = (name: string, user: string, file: string, extra = '') =>
    `[${name}]\naccount = "myorg-myaccount"\nuser = "${user}"\nhost = "${sf.url}"\nprivate_key_file = "${join(keys, file)}"\n${extra}`;
  writeFileSync(
    join(sfHome, 'connections.toml'),
    [connection('loader', 'SVC_LOADER', 'rsa_key.p8', 'role = "LOADER"\n'), connection('key_admin', 'KEY_ADMIN', 'key_admin.p8'), connection('admin', 'ADMIN', 'admin.p8')].join('\n'),
    { mode: 0o600 },
  );
  // A programmatic access token of SVC_LOADER, for the examples that use --token-file pat.txt.
  const pat = 'docs-pat-' + 'x'.repeat(40);
  sf.addPat(pat, 'SVC_LOADER');
  writeFileSync(join(home, 'pat.txt'), pat + '\n', { mode: 0o600 });
  const bin = join(home, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'sfauth'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(bin, 'sfauth'), 0o755);
  // Waits (up to 60 s) until the background job $2 says in its log $3 that it listens on 127.0.0.1:$1:
  // the walk-through's emulator. Its own banner, not just an open port: a stale emulator of another
  // run on that port must fail the page ("port in use"), never answer it.
  writeFileSync(
    join(bin, 'docs-wait-for-port'),
    `#!/bin/sh\ni=0\nuntil grep -q "at http://127.0.0.1:$1" "$3" 2>/dev/null; do\n  kill -0 "$2" 2>/dev/null || exit 1\n  i=$((i+1)); [ $i -gt 600 ] && exit 1\n  sleep 0.1\ndone\n`,
  );
  chmodSync(join(bin, 'docs-wait-for-port'), 0o755);
  const env = baseEnv({
    HOME: home,
    PATH: `${bin}:${process.env.PATH}`,
    SNOWFLAKE_HOST: sf.url,
    PRIVATE_KEY_PASSPHRASE: PASSPHRASE,
    NO_COLOR: '1',
  }) as Record<string, string>;
  return { home, env, sf };
}

/** One page's runnable blocks as one script; each block announces itself on stderr first. */
function scriptOf(blocks: Block[]): string {
  const parts = ['set -e'];
  for (const b of blocks) {
    parts.push(`printf '%s\\n' '::block ${b.file}:${b.line}::' >&2`);
    if (b.marker?.kind === 'run') {
      const port = /--port (\d+)/.exec(b.body)?.[1];
      parts.push(`(\n${b.body}\n) > "$HOME/background-${b.line}.log" 2>&1 &`);
      if (port) parts.push(`docs-wait-for-port ${port} $! "$HOME/background-${b.line}.log" || { cat "$HOME/background-${b.line}.log" >&2; exit 1; }`);
    } else {
      parts.push(b.body);
    }
  }
  return parts.join('\n') + '\n';
}

function runScript(script: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group: a background block (npm → node → the emulator) goes with it.
    const child = spawn('sh', ['-c', script], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => killGroup(child.pid), 120_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      killGroup(child.pid);
      // what the page printed after the shell ended (a background job's last words) is not needed
      setTimeout(() => resolve({ code, stdout, stderr }), 50);
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

const all = PAGES.flatMap(blocksOf);

describe('the documentation', () => {
  it('every sh block is run here, run as a recipe, or says why it is not run; synopses and output are text blocks', () => {
    for (const b of all) {
      expect(['sh', 'text', 'toml', 'yaml', 'json'], `${b.file}:${b.line} fence language '${b.lang}'`).toContain(b.lang);
      if (b.marker?.kind === 'not run') expect(b.marker.text.length, `${b.file}:${b.line}: say why it is not run`).toBeGreaterThan(10);
    }
    const notRun = all.filter((b) => b.lang === 'sh' && b.marker?.kind === 'not run');
    const run = all.filter((b) => b.lang === 'sh' && !b.marker?.kind.startsWith('not') && b.marker?.kind !== 'recipe');
    expect(run.length).toBeGreaterThan(notRun.length * 2);
  });

  it('the version the install block packs is the version in package.json', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect([...readme.matchAll(/sfauth-(\d+\.\d+\.\d+)\.tgz/g)].map((m) => m[1])).toEqual([version, version]);
    for (const page of PAGES) {
      for (const m of readFileSync(join(ROOT, page), 'utf8').matchAll(/sfauth-(\d+\.\d+\.\d+)\.tgz/g)) expect(m[1], page).toBe(version);
    }
  });

  it('every link to another page points at a page that exists', () => {
    for (const page of PAGES) {
      const dir = page.includes('/') ? join(ROOT, 'docs') : ROOT;
      for (const m of readFileSync(join(ROOT, page), 'utf8').matchAll(/\]\(([\w./-]+\.md)(#[\w-]*)?\)/g)) {
        expect(existsSync(join(dir, m[1]!)), `${page} links to ${m[1]}`).toBe(true);
      }
    }
  });

  describe.concurrent.each(PAGES.filter((p) => blocksOf(p).some((b) => b.lang === 'sh' && (!b.marker || b.marker.kind === 'run'))))('%s', (page) => {
    it('runs as written', { timeout: 180_000 }, async () => {
      const blocks = blocksOf(page).filter((b) => b.lang === 'sh' && (!b.marker || b.marker.kind === 'run'));
      const { home, env } = await world();
      const r = await runScript(scriptOf(blocks), page === 'README.md' ? ROOT : home, env);
      const last = [...r.stderr.matchAll(/::block (\S+)::/g)].at(-1)?.[1];
      expect(r.code, `${page}: the block at ${last} failed:\n${r.stderr.split(/::block \S+::\n/).at(-1)?.slice(-3000)}`).toBe(0);
      expect(r.stderr.match(/::block \S+::/g)?.length, 'every block ran').toBe(blocks.length);
      expect(r.stdout + r.stderr).not.toMatch(/PRIVATE KEY-----/);
    });
  });
});
