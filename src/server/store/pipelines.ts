import { randomUUID } from 'node:crypto';
import { NestorError } from '../../errors.ts';
import type { ConcurrencyGroup } from '../../pipeline/model.ts';
import type { PlannedJob } from '../../pipeline/plan-graph.ts';
import { whyNotRun, type GraphOutcome } from '../../scheduler/job-graph.ts';
import type { Database } from '../../store/database.ts';
import type { Job, JobSpec, RetryPolicy } from './store.ts';
import type { PipelineTrigger } from '../../repos/repo-run.ts';
import { RepoStore } from '../../repos/repo-store.ts';

/**
 * Pipelines of jobs in the store: each job of a submitted pipeline is a job of its own that any
 * runner may lease, once the jobs it waits for have ended. The submitted row stands for the
 * pipeline: `running` from the start, and ended with its last job, with each job's outcome as
 * its result. Deciding what runs next is done in the transaction that ended a job, so servers
 * sharing one database agree on it without talking to each other.
 *
 * A pipeline in a concurrency group runs alone in it, as GitHub runs a workflow's
 * `concurrency`: a newer pipeline of the group is held (its row and jobs `waiting`) until the
 * one running ends, and replaces any older one still held, which is cancelled; with
 * cancel-in-progress it cancels the running one instead and starts at once.
 */

const ENDED = ['succeeded', 'failed', 'cancelled', 'skipped'];

export interface NewPipeline {
  name: string;
  spec: JobSpec;
  jobs: PlannedJob[];
  targetRunner: string | null;
  labels: string[];
  retryPolicy: RetryPolicy;
  maxAttempts: number;
  /** The group it runs alone in (the file's workflow `concurrency`). */
  concurrency?: ConcurrencyGroup;
  /** A repository's pipeline: numbered in the repository (#1, #2, …), with what triggered it. */
  repo?: { name: string; trigger: PipelineTrigger };
  /** Held until someone approves it (a pull request from a fork): nothing of it runs before. */
  approval?: boolean;
  /**
   * Jobs that ended well in the attempt this one restarts, by name: they are not run again
   * but start as they ended there (with their result, for the outputs later jobs read).
   */
  carried?: Record<string, { result: unknown; runner: string | null; startedAt: number | null; finishedAt: number | null }>;
}

const COLUMNS = 'id, name, spec, status, target_runner, labels, retry_policy, attempts, max_attempts, lease_token, cancel_requested, created_at, queue_order, started_at, pipeline_id, plan_job, needs, run_when, concurrency_group';
const PLACES = COLUMNS.split(', ').map((_, i) => `$${i + 1}`).join(', ');

