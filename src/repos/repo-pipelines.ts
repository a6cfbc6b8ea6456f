import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { RepositoryCache } from '../gitops/git.ts';
import type { CheckoutCompile } from '../pipeline/compile-pool.ts';
import { CONVENTIONAL_FILES, PipelineFileNotFoundError } from '../pipeline/load.ts';
import type { ConcurrencyGroup } from '../pipeline/model.ts';
import { PipelineError } from '../pipeline/errors.ts';
import type { PlannedJob } from '../pipeline/plan-graph.ts';
import type { RepoRecord } from './repo-store.ts';
import type { CronStore } from './cron-store.ts';
import type { PipelineTrigger, RepoRun, RepoRunFacts } from './repo-run.ts';

/** Where a repository's pipeline is queued: the server's store, as jobs any runner may lease. */
export interface RepoPipelineSink {
  /** Whether a pipeline of this commit and ref was made already (a poll then leaves it to the webhook's). */
  made(repo: string, ref: string, commit: string): Promise<boolean>;
  /** Cancels the repository's older pipelines that the new one supersedes (src/repos/supersede.ts); answers their ids. */
  supersede(repo: RepoRecord, newer: { id: string; trigger: PipelineTrigger }): Promise<string[]>;
  create(p: { name: string; spec: { repo: RepoRun }; jobs: PlannedJob[]; failed?: string; concurrency?: ConcurrencyGroup; repo: { name: string; trigger: PipelineTrigger }; approval?: boolean; carried?: Carried; restartOf?: string }): Promise<{ id: string; number: number }>;
}

export interface RepoPipelinesDeps {
  /** The server's mirror of each repository (a bare repository, fetched incrementally). */
  mirror: RepositoryCache;
  /** Compiles a commit's files written out in a directory, off the event loop. */
  compile: (checkout: CheckoutCompile) => Promise<PlannedJob[]>;
  sink: RepoPipelineSink;
  /** Where a commit's files are written out to be compiled, then removed. */
  workDir: string;
  log: Logger;
  /** Where the schedules the files declare are kept, read at each push to the default branch. */
  crons?: CronStore;
  /** Names of the secrets a pipeline with this trigger is given (src/repos/secret-store.ts). */
  secretNames?: (repo: string, trigger: PipelineTrigger) => Promise<string[]>;
  now?: () => number;
}

/** Jobs of an earlier attempt a restart does not run again, by name, as they ended there. */
export type Carried = Record<string, { result: unknown; runner: string | null; startedAt: number | null; finishedAt: number | null }>;

/** What a restart runs again: the pipeline's commit, and the jobs of it that succeeded (for only the failed ones). */
export interface Restart {
  pipelineId: string;
  commit: string;
  carried?: Carried;
}

export type Started = { created: true; id: string; number: number; jobs: number; superseded: string[] } | { created: false; reason: string };

const ZERO = /^0+$/;

/**
 * Turns a trigger into a repository's pipeline: fetches the ref into the server's mirror,
 * works out what the push changed (for path filters and `changes:`), compiles the repository's
 * own pipeline files at the commit exactly as a runner will, and queues the jobs that run.
 * A trigger whose files run no job makes no pipeline, as on the forges.
 */
export class RepoPipelines {
  private readonly deps: RepoPipelinesDeps;

  constructor(deps: RepoPipelinesDeps) {
    this.deps = deps;
  }

