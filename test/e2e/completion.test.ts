/**
 * `sfauth completion`: the bash script loaded into a real bash and asked for completions the way
 * bash's completion machinery asks (COMP_WORDS / COMP_CWORD), connection names read from the
 * config at completion time; the zsh script (native `_arguments`) and the fish script are checked
 * line by line for every command and flag. (This machine has no zsh or fish to run
 * them in; bash is always there.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BIN, baseEnv, runCli, tempDir } from '../support/cli.js';

const tmp = tempDir('sfauth-completion-');
afterAll(() => tmp.cleanup());
let env: Record<string, string>;

beforeAll(() => {
  const bin = join(tmp.dir, 'bin');
  mkdirSync(bin);
  symlinkSync(BIN, join(bin, 'sfauth'));
  const sfHome = join(tmp.dir, 'sf');
  mkdirSync(sfHome);
  writeFileSync(join(sfHome, 'connections.toml'), '[loader]\naccount = "a"\n[legacy-ci]\naccount = "b"\n[prod]\naccount = "c"\n', { mode: 0o600 });
  writeFileSync(join(tmp.dir, 'rsa_key.p8'), 'x');
  writeFileSync(join(tmp.dir, 'rsa_key.pub'), 'x');
  env = baseEnv({ PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH}`, SNOWFLAKE_HOME: sfHome, HOME: tmp.dir });
});

/** What bash offers for the words typed so far (the last one is being completed). */
function complete(line: string): string[] {
  const words = line.split(' ');
  const script = `source <(sfauth completion bash)
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_sfauth
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { cwd: tmp.dir, env, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean).sort();
}

describe('bash', () => {
  it('completes commands, then each command\'s flags', () => {
    expect(complete('sfauth te')).toEqual(['test-connection']);
    expect(complete('sfauth ')).toEqual(
      ['--help', '--no-color', '--version', 'audit', 'completion', 'connections', 'export', 'init', 'doctor', 'fingerprint', 'inspect', 'jwt', 'keygen', 'pg-token', 'register', 'revoke', 'rotate', 'sql', 'status', 'test-connection'].sort(),
    );
    expect(complete('sfauth keygen --cu')).toEqual(['--curve']);
    expect(complete('sfauth keygen --c')).toEqual(['--comment', '--curve']);
    expect(complete('sfauth jwt --a')).toEqual(['--account', '--alg']);
    expect(complete('sfauth rotate --ap')).toEqual(['--apply']);
  });

  it('completes connection names from the config, values of fixed flags, and files', () => {
    expect(complete('sfauth test-connection -c ')).toEqual(['legacy-ci', 'loader', 'prod']);
    expect(complete('sfauth status --connection l')).toEqual(['legacy-ci', 'loader']);
    expect(complete('sfauth doctor --admin-connection p')).toEqual(['prod']);
    // a flag whose values depend on the command
    expect(complete('sfauth audit --type ')).toEqual(['all', 'person', 'service']);
    expect(complete('sfauth audit --format ')).toEqual(['csv', 'json', 'markdown', 'table']);
    expect(complete('sfauth keygen --type ')).toEqual(['ec', 'rsa']);
    expect(complete('sfauth keygen --type ')).toEqual(['ec', 'rsa']);
    expect(complete('sfauth pg-token --format e')).toEqual(['env']);
    expect(complete('sfauth jwt --alg RS')).toEqual(['RS256', 'RS384', 'RS512']);
    expect(complete('sfauth jwt --private-key rsa')).toEqual(['rsa_key.p8', 'rsa_key.pub']);
    expect(complete('sfauth fingerprint rsa_key.p')).toEqual(['rsa_key.p8', 'rsa_key.pub']);
    expect(complete('sfauth completion ')).toEqual(['bash', 'fish', 'zsh']);
  });

  it('a broken config gives no names, and no noise', () => {
    const broken = join(tmp.dir, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'connections.toml'), '[loader\n', { mode: 0o600 });
    const r = runCli(['completion', '--list-connections'], { env: { SNOWFLAKE_HOME: broken } });
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
  });
});

describe('zsh and fish scripts', () => {
  it('zsh: native _arguments completion, every command and flag with its description, connection names for every connection flag', () => {
    const r = runCli(['completion', 'zsh']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('#compdef sfauth');
    expect(r.stdout).toMatch(/^if \[\[ \$\{zsh_eval_context\[-1\]\} == loadautofunc \]\]; then _sfauth "\$@"; else compdef _sfauth sfauth; fi$/m);
    expect(r.stdout).not.toMatch(/bashcompinit/);
    for (const name of ['keygen', 'fingerprint', 'sql', 'jwt', 'inspect', 'test-connection', 'status', 'register', 'revoke', 'rotate', 'audit', 'doctor', 'pg-token', 'export', 'completion', 'init', 'connections']) {
      expect(r.stdout).toMatch(new RegExp(`^    '${name}:[^']`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`^    ${name}\\)$`, 'm'));
    }
    // a description's ':' and brackets are escaped for _arguments; its quote closes and reopens the string
    expect(r.stdout).toContain("'--expires-in[named pair (or register --pat)\\: expires after this many days (90 or 90d; 2w works too)]:expires-in: '");
    expect(r.stdout).toContain("'--type[rsa | ec (default\\: rsa; --curve alone means ec)]:type:(rsa ec)'");
    expect(r.stdout).toMatch(/'--private-key\[[^\n]*\]:file:_files'/);
    expect(r.stdout).toMatch(/'--admin-connection\[after a failure, look at the user'\\''s keys[^\n]*\]:connection:_sfauth_connections'/);
    expect(r.stdout).toMatch(/'-c\[a connection from the Snowflake CLI config \(connections\.toml\)\]:connection:_sfauth_connections'/);
    expect(r.stdout).not.toContain('private-key-file');
    // each _arguments spec line: quotes balanced once '\'' joins are taken out
    for (const line of r.stdout.split('\n').filter((l) => /^ {8}'/.test(l))) {
      expect((line.replace(/'\\''/g, '').match(/'/g) ?? []).length % 2, line).toBe(0);
      expect(line.replace(/'\\''/g, '').replace(/\\[[\]:\\]/g, ''), line).toMatch(/^ {8}'[^']*'( \\)?( ;;)?$/);
    }
  });

  it('fish: every command, every visible flag, connection names and fixed values', () => {
    const r = runCli(['completion', 'fish']);
    expect(r.code).toBe(0);
    for (const name of ['keygen', 'fingerprint', 'sql', 'jwt', 'inspect', 'test-connection', 'status', 'register', 'revoke', 'rotate', 'audit', 'doctor', 'pg-token', 'export', 'completion', 'init', 'connections']) {
      expect(r.stdout).toMatch(new RegExp(`^complete -c sfauth -n '__fish_use_subcommand' -a ${name} -d '`, 'm'));
    }
    expect(r.stdout).toContain("complete -c sfauth -n '__fish_seen_subcommand_from status' -s c -l connection -x -a '(sfauth completion --list-connections 2>/dev/null)'");
    expect(r.stdout).toContain("complete -c sfauth -n '__fish_seen_subcommand_from keygen' -l type -x -a 'rsa ec'");
    expect(r.stdout).toContain("complete -c sfauth -n '__fish_seen_subcommand_from jwt' -l private-key -r -F");
    expect(r.stdout).not.toContain('private-key-file'); // hidden aliases stay hidden
    // every line is a complete command or a comment, quotes balanced
    for (const line of r.stdout.trim().split('\n')) {
      expect(line).toMatch(/^(#|complete -c sfauth )/);
      expect((line.replace(/\\'/g, '').match(/'/g) ?? []).length % 2).toBe(0);
    }
  });

  it('an unknown shell: exit 2 with the ones there are', () => {
    const r = runCli(['completion', 'powershell']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("sfauth: no completion for the shell 'powershell': bash, zsh or fish\nhint: e.g. source <(sfauth completion bash)\n");
  });
});