/** Inserts the pipeline's row and one row per job; answers the pipeline's id and whether a job was queued. */
export async function insertPipeline(tx: Database, p: NewPipeline, order: () => number): Promise<{ id: string; queued: number }> {
  const id = randomUUID();
  const now = Date.now();
  const held = (p.concurrency ? await makeRoomInGroup(tx, p.concurrency, order) : false) || p.approval === true;
  // A job's own runner labels (Drone's node, Woodpecker's labels) add to the submission's.
  const row = (jobId: string, name: string, spec: JobSpec, status: string, planJob: string | null, needs: string[] | null, runWhen: string | null, labels: string[] = []) =>
    tx.query(`INSERT INTO jobs (${COLUMNS}) VALUES (${PLACES})`, [
      jobId, name, JSON.stringify(spec), status, p.targetRunner, JSON.stringify([...new Set([...p.labels, ...labels])]), p.retryPolicy, 0, p.maxAttempts, 0, 0, now, order(), status === 'running' ? now : null, id, planJob, needs ? JSON.stringify(needs) : null, runWhen, planJob === null ? (p.concurrency?.group ?? null) : null,
    ]);
  await row(id, p.name, p.spec, held ? 'waiting' : 'running', null, null, null);
  if (p.approval) await tx.query(`UPDATE jobs SET held_for = 'approval' WHERE id = $1`, [id]);
  for (const job of p.jobs) {
    const carried = job.leftOut === undefined ? p.carried?.[job.name] : undefined;
    const status = job.leftOut !== undefined ? 'skipped' : carried ? 'succeeded' : job.needs.length || held ? 'waiting' : 'queued';
    await row(randomUUID(), job.name, { ...p.spec, job: job.name, ...(job.workflow ? { workflow: job.workflow } : {}), ...(job.interruptible ? { interruptible: true } : {}), ...(job.manual ? { manual: true } : {}), ...(job.deployTargets ? { deployTargets: job.deployTargets } : {}) }, status, job.name, job.needs, job.runWhen, job.labels);
    if (job.leftOut !== undefined) await tx.query('UPDATE jobs SET error = $1, finished_at = $2 WHERE pipeline_id = $3 AND plan_job = $4', [`not run: ${job.leftOut}`, now, id, job.name]);
    // A repository's group: two repositories' `production` never meet.
    if (job.resourceGroup && job.leftOut === undefined) await tx.query('UPDATE jobs SET resource_group = $1 WHERE pipeline_id = $2 AND plan_job = $3', [`${p.repo?.name ?? id}:${job.resourceGroup}`, id, job.name]);
    if (carried) {
      await tx.query('UPDATE jobs SET result = $1, runner = $2, started_at = $3, finished_at = $4, error = $5 WHERE pipeline_id = $6 AND plan_job = $7', [JSON.stringify(carried.result ?? null), carried.runner, carried.startedAt, carried.finishedAt, 'not run again: it succeeded in the attempt this one restarts', id, job.name]);
    }
  }
  // After the jobs' rows: every row of the pipeline carries its repository and trigger.
  if (p.repo) {
    // Numbered in the same transaction: two pushes at once never get one number.
    const number = await RepoStore.takeNumber(tx, p.repo.name);
    if (number === undefined) throw new NestorError('NESTOR_REPO_NOT_FOUND', `No repository ${p.repo.name}`, 'It was removed while its pipeline was being made; add it again with `nestor repos add`.');
    const t = p.repo.trigger;
    await tx.query('UPDATE jobs SET repo = $2, number = $3, trigger_info = $4, trigger_event = $5, trigger_branch = $6 WHERE pipeline_id = $1', [id, p.repo.name, number, JSON.stringify(t), t.event, t.branch ?? t.tag ?? null]);
  }
  const { queued } = await advancePipeline(tx, id, order);
  return { id, queued: queued + (held ? 0 : p.jobs.filter((j) => j.leftOut === undefined && !p.carried?.[j.name] && !j.needs.length).length) };
}

/**
 * Before a pipeline of `group` is inserted: cancels the group's pipelines still held (the new
 * one replaces them) and, with cancel-in-progress, the running ones too. Answers whether the
 * new one must be held, behind a running one.
 */
async function makeRoomInGroup(tx: Database, group: ConcurrencyGroup, order: () => number): Promise<boolean> {
  const active = await activeInGroup(tx, group.group);
  for (const a of active) if (group.cancelInProgress || a.status === 'waiting') await cancelPipeline(tx, a.id, order);
  return !group.cancelInProgress && active.some((a) => a.status === 'running');
}

/**
 * The group's pipelines running or held, oldest first. On PostgreSQL the group is locked for
 * the transaction first: two servers inserting the first pipelines of a group at once would
 * otherwise both find it empty (a row lock cannot lock rows that do not exist yet).
 */
async function activeInGroup(tx: Database, group: string): Promise<{ id: string; status: string; held_for: string | null }[]> {
  if (tx.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`nestor-concurrency:${group}`]);
  const lock = tx.kind === 'postgres' ? ' FOR UPDATE' : '';
  return tx.query<{ id: string; status: string; held_for: string | null }>(
    `SELECT id, status, held_for FROM jobs WHERE concurrency_group = $1 AND id = pipeline_id AND status IN ('running', 'waiting') ORDER BY queue_order${lock}`,
    [group],
  );
}

/** After a pipeline of the group ended: the one held longest starts, unless another still runs. */
async function releaseGroup(tx: Database, group: string, order: () => number): Promise<number> {
  const active = await activeInGroup(tx, group);
  // One waiting for approval stays held: only its approval lets it start.
  const next = active.find((a) => a.status === 'waiting' && a.held_for === null);
  if (!next || active.some((a) => a.status === 'running')) return 0;
  await tx.query(`UPDATE jobs SET status = 'running', started_at = $1 WHERE id = $2 AND status = 'waiting'`, [Date.now(), next.id]);
  return (await advancePipeline(tx, next.id, order)).queued;
}

type JobState = {
  id: string;
  plan_job: string;
  status: string;
  needs: string | null;
  run_when: string | null;
};

const outcomeOf = (status: string): GraphOutcome => ({ status: status === 'succeeded' ? 'success' : status === 'failed' ? 'failure' : (status as GraphOutcome['status']) });

