import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { NestorError, errorMessage } from '../errors.ts';
import type { EngineClient } from '../engine/engine-client.ts';
import type { ImageSupply } from '../engine/images/supply.ts';
import type { IsolationMode } from '../engine/nested/isolation.ts';
import { DockerBackend } from '../backend/docker/docker-backend.ts';
import { compileText, loadPlans } from '../pipeline/load.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RepoRun } from '../repos/repo-run.ts';
import { RepoCheckouts } from './repo-checkout.ts';
import { githubJobContainer } from '../pipeline/warm-job-container.ts';
import type { JobPlan } from '../pipeline/plan.ts';
import type { NeededJob } from '../pipeline/github/step-runtime.ts';
import { LiveSteps } from '../scheduler/live-steps.ts';
import type { ShellOffer } from '../shell-protocol.ts';
import { answerShell } from './shell-answer.ts';
import { isLoopbackUrl, openServerGateway, throughGateway, type ServerGateway } from './server-gateway.ts';
import { ServerArtifacts } from './server-artifacts.ts';
import type { JobEvent, JobResult } from '../scheduler/results.ts';
import { LogShipper } from './log-shipper.ts';
import { closeAll, openJobTargets, withDeployTargets, type LeasedTargets } from './deploy-steps.ts';
import type { DeployGateway } from './deploy-gateway.ts';
import { runPlans, type EarlierJobs } from './run-plans.ts';
import { DEFAULT_STEP_IMAGE, DEFAULT_STEP_SLOTS } from '../config.ts';
import type { EngineImages } from '../engine/images/local-images.ts';
import type { EngineSettings } from '../backend/docker/engine-source.ts';

/** What runner.yaml's engine section sets for each job's engine, besides isolation. */
export type EngineExtras = Pick<EngineSettings, 'memoryMb' | 'cpus' | 'network' | 'registryMirrors' | 'log' | 'daemonConfig' | 'volumes'>;
import { ServerClient, ServerProblem, isRetryable } from './server-client.ts';
import { BackgroundWork } from '../background-work.ts';
import { sleep } from '../sleep.ts';
import { backoffDelay, type Backoff } from '../backoff.ts';

export interface AgentOptions {
  server: string;
  /** A registration token (the runner registers itself) or this runner's own token. */
  token: string;
  name: string;
  maxJobs: number;
  labels: string[];
  host: EngineClient;
  supply?: ImageSupply;
  isolation?: IsolationMode;
  /** Engines kept started for the next jobs. */
  warm?: number;
  /** The image of steps that name none (NESTOR_DEFAULT_IMAGE; default DEFAULT_STEP_IMAGE). */
  stepImage?: string;
  /** Step containers each warm engine starts ahead (NESTOR_STEP_SLOTS; default DEFAULT_STEP_SLOTS). */
  stepSlots?: number;
  /** Images nested engines start from instead of Nestor's own (NESTOR_ROOTLESS_IMAGE, NESTOR_DIND_IMAGE). */
  engineImages?: EngineImages;
  /** Registries jobs pull from over plain HTTP (NESTOR_INSECURE_REGISTRIES). */
  insecureRegistries?: string[];
  /** The image a GitHub `runs-on` label runs in (runner.yaml's images.platforms, as `nestor run -P`). */
  platforms?: Record<string, string>;
  /** The job engines' limits, network, volumes and daemon settings (runner.yaml's engine section). */
  engine?: EngineExtras;
  log: Logger;
  /** Where the mirrors of repositories' jobs are kept (default: a folder of this user's in the temporary directory). */
  repoCacheDir?: string;
  /** The environment git runs in (the CLI gives process.env). */
  gitEnv?: NodeJS.ProcessEnv;
  /**
   * Level of the job started/finished lines. A runner in the server's own process (`nestor up`)
   * leaves them to the server, which logs the same events: `debug` there, `info` on its own.
   */
  jobEventsLevel?: 'info' | 'debug';
}

/** How a job the leased one needs ended, as the lease answers it (a job of a pipeline with needs). */
export interface LeasedNeed {
  name: string;
  status: JobResult['status'];
  outputs: Record<string, string>;
}

