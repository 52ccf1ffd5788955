/**
 * The threat model of DESIGN.md §7 for programmatic access tokens ("Secrets shown once"): a secret
 * that exists once, in a ROTATE's or ADD's answer, must reach its one place and nothing else, even
 * with a hostile server, a store that echoes what it gets, or a journal planted by another user (it
 * says which token objects a rerun removes).
 */
import { describe, expect, it } from 'vitest';
import { chmodSync, chownSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { STACK_TRACE } from '../support/cli.js';
import { alters, lastError, scanForSecrets, world } from '../support/pat-world.js';

const isRoot = process.getuid?.() === 0;

/** Where the journal of ALICE's token ETL lives in a world's HOME. */
function journalPath(home: string): string {
  return join(home, '.local', 'state', 'sfauth', 'pats', 'myorg-myaccount', 'alice', 'etl.rotate.json');
}
const planted = (): string =>
  JSON.stringify({
    version: 1,
    kind: 'sfauth-rotate-pat',
    account: 'MYORG-MYACCOUNT',
    targetUser: 'ALICE',
    targetKey: 'ALICE',
    name: 'ETL',
    roleRestriction: null,
    graceHours: 24,
    destination: 'file',
    knownRotated: [],
    // What a hostile journal would make a rerun remove: the object holding the program's secret.
    rotatedTokenName: 'SOMETHING',
    lost: ['ETL_ROTATED_1765000000000'],
    createdAt: '2026-12-08T00:00:00.000Z',
    updatedAt: '2026-12-08T00:00:00.000Z',
    step: 'registered',
  });

describe.concurrent('threats: programmatic access tokens', { timeout: 60_000 }, () => {
  it('a journal another user could have written is refused, never followed: nothing is removed', async () => {
    for (const how of ['group-writable', 'symlink', ...(isRoot ? ['foreign-owner'] : [])]) {
      const w = await world();
      w.sf.addPatObject('ALICE', 'ETL', { secret: 'program-secret-0123456789abcdef' });
      w.sf.addPatObject('ALICE', 'ETL_ROTATED_1765000000000', { rotatedTo: 'ETL', secret: 'older-secret-0123456789abcdef' });
      const path = journalPath(w.env.HOME!);
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      if (how === 'symlink') {
        writeFileSync(join(w.dir, 'elsewhere.json'), planted(), { mode: 0o600 });
        symlinkSync(join(w.dir, 'elsewhere.json'), path);
      } else {
        writeFileSync(path, planted(), { mode: 0o600 });
        if (how === 'group-writable') chmodSync(path, 0o620);
        else chownSync(path, 65534, 65534);
      }
      const r = await w.admin('rotate', ['--target-user', 'ALICE', '--pat', 'ETL', '--out', 'x.token', '--apply', '--json']);
      expect(r.code, `${how}: ${r.stderr}`).toBe(2);
      expect(lastError(r).code).toBe('ERR_FILE_UNTRUSTED');
      expect(r.stderr).not.toMatch(STACK_TRACE);
      expect(alters(w.sf), how).toEqual([]);
      expect(w.sf.patsOf('ALICE')).toHaveLength(2);
    }
  });

  it("a journal of yours naming another token as 'lost': the fresh listing before the REMOVE stops it", async () => {
    const w = await world();
    w.sf.addPatObject('ALICE', 'ETL', { secret: 'program-secret-0123456789abcdef' });
    w.sf.addPatObject('ALICE', 'OTHER', { secret: 'other-program-0123456789abcdef' });
    const path = journalPath(w.env.HOME!);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, planted().replace('"ETL_ROTATED_1765000000000"', '"OTHER"').replace('"SOMETHING"', 'null'), { mode: 0o600 });
    const r = await w.admin('rotate', ['--target-user', 'ALICE', '--pat', 'ETL', '--out', 'x.token', '--apply', '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(lastError(r)).toMatchObject({ code: 'ERR_ROTATION_CONFLICT', message: 'OTHER is not a rotated-out object of ETL holding a lost secret; nothing was removed' });
    expect(alters(w.sf)).toEqual([]);
    expect(w.sf.patsOf('ALICE').map((t) => t.name)).toEqual(['ETL', 'OTHER']);
  });

  it('a server that quotes the new secret back in its refusal of the verification: the secret is cut out', async () => {
    const w = await world();
    w.sf.addPatObject('ALICE', 'ETL', { secret: 'program-secret-0123456789abcdef' });
    w.sf.injectFault({ kind: 'answer', status: 401, match: /CURRENT_USER/, times: 20, body: (bearer) => JSON.stringify({ code: '394400', message: `Programmatic access token ${bearer} is invalid.`, success: false }) });
    const r = await w.admin('rotate', ['--target-user', 'ALICE', '--pat', 'ETL', '--out', 'x.token', '--apply', '--json', '--timeout', '5s']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('<redacted>');
    expect(lastError(r).details!.join('\n')).toMatch(/the new secret of ETL was not delivered and is lost; the program's secret still works \(ETL_ROTATED_\d+/);
    expect(readdirSync(w.dir)).not.toContain('x.token');
    scanForSecrets(w);
  });

  it('a store that echoes the secret shows a mark instead', async () => {
    const w = await world();
    w.sf.addPatObject('ALICE', 'ETL', { secret: 'program-secret-0123456789abcdef' });
    const r = await w.admin('rotate', ['--target-user', 'ALICE', '--pat', 'ETL', '--store-cmd', 'tee /dev/stderr; echo; cat /dev/null', '--apply']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('store: [the token secret, not shown]');
    scanForSecrets(w);
  });
});
