/**
 * Output layer (DESIGN.md §1): data on stdout, everything else on stderr; with `--json` one JSON
 * document on stdout and errors as JSON on stderr. Writes go straight to the file descriptors:
 * touching `process.stdout` builds a stream (and loads tty/net) that the fast paths do not need.
 */
import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { Chalk, type ChalkInstance } from 'chalk';
import { UsageError, type SfauthError } from '../errors.js';
import { plainText, withoutCredentials } from '../core/untrusted-text.js';

export interface Sink {
  write(text: string): void;
}

/**
 * A sink on a file descriptor; retries EAGAIN because an inherited pipe may be non-blocking. A reader
 * that went away (EPIPE: `sfauth … | head`) ends the output quietly. Any other failure on stdout (a
 * full disk, `/dev/full`) is a clean usage error, never "internal error"; on stderr there is nowhere
 * left to say anything, so it is dropped.
 */
export function fdSink(fd: number): Sink {
  return {
    write(text: string) {
      let buf = Buffer.from(text, 'utf8');
      while (buf.length > 0) {
        try {
          const n = writeSync(fd, buf);
          buf = buf.subarray(n);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN') continue;
          if (code === 'EPIPE') return; // reader went away (`sfauth … | head`): nothing left to say
          if (fd !== 1) return;
          throw new UsageError('ERR_OUTPUT_UNWRITABLE', `cannot write to standard output: ${code ?? (err as Error).message}`, {
            hint: code === 'ENOSPC' ? 'the disk that stdout goes to is full; free some space or redirect elsewhere' : 'check where stdout is redirected',
          });
        }
      }
    },
  };
}

/** A sink that keeps what is written, for tests. */
export function memorySink(): Sink & { text(): string } {
  const chunks: string[] = [];
  return { write: (t) => void chunks.push(t), text: () => chunks.join('') };
}

export interface TerminalInfo {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** Each stream is asked on first use only: runs that never need to know never load `node:tty`. */
export function detectTerminal(): TerminalInfo {
  const known: Partial<TerminalInfo> = {};
  const ask = (name: keyof TerminalInfo, fd: number) => (known[name] ??= isatty(fd));
  return {
    get stdin() {
      return ask('stdin', 0);
    },
    get stdout() {
      return ask('stdout', 1);
    },
    get stderr() {
      return ask('stderr', 2);
    },
  };
}

/** Colour only on a terminal, never with NO_COLOR (any non-empty value) or `--no-color`. */
export function colorEnabled(env: Record<string, string | undefined>, isTTY: boolean, noColorFlag: boolean): boolean {
  if (noColorFlag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  if (env.TERM === 'dumb') return false;
  return isTTY;
}

export interface OutputOptions {
  json: boolean;
  /** Colour on stderr. A function is asked on first use (it may need to know whether stderr is a terminal). */
  color: boolean | (() => boolean);
  /** Colour on stdout, decided on its own (DESIGN.md §1: per stream); default: none. */
  dataColor?: boolean | (() => boolean);
  /** Columns of the terminal stdout is (asked on first use); undefined when stdout is not a terminal. */
  dataWidth?: () => number | undefined;
  stdout: Sink;
  stderr: Sink;
}

/**
 * chalk's API without colour: every style (and chain of styles) returns its arguments as text. In CI
 * nothing is a terminal, and loading chalk just to print plain text cost a few milliseconds a run.
 */
const UNSTYLED: ChalkInstance = new Proxy((...text: unknown[]) => text.join(' '), {
  get: (target, property) => (property === 'level' ? 0 : UNSTYLED),
}) as unknown as ChalkInstance;

export class Output {
  readonly json: boolean;
  private readonly stdout: Sink;
  private readonly stderr: Sink;
  private colorOption: boolean | (() => boolean);
  private dataColorOption: boolean | (() => boolean);
  private readonly dataWidthOption: () => number | undefined;
  private chalk?: ChalkInstance;
  private dataChalk?: ChalkInstance;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.colorOption = options.color;
    this.dataColorOption = options.dataColor ?? false;
    this.dataWidthOption = options.dataWidth ?? (() => undefined);
    this.stdout = options.stdout;
    this.stderr = options.stderr;
  }

  get color(): boolean {
    if (typeof this.colorOption === 'function') this.colorOption = this.colorOption();
    return this.colorOption;
  }

  /** Styling for stderr text (info, warn, progress); plain text when colour is off there. */
  get style(): ChalkInstance {
    this.chalk ??= this.color ? new Chalk({ level: 1 }) : UNSTYLED;
    return this.chalk;
  }

  /** Styling for stdout text (`line`): styled only when stdout itself is a terminal. */
  get dataStyle(): ChalkInstance {
    if (typeof this.dataColorOption === 'function') this.dataColorOption = this.dataColorOption();
    this.dataChalk ??= this.dataColorOption ? new Chalk({ level: 1 }) : UNSTYLED;
    return this.dataChalk;
  }

  /**
   * The width a table on stdout must fit, or undefined (piped, `--json`, or `--wide`): DESIGN.md §1
   * v3 "Human output".
   */
  tableWidth(wide?: boolean): number | undefined {
    return wide || this.json ? undefined : this.dataWidthOption();
  }

  /** Raw data on stdout. */
  data(text: string): void {
    this.stdout.write(text);
  }

  /** One line of data on stdout. */
  line(text = ''): void {
    this.stdout.write(text + '\n');
  }

  /** The one JSON document of a `--json` run. */
  document(value: unknown): void {
    this.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  /** A human message on stderr. */
  info(text = ''): void {
    this.stderr.write(text + '\n');
  }

  warn(text: string): void {
    this.stderr.write(`${this.style.yellow('warning:')} ${text}\n`);
  }

  success(text: string): void {
    this.stderr.write(`${this.style.green('✓')} ${text}\n`);
  }

  /**
   * The error report: `sfauth: message` + details + `hint: …`, or JSON under `--json`. Messages may
   * quote what a server or a file said: control characters and credentials never get through.
   */
  error(err: SfauthError): void {
    const safe = (text: string) => withoutCredentials(plainText(text));
    if (this.json) {
      const body: Record<string, unknown> = { code: err.code, message: safe(err.message) };
      if (err.hint) body.hint = safe(err.hint);
      if (err.details.length > 0) body.details = err.details.map(safe);
      if (err.data) Object.assign(body, { data: deepMapStrings(err.data, safe) });
      this.stderr.write(JSON.stringify({ error: body }) + '\n');
      return;
    }
    let text = `${this.style.red('sfauth:')} ${safe(err.message)}\n`;
    for (const d of err.details) text += `  ${safe(d)}\n`;
    if (err.hint) text += `${this.style.dim('hint:')} ${safe(err.hint)}\n`;
    this.stderr.write(text);
  }

  /** A stack trace, only for SFAUTH_DEBUG=1. */
  debug(text: string): void {
    this.stderr.write(this.style.dim(text) + '\n');
  }
}

/** Applies `f` to every string inside a JSON-like value. */
function deepMapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) return value.map((v) => deepMapStrings(v, f));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepMapStrings(v, f)]));
  }
  return value;
}
