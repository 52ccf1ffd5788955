'use strict';
// Floor for `sfauth test-connection` (DESIGN.md §6): mint the key-pair JWT with node:crypto, POST the
// context query to the SQL API with node:http(s), print the row.
// Usage: node bench/floor-test-connection.cjs KEY.p8 ACCOUNT USER BASE_URL
const { readFileSync, writeSync } = require('fs');
const { createPrivateKey, createPublicKey, createHash, sign, randomUUID } = require('crypto');
const [keyFile, account, user, base] = process.argv.slice(2);
const key = createPrivateKey(readFileSync(keyFile));
const fp = createHash('sha256').update(createPublicKey(key).export({ type: 'spki', format: 'der' })).digest('base64');
const sub = `${account}.${user}`.toUpperCase(), iat = Math.floor(Date.now() / 1000);
const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
const input = part({ alg: 'RS256', typ: 'JWT' }) + '.' + part({ iss: `${sub}.SHA256:${fp}`, sub, iat, exp: iat + 3600 });
const token = `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
const url = new URL(`/api/v2/statements?requestId=${randomUUID()}`, base);
const body = JSON.stringify({ statement: 'SELECT CURRENT_ACCOUNT(), CURRENT_USER(), CURRENT_ROLE()', timeout: 60 });
const headers = { Authorization: `Bearer ${token}`, 'X-Snowflake-Authorization-Token-Type': 'KEYPAIR_JWT', 'Content-Type': 'application/json', Accept: 'application/json', 'User-Agent': 'sfauth/floor' };
const req = require(url.protocol === 'https:' ? 'https' : 'http').request(url, { method: 'POST', headers }, (res) => {
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => {
    const answer = JSON.parse(Buffer.concat(chunks).toString());
    if (res.statusCode !== 200) process.exit(3);
    writeSync(1, `${answer.data[0].join(' ')}\n`);
  });
});
req.end(body);
