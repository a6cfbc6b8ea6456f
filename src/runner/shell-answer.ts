import type { Logger } from 'pino';
import WebSocket from 'ws';
import { errorMessage, NestorError } from '../errors.ts';
import type { LiveSteps } from '../scheduler/live-steps.ts';
import { readControl, SHELL_STDERR, SHELL_STDIN, SHELL_STDOUT, shellFrame, type ShellControl, type ShellOffer } from '../shell-protocol.ts';
import type { ServerClient } from './server-client.ts';

/**
 * Answers a shell a user asked for in one of this runner's jobs (offered in the job's
 * heartbeat answer): connects to the server, which joins this connection to the user's, and
 * runs the shell in the step's container on the job's engine. The runner opens the connection,
 * so a runner needs no port of its own that anyone reaches.
 */
export async function answerShell(client: ServerClient, job: { id: string; lease: string }, offer: ShellOffer, live: LiveSteps, log: Logger): Promise<void> {
  const url = `${client.base.replace(/^http/, 'ws')}/api/runner/jobs/${job.id}/shell/${offer.id}`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${client.token}`, 'x-nestor-lease': job.lease }, maxPayload: 1 << 20, handshakeTimeout: 10_000 });
  const opened = await new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('error', (err) => {
      log.warn({ err: errorMessage(err) }, 'could not answer a shell: the server refused the connection');
      resolve(false);
    });
  });
  if (!opened) return;
  const send = (msg: ShellControl) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(msg));
  let shell: Awaited<ReturnType<LiveSteps['open']>>;
  try {
    shell = await live.open(offer.step, { command: offer.command, tty: offer.tty, ...(offer.cols ? { cols: offer.cols } : {}), ...(offer.rows ? { rows: offer.rows } : {}) });
  } catch (err) {
    const e = err instanceof NestorError ? err : undefined;
    send({ type: 'error', code: e?.code ?? 'NESTOR_SHELL_REFUSED', message: errorMessage(err), hint: e?.hint ?? 'Read the runner\'s log.' });
    ws.close(4000);
    return;
  }
  const { session, step } = shell;
  log.info({ step, shell: offer.id }, 'shell opened');
  send({ type: 'started', step });
  session.onOutput((stream, data) => ws.readyState === ws.OPEN && ws.send(shellFrame(stream === 'stderr' ? SHELL_STDERR : SHELL_STDOUT, data)));
  ws.on('message', (data: Buffer, binary) => {
    if (binary) {
      if (data[0] === SHELL_STDIN) session.write(data.subarray(1));
      return;
    }
    const msg = readControl(data.toString('utf8'));
    if (msg?.type === 'resize') void session.resize(msg.cols, msg.rows);
    else if (msg?.type === 'eof') session.endInput();
  });
  // The user went away: the shell and what it started go too.
  ws.once('close', () => session.close());
  ws.once('error', () => session.close());
  const code = await session.exited;
  log.info({ step, shell: offer.id, code }, 'shell ended');
  send({ type: 'exit', code });
  ws.close(1000);
}
