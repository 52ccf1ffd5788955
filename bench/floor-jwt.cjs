'use strict';
// Floor for `sfauth jwt` (DESIGN.md §6): the same token with node:crypto only.
// Usage: node bench/floor-jwt.cjs KEY.p8 ACCOUNT USER
const { readFileSync, writeSync } = require('fs');
const { createPrivateKey, createPublicKey, createHash, sign } = require('crypto');
const [keyFile, account, user] = process.argv.slice(2);
const key = createPrivateKey(readFileSync(keyFile));
const fp = createHash('sha256').update(createPublicKey(key).export({ type: 'spki', format: 'der' })).digest('base64');
const sub = `${account}.${user}`.toUpperCase(), iat = Math.floor(Date.now() / 1000);
const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const input = part({ alg: 'RS256', typ: 'JWT' }) + '.' + part({ iss: `${sub}.SHA256:${fp}`, sub, iat, exp: iat + 3600 });
writeSync(1, `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}\n`);
