/**
 * What a command gets from the world. Commands take everything through this (env, cwd, clock,
 * network, stdin, output, prompts) so tests can call them directly with fakes.
 */
import { Output } from './ui/output.js';
import type { Transport } from './snowflake/http.js';
import type { Prompter } from './ui/prompt.js';
import type { Progress } from './ui/progress.js';

export type Env = Record<string, string | undefined>;

export interface CommandContext {
  env: Env;
  cwd: string;
  /** Milliseconds since the epoch. */
  now(): number;
  /** The HTTP transport for Snowflake calls; when absent, one is made from `env` (proxies) on first use. */
  transport?: Transport;
  /** Everything on stdin (for `-` arguments). */
  readStdin(): Promise<Buffer>;
  out: Output;
  prompter: Prompter;
  progress: Progress;
  /** The command line as typed (after `sfauth`), for messages that repeat it (`--finish`). */
  argv?: readonly string[];
}
