/**
 * `sfauth inspect` end to end: spawns the built binary (run `npm run build` first). Tokens are made
 * by `sfauth jwt` itself and, for the broken ones, by jose (an independent signer).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import { ROOT, runCli } from '../support/cli.js';

const PASSPHRASE = 'inspect-passphrase';

let dir: string;
let home: string;
let rsaPem: string;
let fresh: string; // a token minted by `sfauth jwt`

/** The built binary in the test folder, with HOME and SNOWFLAKE_HOME of its own (no stray config). */
function sfauth(args: string[], opts: { env?: Record<string, string>; input?: string } = {}) {
  return runCli(args, { cwd: dir, input: opts.input, env: { HOME: home, SNOWFLAKE_HOME: join(home, 'sf'), ...opts.env } });
}

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Signs arbitrary claims with jose (RS256 on the test RSA key). */
async function signed(payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT' }): Promise<string> {
  const key = await importPKCS8(rsaPem, 'RS256');
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key);
}

function claimsOf(token: string): { iss: string; sub: string; iat: number; exp: number } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cli.cjs'))) throw new Error('dist/cli.cjs is missing: run `npm run build` first');
  dir = mkdtempSync(join(tmpdir(), 'sfauth-e2e-inspect-'));
  home = join(dir, 'home');
  mkdirSync(join(home, 'sf'), { recursive: true });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  rsaPem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(join(dir, 'rsa_key.p8'), rsaPem, { mode: 0o600 });
  writeFileSync(join(dir, 'rsa_key.pub'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(
    join(dir, 'rsa_key_enc.p8'),
    rsa.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE }),
    { mode: 0o600 },
  );
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'other.pub'), other.publicKey.export({ type: 'spki', format: 'pem' }));
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'ec.pub'), ec.publicKey.export({ type: 'spki', format: 'pem' }));

  const r = sfauth(['jwt', '--account', 'myorg-acct', '--user', 'svc', '--private-key', 'rsa_key.p8', '--lifetime', '52m']);
  if (r.code !== 0) throw new Error(`sfauth jwt failed: ${r.stderr}`);
  fresh = r.stdout.trim();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('sfauth inspect', () => {
  it('a fresh token: exit 0, a readable report on stdout, nothing on stderr', () => {
    const r = sfauth(['inspect', fresh]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const c = claimsOf(fresh);
    expect(r.stdout).toMatch(/^Header\n {2}alg {2}RS256\n {2}typ {2}JWT\nPayload\n/);
    expect(r.stdout).toContain(`iss  ${c.iss}`);
    expect(r.stdout).toContain(`sub  ${c.sub}`);
    expect(r.stdout).toContain(new Date(c.exp * 1000).toISOString().replace('.000Z', 'Z'));
    expect(r.stdout).toMatch(/expires in (52m|51m \d+s)/);
    expect(r.stdout).toMatch(/✓ alg RS256 is accepted/);
    expect(r.stdout).toMatch(/✓ not expired/);
    expect(r.stdout).toMatch(/signature not checked/);
    expect(r.stdout).not.toMatch(/✗/);
    expect(r.stdout).not.toMatch(/\u001b\[/); // NO_COLOR
    expect(r.stdout).toMatch(/OK: no problems found/);
  });

  it('--public-key verifies the signature and the fingerprint; a private key (even encrypted) works too', () => {
    for (const args of [
      ['--public-key', 'rsa_key.pub'],
      ['--public-key', 'rsa_key.p8'],
      ['--public-key', 'rsa_key_enc.p8', '--passphrase-file', 'pass.txt'],
    ]) {
      writeFileSync(join(dir, 'pass.txt'), PASSPHRASE + '\n');
      const r = sfauth(['inspect', fresh, ...args]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/✓ the fingerprint in iss is the key's/);
      expect(r.stdout).toMatch(/✓ the signature verifies with the key/);
      expect(r.stdout).toMatch(/signature valid/);
    }
  });

  it('an encrypted key without a passphrase and no terminal: exit 2', () => {
    const r = sfauth(['inspect', fresh, '--public-key', 'rsa_key_enc.p8']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/--passphrase-file/);
  });

  it("reads the token from stdin with '-', trimming whitespace and a Bearer prefix", () => {
    const r = sfauth(['inspect', '-', '--public-key', 'rsa_key.pub'], { input: `  Bearer ${fresh}\n\n` });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/signature valid/);
  });

  it('--json: {header, payload, problems, signature}', () => {
    let r = sfauth(['inspect', fresh, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    let doc = JSON.parse(r.stdout);
    expect(Object.keys(doc).sort()).toEqual(['header', 'payload', 'problems', 'signature']);
    expect(doc.header).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(doc.payload).toEqual(claimsOf(fresh));
    expect(doc.problems).toEqual([]);
    expect(doc.signature).toBe('unchecked');

    r = sfauth(['inspect', fresh, '--json', '--public-key', 'rsa_key.pub']);
    expect(r.code).toBe(0);
    doc = JSON.parse(r.stdout);
    expect(doc.signature).toBe('valid');
  });

  it('an expired token: exit 1, the report still on stdout', async () => {
    const now = Math.floor(Date.now() / 1000);
    const c = claimsOf(fresh);
    const token = await signed({ iss: c.iss, sub: c.sub, iat: now - 3600 - 180, exp: now - 180 });
    const r = sfauth(['inspect', token]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✗ the token expired (3m|3m \d+s) ago/);
    expect(r.stdout).toMatch(/expired (3m|3m \d+s) ago/);
    expect(r.stdout).toMatch(/REFUSED: 1 problem/);
    expect(r.stderr).toMatch(/Snowflake would refuse this token: the token expired/);

    const j = sfauth(['inspect', token, '--json', '--public-key', 'rsa_key.pub']);
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.stdout);
    expect(doc.signature).toBe('valid');
    expect(doc.problems).toEqual([{ code: 'EXPIRED', message: expect.stringMatching(/expired/), severity: 'error' }]);
    expect(JSON.parse(j.stderr).error.code).toBe('ERR_TOKEN_INVALID');
  });

  it('a tampered token: exit 1, signature invalid', () => {
    const [h, p, s] = fresh.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = `${h}.${b64url({ ...claims, sub: 'MYORG-ACCT.ADMIN', iss: claims.iss.replace('.SVC.', '.ADMIN.') })}.${s}`;
    const r = sfauth(['inspect', forged, '--public-key', 'rsa_key.pub']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✗ the signature does not verify with the key/);
    const j = sfauth(['inspect', forged, '--public-key', 'rsa_key.pub', '--json']);
    expect(j.code).toBe(1);
    const doc = JSON.parse(j.stdout);
    expect(doc.signature).toBe('invalid');
    expect(doc.problems.map((x: { code: string }) => x.code)).toEqual(['SIGNATURE_INVALID']);
    // Without a key the forgery is not detectable: the lint alone passes.
    expect(sfauth(['inspect', forged]).code).toBe(0);
  });

  it('another key: fingerprint mismatch, exit 1; an EC key for an RS256 token: alg mismatch', () => {
    let r = sfauth(['inspect', fresh, '--public-key', 'other.pub', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).problems.map((x: { code: string }) => x.code)).toEqual(['FINGERPRINT_MISMATCH', 'SIGNATURE_INVALID']);
    r = sfauth(['inspect', fresh, '--public-key', 'ec.pub', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).problems.map((x: { code: string }) => x.code)).toContain('ALG_KEY_MISMATCH');
  });

  it('milliseconds, lower case, missing typ and a long lifetime are each reported', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await signed(
      { iss: 'myorg-acct.svc.SHA256:' + 'A'.repeat(43) + '=', sub: 'myorg-acct.svc', iat: now * 1000, exp: (now + 7200) * 1000 },
      { alg: 'RS256' },
    );
    const r = sfauth(['inspect', token, '--json']);
    expect(r.code).toBe(1);
    const codes = JSON.parse(r.stdout).problems.map((x: { code: string }) => x.code);
    expect(codes).toEqual(['TYP_MISSING', 'ACCOUNT_NOT_UPPERCASE', 'USER_NOT_UPPERCASE', 'IAT_MILLISECONDS', 'EXP_MILLISECONDS', 'LIFETIME_TOO_LONG']);
    const human = sfauth(['inspect', token]);
    expect(human.stdout).toMatch(/iat \d+ is in milliseconds; Snowflake accepts that/);
    expect(human.stdout).toMatch(/read as milliseconds/);
  });

  it('a 24-hour token (as snow connection generate-jwt makes) is a warning, exit 0: Snowflake honours it for one hour', async () => {
    const now = Math.floor(Date.now() / 1000);
    const c = claimsOf(fresh);
    const token = await signed({ iss: c.iss, sub: c.sub, iat: now - 5, exp: now - 5 + 86_400 });
    const r = sfauth(['inspect', token, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const problems = JSON.parse(r.stdout).problems as Array<{ code: string; severity: string }>;
    expect(problems).toEqual([expect.objectContaining({ code: 'LIFETIME_TOO_LONG', severity: 'warning' })]);
    const human = sfauth(['inspect', token]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/Snowflake honours a token for at most 1h after iat/);
  });

  it('a token issued in the future: exit 1', async () => {
    const now = Math.floor(Date.now() / 1000);
    const c = claimsOf(fresh);
    const token = await signed({ iss: c.iss, sub: c.sub, iat: now + 600, exp: now + 1200 });
    const r = sfauth(['inspect', token]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✗ iat is (10m|9m \d+s) in the future/);
  });

  it('claims cannot drive the terminal: control characters are escaped', async () => {
    const c = claimsOf(fresh);
    const token = await signed({ ...c, note: 'x\u001b[31mred\u202e' });
    const r = sfauth(['inspect', token]);
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).not.toContain('\u202e');
    expect(r.stdout).toContain('\\u001b[31mred\\u202e');
  });

  it.each([['garbage'], ['a.b'], ['not.a.jwt'], ['']])('%j is not a JWT: exit 2, nothing on stdout', (input) => {
    const r = sfauth(['inspect', input]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/not a JWT/);
  });

  it('garbage on stdin: exit 2; with --json the error is JSON', () => {
    const r = sfauth(['inspect', '-', '--json'], { input: 'hello world\n' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr).error.code).toBe('ERR_TOKEN_MALFORMED');
  });

  it("stdin cannot be both the token and the key", () => {
    const r = sfauth(['inspect', '-', '--public-key', '-'], { input: fresh });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/only once/);
  });

  it('a missing token argument: exit 2', () => {
    const r = sfauth(['inspect']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing required argument/);
  });

  it('errors never echo the token', () => {
    const broken = fresh.split('.').slice(0, 2).join('.') + '.SIGNATURE!!';
    const r = sfauth(['inspect', broken]);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('SIGNATURE!!');
    expect(r.stderr).not.toContain(fresh.split('.')[1]);
  });
});
