/**
 * The one error family of sfauth. Every failure a user can cause or meet is an `SfauthError` with a
 * stable `code` (for scripts and `--json`), an exit code (DESIGN.md §1) and, where we can say what to
 * do next, a `hint`. The handler in `cli.ts` is the only place that turns them into output.
 */
export type ExitCode = 1 | 2 | 3 | 130;

export interface SfauthErrorOptions {
  hint?: string;
  /** Extra lines shown after the message (never secrets). */
  details?: string[];
  /** Machine-readable extras for `--json` (never secrets). */
  data?: Record<string, unknown>;
  cause?: unknown;
}

const BRAND = Symbol.for('sfauth.error');

export class SfauthError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly hint?: string;
  readonly details: string[];
  readonly data?: Record<string, unknown>;
  readonly [BRAND] = true;

  constructor(code: string, message: string, exitCode: ExitCode, options: SfauthErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SfauthError';
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options.hint;
    this.details = options.details ?? [];
    this.data = options.data;
  }
}

/** Exit 2: bad usage or bad input (unknown flag, unreadable or malformed key, wrong passphrase…). */
export class UsageError extends SfauthError {
  constructor(code: string, message: string, options?: SfauthErrorOptions) {
    super(code, message, 2, options);
    this.name = 'UsageError';
  }
}

/** Exit 1: a check failed (fingerprint mismatch, token rejected, authentication or statement refused). */
export class CheckFailedError extends SfauthError {
  constructor(code: string, message: string, options?: SfauthErrorOptions) {
    super(code, message, 1, options);
    this.name = 'CheckFailedError';
  }
}

/** Exit 3: network or service failure (DNS, refused, timeout, 5xx after retries, unreadable answers). */
export class ServiceError extends SfauthError {
  constructor(code: string, message: string, options?: SfauthErrorOptions) {
    super(code, message, 3, options);
    this.name = 'ServiceError';
  }
}

/** Exit 130: the user pressed Ctrl-C (at a prompt, or while we worked). */
export class InterruptedError extends SfauthError {
  constructor(message = 'interrupted', hint?: string) {
    super('ERR_INTERRUPTED', message, 130, hint ? { hint } : {});
    this.name = 'InterruptedError';
  }
}

/** True for any SfauthError, also one made by another copy of this module. */
export function isSfauthError(value: unknown): value is SfauthError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}
