/**
 * File reads and writes with user-facing errors. Writes are atomic (temp file in the same folder,
 * fsync, then link/rename) so a crash never leaves half a key, and new files are created with
 * O_EXCL semantics: an existing path is refused unless the caller asked to overwrite.
 */
import {
  fchownSync,
  accessSync,
  chmodSync,
  closeSync,
  constants as fsConstants,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import { onInterrupt } from './cleanup.js';

/** The `code` of a Node.js system error (`ENOENT`, `EEXIST`…). */
export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Size caps of DESIGN.md §2: a key or config file is at most 1 MiB, a passphrase or token 64 KiB. */
export const KEY_FILE_CAP = 1024 * 1024;
export const SECRET_FILE_CAP = 64 * 1024;
/** How often a pipe that has nothing to read yet is asked again. */
const PIPE_POLL_MS = 10;

function readError(path: string, what: string, flag: string | undefined, err: unknown): UsageError {
  const via = flag ? ` (${flag})` : '';
  switch (errno(err)) {
    case 'ENOENT':
      return new UsageError('ERR_FILE_NOT_FOUND', `${what} not found: ${path}${via}`, { hint: 'check the path and the current folder' });
    case 'EISDIR':
      return new UsageError('ERR_FILE_UNREADABLE', `${what} is a folder, not a file: ${path}${via}`, { hint: 'point at the file itself' });
    case 'EACCES':
    case 'EPERM':
      return new UsageError('ERR_FILE_UNREADABLE', `cannot read ${what} ${path}: permission denied`, {
        hint: 'check the file permissions, or run as the user that owns it',
      });
    default:
      return new UsageError('ERR_FILE_UNREADABLE', `cannot read ${what} ${path}: ${errno(err) ?? (err as Error).message}`, {
        hint: 'check that the path names a readable file',
      });
  }
}

function tooLarge(path: string, what: string, cap: number): UsageError {
  return new UsageError('ERR_INPUT_TOO_LARGE', `${what} ${path} is larger than ${cap / 1024} KiB; nothing that large is a ${what.replace(/ file$/, '')}`, {
    hint: 'point at the file itself (a FIFO or device that never ends is cut off here)',
    data: { path, limitBytes: cap },
  });
}

/** True for `/dev/fd/N` and `/proc/…/fd/N`: a pipe the shell opened for us (`<(cmd)`), its writer already there. */
function isInheritedPipe(path: string): boolean {
  return /^\/(dev|proc\/(self|\d+))\/fd\/\d+$/.test(path);
}

/**
 * Reads a whole input file, at most `cap` bytes (`what` names it in errors: "key file",
 * "passphrase file"). A regular file is read synchronously (no thread pool on the fast path). Anything
 * else (a FIFO, `<(pass show x)`, a terminal, `/dev/zero`) is opened non-blocking and polled from the
 * event loop, so it is cut at the cap and SIGINT/SIGTERM end sfauth at once: a blocking read in the
 * thread pool would keep the process alive after `process.exit`.
 */
export async function readInputFile(path: string, what: string, flag?: string, cap = KEY_FILE_CAP): Promise<Buffer> {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  } catch (err) {
    throw readError(path, what, flag, err);
  }
  try {
    const st = fstatSync(fd);
    const regular = st.isFile();
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      // A regular file's size is known: read it in one piece (one byte more tells if it grew past the cap).
      const want = regular && size === 0 ? st.size + 1 : 64 * 1024;
      const buf = Buffer.allocUnsafe(Math.max(1, Math.min(want, cap + 1 - size)));
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        if (errno(err) === 'EAGAIN' && !regular) {
          await sleep(PIPE_POLL_MS);
          continue;
        }
        throw readError(path, what, flag, err);
      }
      if (n === 0) {
        // A named FIFO reads as empty until its writer opens it: wait for one (signals still work).
        if (!regular && size === 0 && !isInheritedPipe(path) && fstatSync(fd).isFIFO()) {
          await sleep(PIPE_POLL_MS);
          continue;
        }
        break;
      }
      chunks.push(buf.subarray(0, n));
      size += n;
      if (size > cap) throw tooLarge(path, what, cap);
    }
    return Buffer.concat(chunks, size);
  } finally {
    closeSync(fd);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Reads a file sfauth wrote for itself (a rotation's new private key) without following a link, and
 * only when it is a regular file of the current user that nobody else can write (DESIGN.md §7 v3 "What
 * is handed over is what was registered"); the caller checks the content against its fingerprint.
 */
export function readOwnFileNoFollow(path: string, what: string, cap = KEY_FILE_CAP): Buffer {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (err) {
    throw new UsageError('ERR_FILE_UNTRUSTED', `refusing to read ${what} ${path}: ${errno(err) === 'ELOOP' ? 'it is a symbolic link' : (errno(err) ?? String(err))}`, {
      hint: 'another user may have swapped it; check the folder, then run the same command again',
      data: { path },
    });
  }
  try {
    const st = fstatSync(fd);
    const uid = process.getuid?.();
    const why = !st.isFile() ? 'it is not a regular file' : uid !== undefined && st.uid !== uid ? `it belongs to uid ${st.uid}` : st.mode & 0o022 ? 'others can write it' : st.size > cap ? 'it is too large' : null;
    if (why) {
      throw new UsageError('ERR_FILE_UNTRUSTED', `refusing to read ${what} ${path}: ${why}`, {
        hint: 'another user may have swapped it; check the folder, then run the same command again',
        data: { path },
      });
    }
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, null);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Reads at most `cap` bytes of stdin (for `-`); more is ERR_INPUT_TOO_LARGE. */
export async function readStreamBounded(stream: AsyncIterable<Buffer | string>, cap = KEY_FILE_CAP): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    chunks.push(b);
    size += b.length;
    if (size > cap) {
      throw new UsageError('ERR_INPUT_TOO_LARGE', `standard input is larger than ${cap / 1024} KiB; nothing that large is a key or a token`, {
        hint: 'pipe the key or token itself',
        data: { limitBytes: cap },
      });
    }
  }
  return Buffer.concat(chunks, size);
}

/**
 * The passphrase in a file, as `openssl … -passin file:PATH` takes it: the bytes of the first line,
 * up to (not including) the first newline, cut at a NUL byte and at 1023 bytes as OpenSSL's C string
 * buffer is. Never decoded as text: a random binary passphrase stays exactly what it is.
 */
export function passphraseFromFileBytes(bytes: Buffer): Buffer {
  let end = bytes.indexOf(0x0a);
  if (end < 0) end = bytes.length;
  const nul = bytes.indexOf(0x00);
  if (nul >= 0 && nul < end) end = nul;
  return Buffer.from(bytes.subarray(0, Math.min(end, 1023)));
}

/** Reads a secret file (token): the text, without one trailing newline. */
export async function readSecretFile(path: string, what: string, flag: string): Promise<string> {
  return (await readInputFile(path, what, flag, SECRET_FILE_CAP)).toString('utf8').replace(/\r?\n$/, '');
}

/** Reads a passphrase file as bytes (see passphraseFromFileBytes). */
export async function readPassphraseFile(path: string, what: string, flag: string): Promise<Buffer> {
  return passphraseFromFileBytes(await readInputFile(path, what, flag, SECRET_FILE_CAP));
}

export interface NewFile {
  path: string;
  data: string | Buffer;
  /** The exact mode of a secret file (0600), or `'umask'` for a public one (0666 less the umask). */
  mode: number | 'umask';
  /** Keep this owner (a file sfauth rewrites for someone else, as root): set before the rename. */
  owner?: { uid: number; gid: number };
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** An output path that is a folder: neither "exists" (--force cannot replace it) nor writable. */
function folderError(path: string): UsageError {
  return new UsageError('ERR_OUTPUT_UNWRITABLE', `cannot write ${path}: it is a folder`, { hint: 'name a file in it, not the folder itself' });
}

function writeError(path: string, err: unknown): UsageError {
  const dir = dirname(path);
  switch (errno(err)) {
    case 'ENOENT':
      return new UsageError('ERR_OUTPUT_UNWRITABLE', `cannot write ${path}: the folder ${dir} does not exist`, { hint: 'create the folder first or choose another path' });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new UsageError('ERR_OUTPUT_UNWRITABLE', `cannot write ${path}: permission denied in ${dir}`, { hint: 'choose a folder you can write to' });
    case 'ENOTDIR':
      return new UsageError('ERR_OUTPUT_UNWRITABLE', `cannot write ${path}: a part of the path is not a folder`, { hint: 'check the path' });
    case 'EEXIST':
      return fileExists(path);
    default:
      return new UsageError('ERR_OUTPUT_UNWRITABLE', `cannot write ${path}: ${errno(err) ?? (err as Error).message}`, {
        hint: 'choose another path (a folder you can write to, on a file system with free space)',
      });
  }
}

function fileExists(path: string): UsageError {
  return new UsageError('ERR_FILE_EXISTS', `refusing to overwrite ${path}`, { hint: 'pass --force to replace it, or choose another path with --out' });
}

/**
 * Temp files carry the writer's pid so a later run can tell a dead writer's leftovers (which may hold
 * a whole private key after a SIGKILL) from a live writer's: `.<name>.sfauth-<pid>-<random>.tmp`.
 */
const TEMP_NAME = /^\..+\.sfauth-(\d+)-[0-9a-f]{8}\.tmp$/;

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.sfauth-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/** True while process `pid` runs (ours, or another user's). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM'; // alive, but another user's
  }
}

/**
 * Removes the temp files that sfauth writers which are no longer running left in `dir` (a SIGKILL
 * gives no chance to clean up). Only files of the current user are touched.
 */
export function removeStaleTempFiles(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      if (!st.isFile() || (uid !== undefined && st.uid !== uid)) continue;
      unlinkSync(path);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
}

/** Makes a link or rename in `dir` durable: without it a crash may forget the new name. */
function fsyncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    // some file systems cannot fsync a folder; the file itself was fsynced
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes one file atomically; never leaves a partial file at `path` or a stray temp file. */
function writeOne(file: NewFile, overwrite: boolean, durable: boolean): void {
  const temp = tempPathFor(file.path);
  const forget = onInterrupt(() => unlinkSync(temp));
  try {
    let fd: number;
    try {
      fd = openSync(temp, 'wx', file.mode === 'umask' ? 0o666 : file.mode);
    } catch (err) {
      throw writeError(file.path, err);
    }
    try {
      // The umask may have taken bits of a secret file's mode away (0400); it never adds any.
      if (file.mode !== 'umask') chmodSync(temp, file.mode);
      if (file.owner && (file.owner.uid !== process.getuid?.() || file.owner.gid !== process.getgid?.())) fchownSync(fd, file.owner.uid, file.owner.gid);
      writeSync(fd, typeof file.data === 'string' ? Buffer.from(file.data) : file.data);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (overwrite) {
      renameSync(temp, file.path);
    } else {
      try {
        linkSync(temp, file.path); // fails with EEXIST if the path appeared meanwhile: O_EXCL for the final name
      } catch (err) {
        if (errno(err) === 'EEXIST') throw fileExists(file.path);
        if (exists(file.path)) throw fileExists(file.path);
        renameSync(temp, file.path); // filesystems without hard links
      }
    }
  } catch (err) {
    throw err instanceof UsageError ? err : writeError(file.path, err);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // already renamed
    }
    forget();
  }
}

/**
 * Writes several new files all-or-nothing: every path is checked first, and if a later write fails
 * the earlier ones are removed again. Each folder is fsynced once the names are in place, and a dead
 * writer's temp files in it are removed first. `durable: false` (a rotation journal's step updates,
 * which only hint at what a fresh read of the server decides anyway) is as atomic but skips the
 * fsyncs and the sweep: a power loss may bring back the previous step, never a torn file.
 */
export function writeNewFiles(files: NewFile[], options: { overwrite: boolean; durable?: boolean }): void {
  const durable = options.durable !== false;
  for (const f of files) if (isFolder(f.path)) throw folderError(f.path);
  if (!options.overwrite) {
    for (const f of files) if (exists(f.path)) throw fileExists(f.path);
  }
  const folders = [...new Set(files.map((f) => dirname(f.path)))];
  if (durable) folders.forEach(removeStaleTempFiles);
  const written: string[] = [];
  const forget = onInterrupt(() => written.forEach((p) => unlinkSync(p)));
  try {
    for (const f of files) {
      writeOne(f, options.overwrite, durable);
      written.push(f.path);
    }
  } catch (err) {
    for (const p of written) {
      try {
        unlinkSync(p);
      } catch {
        // best effort
      }
    }
    throw err;
  } finally {
    forget();
  }
  if (durable) folders.forEach(fsyncFolder);
}

/**
 * Fails early (before any network call) when a file could not be created in `path`'s folder, with
 * the same message the write itself would give.
 */
export function assertCanCreate(path: string): void {
  const dir = dirname(path);
  try {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    accessSync(dir, fsConstants.W_OK);
  } catch (err) {
    throw writeError(path, err);
  }
}
