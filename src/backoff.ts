/**
 * Exponential back-off, the one formula for every retry: attempt n waits base × 2^n, at most
 * `max`, then ± `jitter` of that at random. Units are the caller's (ms or s).
 */
export interface Backoff {
  /** The wait after the first failure (attempt 0). */
  base: number;
  /** The longest wait, before jitter. */
  max: number;
  /** Doublings at most: attempt n waits base × 2^min(n, maxDoublings). Unset: no limit but `max`. */
  maxDoublings?: number;
  /** A fraction: the wait is scaled by a random factor in [1 − jitter, 1 + jitter), so that many clients never retry in step. */
  jitter?: number;
}

/** The wait before retry `attempt` (0 for the first); `random` is replaceable for tests. */
export function backoffDelay(attempt: number, b: Backoff, random: () => number = Math.random): number {
  const n = Math.max(0, attempt);
  const wait = Math.min(b.max, b.base * 2 ** Math.min(n, b.maxDoublings ?? n));
  return b.jitter ? wait * (1 - b.jitter + 2 * b.jitter * random()) : wait;
}
