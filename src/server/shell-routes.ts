import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { NestorError } from '../errors.ts';
import type { ShellControl, ShellOffer } from '../shell-protocol.ts';
import type { AuditLog } from './audit.ts';
import { parseBody as parse } from './problem.ts';
import type { Job, Store } from './store/store.ts';

/** How long the job's runner has to answer a shell before the user is told it did not. */
const RUNNER_ANSWER_MS = 15_000;
/** A frame is a terminal's read or a paste: 1 MiB is far more than either. */
const MAX_FRAME_BYTES = 1 << 20;

interface Session {
  offer: ShellOffer;
  job: string;
  runner: string;
  user: WebSocket;
  offered: boolean;
  timer: NodeJS.Timeout;
}

/**
 * Shells the users of this server asked for, until the job's runner takes each. The runner is
 * told in its job's next heartbeat answer (every second) and opens its own connection, through
 * which this server passes the frames both ways. A session lives on the server the user reached:
 * with several servers on one database, the runner's heartbeat and its connection must reach
 * that same server (one address for all of them, with sticky routing by job id), or the shell
 * is not answered and the user is told so.
 */
export class ShellHub {
  private readonly sessions = new Map<string, Session>();

  /** The sessions of a job its runner has not been told of; from now on told. */
  offers(job: string): ShellOffer[] {
    const out: ShellOffer[] = [];
    for (const s of this.sessions.values()) {
      if (s.job !== job || s.offered) continue;
      s.offered = true;
      out.push(s.offer);
    }
    return out;
  }

  open(job: Job, user: WebSocket, offer: ShellOffer): void {
    const timer = setTimeout(() => {
      if (!this.sessions.delete(offer.id)) return;
      closeWith(user, { type: 'error', code: 'NESTOR_SHELL_RUNNER_SILENT', message: `Runner ${job.runner} did not open the shell within ${RUNNER_ANSWER_MS / 1000} s`, hint: 'Check that the runner still runs the job (nestor jobs list); with several servers, its heartbeats must reach the server you asked.' });
    }, RUNNER_ANSWER_MS);
    this.sessions.set(offer.id, { offer, job: job.id, runner: job.runner!, user, offered: false, timer });
    user.once('close', () => {
      const s = this.sessions.get(offer.id);
      if (s) clearTimeout(s.timer);
      this.sessions.delete(offer.id);
    });
  }

  /** The session the runner comes for, handed over once. */
  take(id: string, job: string, runner: string): Session | undefined {
    const s = this.sessions.get(id);
    if (!s || s.job !== job || s.runner !== runner) return undefined;
    this.sessions.delete(id);
    clearTimeout(s.timer);
    return s;
  }
}

export interface ShellRouteDeps {
  store: Store;
  hub: ShellHub;
  audit: AuditLog;
  /** Refuses a user who may not write to the job's repository. */
  jobAccess: (req: FastifyRequest, job: Job) => Promise<void>;
  onProblem: (err: unknown) => void;
}

const shellQuery = z.strictObject({
  step: z.string().min(1).max(300).optional(),
  command: z.union([z.string(), z.array(z.string())]).optional(),
  tty: z.enum(['0', '1', 'true', 'false']).default('1'),
  cols: z.coerce.number().int().min(1).max(1000).optional(),
  rows: z.coerce.number().int().min(1).max(1000).optional(),
});

/**
 * `GET /api/jobs/:id/shell` (a WebSocket, write access to the job's repository; the admin for a
 * job of no repository): a shell in a step of a running job. `GET /api/runner/jobs/:id/shell/:session`
 * is where the job's runner, holding its lease, answers it.
 */
