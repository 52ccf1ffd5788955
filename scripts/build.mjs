// Bundles the CLI into one CommonJS file. CommonJS because an ESM bundle hoists every import, so
// crypto and friends would load even for `--version` (DESIGN.md §6); dynamic imports of commands stay
// lazy inside the bundle (esbuild turns them into deferred requires).
import { build } from 'esbuild';
import { readFileSync, rmSync, mkdirSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
mkdirSync(new URL('../dist', import.meta.url), { recursive: true });

await build({
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/cli.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { __SFAUTH_VERSION__: JSON.stringify(pkg.version) },
});
