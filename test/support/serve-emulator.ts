/**
 * The emulator (test/support/emulator.ts) as a process of its own, for `npm run bench` and for trying
 * sfauth by hand. Prints one JSON line on stdout, `{"url", "account"[, "caFile"]}`, once it listens,
 * and serves until stdin closes or it gets SIGINT/SIGTERM.
 *
 *   serve-emulator [--account NAME] [--port N] [--user NAME[=PUBLIC_KEY.pem]]... [--tls]
 *
 * `--tls` serves HTTPS with a certificate from a throw-away CA (test/support/tls.ts); `caFile` is that
 * CA's certificate, for NODE_EXTRA_CA_CERTS. It is deleted when the emulator stops.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulator } from './emulator.js';
import { makeTestPki, type TestPki } from './tls.js';

const { values } = parseArgs({
  options: {
    account: { type: 'string', default: 'MYORG-MYACCOUNT' },
    port: { type: 'string', default: '0' },
    user: { type: 'string', multiple: true, default: [] },
    tls: { type: 'boolean', default: false },
  },
});

let pki: TestPki | undefined;
if (values.tls) {
  const dir = mkdtempSync(join(tmpdir(), 'sfauth-emulator-ca-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  pki = makeTestPki(dir);
}
const sf = await startEmulator({ account: values.account, port: Number(values.port), ...(pki ? { tls: pki.server } : {}) });
for (const spec of values.user) {
  const [name, keyFile] = spec.split('=', 2) as [string, string | undefined];
  sf.addUser(name, keyFile ? { rsaPublicKey: readFileSync(keyFile, 'utf8') } : {});
}
process.stdout.write(JSON.stringify({ url: sf.url, account: sf.account, ...(pki ? { caFile: pki.caFile } : {}) }) + '\n');

const stop = () => void sf.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.stdin.on('end', stop).on('error', stop).resume();
