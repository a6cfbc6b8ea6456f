import type { Output } from './output.ts';

/**
 * Waits for SIGINT or SIGTERM, then runs `stop` (which removes engines and instances). A second
 * signal while it runs leaves at once, saying how to remove what is left, as `nestor run` does.
 */
export function untilSignal(out: Output, stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let signals = 0;
    const handler = () => {
      if (++signals > 1) {
        out.progress('second interrupt: leaving now; `nestor engine cleanup` removes anything left');
        process.exit(130);
      }
      out.progress('stopping: finishing requests, removing engines and function instances…');
      void stop().finally(() => {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
        resolve();
      });
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