/** A repository's job's token, valid while the job runs, and where it reaches (the server's URL, its Git URL, the netrc machine). */
export interface LeasedJobToken {
  value: string;
  variables: Record<string, string>;
}

/** The variables that carry the job token itself, each a secret: masked wherever it shows. */
export const JOB_TOKEN_VARIABLES = ['NESTOR_JOB_TOKEN', 'CI_JOB_TOKEN', 'CI_NETRC_PASSWORD', 'DRONE_NETRC_PASSWORD'];

interface LeasedJob {
  job: {
    id: string;
    name: string;
    spec: { pipeline?: { text: string; file: string }; repo?: RepoRun; job?: string; played?: unknown };
    attempt: number;
    needs?: LeasedNeed[];
    /** A repository's job: the secrets its trigger may have, and those held back with why. */
    secrets?: Record<string, string>;
    secrets_withheld?: { name: string; why: string }[];
    token?: LeasedJobToken;
  } & LeasedTargets;
  lease: { token: string; expires_at: number; lease_ms: number };
}

const FLUSH_MS = 150;
const HEARTBEAT_MS = 1000;
/** How long the server may hold a lease request when it has no job. */
const LEASE_WAIT_MS = 20_000;
/**
 * An empty answer sooner than this means the server did not hold the poll (an old or a broken
 * server); the runner then waits before asking again instead of asking as fast as it answers.
 */
const MIN_EMPTY_POLL_MS = 1000;

/**
 * `nestor runner`: takes jobs from a server by long-poll, runs each in its own nested engine,
 * streams log lines in batches, heartbeats its leases (and stops a job within 2 s of a
 * cancel), and rides out server restarts with back-off. On start it removes engines a
 * previous run of it left behind.
 */
export class RunnerAgent {
  private readonly opts: AgentOptions;
  private readonly client: ServerClient;
  private readonly running = new Map<string, AbortController>();
  /** Where jobs run: the Docker backend, with this runner's warm engines. */
  private readonly backend: DockerBackend;
  private stopped = false;
  /** Aborts the long-poll and back-off waits at stop, so stopping never waits out a poll. */
  private readonly stopping = new AbortController();
  /** Resolved (and replaced) whenever a job ends, for a lease loop waiting for capacity. */
  private jobEnded = Promise.withResolvers<void>();
  /** Engines being removed after their job was reported. */
  private readonly removals = new BackgroundWork();
  private checkouts?: RepoCheckouts;
  private loop: Promise<void> | undefined;
  /** The server as jobs reach it, where its own address is loopback (opened for the first job that needs it). */
  private serverGateway: Promise<ServerGateway> | undefined;

  constructor(opts: AgentOptions) {
    this.opts = opts;
    this.client = new ServerClient(opts.server, opts.token);
    const log = opts.log;
    // A GitHub job's container, as this runner's platforms make it: what warm engines start ahead.
    const jobContainer = githubJobContainer(opts.platforms);
    this.backend = new DockerBackend({
      ...opts.engine,
      host: opts.host,
      isolation: opts.isolation ?? 'auto',
      ...(opts.supply ? { supply: opts.supply } : {}),
      ...(opts.engineImages ? { engineImages: opts.engineImages } : {}),
      ...(opts.insecureRegistries?.length ? { insecureRegistries: opts.insecureRegistries } : {}),
      ...(opts.warm
        ? {
            warm: {
              size: opts.warm,
              stepImage: opts.stepImage ?? DEFAULT_STEP_IMAGE,
              stepSlots: opts.stepSlots ?? DEFAULT_STEP_SLOTS,
              // A GitHub job's container starts from it: held ready, it is not pulled while the
              // job waits, and the container itself is started ahead for the job to adopt.
              images: [jobContainer.image],
              containers: [jobContainer],
              onError: (err) => log.warn({ err: err.message }, 'warm engine failed to start'),
              onReady: (engine) => log.info({ engine: engine.name, isolation: engine.isolation, readyMs: Math.round(engine.readyMs) }, 'engine ready'),
            },
          }
        : {}),
    });
  }

