/**
 * Things to undo if the process is interrupted (Ctrl-C, SIGTERM): temp files of atomic writes.
 * The signal handler in cli.ts runs them before exiting 130, so no partial file is left behind.
 */
const pending = new Set<() => void>();

export function onInterrupt(undo: () => void): () => void {
  pending.add(undo);
  return () => void pending.delete(undo);
}

export function runInterruptCleanups(): void {
  for (const undo of pending) {
    try {
      undo();
    } catch {
      // best effort: we are exiting anyway
    }
  }
  pending.clear();
}
