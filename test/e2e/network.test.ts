/**
 * Networks and proxies end to end (DESIGN.md §1 "(proxy)", §3 "REST calls"): the built binary over
 * TLS to the emulator (a throw-away CA trusted through NODE_EXTRA_CA_CERTS), through the local
 * CONNECT proxy (test/support/proxy.ts) with and without credentials, refusing, silent or absent,
 * NO_PROXY, bad proxy URLs, and a whole rotation through one tunnel.
 *
 * Hosts behind the proxy are `*.snowflakecomputing.test`: the test proxy maps them to the emulator,
 * and `.test` never resolves, so a request that skipped the proxy could not reach anything real.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_TRACE, openssl, runCliAsync, tempDir, type CliResult } from '../support/cli.js';
import { startEmulator, type Emulator } from '../support/emulator.js';
import { startProxy, type TestProxy, type TestProxyOptions } from '../support/proxy.js';
import { makeTestPki, type TestPki } from '../support/tls.js';

const PROXY_PASSWORD = 'pr0xy-S3CRET/p@ss:w%rd';
const BEHIND_PROXY = 'https://myorg-myaccount.snowflakecomputing.test';

let tmp: { dir: string; cleanup: () => void };
let pki: TestPki;
let keyPath: string;
let fingerprint: string;
let secure: Emulator; // https, trusted through the test CA
let plain: Emulator; // http, for HTTP_PROXY
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  tmp = tempDir('sfauth-network-');
  pki = makeTestPki(tmp.dir);
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  keyPath = join(tmp.dir, 'rsa_key.p8');
  writeFileSync(keyPath, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fingerprint = 'SHA256:' + createHash('sha256').update(pair.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  secure = await startEmulator({ tls: pki.server });
  plain = await startEmulator();
  for (const sf of [secure, plain]) sf.addUser('alice', { rsaPublicKey: pair.publicKey });
  mkdirSync(join(tmp.dir, 'home'));
});

afterAll(async () => {
  for (const close of closers) await close();
  await secure.close();
  await plain.close();
  tmp.cleanup();
});

async function proxy(options: TestProxyOptions = {}): Promise<TestProxy> {
  const p = await startProxy({ route: () => ({ host: '127.0.0.1', port: Number(new URL(secure.url).port) }), ...options });
  closers.push(() => p.close());
  return p;
}

function testConnection(host: string, env: Record<string, string | undefined>, extra: string[] = []): Promise<CliResult> {
  return runCliAsync(['test-connection', '--account', 'myorg-myaccount', '--user', 'alice', '--private-key', keyPath, '--host', host, '--timeout', '10s', ...extra], {
    cwd: tmp.dir,
    env: { HOME: join(tmp.dir, 'home'), SNOWFLAKE_HOME: join(tmp.dir, 'home'), ...env },
  });
}

const trusted = () => ({ NODE_EXTRA_CA_CERTS: pki.caFile });

/** Exit code, one `sfauth:` line and a hint, no stack trace, no secret anywhere (codes: expectJsonFailure). */
function expectFailure(r: CliResult, exit: number, message: RegExp, hint: RegExp): void {
  expect(r.code, r.stderr).toBe(exit);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines[0]).toMatch(/^sfauth: /);
  expect(lines[0]).toMatch(message);
  expect(r.stderr).toMatch(/^hint: /m);
  expect(r.stderr.match(/^hint: .*$/m)![0]).toMatch(hint);
  expect(r.stderr).not.toMatch(STACK_TRACE);
  expect(r.stderr + r.stdout).not.toContain(PROXY_PASSWORD);
  expect(r.stderr + r.stdout).not.toContain(encodeURIComponent(PROXY_PASSWORD));
}

async function expectJsonFailure(run: Promise<CliResult>, exit: number, code: string): Promise<Record<string, unknown>> {
  const r = await run;
  expect(r.code, r.stderr).toBe(exit);
  const doc = JSON.parse(r.stderr) as { error: Record<string, unknown> };
  expect(doc.error.code).toBe(code);
  expect(r.stderr).not.toContain(PROXY_PASSWORD);
  return doc.error;
}