  /** The runner's platform images, over any the server's facts name (the runner knows its images). */
  private platformsFact(): { platforms?: Record<string, string> } {
    return this.opts.platforms ? { platforms: this.opts.platforms } : {};
  }

  get active(): number {
    return this.running.size;
  }

  /** Warm engines ready for the next job (with their step slots). */
  get readyEngines(): number {
    return this.backend.readyEngines;
  }

  async start(): Promise<void> {
    // An image a job pulls that the host lacks goes to the internet; say so where operators look.
    if (this.opts.supply) this.opts.supply.onProblem ??= (image, why) => this.opts.log.warn({ image }, why);
    const { removed } = await this.backend.reclaim();
    if (removed.length) this.opts.log.info({ engines: removed }, 'removed engines left by an earlier run');
    await this.register();
    // Stopped while starting: start nothing more (stop() waits only for what was started).
    if (this.stopped) return;
    this.backend.warmUp();
    this.loop = this.leaseLoop();
  }

  /** Stops taking jobs, cancels those running, and waits for their engines to go. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    for (const c of this.running.values()) c.abort();
    while (this.running.size) await this.jobEnded.promise;
    await this.loop?.catch(() => undefined);
    await this.removals.settled();
    await (await this.serverGateway?.catch(() => undefined))?.close();
    await this.backend.close();
  }

  /**
   * A job's server variables (NESTOR_SERVER_URL, NESTOR_GIT_URL, the netrc machine) as its
   * containers can use them: a server at a loopback address (`nestor up`) is reached through a
   * gateway of this runner's on the supply network, opened once.
   */
  private async reachable(variables: Record<string, string>, log: Logger): Promise<Record<string, string>> {
    const url = variables.NESTOR_SERVER_URL;
    const at = this.opts.supply?.registry.gateway;
    if (!url || !at || !isLoopbackUrl(url)) return variables;
    this.serverGateway ??= openServerGateway(url, at);
    try {
      return throughGateway(variables, new URL(url).origin, await this.serverGateway);
    } catch (err) {
      this.serverGateway = undefined;
      log.warn({ err: errorMessage(err) }, 'the server\'s address is loopback and no gateway to it could be opened: the job\'s steps cannot reach it (set NESTOR_PUBLIC_URL on the server)');
      return variables;
    }
  }

  private async register(): Promise<void> {
    const body = { name: this.opts.name, type: 'docker', host: hostname(), port: 0, capabilities: ['docker', `isolation:${this.opts.isolation ?? 'auto'}`], labels: this.opts.labels, metadata: { pid: process.pid }, max_jobs: this.opts.maxJobs };
    for (let attempt = 0; ; attempt++) {
      try {
        const reply = await this.client.call<{ token: string }>('POST', '/api/runners/register', body);
        this.client.token = reply!.token;
        this.opts.log.info({ runner: this.opts.name, server: this.opts.server }, 'registered');
        return;
      } catch (err) {
        // A runner's own token cannot register: it already is registered, so use it as it is.
        if (err instanceof ServerProblem && err.status === 403) return;
        if (err instanceof ServerProblem && err.status === 401) throw err;
        if (this.stopped) return;
        await this.backoff(attempt, err);
      }
    }
  }

