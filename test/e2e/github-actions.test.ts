/**
 * CI-native output (issue 28, DESIGN.md §3 v3 "CI-native output"): under GITHUB_ACTIONS=true the
 * job summary and the step outputs are written, stdout stays byte for byte what it is elsewhere, and
 * an unwritable file is a warning. The composite action.yml's steps are run as the runner would run
 * them (its `run:` blocks, verbatim, with a fake GITHUB_* environment) from a clean clone of this
 * repository. `--shard` slices a fleet and an audit so that the slices cover every user once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, baseEnv, runCliAsync, tempDir } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';

const tmp = tempDir('sfauth-gha-');
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of closers) await c();
  tmp.cleanup();
});

const DAY = 86_400_000;
const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const admin = ec();
const adminKey = join(tmp.dir, 'admin.p8');
writeFileSync(adminKey, admin.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

async function world(): Promise<Emulator> {
  const sf = await startEmulator();
  closers.push(() => sf.close());
  sf.addUser('ADMIN', { rsaPublicKey: admin.publicKey });
  sf.grant('ADMIN', '*');
  for (const name of ['SVC_A', 'SVC_B', 'SVC_C', 'SVC_D', 'SVC_E', 'SVC_F']) sf.addUser(name, { rsaPublicKey: ec().publicKey, type: 'SERVICE', lastSet1: new Date(Date.now() - 200 * DAY) });
  sf.addUser('"<b>x</b>|y"', { type: 'SERVICE', hasPassword: true });
  return sf;
}

const adminArgs = (sf: Emulator) => ['--account', 'myorg-myaccount', '--host', sf.url, '--user', 'ADMIN', '--private-key', adminKey];

/** A fresh set of runner files, and the environment that names them. */
function runnerFiles(name: string): { env: Record<string, string>; output: string; summary: string; outputs(): Record<string, string> } {
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  const output = join(dir, 'output.txt');
  const summary = join(dir, 'summary.md');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  return {
    env: { GITHUB_ACTIONS: 'true', GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary },
    output,
    summary,
    outputs: () => parseOutputs(readFileSync(output, 'utf8')),
  };
}

