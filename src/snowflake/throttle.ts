/**
 * A rate-limit gate shared by every client of a fleet rotation (DESIGN.md §3 "Fleet": 429s and rate
 * limits slow the fleet down, never fail it). When one request is told to slow down (429, with or
 * without Retry-After), every request waits out the same pause before its next try, and the pause
 * does not count against anyone's --timeout: the clients add it to their deadlines.
 */
export class Throttle {
  private until = 0;
  private paused = 0;

  constructor(
    private readonly now: () => number,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** Waits until the current pause (if any) is over. */
  async waitTurn(): Promise<void> {
    for (let wait = this.until - this.now(); wait > 0; wait = this.until - this.now()) await this.sleep(wait);
  }

  /** Everyone pauses for `ms` from now (a later end wins; overlapping pauses are counted once). */
  slowDown(ms: number): void {
    const now = this.now();
    const end = now + ms;
    if (end <= this.until) return;
    this.paused += end - Math.max(now, this.until);
    this.until = end;
  }

  /** Milliseconds of pause so far (clients extend their deadlines by what accrued since they began). */
  pausedMs(): number {
    return this.paused;
  }
}
