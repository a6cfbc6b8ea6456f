import { errorMessage } from '../errors.ts';
import type { LiveSteps } from '../scheduler/live-steps.ts';

/**
 * `nestor run --hold-on-failure`: a shell in the failed step, on this terminal, there and then.
 * The terminal is raw while it runs (Ctrl-C goes to the shell); its exit lets the run go on.
 */
export async function shellHere(live: LiveSteps, key: string, say: (text: string) => void): Promise<void> {
  const stdin = process.stdin;
  let opened: Awaited<ReturnType<LiveSteps['open']>>;
  try {
    opened = await live.open(key, { command: [], tty: true, cols: process.stdout.columns, rows: process.stdout.rows });
  } catch (err) {
    say(`no shell in ${key}: ${errorMessage(err)}`);
    return;
  }
  const { session } = opened;
  say(`shell in the failed step ${key}: look around, \`exit\` lets the run go on`);
  const onResize = () => void session.resize(process.stdout.columns, process.stdout.rows);
  const onData = (chunk: Buffer) => session.write(chunk);
  session.onOutput((stream, data) => (stream === 'stderr' ? process.stderr : process.stdout).write(data));
  stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.resume();
  process.stdout.on('resize', onResize);
  try {
    await session.exited;
  } finally {
    process.stdout.off('resize', onResize);
    stdin.off('data', onData);
    stdin.setRawMode(false);
    stdin.pause();
  }
}
