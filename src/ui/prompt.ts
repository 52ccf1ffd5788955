/**
 * Prompts. Only on a terminal (stdin and stderr both TTYs); the caller decides what a missing value
 * means otherwise. The inquirer modules are heavy, so they load only when a question is asked.
 * Prompts write to stderr so stdout stays data.
 */
import { createInterface } from 'node:readline';
import { InterruptedError } from '../errors.js';

export interface Prompter {
  /** True when stdin and stderr are terminals. */
  readonly canPrompt: boolean;
  /** Asks for a secret without echoing it; `problem` (why it is asked again) goes first on a line of its own, marked ✗. */
  secret(message: string, problem?: string): Promise<string>;
  /** Asks a yes/no question. */
  confirm(message: string, defaultValue?: boolean): Promise<boolean>;
  /** Asks for a line of text (`defaultValue` is taken on Enter). */
  text(message: string, defaultValue?: string): Promise<string>;
  /** Asks to choose one of `choices` (arrow keys and Enter); returns its value. */
  select(message: string, choices: Array<{ name: string; value: string; description?: string }>): Promise<string>;
  /**
   * Asks `question [y/N]` on stderr and reads one line from the terminal (DESIGN.md §1 v3
   * "Confirmation"): true only for y/yes; an empty answer, anything else or Ctrl-D is no.
   */
  yesNo(question: string): Promise<boolean>;
}

function isExitPrompt(err: unknown): boolean {
  return err instanceof Error && (err.name === 'ExitPromptError' || err.name === 'AbortPromptError');
}

/** `canPrompt` may be a function, asked on first use (runs that never prompt never load `node:tty`). */
export function terminalPrompter(canPrompt: boolean | (() => boolean)): Prompter {
  return {
    get canPrompt() {
      if (typeof canPrompt === 'function') canPrompt = canPrompt();
      return canPrompt;
    },
    async secret(message, problem) {
      // A problem is its own line: folded into the prompt it would wear the prompt's done mark.
      if (problem) process.stderr.write(`✗ ${problem}\n`);
      const { password } = await import('@inquirer/prompts');
      try {
        // One check mark everywhere: sfauth's ✓, not the prompt library's own.
        return await password({ message, theme: { prefix: { idle: '?', done: '✓' } } }, { output: process.stderr, clearPromptOnDone: false });
      } catch (err) {
        if (isExitPrompt(err)) throw new InterruptedError();
        throw err;
      }
    },
    async yesNo(question) {
      return new Promise<boolean>((resolve) => {
        const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
        let answered = false;
        process.stderr.write(`${question} [y/N] `);
        rl.once('line', (line) => {
          answered = true;
          rl.close();
          resolve(/^\s*y(es)?\s*$/i.test(line));
        });
        rl.once('close', () => {
          if (!answered) {
            process.stderr.write('\n');
            resolve(false);
          }
        });
      });
    },
    async text(message, defaultValue) {
      const { input } = await import('@inquirer/prompts');
      try {
        return (await input({ message, ...(defaultValue ? { default: defaultValue } : {}), theme: { prefix: { idle: '?', done: '✓' } } }, { output: process.stderr })).trim();
      } catch (err) {
        if (isExitPrompt(err)) throw new InterruptedError();
        throw err;
      }
    },
    async select(message, choices) {
      const { select } = await import('@inquirer/prompts');
      try {
        return await select({ message, choices, theme: { prefix: { idle: '?', done: '✓' } } }, { output: process.stderr });
      } catch (err) {
        if (isExitPrompt(err)) throw new InterruptedError();
        throw err;
      }
    },
    async confirm(message, defaultValue = false) {
      const { confirm } = await import('@inquirer/prompts');
      try {
        return await confirm({ message, default: defaultValue }, { output: process.stderr });
      } catch (err) {
        if (isExitPrompt(err)) throw new InterruptedError();
        throw err;
      }
    },
  };
}

/** A prompter for tests and non-interactive runs: scripted answers, or none at all. */
export function scriptedPrompter(answers: string[] = [], canPrompt = answers.length > 0): Prompter {
  const queue = [...answers];
  const next = () => {
    const a = queue.shift();
    if (a === undefined) throw new Error('scriptedPrompter: no answer left');
    return a;
  };
  return {
    canPrompt,
    secret: async () => next(),
    confirm: async () => /^y/i.test(next()),
    text: async () => next(),
    select: async () => next(),
    yesNo: async () => /^\s*y(es)?\s*$/i.test(next()),
  };
}
