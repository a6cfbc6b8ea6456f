import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { RepositoryCache } from '../gitops/git.ts';
import { WebhookDeliveries } from '../gitops/webhook-deliveries.ts';
import type { StatusReporter } from '../repos/forge-status.ts';
import { PipelineStatuses } from '../repos/pipeline-status.ts';
import { RepoPipelines, type RepoPipelineSink } from '../repos/repo-pipelines.ts';
import { RepoStore } from '../repos/repo-store.ts';
import { RepoPoller } from '../repos/repo-poller.ts';
import { CronStore } from '../repos/cron-store.ts';
import { CronScheduler } from '../repos/cron-scheduler.ts';
import type { RepoRecord } from '../repos/repo-store.ts';
import type { PipelineTrigger } from '../repos/repo-run.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { RepoRoutesDeps } from './repo-routes.ts';
import type { Store } from './store/store.ts';
import { compileCheckout } from './submission.ts';
import { SecretStore } from '../repos/secret-store.ts';
import { DeployTargets } from '../repos/deploy-targets.ts';
import { supersedeReason } from '../repos/supersede.ts';
import { RepoMembers } from '../repos/repo-members.ts';
import { JobTokens } from './job-tokens.ts';
import type { Job } from './store/store.ts';
import type { LocalArtifactStore } from '../artifacts/artifact-store.ts';

/** Git's environment when the CLI gives none (tests): the usual places for the binary, no prompts. */
export const DEFAULT_GIT_ENV: NodeJS.ProcessEnv = { PATH: '/usr/local/bin:/usr/bin:/bin' };

/**
 * The server's part of CI from repositories, put together: the repositories, the server's
 * mirror of each (DATA_DIR/mirrors), the pipelines their triggers make, and their commit
 * statuses on the forge, told of every change of a pipeline or of one of its jobs.
 */