  /** The job's commit in a directory of its own (removed when the job ends), timed in its log. */
  private async checkout(repo: RepoRun, shipper: LogShipper, token?: LeasedJobToken): Promise<string> {
    this.checkouts ??= new RepoCheckouts(this.opts.repoCacheDir ?? join(tmpdir(), `nestor-mirrors-${process.getuid?.() ?? 'user'}`), this.opts.gitEnv ?? { PATH: '/usr/local/bin:/usr/bin:/bin' });
    const dir = mkdtempSync(join(tmpdir(), 'nestor-checkout-'));
    const started = Date.now();
    try {
      // Through the server, with the job's token: the runner needs no credential of the forge.
      const from = token ? { url: `${this.opts.server.replace(/\/+$/, '')}/git/${repo.repo}.git`, credential: { username: 'nestor', password: token.value } } : undefined;
      await this.checkouts.checkout(repo, dir, from);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    shipper.push({ source: 'nestor', stream: 'stdout', time: Date.now(), text: `checked out ${repo.repo} ${repo.commit.slice(0, 12)} (${repo.ref}) in ${Date.now() - started} ms` });
    return dir;
  }

  private async backoff(attempt: number, err: unknown): Promise<void> {
    const ms = backoffDelay(attempt, SERVER_RETRY);
    this.opts.log.warn({ err: errorMessage(err), retryInMs: Math.round(ms) }, 'server unreachable; retrying');
    await this.pause(ms);
  }

  /** Waits `ms`, or less if the runner is stopping. */
  private pause(ms: number): Promise<void> {
    return sleep(ms, this.stopping.signal);
  }

  private async leaseLoop(): Promise<void> {
    let failures = 0;
    let fastEmpty = 0;
    while (!this.stopped) {
      if (this.running.size >= this.opts.maxJobs) {
        await Promise.race([this.jobEnded.promise, this.pause(LEASE_WAIT_MS)]);
        continue;
      }
      try {
        const asked = Date.now();
        const leased = await this.client.call<LeasedJob>('POST', '/api/runner/lease', { wait_ms: LEASE_WAIT_MS }, LEASE_WAIT_MS + 10_000, this.stopping.signal);
        failures = 0;
        if (leased && !this.stopped) {
          fastEmpty = 0;
          void this.runJob(leased);
        } else if (!leased && Date.now() - asked < MIN_EMPTY_POLL_MS) {
          await this.pause(backoffDelay(fastEmpty++, SERVER_RETRY));
        } else {
          fastEmpty = 0;
        }
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof ServerProblem && err.status === 401) {
          this.opts.log.error({ err: err.message }, 'the server no longer knows this runner; registering again');
          await this.register().catch(() => undefined);
        }
        await this.backoff(failures++, err);
      }
    }
  }