  async start(repo: RepoRecord, trigger: PipelineTrigger, restart?: Restart): Promise<Started> {
    const { mirror } = this.deps;
    if (trigger.cause === 'poll' && (await this.deps.sink.made(repo.name, trigger.ref, trigger.commit))) return { created: false, reason: `a pipeline of ${trigger.commit.slice(0, 12)} on ${trigger.ref} was made already` };
    const source = { url: repo.url, credential: repo.credential, sshKey: repo.sshKey };
    const base = trigger.pullRequest ? trigger.pullRequest.targetBranch : repo.defaultBranch;
    const refs = [...new Set([trigger.ref, `refs/heads/${base}`])];
    // The base branch may not exist yet (a first push to a new repository): only the ref is needed.
    const fetched = await mirror
      .fetchRefs(source, refs)
      .catch(async (err) => (refs.length > 1 ? mirror.fetchRefs(source, [trigger.ref]) : Promise.reject(err)))
      // A restart needs only its commit, in the mirror since its first run (its branch may be gone).
      .catch(async (err) => (restart && (await mirror.hasCommit(repo.url, restart.commit)) ? ({} as Record<string, string>) : Promise.reject(err)));
    // A later push may have moved the ref on already: the pipeline is of the commit it was told of.
    // A tag's pipeline is of the commit it names (a poll sees an annotated tag's own object).
    // A restart runs the commit its pipeline ran, wherever the ref has moved since.
    const commit = restart?.commit ?? (trigger.event !== 'tag' && trigger.commit && (await mirror.hasCommit(repo.url, trigger.commit)) ? trigger.commit : fetched[trigger.ref]!);
    const changedPaths = await this.changedPaths(repo, trigger, commit, fetched[`refs/heads/${base}`]);
    const facts: RepoRunFacts = {
      event: trigger.event,
      ref: trigger.ref,
      commit,
      ...(trigger.branch ? { branch: trigger.branch } : {}),
      ...(trigger.tag ? { tag: trigger.tag } : {}),
      defaultBranch: repo.defaultBranch,
      project: repo.name,
      ...(changedPaths ? { changedPaths } : {}),
      trusted: repo.trusted,
      // A manual run's variables, over the file's own (as GitLab's "Run pipeline" form sets them).
      ...(trigger.variables && Object.keys(trigger.variables).length ? { env: trigger.variables } : {}),
      ...(this.deps.secretNames ? { secrets: await this.deps.secretNames(repo.name, trigger) } : {}),
      facts: { repo: repo.name, ...(trigger.cron ? { cron: trigger.cron } : {}), ...(trigger.pullRequest ? { pull_request: String(trigger.pullRequest.number), source_branch: trigger.pullRequest.sourceBranch, target_branch: trigger.pullRequest.targetBranch } : {}) },
    };
    const dir = mkdtempSync(join(this.deps.workDir, 'commit-'));
    let jobs: PlannedJob[] = [];
    let config = repo.configPath ?? '';
    let failed: string | undefined;
    try {
      await mirror.export(repo.url, commit, dir);
      config ||= conventionalConfig(dir);
      jobs = await this.deps.compile({ dir, file: config, facts });
    } catch (err) {
      // A commit without pipeline files runs nothing; one whose files are wrong is a failed
      // pipeline that says why, where the team looks (and on the commit, in the forge).
      if (!(err instanceof PipelineError)) throw err;
      failed = `${err.message}\n${err.hint}`;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    if (!failed && trigger.event === 'push' && trigger.branch === repo.defaultBranch && this.deps.crons) {
      // The default branch's files say which schedules the repository has (GitHub's on.schedule).
      const refused = await this.deps.crons.syncFromFiles(repo.name, repo.defaultBranch, [...new Set(jobs.flatMap((j) => j.schedules ?? []))], (this.deps.now ?? Date.now)());
      if (refused.length) this.deps.log.warn({ repo: repo.name, refused }, 'schedules in the repository\'s files that are not cron lines are not run');
    }
    if (!failed && jobs.every((j) => j.leftOut !== undefined)) return { created: false, reason: `no job of ${config} runs for this ${trigger.event} (${jobs[0]?.leftOut ?? 'the file has no jobs'})` };
    const info = { ...trigger, commit, ...(trigger.message ? {} : await mirror.commitInfo(repo.url, commit).then((c) => ({ message: c.message.split('\n')[0] ?? '', author: trigger.author || c.author }), () => ({}))) };
    // A concurrency group is the repository's own: two repositories' `ci-${{ github.ref }}` never meet.
    const group = jobs.find((j) => j.concurrency)?.concurrency;
    const created = await this.deps.sink.create({
      name: repo.name,
      spec: { repo: { repo: repo.name, url: repo.url, commit, ref: trigger.ref, config, facts, timeoutS: repo.timeoutS, ...(trigger.holdOnFailureS ? { holdOnFailureS: trigger.holdOnFailureS } : {}) } },
      jobs,
      ...(failed ? { failed } : {}),
      // A fork's code runs only once someone with write access has read it and approved
      // (a restart of one that was approved is approved again by whoever restarts it).
      ...(trigger.pullRequest?.fromFork && !failed && !restart ? { approval: true } : {}),
      ...(restart ? { restartOf: restart.pipelineId, ...(restart.carried ? { carried: restart.carried } : {}) } : {}),
      ...(group ? { concurrency: { ...group, group: `${repo.name}:${group.group}` } } : {}),
      repo: { name: repo.name, trigger: info },
    });
    const superseded = failed ? [] : await this.deps.sink.supersede(repo, { id: created.id, trigger: info });
    this.deps.log.info({ repo: repo.name, number: created.number, event: trigger.event, ...(superseded.length ? { cancelled: superseded } : {}), ref: trigger.ref, commit: commit.slice(0, 12), cause: trigger.cause, ...(trigger.pullRequest?.fromFork ? { awaitsApproval: true } : {}) }, 'pipeline created');
    return { created: true, ...created, jobs: jobs.filter((j) => j.leftOut === undefined).length, superseded };
  }

  /**
   * What the trigger changed: a push against its previous commit; a new branch (no previous
   * commit) against where it left the default branch; a pull request against its merge base
   * with the target branch. Unknown (every path filter matches) for tags and when the commits
   * share no history.
   */
  private async changedPaths(repo: RepoRecord, trigger: PipelineTrigger, commit: string, baseHead: string | undefined): Promise<string[] | undefined> {
    const { mirror } = this.deps;
    if (trigger.event === 'tag') return undefined;
    let from: string | undefined;
    if (trigger.event === 'push' && trigger.before && !ZERO.test(trigger.before) && (await mirror.hasCommit(repo.url, trigger.before))) from = trigger.before;
    else if (baseHead && baseHead !== commit) from = await mirror.mergeBase(repo.url, baseHead, commit);
    if (!from) return undefined;
    return mirror.changedPaths(repo.url, from, commit);
  }
}

/** The pipeline file or folder a repository has, by the convention `nestor run` follows. */
export function conventionalConfig(dir: string): string {
  const found = CONVENTIONAL_FILES.find((name) => existsSync(join(dir, name)));
  if (!found) throw new PipelineFileNotFoundError('the repository at this commit');
  return found;
}
