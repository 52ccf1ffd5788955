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
  const plain: Progress = {
    async step(text, options) {
      if (options?.quiet) return { succeed: () => {}, fail: () => {}, update: () => {} };
      return {
        succeed: (t) => out.success(t ?? text),
        fail: (t) => out.info(`${out.style.red('✗')} ${t ?? text}`),
        update: () => {},
      };
    },
  };
  // Under --json, stderr carries only the JSON error document (if any): no progress lines.
  if (out.json) return { step: () => plain.step('', { quiet: true }) };
  if (!useSpinner) return plain;
  return {
    async step(text, options) {
      // A terminal that reports no width (some pseudo-terminals) makes ora clear lines forever.
      if (!(process.stderr.columns > 0)) return plain.step(text, options);
      const { default: ora } = await import('ora');
      const spinner = ora({ text, stream: process.stderr, color: 'cyan', isEnabled: true, discardStdin: false }).start();
      return {
        succeed: (t) => void spinner.succeed(t ?? text),
        fail: (t) => void spinner.fail(t ?? text),
        update: (t) => void (spinner.text = t),
      };
    },
  };
}