  private async runJob({ job, lease }: LeasedJob): Promise<void> {
    const controller = new AbortController();
    this.running.set(job.id, controller);
    const log = this.opts.log.child({ job: job.id, attempt: job.attempt });
    const eventsLevel = this.opts.jobEventsLevel ?? 'info';
    log[eventsLevel]({ name: job.name }, 'job started');
    let lost = false;
    const loseLease = (why = 'another runner owns this job now') => {
      if (lost) return;
      lost = true;
      shipper.stop();
      log.warn({ why }, 'lease lost; stopping the job here');
      controller.abort();
    };
    const shipper = new LogShipper({
      lease: lease.token,
      send: async (body) => {
        const r = await this.client.postJson<{ cap_reached?: boolean }>(`/api/runner/jobs/${job.id}/logs`, body);
        return { capReached: r?.cap_reached === true };
      },
      onLeaseLost: () => loseLease(),
    });
    const flusher = setInterval(() => void shipper.flush(), FLUSH_MS);
    // The job's steps a user may open a shell in (nestor jobs shell), asked for in heartbeat answers.
    const holdS = job.spec.repo?.holdOnFailureS;
    const live = new LiveSteps({ ...(holdS ? { holdMs: holdS * 1000 } : {}), shellCommand: (step) => `nestor jobs shell ${job.id} ${step}` });
    const heartbeat = setInterval(async () => {
      try {
        const r = await this.client.call<{ cancel: boolean; shells?: ShellOffer[] }>('POST', `/api/runner/jobs/${job.id}/heartbeat`, { lease: lease.token }, HEARTBEAT_MS * 2);
        if (r?.cancel && !controller.signal.aborted) {
          log.info('cancel requested');
          controller.abort();
        }
        for (const offer of r?.shells ?? []) void answerShell(this.client, { id: job.id, lease: lease.token }, offer, live, log).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'a shell failed'));
      } catch (err) {
        // 409, or any other answer about the job itself (403, 404): the job is not ours to run.
        // A 401 is this runner's token, replaced while the lease loop registers again.
        if (!isRetryable(err) && !(err instanceof ServerProblem && err.status === 401)) loseLease(errorMessage(err));
      }
    }, HEARTBEAT_MS);

    // A repository's timeout bounds the whole job, checkout and engine included: it then fails, saying so.
    let timedOut = false;
    const timeoutS = job.spec.repo?.timeoutS;
    const deadline = timeoutS
      ? setTimeout(() => {
          timedOut = true;
          shipper.push({ source: 'nestor', stream: 'stderr', time: Date.now(), text: `the job ran past the repository's timeout of ${Math.round(timeoutS / 60)} min and is stopped (nestor repos update ${job.spec.repo!.repo} --timeout MINUTES)` });
          controller.abort();
        }, timeoutS * 1000)
      : undefined;
    let results: JobResult[] = [];
    let error: string | undefined;
    let engineMs: number | undefined;
    let sourceDir: string | undefined;
    let gateways: DeployGateway[] = [];
    try {
      // A repository's job: its commit from this runner's mirror, compiled as the server did.
      if (job.spec.repo) sourceDir = await this.checkout(job.spec.repo, shipper, job.token);
      const { secrets, secretVariables, variables: given } = jobSecrets(job);
      const variables = await this.reachable(given, log);
      for (const w of job.secrets_withheld ?? []) shipper.push({ source: 'nestor', stream: 'stdout', time: Date.now(), text: `secret ${w.name} is not given to this job: ${w.why}` });
      // `needs`: compiled again once the jobs a matrix is made from have ended (runPlans' expand).
      const compile = (needs?: Record<string, NeededJob>) => sourceDir && job.spec.repo
        ? loadPlans(sourceDir, job.spec.repo.config, { defaultImage: this.opts.stepImage ?? DEFAULT_STEP_IMAGE, ...job.spec.repo.facts, ...this.platformsFact(), secrets: Object.keys(job.secrets ?? {}), ...(job.spec.played && job.spec.job ? { only: [job.spec.job] } : {}), ...(needs ? { needs } : {}) }, sourceDir)
        // As jobPlansOf compiles it, with the runner's platform images.
        : compileText(job.spec.pipeline!, { defaultImage: this.opts.stepImage ?? DEFAULT_STEP_IMAGE, event: 'push', ...this.platformsFact(), ...(needs ? { needs } : {}) });
      const all = compile();
      const note = (text: string) => shipper.push({ source: 'nestor', stream: 'stdout', time: Date.now(), text });
      const compiled = jobOfPipeline(all, job.spec.job);
      gateways = await openJobTargets(compiled, job, this.opts.supply?.registry.gateway, note);
      for (const g of gateways) note(`deploy target ${g.name} is reached through this runner at ${g.dockerHost}; its credentials stay with the runner`);
      const plans = withDeployTargets(compiled, gateways);
      const earlier = earlierOf(all, job.needs);
      results = await runPlans(plans, {
        backend: this.backend,
        secrets,
        secretVariables,
        variables,
        ...(sourceDir ? { sourceDir } : {}),
        // A job of a pipeline keeps its artifacts on the server, and fetches those it is given from it.
        ...(job.spec.job ? { artifacts: { store: new ServerArtifacts(this.client, job.id, lease.token), run: job.id } } : {}),
        // The jobs it needs ran on other runners: the server says how they ended, for needs.*.
        ...(earlier ? { earlier } : {}),
        expand: (needs) => compile(needs),
        signal: controller.signal,
        live,
        parallel: 1,
        // Report first, remove the engine after: the job's result does not wait for teardown.
        deferTeardown: (removal) => void this.removals.add(removal),
        onLog: (l) => shipper.push({ source: plans.length > 1 ? `${l.job}/${l.source}` : l.source, stream: l.stream, time: l.time, text: l.text }),
        // A step's output waits while the buffer is full: memory stays bounded whatever it prints.
        logsFull: () => shipper.full(),
        onEvent: (e: JobEvent) => {
          if (e.type === 'notice') {
            shipper.push({ source: 'nestor', stream: 'stdout', time: Date.now(), text: e.text });
            const m = /ready in (\d+) ms/.exec(e.text);
            if (m) engineMs = Number(m[1]);
          }
        },
      });
    } catch (err) {
      error = errorMessage(err);
    } finally {
      clearInterval(flusher);
      clearInterval(heartbeat);
      clearTimeout(deadline);
      await closeAll(gateways);
      if (sourceDir) rmSync(sourceDir, { recursive: true, force: true });
    }
    if (timedOut) error = `timed out after ${Math.round(timeoutS! / 60)} min (the repository's timeout)`;
    const status = timedOut ? 'failed' : controller.signal.aborted && !lost ? 'cancelled' : error || results.some((r) => (r.status === 'failure' && !r.allowedFailure) || r.status === 'cancelled') ? 'failed' : 'succeeded';
    // Keep trying to report: a restarting server must not lose the outcome or the last lines.
    for (let attempt = 0; !lost; attempt++) {
      try {
        await shipper.drain();
        if (lost) break;
        // Lines the server refused do not change the job's status, but its error says so.
        const reported = [error, shipper.lostNote()].filter(Boolean).join('; ').slice(0, 10_000);
        const notKept = shipper.notKept.lines ? { log_not_kept: shipper.notKept } : {};
        await this.client.call('POST', `/api/runner/jobs/${job.id}/complete`, { lease: lease.token, status, result: results, ...(reported ? { error: reported } : {}), ...notKept, ...(engineMs !== undefined ? { engine_ms: engineMs } : {}) });
        log[eventsLevel]({ status, ...(shipper.lost.lines ? { logLinesLost: shipper.lost.lines } : {}) }, 'job finished');
        break;
      } catch (err) {
        if (err instanceof ServerProblem && err.status === 409) break;
        if (!isRetryable(err)) {
          log.error({ err: errorMessage(err) }, 'the server refused the job\'s report; it will requeue or fail the job when the lease expires');
          break;
        }
        if (attempt > 60) {
          log.error({ err: errorMessage(err) }, 'could not report the job; the server will requeue it when the lease expires');
          break;
        }
        await this.backoff(attempt, err);
      }
    }
    this.running.delete(job.id);
    this.jobEnded.resolve();
    this.jobEnded = Promise.withResolvers<void>();
  }
}

