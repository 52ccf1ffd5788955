/**
 * Snowflake key-pair JWTs (DESIGN.md §3 "Key-pair JWT"): one operation per file under core/jwt/ —
 * algorithms, lifetime, mint, decode, lint, verify. Pure: no I/O, no process or env access; the clock
 * comes in as an argument. Signing and verifying use node:crypto directly (no JWT library: `sfauth
 * jwt` start-up time is measured against a node:crypto floor).
 */
export * from './jwt/algorithms.js';
export * from './jwt/lifetime.js';
export * from './jwt/mint.js';
export * from './jwt/decode.js';
export * from './jwt/lint.js';
export * from './jwt/verify.js';
