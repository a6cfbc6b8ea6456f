import { readFileSync } from 'node:fs';

/** A process's resident set size in bytes, from /proc (0 once it has gone). */
export function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; answers the highest seen. */
export function sampleRss(pid: number, everyMs = 50): { stop(): number } {
  let peak = rssOf(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssOf(pid));
    },
  };
}

/** The shell commands that print 100 MB: on one line, and on a million lines of 99 characters. */
export const FLOOD_BYTES = 100_000_000;
export const ONE_LINE = `head -c ${FLOOD_BYTES} /dev/zero | tr '\\0' a`;
export const MILLION_LINES = `yes ${'a'.repeat(99)} | head -c ${FLOOD_BYTES}`;
