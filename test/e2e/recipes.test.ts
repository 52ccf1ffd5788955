/**
 * The secret-store recipes of docs/rotate.md, run verbatim (run `npm run build` first): each `<!-- recipe: NAME -->`
 * block is taken from docs/rotate.md or docs/github-actions.md as it is and run with `sh`, against the emulator, with `sfauth` and a
 * stand-in for the store's CLI (gh, aws, vault, kubectl) on PATH. The stand-ins record their arguments,
 * their environment and what they read; the test checks that the store received the private key that
 * Snowflake now has, and that the old key is gone. The scheduled GitHub Actions workflow is run the
 * same way: its step's `env:` and `run:` block, with the secrets it names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createPublicKey, generateKeyPair } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BIN, ROOT, baseEnv, openssl, tempDir } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';
import { fingerprintOf } from '../support/rotation.js';

const gen = promisify(generateKeyPair);
const DAY = 86_400_000;
const README = ['rotate.md', 'github-actions.md'].map((page) => readFileSync(join(ROOT, 'docs', page), 'utf8')).join('\n');

/** The README's recipe blocks by name. */
function recipes(): Map<string, { lang: string; body: string }> {
  const found = new Map<string, { lang: string; body: string }>();
  for (const m of README.matchAll(/<!-- recipe: ([\w-]+) -->\n```(\w+)\n([\s\S]*?)```/g)) found.set(m[1]!, { lang: m[2]!, body: m[3]! });
  return found;
}

/** Stand-ins for the stores' CLIs: each records its argv (one per line), its env and its stdin in $RECORD. */
const STAND_INS: Record<string, string> = {
  sfauth: `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`,
  gh: `#!/bin/sh
printf '%s\\n' "$@" > "$RECORD/gh.args"; env > "$RECORD/gh.env"
[ "$1 $2" = "secret set" ] || { echo "gh stand-in: unexpected $*" >&2; exit 2; }
cat > "$RECORD/gh.stdin"; echo "✓ Set Actions secret $3"
`,
  aws: `#!/bin/sh
printf '%s\\n' "$@" > "$RECORD/aws.args"; env > "$RECORD/aws.env"
for a in "$@"; do [ "$a" = "file:///dev/stdin" ] && cat > "$RECORD/aws.stdin"; done
[ -s "$RECORD/aws.stdin" ] || { echo "aws stand-in: no --secret-string file:///dev/stdin" >&2; exit 2; }
echo '{"VersionId": "v2"}'
`,
  vault: `#!/bin/sh
printf '%s\\n' "$@" > "$RECORD/vault.args"; env > "$RECORD/vault.env"
for a in "$@"; do case "$a" in *=-) cat > "$RECORD/vault.stdin";; esac; done
[ -s "$RECORD/vault.stdin" ] || { echo "vault stand-in: no field=- argument" >&2; exit 2; }
echo "Success! Data written"
`,
  kubectl: `#!/bin/sh
printf '%s\\n' "$@" >> "$RECORD/kubectl.args"; env > "$RECORD/kubectl.env"
case "$1" in
  create)
    for a in "$@"; do case "$a" in --from-file=*=/dev/stdin) file=\${a#--from-file=}; file=\${file%=/dev/stdin};; esac; done
    [ -n "$file" ] || { echo "kubectl stand-in: no --from-file=NAME=/dev/stdin" >&2; exit 2; }
    printf 'apiVersion: v1\\nkind: Secret\\nmetadata:\\n  name: %s\\ndata:\\n  %s: %s\\n' "$4" "$file" "$(base64 | tr -d '\\n')";;
  apply) cat > "$RECORD/kubectl.applied"; echo "secret/svc-loader-key configured";;
  *) echo "kubectl stand-in: unexpected $*" >&2; exit 2;;
esac
`,
};

interface World {
  sf: Emulator;
  dir: string;
  record: string;
  fp: string;
  pem: string;
  /** Runs a shell script as the recipe's CI job would: the key in SNOWFLAKE_PRIVATE_KEY_RAW, the tools on PATH. */
  sh(script: string, env?: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  await Promise.all(cleanups.map((c) => c()));
});
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
});

