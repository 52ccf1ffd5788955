/**
 * Progress for long steps. A spinner (ora, loaded on demand) on an interactive terminal; plain
 * lines on stderr otherwise (CI, pipes), so logs still show what happened.
 */
import type { Output } from './output.js';

export interface Progress {
  /**
   * Starts a step; returns a handle to finish it. `quiet` steps show only as a spinner: in plain
   * mode they print nothing (for waits whose outcome the command reports anyway).
   */
  step(text: string, options?: { quiet?: boolean }): Promise<Step>;
  /**
   * Progress over many items (a fleet): on a terminal a counter that keeps a line per finished item
   * above it; elsewhere (CI, pipes) one plain line per finished item; under --json nothing.
   */
  counter(total: number, text: string): Promise<Counter>;
}

export interface Counter {
  /** One item finished: its line (✓ when ok, ✗ otherwise). */
  advance(line: string, ok: boolean): void;
  end(): void;
}

export interface Step {
  succeed(text?: string): void;
  fail(text?: string): void;
  /** Updates the running text (spinner only; plain mode stays quiet). */
  update(text: string): void;
}

/** Spinners only on an interactive terminal: stderr a TTY and `CI` unset. */
export function spinnerAllowed(env: Record<string, string | undefined>, stderrIsTTY: boolean): boolean {
  return stderrIsTTY && !env.CI && env.TERM !== 'dumb';
}

export function makeProgress(out: Output, useSpinner: boolean): Progress {
  const line = (text: string, ok: boolean) => (ok ? out.success(text) : out.info(`${out.style.red('✗')} ${text}`));
  const plain: Progress = {
    async step(text, options) {
      if (options?.quiet) return { succeed: () => {}, fail: () => {}, update: () => {} };
      return {
        succeed: (t) => out.success(t ?? text),
        fail: (t) => out.info(`${out.style.red('✗')} ${t ?? text}`),
        update: () => {},
      };
    },
    async counter() {
      return { advance: line, end: () => {} };
    },
  };
  // Under --json, stderr carries only the JSON error document (if any): no progress lines.
  if (out.json) return { step: () => plain.step('', { quiet: true }), counter: async () => ({ advance: () => {}, end: () => {} }) };
  if (!useSpinner) return plain;
  return {
    async counter(total, text) {
      if (!(process.stderr.columns > 0)) return plain.counter(total, text);
      const { default: ora } = await import('ora');
      let done = 0;
      const spinner = ora({ text: `${text} 0/${total}`, stream: process.stderr, color: out.color ? 'cyan' : false, isEnabled: true, discardStdin: false }).start();
      return {
        advance: (l, ok) => {
          done++;
          spinner.clear();
          line(l, ok);
          spinner.text = `${text} ${done}/${total}`;
          spinner.render();
        },
        end: () => void spinner.stop(),
      };
    },
    async step(text, options) {
      // A terminal that reports no width (some pseudo-terminals) makes ora clear lines forever.
      if (!(process.stderr.columns > 0)) return plain.step(text, options);
      const { default: ora } = await import('ora');
      const spinner = ora({ text, stream: process.stderr, color: out.color ? 'cyan' : false, isEnabled: true, discardStdin: false }).start();
      // The end marks are ours, not ora's: one glyph everywhere (✓/✗), coloured by the same
      // decision as every other line (NO_COLOR and --no-color included).
      return {
        succeed: (t) => void spinner.stopAndPersist({ symbol: out.style.green('✓'), text: t ?? text }),
        fail: (t) => void spinner.stopAndPersist({ symbol: out.style.red('✗'), text: t ?? text }),
        update: (t) => void (spinner.text = t),
      };
    },
  };
}
