/**
 * A throw-away PKI for TLS tests, made with the machine's openssl: a CA, and a server certificate it
 * signed for the names the tests use (loopback, and `*.snowflakecomputing.test` for hosts reached
 * through the test proxy: `.test` never resolves, so nothing can leak to a real server).
 *
 * ```ts
 * const pki = makeTestPki(dir);
 * const sf = await startEmulator({ tls: pki.server });
 * runCli([...], { env: { NODE_EXTRA_CA_CERTS: pki.caFile } });
 * ```
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openssl } from './cli.js';

export interface TestPki {
  /** The CA certificate (PEM) file: what NODE_EXTRA_CA_CERTS points at. */
  caFile: string;
  caPem: string;
  /** The server's certificate and key (PEM), for `startEmulator({ tls })` or a TLS proxy. */
  server: { cert: string; key: string };
  /** Another CA's server certificate for the same names: valid-looking, not trusted. */
  untrusted: { cert: string; key: string };
}

export const TEST_TLS_NAMES = ['localhost', '*.snowflakecomputing.test', 'proxy.test'];

/** Makes the PKI in `dir` (a few EC keys: ~50 ms). */
export function makeTestPki(dir: string): TestPki {
  const ca = makeCa(dir, 'ca');
  const other = makeCa(dir, 'other-ca');
  const server = issue(dir, 'server', ca);
  const untrusted = issue(dir, 'untrusted', other);
  return { caFile: ca.certFile, caPem: readFileSync(ca.certFile, 'utf8'), server, untrusted };
}

interface Ca {
  certFile: string;
  keyFile: string;
}

function makeCa(dir: string, name: string): Ca {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=sfauth test ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certFile, keyFile };
}

function issue(dir: string, name: string, ca: Ca): { cert: string; key: string } {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.pem`);
  const extFile = join(dir, `${name}.ext`);
  // 0.0.0.0 reaches this machine without being a loopback address: proxy rules apply to it.
  const names = [...TEST_TLS_NAMES.map((n) => `DNS:${n}`), 'IP:127.0.0.1', 'IP:::1', 'IP:0.0.0.0'].join(',');
  writeFileSync(extFile, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${names}\n`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', extFile]);
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}