export function repoFeature(store: Store, box: SecretBox, opts: { dataDir: string; gitEnv: NodeJS.ProcessEnv; logger: Logger; statuses: StatusReporter; publicUrl: () => string; artifacts: LocalArtifactStore; now?: () => number }) {
  const repos = new RepoStore(store.db, box);
  const workDir = join(opts.dataDir, 'work');
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const sink: RepoPipelineSink = {
    made: (repo, ref, commit) => store.pipelineMade(repo, ref, commit),
    async supersede(repo, newer) {
      const cancelled: string[] = [];
      for (const older of await store.activePipelines(repo.name)) {
        if (older.id === newer.id || !older.trigger) continue;
        const jobs = (await store.pipelineJobs(older.id)).map((j) => ({ status: j.status, interruptible: j.spec.interruptible === true }));
        const why = supersedeReason({ trigger: older.trigger, jobs }, newer.trigger, repo.autoCancel);
        if (!why) continue;
        await store.cancel(older.id);
        await store.explainPipeline(older.id, `cancelled: superseded by a newer pipeline of ${newer.trigger.ref} (${why})`);
        opts.logger.info({ repo: repo.name, pipeline: older.number, why }, 'pipeline superseded by a newer one; cancelled');
        cancelled.push(older.id);
        pipelineChanged(older.id);
      }
      return cancelled;
    },
    async create(p) {
      const pipeline = await store.createPipeline({ name: p.name, spec: p.spec, jobs: p.jobs, repo: p.repo, ...(p.concurrency ? { concurrency: p.concurrency } : {}), ...(p.approval ? { approval: true } : {}), ...(p.carried ? { carried: p.carried } : {}) });
      // The jobs a restart does not run again hand their artifacts on as they did in the attempt before.
      if (p.restartOf) for (const job of Object.keys(p.carried ?? {})) opts.artifacts.copy(p.restartOf, pipeline.id, job);
      if (p.failed) await store.failPipeline(pipeline.id, p.failed);
      return { id: pipeline.id, number: (await store.job(pipeline.id))!.number! };
    },
  };
  const crons = new CronStore(store.db);
  const members = new RepoMembers(store.db);
  const secrets = new SecretStore(store.db, box);
  const targets = new DeployTargets(store.db, box);
  const tokens = new JobTokens(box, store);
  const mirror = new RepositoryCache(join(opts.dataDir, 'mirrors'), opts.gitEnv);
  const secretNames = (repo: string, trigger: PipelineTrigger) => secrets.namesFor(repo, trigger);
  const pipelines = new RepoPipelines({ mirror, compile: compileCheckout, sink, workDir, log: opts.logger, crons, secretNames, ...(opts.now ? { now: opts.now } : {}) });
  /** A repository's job is given, with its lease, the secrets its trigger may have and its own token. */
  const leaseExtras = async (job: Job): Promise<Record<string, unknown>> => {
    if (!job.repo || !job.trigger) return {};
    const given = await secrets.forPipeline(job.repo, job.trigger);
    const url = opts.publicUrl();
    const machine = url ? new URL(url).hostname : '';
    const variables = {
      NESTOR_SERVER_URL: url,
      NESTOR_GIT_URL: `${url}/git/${job.repo}.git`,
      CI_NETRC_MACHINE: machine,
      CI_NETRC_USERNAME: 'nestor',
      DRONE_NETRC_MACHINE: machine,
      DRONE_NETRC_USERNAME: 'nestor',
    };
    const deploy = job.spec.deployTargets?.length ? await targets.forJob(job.spec.deployTargets, job.repo, job.trigger) : undefined;
    return {
      secrets: given.values,
      ...(given.withheld.length ? { secrets_withheld: given.withheld } : {}),
      token: { value: tokens.issue(job), variables },
      ...(deploy ? { deploy_targets: deploy.granted, ...(deploy.refused.length ? { deploy_refused: deploy.refused } : {}) } : {}),
    };
  };
  let forge: PipelineStatuses | undefined;
  /** Emits 'pipeline' with a pipeline's id whenever it may have changed (for GET /api/events). */
  const changes = new EventEmitter().setMaxListeners(0);
  const pipelineChanged = (pipelineId: string) => {
    changes.emit('pipeline', pipelineId);
    void (async () => {
      const p = await store.job(pipelineId);
      if (!p?.repo || p.number === null || !p.trigger) return;
      const repo = await repos.get(p.repo);
      if (!repo) return;
      forge ??= new PipelineStatuses(opts.statuses, opts.publicUrl());
      const byWorkflow = new Map<string, string[]>();
      for (const j of await store.pipelineJobs(p.id)) if (j.spec.workflow) byWorkflow.set(j.spec.workflow, [...(byWorkflow.get(j.spec.workflow) ?? []), j.status]);
      const workflows = [...byWorkflow].map(([name, statuses]) => ({ name, statuses }));
      forge.changed(repo, { id: p.id, number: p.number, status: p.status, commit: p.spec.repo?.commit ?? p.trigger.commit, error: p.error, workflows });
    })().catch((err: unknown) => opts.logger.warn({ err, pipeline: pipelineId }, 'could not report a pipeline\'s status to its forge'));
  };
  const jobChanged = (jobId: string) => {
    void store.job(jobId).then((j) => j?.pipelineId && pipelineChanged(j.pipelineId), () => undefined);
  };
  let poller: RepoPoller | undefined;
  let scheduler: CronScheduler | undefined;
  /** Polls repositories without webhooks and runs cron schedules; each pipeline made is told to `onPipeline`. */
  const startWatching = (onPipeline: (id: string) => void) => {
    const start = async (repo: RepoRecord, trigger: PipelineTrigger) => {
      const started = await pipelines.start(repo, trigger);
      if (started.created) onPipeline(started.id);
    };
    const clock = opts.now ? { now: opts.now } : {};
    poller = new RepoPoller({ repos, gitEnv: opts.gitEnv, log: opts.logger, start, ...clock });
    scheduler = new CronScheduler({ crons, repos, log: opts.logger, start, ...clock });
    poller.start();
    scheduler.start();
    const [p, c] = [poller, scheduler];
    return {
      /** Runs the schedules due by the clock now (for a clock a test moves). */
      runDueSchedules: () => c.nudge(),
      stop: () => Promise.all([p.stop(), c.stop()]).then(() => undefined),
    };
  };
  const routes: Omit<RepoRoutesDeps, 'onPipeline' | 'offlineMs'> = {
    publicUrl: opts.publicUrl,
    store,
    repos,
    members,
    crons,
    pipelines,
    deliveries: new WebhookDeliveries(store.db),
    now: opts.now ?? Date.now,
    onRepoChanged: () => poller?.nudge(),
    onCronsChanged: () => void scheduler?.nudge(),
  };
  return { routes, pipelineChanged, jobChanged, startWatching, leaseExtras, secrets, targets, tokens, mirror, repos, changes, members };
}
