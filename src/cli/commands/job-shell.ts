import WebSocket from 'ws';
import { NestorError, errorMessage, isErrorCode } from '../../errors.ts';
import { ServerProblem } from '../../runner/server-client.ts';
import { readControl, SHELL_STDERR, SHELL_STDIN, SHELL_STDOUT, shellFrame } from '../../shell-protocol.ts';
import type { Output } from '../output.ts';
import type { ServerFlags } from '../server-call.ts';

export interface ShellFlags extends ServerFlags {
  command?: string;
  /** commander's --no-tty: false. */
  tty?: boolean;
}

/**
 * `nestor jobs shell`: a shell in a running step of a job, through the server, which the job's
 * runner answers. On a terminal it is raw (keys go as typed, the size follows the window);
 * piped, standard input goes in and its end closes the shell's input. Answers the shell's exit
 * code, as `docker exec` does.
 */
export async function jobShell(out: Output, flags: ShellFlags, jobId: string, step: string | undefined): Promise<number> {
  const tty = flags.tty !== false && Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const q = new URLSearchParams({ tty: tty ? '1' : '0' });
  if (step) q.set('step', step);
  if (flags.command) for (const part of ['/bin/sh', '-c', flags.command]) q.append('command', part);
  if (tty && process.stdout.columns && process.stdout.rows) {
    q.set('cols', String(process.stdout.columns));
    q.set('rows', String(process.stdout.rows));
  }
  const url = new URL(`/api/jobs/${encodeURIComponent(jobId)}/shell?${q}`, flags.server);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${flags.token}` }, maxPayload: 1 << 20, handshakeTimeout: 10_000 });
  const stdin = process.stdin;
  let raw = false;
  const restore = () => {
    if (raw) stdin.setRawMode(false);
    raw = false;
    stdin.pause();
    process.stdout.off('resize', onResize);
  };
  const onResize = () => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ type: 'resize', cols: process.stdout.columns, rows: process.stdout.rows }));
  const begin = () => {
    if (tty) {
      stdin.setRawMode(true);
      raw = true;
      process.stdout.on('resize', onResize);
    }
    stdin.on('data', (chunk: Buffer) => ws.readyState === ws.OPEN && ws.send(shellFrame(SHELL_STDIN, chunk)));
    stdin.once('end', () => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ type: 'eof' })));
    stdin.resume();
  };

  try {
    const outcome = await new Promise<{ code: number | null; step?: string }>((resolve, reject) => {
      let code: number | null | undefined;
      let started: string | undefined;
      ws.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let body: { code?: string; detail?: string; hint?: string } = {};
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
          } catch {
            // Not a problem+json answer: the status says enough.
          }
          reject(new ServerProblem(res.statusCode ?? 500, body, `shell in job ${jobId}`));
        });
      });
      ws.on('error', (err) => reject(new NestorError('NESTOR_SERVER_UNREACHABLE', `Cannot open a shell through ${flags.server}: ${errorMessage(err)}`, 'Check --server / NESTOR_SERVER, and that the server runs (`nestor up` or `nestor server`).')));
      ws.on('message', (data: Buffer, binary) => {
        if (binary) {
          if (data[0] === SHELL_STDOUT) process.stdout.write(data.subarray(1));
          else if (data[0] === SHELL_STDERR) process.stderr.write(data.subarray(1));
          return;
        }
        const msg = readControl(data.toString('utf8'));
        if (msg?.type === 'status') out.progress(msg.text);
        else if (msg?.type === 'started') {
          started = msg.step;
          if (tty) out.progress(`shell in step ${msg.step}; \`exit\` ends it`);
          begin();
        } else if (msg?.type === 'exit') code = msg.code;
        else if (msg?.type === 'error') reject(new NestorError(isErrorCode(msg.code) ? msg.code : 'NESTOR_SHELL_REFUSED', msg.message, msg.hint));
      });
      ws.on('close', (closeCode, reason) => {
        if (code !== undefined) resolve({ code, ...(started ? { step: started } : {}) });
        else reject(new NestorError('NESTOR_SHELL_CLOSED', `The shell's connection closed before the shell ended (${closeCode}${reason.length ? `: ${reason.toString('utf8')}` : ''})`, 'The job may have ended, or its runner or the server stopped: nestor jobs list shows where it stands.'));
      });
    });
    out.result({ job: jobId, step: outcome.step, exit_code: outcome.code });
    return outcome.code ?? 255;
  } finally {
    restore();
    ws.terminate();
  }
}