/**
 * What a leased job's steps are given: its secrets, and its token as the variables that carry
 * it into every container and as GitHub's secrets.GITHUB_TOKEN (unless the repository set its own).
 */
export function jobSecrets(job: Pick<LeasedJob['job'], 'secrets' | 'token'>): { secrets: Record<string, string>; secretVariables: string[]; variables: Record<string, string> } {
  const token = job.token;
  if (!token) return { secrets: { ...job.secrets }, secretVariables: [], variables: {} };
  const carried = Object.fromEntries(JOB_TOKEN_VARIABLES.map((n) => [n, token.value]));
  return { secrets: { GITHUB_TOKEN: token.value, ...job.secrets, ...carried }, secretVariables: JOB_TOKEN_VARIABLES, variables: token.variables };
}

/** Retries of calls to the server: from 250 ms to 10 s, with jitter (±25 %) so runners never retry in step. */
export const SERVER_RETRY: Backoff = { base: 250, max: 10_000, maxDoublings: 6, jitter: 0.25 };

/**
 * The plans this runner runs for a leased job: every job of the file, or, for a job of a
 * pipeline the server queues job by job, that one job alone. Its needs are the server's to
 * have waited for, so it waits for nothing here; how they ended comes with the lease (earlierOf).
 */
export function jobOfPipeline(plans: JobPlan[], job: string | undefined): JobPlan[] {
  if (job === undefined) return plans;
  const plan = plans.find((p) => p.name === job);
  if (!plan) throw new NestorError('NESTOR_PIPELINE_JOB_MISSING', `The pipeline has no job ${job} here`, 'The file compiled differently on this runner than on the server: run the same Nestor version on both.');
  const { needs: _needs, after: _after, needsAt: _at, ...alone } = plan;
  return [alone];
}

/**
 * The jobs a leased job needs, as `runPlans` takes them: every plan of the file (which GitHub
 * job each result is of) and a result per need from the lease. Nothing when the lease names none.
 */
export function earlierOf(plans: JobPlan[], needs: LeasedNeed[] | undefined): EarlierJobs | undefined {
  if (!needs?.length) return undefined;
  return { plans, results: needs.map((n) => ({ name: n.name, status: n.status, outputs: n.outputs, steps: [], durationMs: 0, engine: '' })) };
}