/**
 * After a job of the pipeline ended: queues the waiting jobs whose needs have all ended and
 * that their `when` lets run, skips the others (and, in turn, what waits for them), and ends
 * the pipeline once every job has. Answers how many jobs it queued, for the lease pollers.
 */
export async function advancePipeline(tx: Database, pipelineId: string, order: () => number): Promise<{ queued: number }> {
  const lock = tx.kind === 'postgres' ? ' FOR UPDATE' : '';
  const [own] = await tx.query<{ status: string; concurrency_group: string | null }>(`SELECT status, concurrency_group FROM jobs WHERE id = $1${lock}`, [pipelineId]);
  if (!own) return { queued: 0 };
  // Held behind another pipeline of its group: nothing of it starts; cancelled, it ends.
  const held = own.status === 'waiting';
  const jobs = await tx.query<JobState>(`SELECT id, plan_job, status, needs, run_when FROM jobs WHERE pipeline_id = $1 AND id <> $1 ORDER BY queue_order${lock}`, [pipelineId]);
  const byName = new Map(jobs.map((j) => [j.plan_job, j]));
  const now = Date.now();
  let queued = 0;
  for (let changed = true; changed; ) {
    changed = false;
    for (const job of jobs) {
      if (job.status !== 'waiting' || held) continue;
      const needs = (JSON.parse(job.needs ?? '[]') as string[]).map((n) => byName.get(n)).filter((n): n is JobState => n !== undefined);
      if (!needs.every((n) => ENDED.includes(n.status))) continue;
      const why = whyNotRun((job.run_when ?? undefined) as Parameters<typeof whyNotRun>[0], needs.map((n) => [n.plan_job, outcomeOf(n.status)]));
      if (why === undefined) {
        await tx.query(`UPDATE jobs SET status = 'queued', queue_order = $1 WHERE id = $2 AND status = 'waiting'`, [order(), job.id]);
        job.status = 'queued';
        queued++;
      } else {
        await tx.query(`UPDATE jobs SET status = 'skipped', error = $1, finished_at = $2 WHERE id = $3 AND status = 'waiting'`, [`not run: ${why}`, now, job.id]);
        job.status = 'skipped';
      }
      changed = true;
    }
  }
  if ((own.status === 'running' || held) && jobs.every((j) => ENDED.includes(j.status))) {
    const status = jobs.some((j) => j.status === 'cancelled') ? 'cancelled' : jobs.some((j) => j.status === 'failed') ? 'failed' : 'succeeded';
    const result = { jobs: jobs.map((j) => ({ id: j.id, name: j.plan_job, status: j.status })) };
    await tx.query(`UPDATE jobs SET status = $1, result = $2, finished_at = $3 WHERE id = $4 AND status = $5`, [status, JSON.stringify(result), now, pipelineId, own.status]);
    if (own.concurrency_group && !held) queued += await releaseGroup(tx, own.concurrency_group, order);
  }
  return { queued };
}

/** How a job the leased job needs ended, in the scheduler's words, with the outputs its runner reported. */
export interface NeededOutcome {
  /** The job's name in the pipeline (its plan's name, e.g. `test (2)` of a matrix). */
  name: string;
  status: GraphOutcome['status'];
  /** A GitHub job's `outputs`, from the JobResult of that name its runner completed it with; {} when none. */
  outputs: Record<string, string>;
}

/**
 * The outcomes of the jobs of its pipeline that `job` needs, for the lease that hands it out.
 * A runner runs a job of a pipeline alone, so what it would learn from the jobs before it in a
 * run of the whole file (GitHub's `needs.X.result`, `needs.X.outputs.Y`, and a job `if:` over
 * them) must come from the server. Only ended jobs are answered: a job is queued once all its
 * needs have ended, so the others do not occur.
 */
export function neededOutcomes(job: Job, jobs: Job[]): NeededOutcome[] {
  const byName = new Map(jobs.map((j) => [j.spec.job ?? j.name, j]));
  return job.needs.flatMap((name) => {
    const needed = byName.get(name);
    if (!needed || !ENDED.includes(needed.status)) return [];
    // A job whose own if: was false ran and reported itself skipped: that is its outcome to the jobs after it.
    const status = reportedStatus(needed.result, name) === 'skipped' ? 'skipped' : outcomeOf(needed.status).status;
    return [{ name, status, outputs: reportedOutputs(needed.result, name) }];
  });
}