export async function registerShellRoutes(app: FastifyInstance, deps: ShellRouteDeps): Promise<void> {
  await app.register(websocket, { options: { maxPayload: MAX_FRAME_BYTES } });
  const { store, hub } = deps;

  app.get<{ Params: { id: string } }>('/api/jobs/:id/shell', { websocket: true, config: { auth: ['admin', 'user'] }, schema: { summary: 'A shell in a running step of the job (WebSocket; query: step, command, tty, cols, rows)', tags: ['jobs'] } }, async (socket, req) => {
    try {
      const q = parse(shellQuery, req.query);
      const job = await shellableJob(req, deps, req.params.id);
      const offer: ShellOffer = {
        id: randomUUID(),
        ...(q.step ? { step: q.step } : {}),
        command: q.command === undefined ? [] : [q.command].flat(),
        tty: q.tty === '1' || q.tty === 'true',
        ...(q.cols ? { cols: q.cols } : {}),
        ...(q.rows ? { rows: q.rows } : {}),
      };
      hub.open(job, socket, offer);
      send(socket, { type: 'status', text: `waiting for runner ${job.runner} to open the shell` });
      const who = req.identity!;
      await deps.audit.record({ at: Date.now(), actor: who.name, actorKind: who.kind, action: 'SHELL /api/jobs/:id/shell', target: { id: job.id, ...(q.step ? { step: q.step } : {}) }, status: 101, ip: req.ip ?? null }).catch(deps.onProblem);
    } catch (err) {
      const e = err instanceof NestorError ? err : new NestorError('NESTOR_SHELL_REFUSED', String(err), 'Try again; if it persists, read the server\'s log.');
      closeWith(socket, { type: 'error', code: e.code, message: e.message, hint: e.hint });
    }
  });

  app.get<{ Params: { id: string; session: string } }>('/api/runner/jobs/:id/shell/:session', { websocket: true, config: { auth: ['runner'] }, schema: { summary: 'Answer a shell a user asked for (runner; WebSocket; header x-nestor-lease)', tags: ['runner protocol'] } }, async (socket, req) => {
    const runner = req.identity!.name;
    try {
      await store.heldJob(req.params.id, runner, String(req.headers['x-nestor-lease'] ?? ''));
    } catch {
      socket.close(4403, 'not the holder of this job');
      return;
    }
    const session = hub.take(req.params.session, req.params.id, runner);
    if (!session) {
      socket.close(4404, 'no such shell session');
      return;
    }
    pipe(session.user, socket);
  });
}

/** The job, if the request's user may open a shell in it and it runs. */
async function shellableJob(req: FastifyRequest, deps: ShellRouteDeps, id: string): Promise<Job> {
  const who = req.identity!;
  if (who.scope === 'read') throw new NestorError('NESTOR_TOKEN_SCOPE', `This token of ${who.name} reads only: it cannot open a shell`, 'Make a token with --scope write: nestor token create --scope write.');
  const job = /^[0-9a-f-]{36}$/.test(id) ? await deps.store.job(id) : undefined;
  if (!job) throw new NestorError('NESTOR_JOB_NOT_FOUND', `No job ${id}`, 'nestor jobs list shows the jobs and their ids.');
  if (job.repo) await deps.jobAccess(req, job);
  else if (who.kind !== 'admin') throw new NestorError('NESTOR_FORBIDDEN', `A shell in job ${id}, which is of no repository, is for the server's admin`, 'Ask the admin, or run the job from a repository you have write access to.');
  if (job.pipelineId === job.id) {
    const running = (await deps.store.pipelineJobs(job.id)).filter((j) => j.status === 'running' && j.id !== job.id);
    throw new NestorError('NESTOR_SHELL_PIPELINE', `${id} is a pipeline, not one of its jobs`, running.length ? `Name one of its running jobs: ${running.map((j) => `${j.id} (${j.name})`).join(', ')}.` : 'None of its jobs runs now: nestor pipelines show lists them.');
  }
  if (job.status !== 'running' || !job.runner) throw new NestorError('NESTOR_SHELL_NOT_RUNNING', `Job ${id} is ${job.status}: a shell goes into a running job`, job.status === 'queued' ? 'Wait for a runner to take it (nestor jobs list says why it waits).' : 'Run it again with --hold-on-failure to keep a failed step for a shell.');
  return job;
}

/** Passes frames both ways as they come; either end closing closes the other. */
function pipe(user: WebSocket, runner: WebSocket): void {
  user.on('message', (data, binary) => runner.readyState === runner.OPEN && runner.send(data, { binary }));
  runner.on('message', (data, binary) => user.readyState === user.OPEN && user.send(data, { binary }));
  user.once('close', () => runner.close(1000));
  runner.once('close', (code, reason) => user.close(code >= 4000 || code === 1000 ? code : 1000, reason));
  user.on('error', () => runner.close(1011));
  runner.on('error', () => user.close(1011));
}

function send(socket: WebSocket, msg: ShellControl): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
}

function closeWith(socket: WebSocket, msg: ShellControl): void {
  send(socket, msg);
  socket.close(msg.type === 'error' ? 4000 : 1000);
}
