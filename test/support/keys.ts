/**
 * Keys in every format users meet, made at test time with the machine's `openssl` (never
 * committed). Each comes with its public SPKI PEM so tests can compare with OpenSSL's fingerprint.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openssl } from './cli.js';

export const PASSPHRASE = 'correct horse battery staple';

export interface KeyFixtures {
  dir: string;
  passFile: string;
  /** name → path */
  files: Record<string, string>;
  /** name → path of the matching SPKI PEM */
  publicOf: Record<string, string>;
}

export function makeKeyFixtures(dir: string): KeyFixtures {
  const p = (name: string) => join(dir, name);
  const passFile = p('pass.txt');
  writeFileSync(passFile, PASSPHRASE + '\n');
  const files: Record<string, string> = {};
  const publicOf: Record<string, string> = {};
  const run = (args: string[]) => openssl(args, { cwd: dir });

  // RSA base key (PKCS#8) and its derivations.
  run(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa.p8']);
  run(['pkey', '-in', 'rsa.p8', '-pubout', '-out', 'rsa.pub']);
  const rsaPub = p('rsa.pub');
  files['pkcs8'] = p('rsa.p8');
  run(['pkcs8', '-topk8', '-v2', 'aes256', '-in', 'rsa.p8', '-out', 'rsa.aes.p8', '-passout', `file:${passFile}`]);
  files['pkcs8-aes256'] = p('rsa.aes.p8');
  run(['pkcs8', '-topk8', '-v2', 'des3', '-in', 'rsa.p8', '-out', 'rsa.des3.p8', '-passout', `file:${passFile}`]);
  files['pkcs8-des3'] = p('rsa.des3.p8');
  run(['rsa', '-in', 'rsa.p8', '-traditional', '-out', 'rsa.pkcs1.pem']);
  files['pkcs1'] = p('rsa.pkcs1.pem');
  run(['rsa', '-in', 'rsa.p8', '-traditional', '-aes256', '-passout', `file:${passFile}`, '-out', 'rsa.pkcs1.enc.pem']);
  files['pkcs1-encrypted'] = p('rsa.pkcs1.enc.pem');
  files['spki'] = rsaPub;
  run(['rsa', '-pubin', '-in', 'rsa.pub', '-RSAPublicKey_out', '-out', 'rsa.pkcs1.pub']);
  files['pkcs1-public'] = p('rsa.pkcs1.pub');
  run(['pkcs8', '-topk8', '-nocrypt', '-in', 'rsa.p8', '-outform', 'DER', '-out', 'rsa.p8.der']);
  files['pkcs8-der'] = p('rsa.p8.der');
  run(['pkey', '-in', 'rsa.p8', '-outform', 'DER', '-out', 'rsa.pkcs1.der']); // OpenSSL 3 writes RSA DER as PKCS#1
  files['pkcs1-der'] = p('rsa.pkcs1.der');
  run(['pkey', '-pubin', '-in', 'rsa.pub', '-outform', 'DER', '-out', 'rsa.pub.der']);
  files['spki-der'] = p('rsa.pub.der');
  run(['pkcs8', '-topk8', '-v2', 'aes256', '-in', 'rsa.p8', '-outform', 'DER', '-out', 'rsa.enc.der', '-passout', `file:${passFile}`]);
  files['pkcs8-encrypted-der'] = p('rsa.enc.der');
  const body = openssl(['pkey', '-pubin', '-in', rsaPub, '-outform', 'DER']).toString('base64');
  writeFileSync(p('rsa.body.txt'), body + '\n');
  files['base64-body'] = p('rsa.body.txt');
  // `openssl genrsa -traditional` straight away (PKCS#1).
  run(['genrsa', '-traditional', '-out', 'genrsa.pem', '2048']);
  run(['rsa', '-in', 'genrsa.pem', '-pubout', '-out', 'genrsa.pub']);
  files['genrsa-traditional'] = p('genrsa.pem');
  publicOf['genrsa-traditional'] = p('genrsa.pub');
  for (const k of Object.keys(files)) if (!publicOf[k]) publicOf[k] = rsaPub;

  // EC: `openssl ecparam -genkey` (SEC1 with an EC PARAMETERS block first), and PKCS#8 of it.
  for (const [curve, name] of [['prime256v1', 'p256'], ['secp384r1', 'p384'], ['secp521r1', 'p521']] as const) {
    run(['ecparam', '-name', curve, '-genkey', '-out', `${name}.sec1.pem`]);
    run(['pkey', '-in', `${name}.sec1.pem`, '-pubout', '-out', `${name}.pub`]);
    run(['pkcs8', '-topk8', '-nocrypt', '-in', `${name}.sec1.pem`, '-out', `${name}.p8`]);
    files[`ec-${name}-sec1`] = p(`${name}.sec1.pem`);
    files[`ec-${name}-pkcs8`] = p(`${name}.p8`);
    files[`ec-${name}-spki`] = p(`${name}.pub`);
    for (const suffix of ['sec1', 'pkcs8', 'spki']) publicOf[`ec-${name}-${suffix}`] = p(`${name}.pub`);
  }
  return { dir, passFile, files, publicOf };
}