describe('TLS', () => {
  it('test-connection over https with the CA from NODE_EXTRA_CA_CERTS', async () => {
    const r = await testConnection(secure.url, trusted());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^user\s+ALICE$/m);
    expect(r.stdout).toContain(`fingerprint ${fingerprint}`);
    const json = await testConnection(secure.url, trusted(), ['--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ user: 'ALICE', host: new URL(secure.url).host });
  });

  it('an untrusted certificate: exit 3, ERR_TLS, the hint names NODE_EXTRA_CA_CERTS, nothing was sent', async () => {
    const before = secure.requests.length;
    const r = await testConnection(secure.url, {});
    expectFailure(r, 3, /TLS certificate of 127\.0\.0\.1:\d+ not trusted \((SELF_SIGNED|UNABLE_TO)/, /NODE_EXTRA_CA_CERTS/);
    expect(secure.requests.length).toBe(before);
    const err = await expectJsonFailure(testConnection(secure.url, {}, ['--json']), 3, 'ERR_TLS');
    expect(err.data).toMatchObject({ stage: 'tls' });
  });

  it('https:// to a plain-http port: exit 3, ERR_TLS at once', async () => {
    const r = await testConnection(plain.url.replace('http:', 'https:'), trusted());
    expectFailure(r, 3, /TLS handshake with .* failed/, /http:\/\//);
  });
});

describe('through an HTTPS_PROXY', () => {
  it('opens a CONNECT tunnel to the host and authenticates through it', async () => {
    const p = await proxy();
    const r = await testConnection(BEHIND_PROXY, { ...trusted(), HTTPS_PROXY: p.url });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('host        myorg-myaccount.snowflakecomputing.test');
    expect(p.connects).toEqual([{ authority: 'myorg-myaccount.snowflakecomputing.test:443', status: 200 }]);
  });

  it('credentials in the proxy URL are sent, and never printed', async () => {
    const p = await proxy({ auth: { user: 'svc@corp', password: PROXY_PASSWORD } });
    const url = p.urlWith('svc@corp', PROXY_PASSWORD);
    const r = await testConnection(BEHIND_PROXY, { ...trusted(), https_proxy: url }, ['--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(p.connects[0]!.proxyAuthorization).toBe(`Basic ${Buffer.from(`svc@corp:${PROXY_PASSWORD}`).toString('base64')}`);
    expect(r.stdout + r.stderr).not.toContain(PROXY_PASSWORD);
  });

  it('407: the proxy wants credentials; exit 3, ERR_PROXY, the hint names the variable', async () => {
    const p = await proxy({ auth: { user: 'svc', password: PROXY_PASSWORD } });
    const none = await testConnection(BEHIND_PROXY, { ...trusted(), HTTPS_PROXY: p.url });
    expectFailure(none, 3, /the proxy http:\/\/127\.0\.0\.1:\d+ \(from HTTPS_PROXY\) refused the tunnel to myorg-myaccount\.snowflakecomputing\.test: HTTP 407/, /put them in HTTPS_PROXY/);
    const wrong = await testConnection(BEHIND_PROXY, { ...trusted(), https_proxy: p.urlWith('svc', 'not-it') });
    expectFailure(wrong, 3, /\(from https_proxy\) refused .* HTTP 407/, /check them/);
    expect(wrong.stderr).not.toContain('not-it');
    const err = await expectJsonFailure(testConnection(BEHIND_PROXY, { ...trusted(), HTTPS_PROXY: p.url }, ['--json']), 3, 'ERR_PROXY');
    expect(err.data).toMatchObject({ status: 407, variable: 'HTTPS_PROXY', stage: 'proxy' });
  });

  it('403 and 502 on CONNECT: exit 3, ERR_PROXY, with a hint for each', async () => {
    const forbidding = await proxy({ refuse: { status: 403, reason: 'Forbidden \u001b[31mby policy' } });
    const r403 = await testConnection(BEHIND_PROXY, { ...trusted(), HTTPS_PROXY: forbidding.url });
    expectFailure(r403, 3, /HTTP 403 Forbidden by policy$/, /NO_PROXY/);
    expect(r403.stderr).not.toContain('\u001b');
    const failing = await proxy({ refuse: { status: 502, reason: 'Bad Gateway' } });
    const r502 = await testConnection(BEHIND_PROXY, { ...trusted(), HTTPS_PROXY: failing.url });
    expectFailure(r502, 3, /HTTP 502 Bad Gateway/, /could not reach .*HTTPS_PROXY/);
  });

  it('a proxy nobody listens on: exit 3, ERR_PROXY, at once', async () => {
    const p = await proxy();
    await p.close();
    const r = await testConnection(BEHIND_PROXY, { ...trusted(), HTTPS_PROXY: p.url });
    expectFailure(r, 3, /cannot use the proxy http:\/\/127\.0\.0\.1:\d+ \(from HTTPS_PROXY\): connection refused/, /check HTTPS_PROXY, or unset it/);
  });

  it('a proxy that never answers: ERR_TIMEOUT at --timeout, saying it waited for the proxy', async () => {
    const p = await proxy({ hang: true });
    const started = Date.now();
    const r = await testConnection(BEHIND_PROXY, { ...trusted(), HTTPS_PROXY: p.url }, ['--timeout', '1s']);
    expectFailure(r, 3, /within 1s, waiting for the proxy http:\/\/127\.0\.0\.1:\d+ \(from HTTPS_PROXY\) to open a tunnel/, /HTTPS_PROXY/);
    expect(p.connects).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('an https:// proxy: TLS to the proxy too', async () => {
    const p = await proxy({ tls: pki.server });
    const r = await testConnection(BEHIND_PROXY, { ...trusted(), HTTPS_PROXY: p.url });
    expect(r.code, r.stderr).toBe(0);
    expect(p.connects).toHaveLength(1);
  });

  it('a TLS-inspecting proxy (a certificate nobody trusts behind the tunnel): ERR_TLS naming the proxy', async () => {
    const inspecting = await startEmulator({ tls: pki.untrusted });
    closers.push(() => inspecting.close());
    const p = await proxy({ route: () => ({ host: '127.0.0.1', port: Number(new URL(inspecting.url).port) }) });
    const r = await testConnection(BEHIND_PROXY, { ...trusted(), HTTPS_PROXY: p.url });
    expectFailure(r, 3, /not trusted through the proxy http:\/\/127\.0\.0\.1:\d+ \(HTTPS_PROXY\)/, /inspecting TLS: set NODE_EXTRA_CA_CERTS/);
  });

  it('a proxy variable that is not a usable URL: exit 2, ERR_PROXY_URL, the value is not echoed', async () => {
    const r = await testConnection(BEHIND_PROXY, { ...trusted(), HTTPS_PROXY: `socks5://svc:${encodeURIComponent(PROXY_PASSWORD)}@127.0.0.1:1080` });
    expectFailure(r, 2, /^sfauth: HTTPS_PROXY is not a proxy URL sfauth can use: the socks5 scheme is not supported/, /set HTTPS_PROXY to http:\/\//);
    expect(r.stderr).not.toContain('svc');
  });

  it('the 16 MiB answer cap holds over TLS through the tunnel', async () => {
    const p = await proxy();
    secure.injectFault({ kind: 'answer', status: 200, body: JSON.stringify({ data: [['a'.repeat(17 * 1024 * 1024)]] }), chunked: true });
    const err = await expectJsonFailure(testConnection(BEHIND_PROXY, { ...trusted(), HTTPS_PROXY: p.url }, ['--json']), 3, 'ERR_BAD_RESPONSE');
    expect(err.message).toMatch(/larger than 16 MiB/);
  });
});

describe('NO_PROXY, HTTP_PROXY and loopback', () => {
  // 0.0.0.0 reaches this machine without being a loopback address, so the proxy rules apply to it
  // (and the test certificate names it).
  const anyAddress = () => secure.url.replace('127.0.0.1', '0.0.0.0');
  const securePort = () => new URL(secure.url).port;

  it('NO_PROXY entries that match the host send it direct; others do not', async () => {
    const p = await proxy();
    const proxied = await testConnection(anyAddress(), { ...trusted(), HTTPS_PROXY: p.url });
    expect(proxied.code, proxied.stderr).toBe(0);
    expect(p.connects.map((c) => c.authority)).toEqual([`0.0.0.0:${securePort()}`]);
    const refusing = await proxy({ refuse: { status: 403 } });
    for (const noProxy of ['0.0.0.0', '0.0.0.0/8', `0.0.0.0:${securePort()}`, '*', 'example.com, 0.0.0.0']) {
      const direct = await testConnection(anyAddress(), { ...trusted(), HTTPS_PROXY: refusing.url, NO_PROXY: noProxy });
      expect(direct.code, `NO_PROXY=${noProxy}: ${direct.stderr}`).toBe(0);
    }
    expect(refusing.connects).toEqual([]);
    const wrongPort = await testConnection(anyAddress(), { ...trusted(), HTTPS_PROXY: refusing.url, no_proxy: '0.0.0.0:1' });
    expect(wrongPort.code).toBe(3);
    expect(refusing.connects).toHaveLength(1);
  });

  it('HTTP_PROXY is for http:// hosts: an https host goes direct with only HTTP_PROXY set', async () => {
    const refusing = await proxy({ refuse: { status: 403 } });
    const r = await testConnection(anyAddress(), { ...trusted(), HTTP_PROXY: refusing.url, http_proxy: refusing.url });
    expect(r.code, r.stderr).toBe(0);
    expect(refusing.connects).toEqual([]);
  });

  it('loopback never goes through a proxy', async () => {
    const refusing = await proxy({ refuse: { status: 403 } });
    for (const host of [secure.url, plain.url]) {
      const r = await testConnection(host, { ...trusted(), HTTPS_PROXY: refusing.url, HTTP_PROXY: refusing.url });
      expect(r.code, r.stderr).toBe(0);
    }
    expect(refusing.connects).toEqual([]);
  });
});

describe('a whole command through one tunnel', () => {
  it('rotate --apply through the proxy: every statement on the pool\'s kept-alive connections (two at most)', async () => {
    const sf = await startEmulator({ tls: pki.server, account: 'MYORG-MYACCOUNT' });
    closers.push(() => sf.close());
    const dir = join(tmp.dir, 'rotate');
    mkdirSync(join(dir, 'home'), { recursive: true });
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = join(dir, 'rsa_key.p8');
    writeFileSync(key, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    sf.addUser('SVC', { rsaPublicKey: pair.publicKey });
    const p = await proxy({ route: () => ({ host: '127.0.0.1', port: Number(new URL(sf.url).port) }) });
    const r = await runCliAsync(['rotate', '--account', 'myorg-myaccount', '--host', BEHIND_PROXY, '--user', 'SVC', '--private-key', key, '--apply', '--no-encrypt', '--json'], {
      cwd: dir,
      env: { HOME: join(dir, 'home'), SNOWFLAKE_HOME: join(dir, 'home', 'sf'), ...trusted(), HTTPS_PROXY: p.url },
    });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ user: 'SVC', applied: true, newSlot: 2 });
    expect(sf.user('SVC').slots[2]?.fingerprint).toBe(doc.newFingerprint);
    expect(sf.requests.length).toBeGreaterThanOrEqual(5);
    // Kept alive: a read's two statements go out together (two tunnels at most), and every later
    // statement reuses them.
    expect(p.connects.length).toBeGreaterThanOrEqual(1);
    expect(p.connects.length).toBeLessThanOrEqual(2);
    openssl(['pkey', '-in', doc.privateKeyPath, '-noout']);
  });
});
