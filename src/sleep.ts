import { setTimeout as wait } from 'node:timers/promises';

/** Waits `ms`, or less when `signal` aborts first; never rejects. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return;
  await wait(ms, undefined, signal ? { signal } : {}).catch(() => undefined);
}
