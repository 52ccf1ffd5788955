'use strict';
// Floor for `sfauth fingerprint` (DESIGN.md §6): SHA-256 of the SPKI DER, node:crypto only.
// Usage: node bench/floor-fingerprint.cjs KEY
const { readFileSync, writeSync } = require('fs');
const { createPublicKey, createHash } = require('crypto');
const der = createPublicKey(readFileSync(process.argv[2])).export({ type: 'spki', format: 'der' });
writeSync(1, `SHA256:${createHash('sha256').update(der).digest('base64')}\n`);
