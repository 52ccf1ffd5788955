/**
 * File reads and writes with user-facing errors. Writes are atomic (temp file in the same folder,
 * fsync, then link/rename) so a crash never leaves half a key, and new files are created with
 * O_EXCL semantics: an existing path is refused unless the caller asked to overwrite.
 */
import { accessSync, constants as fsConstants, closeSync, fsyncSync, linkSync, lstatSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, chmodSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import { onInterrupt } from './cleanup.js';

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Reads a whole file; `what` names it in errors ("key file", "passphrase file"). */
export function readInputFile(path: string, what: string, flag?: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const via = flag ? ` (${flag})` : '';
    switch (errno(err)) {
      case 'ENOENT':
        throw new UsageError('ERR_FILE_NOT_FOUND', `${what} not found: ${path}${via}`, { hint: 'check the path and the current folder' });
      case 'EISDIR':
        throw new UsageError('ERR_FILE_UNREADABLE', `${what} is a folder, not a file: ${path}${via}`, { hint: 'point at the file itself' });
      case 'EACCES':
      case 'EPERM':
        throw new UsageError('ERR_FILE_UNREADABLE', `cannot read ${what} ${path}: permission denied`, {
          hint: 'check the file permissions, or run as the user that owns it',
        });
      default:
        throw new UsageError('ERR_FILE_UNREADABLE', `cannot read ${what} ${path}: ${errno(err) ?? (err as Error).message}`, {
          hint: 'check that the path names a readable file',
        });
    }
  }
}

/** Reads a secret file (passphrase, token): one trailing newline is not part of the secret. */
export function readSecretFile(path: string, what: string, flag: string): string {
  return readInputFile(path, what, flag).toString('utf8').replace(/\r?\n$/, '');
}

export interface NewFile {
  path: string;
  data: string | Buffer;
  mode: number;
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

/** Writes one file atomically; never leaves a partial file at `path` or a stray temp file. */
function writeOne(file: NewFile, overwrite: boolean): void {
  const temp = join(dirname(file.path), `.${basename(file.path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const forget = onInterrupt(() => unlinkSync(temp));
  try {
    let fd: number;
    try {
      fd = openSync(temp, 'wx', file.mode);
    } catch (err) {
      throw writeError(file.path, err);
    }
    try {
      chmodSync(temp, file.mode); // umask may have taken bits away; it never adds any
      writeSync(fd, typeof file.data === 'string' ? Buffer.from(file.data) : file.data);
      fsyncSync(fd);
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
 * the earlier ones are removed again.
 */
export function writeNewFiles(files: NewFile[], options: { overwrite: boolean }): void {
  for (const f of files) if (isFolder(f.path)) throw folderError(f.path);
  if (!options.overwrite) {
    for (const f of files) if (exists(f.path)) throw fileExists(f.path);
  }
  const written: string[] = [];
  const forget = onInterrupt(() => written.forEach((p) => unlinkSync(p)));
  try {
    for (const f of files) {
      writeOne(f, options.overwrite);
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
