/**
 * In-process throughput, run by bench/run.mjs in its own process (bundled with esbuild first):
 *   keygen  the project's generateKeyPair vs raw crypto.generateKeyPair, RSA-2048, ratio of means;
 *   jwt/s   the project's JWT minting (src/core/jwt.ts, when present) vs the floor's crypto.sign.
 * Usage: node throughput.cjs KEY.p8 KEYS SECONDS [JWT_MODULE.cjs] → one JSON line on stdout.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPair as rawGenerate, sign, type KeyObject } from 'node:crypto';
import { readFileSync, writeSync } from 'node:fs';
import { generateKeyPair } from '../src/core/generate-key.js';

const [keyFile, keysArg, secondsArg, jwtModule] = process.argv.slice(2);
const KEYS = Number(keysArg);
const SECONDS = Number(secondsArg);
const ACCOUNT = 'MYORG-BENCH';
const USER = 'BENCH_USER';

const stats = (xs: number[]) => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return { n: xs.length, mean, sd };
};

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/**
 * RSA key generation time is dominated by the random prime search (coefficient of variation ≈ 0.5),
 * so the two sides run as concurrent pairs on the two pool threads: both see the same machine load,
 * and the wall time halves. The order within a pair alternates.
 */
async function keygen() {
  const project: number[] = [];
  const raw: number[] = [];
  const rawOnce = () =>
    new Promise((resolve, reject) =>
      rawGenerate('rsa', { modulusLength: 2048, publicExponent: 0x10001 }, (err, pub, priv) => (err ? reject(err) : resolve({ pub, priv }))),
    );
  const projectOnce = () => generateKeyPair({ type: 'rsa', bits: 2048 });
  for (let i = 0; i < KEYS; i++) {
    const [a, b] =
      i % 2 === 0
        ? await Promise.all([timed(projectOnce), timed(rawOnce)])
        : await Promise.all([timed(rawOnce), timed(projectOnce)]).then(([r, p]) => [p, r]);
    project.push(a!);
    raw.push(b!);
  }
  return { project: stats(project), raw: stats(raw) };
}

/** What bench/floor-jwt.cjs does per token, in-process. */
function rawMint(key: KeyObject, fp: string): string {
  const sub = `${ACCOUNT}.${USER}`;
  const iat = Math.floor(Date.now() / 1000);
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = part({ alg: 'RS256', typ: 'JWT' }) + '.' + part({ iss: `${sub}.SHA256:${fp}`, sub, iat, exp: iat + 3600 });
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

type Mint = () => string;

/** Tokens per second of each side, in alternating slices so drift hits both. */
function rate(sides: Record<string, Mint>, seconds: number) {
  const counts: Record<string, number> = {};
  const elapsed: Record<string, number> = {};
  const slice = 250;
  for (let t = 0; t < (seconds * 1000) / slice / 2; t++) {
    for (const [name, mint] of Object.entries(sides)) {
      const t0 = performance.now();
      let n = 0;
      while (performance.now() - t0 < slice) {
        mint();
        n++;
      }
      counts[name] = (counts[name] ?? 0) + n;
      elapsed[name] = (elapsed[name] ?? 0) + (performance.now() - t0);
    }
  }
  return Object.fromEntries(Object.keys(sides).map((k) => [k, (counts[k]! / elapsed[k]!) * 1000]));
}

/** The project's mintJwt (src/core/jwt.ts), when it is there and answers as expected; else why not. */
function projectMint(key: KeyObject, fp: string): { mint?: Mint; why?: string } {
  if (!jwtModule) return { why: 'src/core/jwt.ts not present' };
  const { mintJwt } = require(jwtModule) as { mintJwt?: (input: Record<string, unknown>) => { token: string } };
  if (typeof mintJwt !== 'function') return { why: 'src/core/jwt.ts exports no mintJwt' };
  const mint = () =>
    mintJwt({ account: ACCOUNT, user: USER, privateKey: key, fingerprint: `SHA256:${fp}`, issuedAt: Math.floor(Date.now() / 1000), lifetimeSeconds: 3600 }).token;
  try {
    const payload = JSON.parse(Buffer.from(mint().split('.')[1]!, 'base64url').toString());
    if (payload.iss !== `${ACCOUNT}.${USER}.SHA256:${fp}`) return { why: `mintJwt gave iss ${payload.iss}` };
  } catch (err) {
    return { why: `mintJwt failed: ${(err as Error).message}` };
  }
  return { mint };
}

async function main() {
  const key = createPrivateKey(readFileSync(keyFile!));
  const fp = createHash('sha256').update(createPublicKey(key).export({ type: 'spki', format: 'der' })).digest('base64');
  const result: Record<string, unknown> = { keygen: await keygen() };
  const project = projectMint(key, fp);
  const sides: Record<string, Mint> = { raw: () => rawMint(key, fp) };
  if (project.mint) sides.project = project.mint;
  result.jwt = { ...rate(sides, SECONDS), why: project.why };
  writeSync(1, JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    writeSync(2, String(err?.stack ?? err) + '\n');
    process.exit(1);
  },
);
