/**
 * What to do if the process is interrupted (Ctrl-C, SIGTERM): undo temp files of atomic writes, and
 * say how to go on. The signal handler in cli.ts runs them before exiting 130, so no partial file is
 * left behind and an interrupted rotation says "run the same command again".
 */
const pending = new Set<() => void>();
let resumeHint: string | undefined;

export function onInterrupt(undo: () => void): () => void {
  pending.add(undo);
  return () => void pending.delete(undo);
}

/** What the interruption message should advise from now on (undefined: nothing special). */
export function setInterruptHint(hint: string | undefined): void {
  resumeHint = hint;
}

/** Runs the undo actions; returns the hint for the message. */
export function runInterruptCleanups(): string | undefined {
  for (const undo of pending) {
    try {
      undo();
    } catch {
      // best effort: we are exiting anyway
    }
  }
  pending.clear();
  return resumeHint;
}
