/**
 * The one writer of the Snowflake CLI's connections.toml (DESIGN.md §7 v3 "Files sfauth edits for the
 * user"): the rotation's connection update goes through it. An edit
 *   - refuses a file another user owns (unless that user's file is being edited by root, whose
 *     result keeps that owner), a file others can write, and a link that leaves its folder;
 *   - holds a lock beside the file while it reads, edits and renames, so two runs editing one file at
 *     once both land (the second re-reads what the first wrote);
 *   - keeps comments, layout, line endings, mode and owner (src/config/key-path-edit.ts changes one value);
 *   - is checked afterwards by resolving the connection again, as `snow` would: the new path must be
 *     what the connection now names.
 */
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import type { Env } from '../context.js';
import { UsageError } from '../errors.js';
import { errno, processAlive, writeNewFiles } from '../io/files.js';
import { connectionTablePath, withKeyPath, type KeyPathEdit } from './key-path-edit.js';
import { withConnectionTable } from './connection-table.js';
import { resolveConnection } from './connection.js';

/** How long a second writer waits for the first one's lock before giving up. */
const LOCK_WAIT_MS = 10_000;
const LOCK_POLL_MS = 25;

function refuse(file: string, why: string): UsageError {
  return new UsageError('ERR_CONNECTION_UPDATE', `refusing to edit ${file}: ${why}`, {
    hint: 'fix the file (chmod 0600, your own file, not a link out of its folder), or point the connection at the new key yourself',
    data: { file },
  });
}

/** The file to write (a link inside its folder resolves to its target) and its status; refusals as above. */
export function checkEditable(file: string, label: string): { real: string; st: Stats } {
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch {
    throw refuse(label, 'it does not exist');
  }
  let real = file;
  if (st.isSymbolicLink()) {
    real = realpathSync(file);
    if (dirname(real) !== realpathSync(dirname(file))) throw refuse(label, `it is a link that leaves its folder (to ${real})`);
    st = lstatSync(real);
  }
  if (!st.isFile()) throw refuse(label, 'it is not a regular file');
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0 && st.uid !== uid) throw refuse(label, `it belongs to uid ${st.uid}, not to you`);
  if (st.mode & 0o022) throw refuse(label, `it is writable by ${st.mode & 0o002 ? 'others' : 'its group'}`);
  return { real, st };
}


/** Runs `fn` holding `<file>.sfauth-lock` (created exclusively; a dead holder's lock is taken over). */
async function withLock<T>(real: string, label: string, now: () => number, fn: () => Promise<T> | T): Promise<T> {
  const lock = `${real}.sfauth-lock`;
  const until = now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw refuse(label, `cannot create its lock ${lock}: ${errno(err) ?? String(err)}`);
      let holder = NaN;
      try {
        holder = Number(readFileSync(lock, 'utf8'));
      } catch {
        // removed meanwhile
      }
      if (Number.isInteger(holder) && holder > 0 && !processAlive(holder)) {
        try {
          unlinkSync(lock);
        } catch {
          // another waiter took it over first
        }
        continue;
      }
      if (now() > until) throw refuse(label, `another sfauth has been editing it for ${LOCK_WAIT_MS / 1000} s (lock ${lock})`);
      await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
    }
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // already gone
    }
  }
}

export interface ConnectionKeyUpdate extends KeyPathEdit {
  /** False when the file already named the new key (a rerun). */
  written: boolean;
}

/**
 * Points connection `name` in `file` at `newPath`, then resolves the connection again (as `snow -c
 * name` would, with this environment) and checks that it names `newPath`.
 */
export async function updateConnectionKeyPath(
  input: { file: string; name: string; newPath: string; label: string },
  ctx: { env: Env; cwd: string; homeDir: string; now(): number },
): Promise<ConnectionKeyUpdate> {
  const { real } = checkEditable(input.file, input.label);
  const result = await withLock(real, input.label, ctx.now, async () => {
    // Read again under the lock: another run may have edited the file since this one started.
    const { st } = checkEditable(input.file, input.label);
    const text = readFileSync(real, 'utf8');
    const edit = withKeyPath(text, connectionTablePath(input.file, input.name), input.newPath, input.label);
    const written = edit.previous !== input.newPath;
    if (written) writeNewFiles([{ path: real, data: edit.text, mode: st.mode & 0o777, owner: { uid: st.uid, gid: st.gid } }], { overwrite: true });
    return { ...edit, written };
  });
  const resolved = await resolveConnection({ connection: input.name }, ctx.env, { cwd: ctx.cwd, homeDir: ctx.homeDir });
  const source = resolved.privateKey;
  if (!source || source.kind !== 'file' || source.path !== input.newPath) {
    throw new UsageError('ERR_CONNECTION_UPDATE', `connection '${input.name}' still does not name the new key after the edit: the key in effect comes from ${source?.origin ?? 'nowhere'}`, {
      hint: 'the value in effect is elsewhere (an environment variable such as SNOWFLAKE_CONNECTIONS_<NAME>_PRIVATE_KEY_FILE, or another file): point it at the new key, then run the same command again',
      data: { file: input.file, connection: input.name },
    });
  }
  return result;
}

/**
 * Writes connection `name` into `file` (created 0600, in a folder created 0700, when missing), with
 * the same refusals, lock and read-back check as a key path update. `replace`: an existing table of
 * that name is replaced (init --force); otherwise it is refused (ERR_CONNECTION_EXISTS).
 */
export async function writeConnection(
  input: { file: string; name: string; entries: Array<[string, string]>; replace: boolean; label: string },
  ctx: { env: Env; cwd: string; homeDir: string; now(): number },
): Promise<{ created: boolean }> {
  const tablePath = connectionTablePath(input.file, input.name);
  let created = false;
  if (!existsSync(input.file)) {
    mkdirSync(dirname(input.file), { recursive: true, mode: 0o700 });
    const text = withConnectionTable('', tablePath, input.entries, input.replace, input.label);
    try {
      writeNewFiles([{ path: input.file, data: text, mode: 0o600 }], { overwrite: false });
      created = true;
    } catch (err) {
      // Another run created it meanwhile: edit it like any existing file.
      if (!existsSync(input.file)) throw err;
    }
  }
  if (!created) {
    const { real } = checkEditable(input.file, input.label);
    await withLock(real, input.label, ctx.now, async () => {
      const { st } = checkEditable(input.file, input.label);
      const text = readFileSync(real, 'utf8');
      const edited = withConnectionTable(text, tablePath, input.entries, input.replace, input.label);
      writeNewFiles([{ path: real, data: edited, mode: st.mode & 0o777, owner: { uid: st.uid, gid: st.gid } }], { overwrite: true });
    });
  }
  const resolved = await resolveConnection({ connection: input.name }, ctx.env, { cwd: ctx.cwd, homeDir: ctx.homeDir });
  const wantedKey = input.entries.find(([k]) => k === 'private_key_file')?.[1];
  const source = resolved.privateKey;
  if (wantedKey && (!source || source.kind !== 'file' || source.path !== wantedKey)) {
    throw new UsageError('ERR_CONNECTION_UPDATE', `connection '${input.name}' was written, but the key in effect comes from ${source?.origin ?? 'nowhere'}`, {
      hint: 'a variable such as SNOWFLAKE_CONNECTIONS_<NAME>_PRIVATE_KEY_FILE or SNOWFLAKE_PRIVATE_KEY_* overrides it: unset it, then run the same command again',
      data: { file: input.file, connection: input.name },
    });
  }
  return { created };
}