async function world(): Promise<World> {
  const sf = await startEmulator();
  const { dir, cleanup } = tempDir('sfauth-recipes-');
  const [bin, record, work, home] = ['bin', 'record', 'work', 'home'].map((d) => join(dir, d)) as [string, string, string, string];
  for (const d of [bin, record, work, home]) mkdirSync(d);
  for (const [name, text] of Object.entries(STAND_INS)) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
  const pair = await gen('rsa', { modulusLength: 2048 });
  const pem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  // A key set 100 days ago: due under --if-older-than 90d.
  sf.addUser('SVC_LOADER', { rsaPublicKey: pair.publicKey, lastSet1: new Date(Date.now() - 100 * DAY) });
  cleanups.push(async () => {
    await sf.close();
    cleanup();
  });
  const base = { HOME: home, TMPDIR: join(dir, 'work'), RECORD: record, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, SNOWFLAKE_HOST: sf.url };
  return {
    sf,
    dir,
    record,
    pem,
    fp: fingerprintOf(pair.publicKey),
    // Asynchronous: the emulator answers from this very process meanwhile.
    sh: (script, env = {}) =>
      new Promise((resolve) => {
        const child = spawn('/bin/sh', ['-e', '-c', script], {
          cwd: work,
          env: baseEnv({ SNOWFLAKE_ACCOUNT: 'myorg-myaccount', SNOWFLAKE_USER: 'SVC_LOADER', SNOWFLAKE_PRIVATE_KEY_RAW: pem, ...base, ...env }),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      }),
  };
}

/** The store got the key that is now the only one registered, and nothing secret of sfauth's own. */
function expectStored(w: World, stored: string, tool: string): void {
  const fp = fingerprintOf(openssl(['pkey', '-pubout'], { input: stored }).toString());
  const slots = Object.values(w.sf.user('SVC_LOADER').slots).filter(Boolean).map((s) => s!.fingerprint);
  expect(slots).toEqual([fp]);
  expect(fp).not.toBe(w.fp);
  const env = readFileSync(join(w.record, `${tool}.env`), 'utf8');
  expect(env).toContain(`SFAUTH_NEW_FINGERPRINT=${fp}`);
  expect(env).not.toContain('SNOWFLAKE_PRIVATE_KEY_RAW');
  expect(readdirSync(join(w.dir, 'work')).filter((f) => /\.p8$/.test(f))).toEqual([]);
}

const args = (w: World, tool: string) => readFileSync(join(w.record, `${tool}.args`), 'utf8').trim().split('\n');

describe.concurrent('README recipes: --store-cmd with each store, run verbatim', { timeout: 60_000 }, () => {
  it('the README has every recipe the tests run', () => {
    expect([...recipes().keys()].sort()).toEqual(['audit-workflow', 'aws', 'gh', 'kubectl', 'vault', 'workflow']);
  });

  it('GitHub Actions secret (gh secret set)', async () => {
    const w = await world();
    const r = await w.sh(recipes().get('gh')!.body);
    expect(r.code, r.stderr).toBe(0);
    expect(args(w, 'gh')).toEqual(['secret', 'set', 'SVC_LOADER_P8', '--repo', 'my-org/loader']);
    expectStored(w, readFileSync(join(w.record, 'gh.stdin'), 'utf8'), 'gh');
    expect(r.stderr).toContain('  store: ✓ Set Actions secret SVC_LOADER_P8');
  });

  it('AWS Secrets Manager (put-secret-value --secret-string file:///dev/stdin)', async () => {
    const w = await world();
    const r = await w.sh(recipes().get('aws')!.body);
    expect(r.code, r.stderr).toBe(0);
    expect(args(w, 'aws').slice(0, 4)).toEqual(['secretsmanager', 'put-secret-value', '--secret-id', 'snowflake/svc_loader/p8']);
    expectStored(w, readFileSync(join(w.record, 'aws.stdin'), 'utf8'), 'aws');
  });

  it('HashiCorp Vault (vault kv put … private_key=-)', async () => {
    const w = await world();
    const r = await w.sh(recipes().get('vault')!.body);
    expect(r.code, r.stderr).toBe(0);
    expect(args(w, 'vault')).toEqual(['kv', 'put', '-mount=secret', 'snowflake/svc_loader', 'private_key=-']);
    expectStored(w, readFileSync(join(w.record, 'vault.stdin'), 'utf8'), 'vault');
  });

  it('Kubernetes (kubectl create secret … --dry-run=client -o yaml | kubectl apply -f -)', async () => {
    const w = await world();
    const r = await w.sh(recipes().get('kubectl')!.body);
    expect(r.code, r.stderr).toBe(0);
    const applied = readFileSync(join(w.record, 'kubectl.applied'), 'utf8');
    expect(applied).toMatch(/^kind: Secret$/m);
    const data = /^ {2}rsa_key\.p8: (\S+)$/m.exec(applied)![1]!;
    expectStored(w, Buffer.from(data, 'base64').toString('utf8'), 'kubectl');
  });

  it('the scheduled GitHub Actions workflow: its step runs as written, with the secrets it names', async () => {
    const w = await world();
    const yaml = recipes().get('workflow')!.body;
    expect(yaml).toMatch(/^ {2}schedule: \[\{ cron: '17 3 \* \* 1' \}\]/m);
    const step = /^ {6}- name: rotate[^\n]*\n {8}env:\n((?: {10}[^\n]*\n)+) {8}run: \|\n((?: {10}[^\n]*\n)+)/m.exec(yaml);
    expect(step).not.toBeNull();
    const secrets: Record<string, string> = { SVC_LOADER_P8: w.pem, SECRETS_WRITER_TOKEN: 'ghs_stand_in_token' };
    const env: Record<string, string> = { GITHUB_REPOSITORY: 'my-org/loader' };
    for (const line of step![1]!.split('\n').filter(Boolean)) {
      const [, key, raw] = /^ {10}(\w+): (.*?)(?:\s+#.*)?$/.exec(line)!;
      const secret = /^\$\{\{ secrets\.(\w+) \}\}$/.exec(raw!);
      env[key!] = secret ? secrets[secret[1]!]! : raw!;
    }
    const script = step![2]!.replace(/^ {10}/gm, '');
    const r = await w.sh(script, env);
    expect(r.code, r.stderr).toBe(0);
    expect(args(w, 'gh')).toEqual(['secret', 'set', 'SVC_LOADER_P8', '--repo', 'my-org/loader']);
    expect(readFileSync(join(w.record, 'gh.env'), 'utf8')).toContain('GH_TOKEN=ghs_stand_in_token');
    expectStored(w, readFileSync(join(w.record, 'gh.stdin'), 'utf8'), 'gh');
    expect(r.stdout).toMatch(/^SVC_LOADER: rotated to SHA256:\S+$/m);

    // a week later the key is young: the same step does nothing
    const again = await w.sh(script, { ...env, SNOWFLAKE_PRIVATE_KEY_RAW: readFileSync(join(w.record, 'gh.stdin'), 'utf8') });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^SVC_LOADER: not due$/m);
  });

  it('the weekly audit workflow: due service keys rotated into the repository secrets, then the audit passes', async () => {
    const w = await world();
    const adminPair = await gen('ec', { namedCurve: 'P-256' });
    w.sf.addUser('KEY_ADMIN', { rsaPublicKey: adminPair.publicKey });
    w.sf.grant('KEY_ADMIN', '*');
    w.sf.updateUser('SVC_LOADER', { type: 'SERVICE' });
    // its key set 200 days ago: past the audit's --max-age (180 days)
    w.sf.setKey('SVC_LOADER', 1, createPublicKey(w.pem), { lastSet: new Date(Date.now() - 200 * DAY) });
    w.sf.addUser('SVC_YOUNG', { rsaPublicKey: (await gen('ec', { namedCurve: 'P-256' })).publicKey, type: 'SERVICE' });
    const young = w.sf.user('SVC_YOUNG').slots[1]!.fingerprint;
    const yaml = recipes().get('audit-workflow')!.body;
    expect(yaml).toMatch(/^ {2}schedule: \[\{ cron: '23 4 \* \* 1' \}\]/m);
    const step = /^ {6}- name: rotate due keys[^\n]*\n {8}env:\n((?: {10}[^\n]*\n)+) {8}run: \|\n((?: {10}[^\n]*\n)+)/m.exec(yaml);
    expect(step).not.toBeNull();
    const secrets: Record<string, string> = { KEY_ADMIN_P8: adminPair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, SECRETS_WRITER_TOKEN: 'ghs_stand_in_token' };
    const env: Record<string, string> = { GITHUB_REPOSITORY: 'my-org/loader' };
    for (const line of step![1]!.split('\n').filter(Boolean)) {
      const [, key, raw] = /^ {10}(\w+): (.*?)(?:\s+#.*)?$/.exec(line)!;
      const secret = /^\$\{\{ secrets\.(\w+) \}\}$/.exec(raw!);
      env[key!] = secret ? secrets[secret[1]!]! : raw!;
    }
    const r = await w.sh(step![2]!.replace(/^ {10}/gm, ''), env);
    expect(r.code, r.stderr).toBe(0);
    // the due key (100 days old) went to the store and is now the only one; the young key is untouched
    expect(args(w, 'gh')).toEqual(['secret', 'set', 'SVC_LOADER_P8', '--repo', 'my-org/loader']);
    expectStored(w, readFileSync(join(w.record, 'gh.stdin'), 'utf8'), 'gh');
    expect(w.sf.user('SVC_YOUNG').slots[1]!.fingerprint).toBe(young);
    expect(r.stdout).toMatch(/^2 users, 2 credentials: 0 high/m);
  });
});
