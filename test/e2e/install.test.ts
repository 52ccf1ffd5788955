/**
 * The published shape: `npm pack` of the built tree, installed globally into a temporary prefix,
 * offline. Everything sfauth runs on is bundled into dist/, so the install is exactly one package,
 * and the installed command works.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, baseEnv, openssl, tempDir } from '../support/cli.js';

const tmp = tempDir('sfauth-install-');
afterAll(() => tmp.cleanup());

function npm(args: string[], cwd: string): string {
  const r = spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    env: baseEnv({ npm_config_cache: join(tmp.dir, 'npm-cache'), npm_config_update_notifier: 'false' }),
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

describe('npm pack → npm install -g', { timeout: 180_000 }, () => {
  it('installs exactly one package, offline, and the installed sfauth runs', () => {
    const packed = npm(['pack', '--pack-destination', tmp.dir, '--json'], ROOT);
    const [{ filename, files }] = JSON.parse(packed) as [{ filename: string; files: { path: string }[] }];
    const paths = files.map((f) => f.path);
    expect(paths).toContain('dist/cli.cjs');
    expect(paths).toContain('bin/sfauth');
    expect(paths.filter((p) => !/^(bin\/|dist\/|README\.md$|package\.json$|LICENSE)/.test(p))).toEqual([]);

    const prefix = join(tmp.dir, 'prefix');
    const out = npm(['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', join(tmp.dir, filename)], tmp.dir);
    expect(out).toMatch(/added 1 package/);
    const lib = process.platform === 'win32' ? join(prefix, 'node_modules') : join(prefix, 'lib', 'node_modules');
    expect(readdirSync(lib)).toEqual(['sfauth']);
    expect(existsSync(join(lib, 'sfauth', 'node_modules'))).toBe(false);

    const bin = join(prefix, 'bin', 'sfauth');
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8', env: baseEnv() });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const key = join(tmp.dir, 'k.p8');
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    const jwt = spawnSync(bin, ['jwt', '--account', 'myorg-myaccount', '--user', 'svc', '--private-key', key], {
      encoding: 'utf8',
      env: baseEnv({ SNOWFLAKE_HOME: tmp.dir, HOME: tmp.dir }),
    });
    expect(jwt.status, jwt.stderr).toBe(0);
    expect(jwt.stdout).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });
});
