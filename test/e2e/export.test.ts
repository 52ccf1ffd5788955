/**
 * `sfauth export` (issue 27): every format read back to the same fingerprint, by sfauth and by the
 * machine's openssl; encrypted keys stay encrypted unless --decrypt; PKCS#1 and SEC1 become PKCS#8; a
 * decrypted key never reaches a terminal; --out is 0600 and never replaces a file without --force.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_TRACE, openssl, runCli, tempDir } from '../support/cli.js';
import { runCliInPty } from '../support/audit.js';

const tmp = tempDir('sfauth-export-');
afterAll(() => tmp.cleanup());
const PASS = 'export-pass-1';
const fp = (k: KeyObject) => 'SHA256:' + createHash('sha256').update(k.export({ type: 'spki', format: 'der' })).digest('base64');

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const files = {
  plain: join(tmp.dir, 'plain.p8'),
  enc: join(tmp.dir, 'enc.p8'),
  pkcs1: join(tmp.dir, 'pkcs1.pem'),
  sec1: join(tmp.dir, 'sec1.pem'),
};
writeFileSync(files.plain, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
writeFileSync(files.enc, rsa.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASS }), { mode: 0o600 });
writeFileSync(files.pkcs1, rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
writeFileSync(files.sec1, ec.privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });

/** The exported text back to a PEM, as the tool that takes that form would read it. */
function backToPem(format: string, text: string): string {
  if (format === 'pem') return text;
  if (format === 'pem-escaped') {
    expect(text.trimEnd().split('\n')).toHaveLength(1);
    return text.trimEnd().replace(/\\n/g, '\n');
  }
  if (format === 'body') {
    expect(text.trimEnd()).toMatch(/^[A-Za-z0-9+/]+=*$/);
    return `-----BEGIN PRIVATE KEY-----\n${text.trimEnd().match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  }
  // env: what a shell gets from sourcing it
  writeFileSync(join(tmp.dir, 'key.env'), text);
  return execFileSync('sh', ['-c', `. "${join(tmp.dir, 'key.env')}"; printf '%s\\n' "$SNOWFLAKE_PRIVATE_KEY_RAW"`], { encoding: 'utf8' });
}

describe('sfauth export', () => {
  it.each(['pem', 'pem-escaped', 'body', 'env'])('--format %s of a plain key reads back to the same fingerprint (sfauth and openssl)', (format) => {
    const r = runCli(['export', files.plain, '--format', format], { cwd: tmp.dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const pem = backToPem(format, r.stdout);
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    writeFileSync(join(tmp.dir, `back-${format}.p8`), pem, { mode: 0o600 });
    expect(runCli(['fingerprint', join(tmp.dir, `back-${format}.p8`)]).stdout.trim()).toBe(fp(rsa.publicKey));
    const pub = openssl(['pkey', '-pubout', '-outform', 'DER'], { input: pem });
    expect('SHA256:' + createHash('sha256').update(pub).digest('base64')).toBe(fp(rsa.publicKey));
  });

  it('an encrypted key stays encrypted (same passphrase); --decrypt to a pipe writes it plain', () => {
    const kept = runCli(['export', files.enc, '--format', 'pem'], { cwd: tmp.dir, env: { PRIVATE_KEY_PASSPHRASE: PASS } });
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    const pub = openssl(['pkey', '-passin', `pass:${PASS}`, '-pubout', '-outform', 'DER'], { input: kept.stdout });
    expect('SHA256:' + createHash('sha256').update(pub).digest('base64')).toBe(fp(rsa.publicKey));
    const plain = runCli(['export', files.enc, '--decrypt', '--format', 'body'], { cwd: tmp.dir, env: { PRIVATE_KEY_PASSPHRASE: PASS } });
    expect(plain.code, plain.stderr).toBe(0);
    expect(backToPem('body', plain.stdout)).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(plain.stdout + plain.stderr).not.toContain(PASS);
    const none = runCli(['export', files.enc], { cwd: tmp.dir });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/PRIVATE_KEY_PASSPHRASE/);
  });

  it('PKCS#1 and SEC1 become PKCS#8', () => {
    for (const [file, key] of [[files.pkcs1, rsa], [files.sec1, ec]] as const) {
      const r = runCli(['export', file], { cwd: tmp.dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      writeFileSync(join(tmp.dir, 'converted.p8'), r.stdout, { mode: 0o600 });
      expect(runCli(['fingerprint', join(tmp.dir, 'converted.p8')]).stdout.trim()).toBe(fp(key.publicKey));
    }
  });

  it('--out writes 0600 and never replaces a file without --force; a public key is refused', () => {
    const out = join(tmp.dir, 'exported.p8');
    const first = runCli(['export', files.plain, '--decrypt', '--out', out], { cwd: tmp.dir });
    expect(first.code, first.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(first.stderr).toMatch(/^✓ wrote exported\.p8 \(pem, not encrypted, mode 0600\), SHA256:/m);
    const again = runCli(['export', files.plain, '--out', out], { cwd: tmp.dir });
    expect(again.code).toBe(2);
    expect(again.stderr).not.toMatch(STACK_TRACE);
    expect(runCli(['export', files.plain, '--out', out, '--force', '--format', 'env'], { cwd: tmp.dir }).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^SNOWFLAKE_PRIVATE_KEY_RAW='-----BEGIN PRIVATE KEY-----\n/);
    writeFileSync(join(tmp.dir, 'k.pub'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    const pub = runCli(['export', join(tmp.dir, 'k.pub')], { cwd: tmp.dir });
    expect(pub.code).toBe(2);
    expect(pub.stderr).toMatch(/is a public key/);
    expect(runCli(['export', files.plain, '--format', 'der'], { cwd: tmp.dir }).code).toBe(2);
  });

  it('--decrypt refuses a terminal (nothing printed); the encrypted form is fine there', async () => {
    const refused = await runCliInPty(['export', files.enc, '--decrypt'], { cwd: tmp.dir, env: { PRIVATE_KEY_PASSPHRASE: PASS }, steps: [] });
    expect(refused.code).toBe(2);
    expect(refused.output).toMatch(/refusing to print a decrypted private key on a terminal/);
    expect(refused.output).not.toMatch(/BEGIN PRIVATE KEY/);
    const kept = await runCliInPty(['export', files.enc], { cwd: tmp.dir, env: { PRIVATE_KEY_PASSPHRASE: PASS }, steps: [] });
    expect(kept.code).toBe(0);
    expect(kept.output).toMatch(/BEGIN ENCRYPTED PRIVATE KEY/);
  });
});
