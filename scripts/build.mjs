// Builds what bin/sfauth runs (DESIGN.md §6: start-up is the product's latency in CI loops):
//
//   dist/cli.cjs          the CLI as one CommonJS bundle. CommonJS because an ESM bundle hoists every
//                         import, so crypto and friends would load even for `--help`; the commands'
//                         dynamic imports stay lazy inside it (esbuild turns them into deferred requires).
//   dist/vendor/*.cjs     heavy dependencies that only interactive paths use (prompts, spinner), in
//                         files of their own, so the main bundle stays small to read and compile.
//   dist/cli.cjs.cache    a V8 code cache for the bundle, trained by running `sfauth jwt` once; the
//                         launcher compiles the bundle with it (Node 20 has no module compile cache).
//
// `npm run bench` measures each of these; keep a trick only while it pays.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Dependencies bundled on their own into dist/vendor/<name>.cjs, loaded when first imported. */
const VENDOR = { '@inquirer/prompts': 'prompts', ora: 'ora' };

/**
 * Modules the fast paths import but rarely use: importers get a stub whose exports load the real
 * module on first use. commander requires child_process (which loads net, dgram…) for executable
 * subcommands sfauth has none of; `node:tty` and chalk (whose colour detection loads tty at import)
 * are only needed once something is printed in colour or a terminal matters.
 */
const LAZY = ['node:child_process', 'node:tty', 'node:readline', 'chalk'];

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minifySyntax: true, // full minification saved ~1% (within noise) and would cost readable stack traces
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: root,
};

// `import('ora')` → a one-line stub module that requires ./vendor/ora.cjs. Through the stub, esbuild
// turns the import() into a deferred require; an import() left in the bundle would fail, since the
// launcher compiles the bundle with vm.Script (no dynamic-import callback).
const vendorPlugin = {
  name: 'vendor',
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(VENDOR).map(escape).join('|')})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'vendor' }));
    b.onLoad({ filter: /.*/, namespace: 'vendor' }, (args) => ({
      loader: 'js',
      // Our sources are ESM in a "type": "module" package, so esbuild gives `import()` Node's
      // semantics: `default` is the whole module.exports. Make that the default export itself
      // (ora's function), carrying the named exports (inquirer's password, confirm) as properties.
      contents: `const m = require('./vendor/${VENDOR[args.path]}.cjs');
module.exports = typeof m.default === 'function' ? Object.assign(m.default, m) : m;`,
    }));
    b.onResolve({ filter: /^\.\/vendor\//, namespace: 'vendor' }, (args) => ({ path: args.path, external: true }));
  },
};

const lazyPlugin = {
  name: 'lazy',
  setup(b) {
    const filter = new RegExp(`^(${LAZY.map(escape).join('|')})$`);
    // The stub's own require of the module resolves normally (the real module, bundled or built in).
    b.onResolve({ filter }, (args) => (args.namespace === 'lazy' ? undefined : { path: args.path, namespace: 'lazy' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, async (args) => {
      const names = Object.keys(await import(args.path));
      return {
        resolveDir: root,
        loader: 'js',
        contents: `// lazy stub of ${args.path} (scripts/build.mjs)
let real;
const load = () => (real ??= require(${JSON.stringify(args.path)}));
exports.__esModule = true;
for (const name of ${JSON.stringify(names)}) {
  Object.defineProperty(exports, name, {
    enumerable: true,
    get: () => (name === 'default' && !load().__esModule ? load() : load()[name]),
  });
}
`,
      };
    });
  },
};

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

// Build into a staging folder, then rename each file into dist/: a rename replaces atomically, so an
// sfauth started meanwhile (a test run in another terminal) never finds dist/ empty or half-written.
mkdirSync(join(dist, 'vendor'), { recursive: true });
const staging = mkdtempSync(join(dist, '.staging-'));
try {
  await build({
    ...common,
    entryPoints: ['src/cli.ts'],
    outfile: join(staging, 'cli.cjs'),
    plugins: [vendorPlugin, lazyPlugin],
    define: { __SFAUTH_VERSION__: JSON.stringify(pkg.version) },
  });
  if (/\bimport\(/.test(readFileSync(join(staging, 'cli.cjs'), 'utf8'))) {
    throw new Error('build: dist/cli.cjs has an import() that the launcher cannot run (see vendorPlugin)');
  }
  for (const [name, file] of Object.entries(VENDOR)) {
    await build({ ...common, entryPoints: [name], outfile: join(staging, 'vendor', `${file}.cjs`) });
  }
  for (const file of Object.values(VENDOR)) renameSync(join(staging, 'vendor', `${file}.cjs`), join(dist, 'vendor', `${file}.cjs`));
  renameSync(join(staging, 'cli.cjs'), join(dist, 'cli.cjs'));
  rmSync(join(dist, 'cli.cjs.cache'), { force: true }); // belongs to the old bundle
  rmSync(join(dist, 'cli.cjs.size.cache'), { force: true });
} finally {
  rmSync(staging, { recursive: true, force: true });
}

trainCodeCache();

/**
 * Runs `sfauth jwt`, then `sfauth test-connection`, through the launcher with SFAUTH_WRITE_CODE_CACHE=1,
 * so the cache holds the functions real runs compile (a cache made right after compiling holds only
 * the top level). No cache is not an error: the launcher then compiles the bundle as usual.
 */
function trainCodeCache() {
  const tmp = mkdtempSync(join(tmpdir(), 'sfauth-build-'));
  try {
    const key = join(tmp, 'key.p8');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const env = { PATH: process.env.PATH, HOME: tmp, SNOWFLAKE_HOME: tmp, SFAUTH_WRITE_CODE_CACHE: '1' };
    const run = spawnSync(process.execPath, ['bin/sfauth', 'jwt', '--account', 'build', '--user', 'build', '--private-key', key], {
      cwd: root,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
    // Then the network path, from that cache on: test-connection against a loopback port nobody
    // listens on (refused at once, no server needed) compiles the session, client and HTTP transport,
    // and the cache written at its exit holds both runs' functions.
    spawnSync(process.execPath, ['bin/sfauth', 'test-connection', '--account', 'build', '--user', 'build', '--private-key', key, '--host', 'http://127.0.0.1:9', '--timeout', '2s'], {
      cwd: root,
      env,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    // A run that failed still trains a valid cache (of the paths it took); only a missing one is news.
    if (!existsSync(join(dist, 'cli.cjs.cache'))) {
      console.warn(`build: no code cache written (sfauth jwt exited ${run.status}: ${run.stderr.trim().split('\n')[0]})`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
