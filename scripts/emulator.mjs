// `npm run emulator -- [options]`: the local Snowflake SQL API emulator (test/support/emulator.ts) as
// a server to try sfauth against by hand. Bundles test/support/serve-emulator.ts with esbuild and runs
// it in this process's terminal; see that file for the options (--port, --account, --user, --users
// FILE, --tls). Ctrl-C stops it.
import { buildSync } from 'esbuild';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sfauth-emulator-'));
const out = join(dir, 'serve-emulator.mjs');
// ESM: the test support finds its files through import.meta.url.
buildSync({ entryPoints: [join(root, 'test/support/serve-emulator.ts')], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'error' });
const child = spawn(process.execPath, [out, '--banner', ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => {
  rmSync(dir, { recursive: true, force: true });
  process.exit(code ?? 0);
});