function reportedStatus(result: unknown, name: string): unknown {
  if (!Array.isArray(result)) return undefined;
  return (result.find((r: unknown) => typeof r === 'object' && r !== null && (r as { name?: unknown }).name === name) as { status?: unknown } | undefined)?.status;
}

/**
 * The string `outputs` of the JobResult named `name` in a runner's reported result (any JSON: it
 * is the runner's word); a job the runner ran as the combinations of a matrix from its needs
 * gives theirs, the last to set each, as on GitHub.
 */
function reportedOutputs(result: unknown, name: string): Record<string, string> {
  if (!Array.isArray(result)) return {};
  const named = (r: unknown): r is { name: string; outputs?: unknown } => typeof r === 'object' && r !== null && typeof (r as { name?: unknown }).name === 'string';
  const mine = result.filter(named).filter((r) => r.name === name);
  // None of its name: the runner ran it as combinations, and its result holds only theirs.
  const parts = mine.length ? mine : result.filter(named);
  return Object.assign({}, ...parts.map((r) => stringsOf(r.outputs)));
}

function stringsOf(outputs: unknown): Record<string, string> {
  if (typeof outputs !== 'object' || outputs === null || Array.isArray(outputs)) return {};
  return Object.fromEntries(Object.entries(outputs).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/**
 * Approves a pipeline held for approval: it starts, unless its concurrency group has one
 * running, behind which it then waits as any other. Undefined when it was not held.
 */
export async function approvePipeline(tx: Database, pipelineId: string, by: string, order: () => number): Promise<{ queued: number } | undefined> {
  const now = Date.now();
  const [own] = await tx.query<{ concurrency_group: string | null }>(
    `UPDATE jobs SET held_for = NULL, approved_by = $2, approved_at = $3 WHERE id = $1 AND pipeline_id = $1 AND held_for = 'approval' AND status = 'waiting' RETURNING concurrency_group`,
    [pipelineId, by, now],
  );
  if (!own) return undefined;
  if (own.concurrency_group) return { queued: await releaseGroup(tx, own.concurrency_group, order) };
  await tx.query(`UPDATE jobs SET status = 'running', started_at = $1 WHERE id = $2 AND status = 'waiting'`, [now, pipelineId]);
  return advancePipeline(tx, pipelineId, order);
}

/**
 * Starts a manual job someone asked for: it is queued (or waits for the jobs it needs), and
 * its pipeline, ended or not, runs again until it has. Undefined when there is no manual job
 * of that name that is left out or has ended.
 */
export async function playJob(tx: Database, pipelineId: string, job: string, by: string, order: () => number): Promise<{ id: string } | undefined> {
  const lock = tx.kind === 'postgres' ? ' FOR UPDATE' : '';
  const [row] = await tx.query<{ id: string; spec: string; status: string }>(`SELECT id, spec, status FROM jobs WHERE pipeline_id = $1 AND id <> $1 AND plan_job = $2${lock}`, [pipelineId, job]);
  if (!row || !ENDED.includes(row.status)) return undefined;
  const spec = JSON.parse(row.spec) as JobSpec;
  if (!spec.manual) return undefined;
  const now = Date.now();
  await tx.query(`UPDATE jobs SET status = 'waiting', spec = $2, error = NULL, result = NULL, finished_at = NULL, cancel_requested = 0 WHERE id = $1`, [row.id, JSON.stringify({ ...spec, played: { by, at: now } })]);
  await tx.query(`UPDATE jobs SET status = 'running', result = NULL, finished_at = NULL WHERE id = $1 AND status IN ('succeeded', 'failed', 'cancelled', 'skipped')`, [pipelineId]);
  // Played, it runs whatever its `when` says: it waits only for its needs to end.
  await tx.query(`UPDATE jobs SET run_when = 'always' WHERE id = $1`, [row.id]);
  await advancePipeline(tx, pipelineId, order);
  return { id: row.id };
}

/** Cancels every job of the pipeline: those not started at once, running ones at their next heartbeat. */
export async function cancelPipeline(tx: Database, pipelineId: string, order: () => number): Promise<void> {
  const now = Date.now();
  await tx.query(`UPDATE jobs SET status = 'cancelled', finished_at = $1, cancel_requested = 1 WHERE pipeline_id = $2 AND id <> $2 AND status IN ('queued', 'waiting')`, [now, pipelineId]);
  await tx.query(`UPDATE jobs SET cancel_requested = 1 WHERE pipeline_id = $1 AND status = 'running'`, [pipelineId]);
  await advancePipeline(tx, pipelineId, order);
}
