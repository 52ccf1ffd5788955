/**
 * A process sfauth started, named so that a later run can tell whether it is still that process: its
 * pid and, where /proc exists (Linux), its start time in clock ticks since boot (field 22 of
 * /proc/<pid>/stat), so a reused pid is never mistaken for it.
 * See https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html
 */
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  /** Start time from /proc, or null where there is none. */
  start: string | null;
}

function startOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count after its last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

export function identityOf(pid: number): ProcessIdentity {
  return { pid, start: startOf(pid) };
}

/** Whether the process is alive and provably the same one (a pid without a start time never is). */
export function stillRunning(p: ProcessIdentity): boolean {
  if (p.start === null) return false;
  return startOf(p.pid) === p.start;
}

/** Kills the process group that `p` leads, when it is still the one we started; says whether it did. */
export function killGroupIfSame(p: ProcessIdentity): boolean {
  if (!stillRunning(p)) return false;
  try {
    process.kill(-p.pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}
