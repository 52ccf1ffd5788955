/**
 * The one scheduler of account-wide work (DESIGN.md §3 "Fleet" and "Audit"): `concurrency` tasks at
 * a time over one keep-alive transport, every client behind the same rate-limit gate (throttle.ts).
 * A fleet rotates users with it; an audit reads them.
 */

/**
 * Runs `work` on each item, at most `concurrency` at once, starting them in order; `done` hears each
 * result as it comes. The results keep the items' order.
 */
export async function eachAtMost<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>, done?: (result: R, index: number) => void): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) {
      results[i] = await work(items[i]!, i);
      done?.(results[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return results;
}