/** $GITHUB_OUTPUT as the runner reads it: name=value lines and name<<DELIM … DELIM blocks. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const here = /^([^=<]+)<<(.+)$/.exec(line);
    if (here) {
      const body: string[] = [];
      for (i++; lines[i] !== here[2]; i++) body.push(lines[i]!);
      out[here[1]!] = body.join('\n');
    } else if (line.includes('=')) out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
  }
  return out;
}

describe.concurrent('under GITHUB_ACTIONS=true', () => {
  it('rotate writes its outputs and a summary; a fleet too (failed users as a heredoc), its stdout as without GitHub', async () => {
    const sf = await world();
    const dir = join(tmp.dir, 'rot');
    mkdirSync(dir);
    const key = ec();
    writeFileSync(join(dir, 'svc.p8'), key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    sf.addUser('SVC_SELF', { rsaPublicKey: key.publicKey });
    const gh = runnerFiles('rot-files');
    const r = await runCliAsync(['rotate', '--account', 'myorg-myaccount', '--host', sf.url, '--user', 'SVC_SELF', '--private-key', 'svc.p8', '--no-encrypt', '--in-place', '--apply'], { cwd: dir, env: { HOME: dir, ...gh.env } });
    expect(r.code, r.stderr).toBe(0);
    const o = gh.outputs();
    expect(o).toMatchObject({ outcome: 'rotated', user: 'SVC_SELF', key: 'RSA_PUBLIC_KEY_2', 'key-path': join(dir, 'svc.p8') });
    expect(o.fingerprint).toBe(sf.user('SVC_SELF').slots[2]!.fingerprint);
    expect(readFileSync(gh.summary, 'utf8')).toMatch(/^### sfauth rotate: SVC\\_SELF \(MYORG-MYACCOUNT\): rotated$/m);
    expect(r.stdout).toMatch(/^rotated SVC_SELF: RSA_PUBLIC_KEY_2 = SHA256:/m);

    // a fleet plan with a user that fails: outputs with counts and the failed users, stdout identical without GitHub
    writeFileSync(join(dir, 'targets.txt'), 'SVC_A\nSVC_B\nNO_SUCH_1\nNO_SUCH_2\n');
    mkdirSync(join(dir, 'keys'), { mode: 0o700 });
    const fleetArgs = ['rotate', ...adminArgs(sf), '--targets', 'targets.txt', '--out-dir', 'keys', '--no-encrypt'];
    const fleetGh = runnerFiles('fleet-files');
    const withGh = await runCliAsync(fleetArgs, { cwd: dir, env: { HOME: dir, ...fleetGh.env } });
    const without = await runCliAsync(fleetArgs, { cwd: dir, env: { HOME: dir } });
    expect(withGh.code).toBe(1);
    expect(withGh.stdout).toBe(without.stdout);
    expect(fleetGh.outputs()).toMatchObject({ outcome: 'failed', users: '4', failed: '2', 'failed-users': 'NO_SUCH_1\nNO_SUCH_2' });
    expect(readFileSync(fleetGh.output, 'utf8')).toMatch(/^failed-users<<ghadelimiter_[0-9a-f-]{36}$/m);
    expect(readFileSync(fleetGh.summary, 'utf8')).toMatch(/^\| NO\\_SUCH\\_1 \| failed \|/m);
  });

  it('audit, status and doctor write summaries (server strings escaped); stdout is byte-identical to a run without GitHub', async () => {
    const sf = await world();
    for (const args of [
      ['audit', ...adminArgs(sf), '--format', 'csv', '--fail-on', 'none'],
      ['status', ...adminArgs(sf), '--target-user', 'SVC_A', '--json'],
      ['doctor', ...adminArgs(sf), '--json'],
    ]) {
      const gh = runnerFiles(`${args[0]}-files`);
      const withGh = await runCliAsync(args, { cwd: tmp.dir, env: { HOME: tmp.dir, ...gh.env } });
      const without = await runCliAsync(args, { cwd: tmp.dir, env: { HOME: tmp.dir } });
      expect(withGh.code, withGh.stderr).toBe(without.code);
      // (doctor's evidence has timings: those differ between any two runs)
      const steady = (text: string) => text.replace(/\d+(\.\d+)? ms/g, 'N ms');
      expect(steady(withGh.stdout), args[0]).toBe(steady(without.stdout));
      const summary = readFileSync(gh.summary, 'utf8');
      expect(summary).toMatch(new RegExp(`^### (sfauth ${args[0]}|Snowflake credentials audit)`, 'm'));
      expect(summary).not.toContain('<b>');
    }
    const audit = runnerFiles('audit-again');
    await runCliAsync(['audit', ...adminArgs(sf), '--fail-on', 'none'], { cwd: tmp.dir, env: { HOME: tmp.dir, ...audit.env } });
    expect(readFileSync(audit.summary, 'utf8')).toContain('&lt;b&gt;x&lt;/b&gt;\\|y');
  });

  it('register writes its outputs; an unwritable GITHUB_OUTPUT is a warning, never a failure', async () => {
    const sf = await world();
    const pub = ec().publicKey;
    writeFileSync(join(tmp.dir, 'new.pub'), pub.export({ type: 'spki', format: 'pem' }));
    const gh = runnerFiles('register-files');
    const r = await runCliAsync(['register', ...adminArgs(sf), '--target-user', 'SVC_B', '--public-key', 'new.pub', '--apply'], { cwd: tmp.dir, env: { HOME: tmp.dir, ...gh.env } });
    expect(r.code, r.stderr).toBe(0);
    expect(gh.outputs()).toMatchObject({ outcome: 'registered', user: 'SVC_B', key: 'RSA_PUBLIC_KEY_2', fingerprint: expect.stringMatching(/^SHA256:/) });
    const broken = await runCliAsync(['status', ...adminArgs(sf), '--target-user', 'SVC_B'], { cwd: tmp.dir, env: { HOME: tmp.dir, GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: tmp.dir } });
    expect(broken.code, broken.stderr).toBe(0);
    expect(broken.stderr).toMatch(/^warning: could not write GITHUB_STEP_SUMMARY \(.*\): EISDIR; the command itself went through$/m);
  });
});

describe.concurrent('--shard K/N', () => {
  it('the slices of a fleet plan and of an audit cover every user once', async () => {
    const sf = await world();
    const dir = join(tmp.dir, 'shard');
    mkdirSync(dir);
    const users = ['SVC_A', 'SVC_B', 'SVC_C', 'SVC_D', 'SVC_E', 'SVC_F'];
    writeFileSync(join(dir, 'targets.txt'), users.join('\n') + '\n');
    const planned: string[] = [];
    const audited: string[] = [];
    for (const k of [1, 2, 3]) {
      const plan = await runCliAsync(['rotate', ...adminArgs(sf), '--targets', 'targets.txt', '--no-encrypt', '--shard', `${k}/3`, '--json'], { cwd: dir, env: { HOME: dir } });
      expect(plan.code, plan.stderr).toBe(0);
      planned.push(...(JSON.parse(plan.stdout) as Array<{ user: string }>).map((x) => x.user));
      const audit = await runCliAsync(['audit', ...adminArgs(sf), '--type', 'service', '--shard', `${k}/3`, '--json', '--fail-on', 'none'], { cwd: dir, env: { HOME: dir } });
      expect(audit.code, audit.stderr).toBe(0);
      audited.push(...(JSON.parse(audit.stdout) as { users: Array<{ name: string }> }).users.map((u) => u.name));
    }
    expect(planned.sort()).toEqual(users);
    expect(audited.sort()).toEqual(['<b>x</b>|y', ...users].sort());
    for (const bad of ['0/3', '3/2', 'a/b']) {
      const r = await runCliAsync(['rotate', ...adminArgs(sf), '--targets', 'targets.txt', '--shard', bad], { cwd: dir, env: { HOME: dir } });
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^sfauth: invalid --shard '${bad.replace('/', '\\/')}'`, 'm'));
    }
  });
});

describe('the composite action (action.yml)', () => {
  let clone: string;
  beforeAll(() => {
    // A clean clone of this repository, as `uses: owner/sfauth@ref` checks it out.
    clone = join(tmp.dir, 'action');
    const git = spawnSync('git', ['clone', '--quiet', '--depth', '1', `file://${ROOT}`, clone], { encoding: 'utf8' });
    if (git.status !== 0) throw new Error(`git clone failed: ${git.stderr}`);
  });

  /** The `run:` block of the step with this name, verbatim (dedented as YAML does). */
  function stepRun(name: string): string {
    const yml = readFileSync(join(clone, 'action.yml'), 'utf8');
    const at = yml.indexOf(`- name: ${name}\n`);
    expect(at, `step ${name}`).toBeGreaterThan(0);
    const block = /\n {6}run: \|\n((?: {8}.*\n)+)/.exec(yml.slice(at))!;
    return block[1]!.replace(/^ {8}/gm, '');
  }

  it('installs from its own checkout, runs the command with the args input, and passes the outputs on', { timeout: 180_000 }, async () => {
    const install = spawnSync('bash', ['-e', '-c', stepRun('install sfauth')], { cwd: clone, env: baseEnv({ GITHUB_ACTION_PATH: clone }), encoding: 'utf8' });
    expect(install.status, install.stderr.slice(-2000)).toBe(0);
    expect(existsSync(join(clone, 'dist', 'cli.cjs'))).toBe(true);
    const sf = await world();
    const dir = join(tmp.dir, 'action-run');
    mkdirSync(dir);
    const key = ec();
    sf.addUser('SVC_ACTION', { rsaPublicKey: key.publicKey });
    const gh = runnerFiles('action-files');
    // Secrets by environment, as the README's example passes them: the key itself in SNOWFLAKE_PRIVATE_KEY_RAW.
    const env = baseEnv({
      ...gh.env,
      HOME: dir,
      GITHUB_ACTION_PATH: clone,
      SFAUTH_ARGS: `rotate --host '${sf.url}' --apply --store-cmd 'cat > "$HOME/stored.p8"'`,
      SNOWFLAKE_ACCOUNT: 'myorg-myaccount',
      SNOWFLAKE_USER: 'SVC_ACTION',
      SNOWFLAKE_PRIVATE_KEY_RAW: key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    });
    // Not spawnSync: the emulator answers from this process's event loop.
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('bash', ['-e', '-c', stepRun('sfauth')], { cwd: dir, env });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    expect(run.status, run.stderr + run.stdout).toBe(0);
    const o = gh.outputs();
    expect(o.outcome).toBe('rotated');
    expect(o.fingerprint).toBe(sf.user('SVC_ACTION').slots[2]!.fingerprint);
    expect(readFileSync(join(dir, 'stored.p8'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(readFileSync(gh.summary, 'utf8')).toMatch(/^### sfauth rotate: SVC\\_ACTION/m);
    // every output the action declares is one sfauth writes
    const yml = readFileSync(join(clone, 'action.yml'), 'utf8');
    for (const m of yml.matchAll(/value: \$\{\{ steps\.sfauth\.outputs\.([\w-]+) \}\}/g)) expect(['outcome', 'fingerprint', 'old-fingerprint', 'key-path', 'key', 'finish', 'failed']).toContain(m[1]);
  });
});
