import type { Database } from './database.ts';

/**
 * One list of migrations for both stores, applied in order and recorded in
 * `schema_migrations`. Append only: a released migration is never edited.
 */
export const MIGRATIONS: string[] = [
  `CREATE TABLE tokens (
     hash TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     name TEXT NOT NULL,
     created_at BIGINT NOT NULL
   )`,
  `CREATE TABLE runners (
     name TEXT PRIMARY KEY,
     type TEXT NOT NULL,
     host TEXT NOT NULL,
     port INTEGER NOT NULL,
     capabilities TEXT NOT NULL,
     labels TEXT NOT NULL,
     metadata TEXT NOT NULL,
     max_jobs INTEGER NOT NULL,
     registered_at BIGINT NOT NULL,
     last_seen BIGINT NOT NULL
   )`,
  `CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     spec TEXT NOT NULL,
     status TEXT NOT NULL,
     target_runner TEXT,
     labels TEXT NOT NULL,
     retry_policy TEXT NOT NULL,
     attempts INTEGER NOT NULL,
     max_attempts INTEGER NOT NULL,
     runner TEXT,
     lease_token BIGINT NOT NULL,
     lease_expires_at BIGINT,
     cancel_requested INTEGER NOT NULL,
     result TEXT,
     error TEXT,
     created_at BIGINT NOT NULL,
     queue_order BIGINT NOT NULL,
     started_at BIGINT,
     finished_at BIGINT
   )`,
  `CREATE INDEX jobs_queue ON jobs (status, queue_order)`,
  `CREATE TABLE job_logs (
     job_id TEXT NOT NULL,
     seq BIGINT NOT NULL,
     attempt INTEGER NOT NULL,
     source TEXT NOT NULL,
     stream TEXT NOT NULL,
     time BIGINT NOT NULL,
     text TEXT NOT NULL,
     PRIMARY KEY (job_id, seq)
   )`,
  `CREATE TABLE job_runs (
     job_id TEXT NOT NULL,
     attempt INTEGER NOT NULL,
     runner TEXT NOT NULL,
     lease_token BIGINT NOT NULL,
     started_at BIGINT NOT NULL,
     PRIMARY KEY (job_id, attempt)
   )`,
  // Counting a runner's running jobs on every lease must not scan the whole table.
  `CREATE INDEX jobs_runner ON jobs (runner, status)`,
  // GitOps: applications watched in Git, every deployment ever made, images kept per function.
  `CREATE TABLE apps (
     namespace TEXT NOT NULL,
     name TEXT NOT NULL,
     repo_url TEXT NOT NULL,
     branch TEXT NOT NULL,
     path TEXT NOT NULL,
     webhook_secret TEXT,
     poll_interval_s INTEGER NOT NULL,
     auto_sync INTEGER NOT NULL,
     target TEXT,
     last_commit TEXT,
     current_deployment INTEGER,
     last_error TEXT,
     failures INTEGER NOT NULL,
     next_poll_at BIGINT NOT NULL,
     created_at BIGINT NOT NULL,
     PRIMARY KEY (namespace, name)
   )`,
  `CREATE TABLE deployments (
     namespace TEXT NOT NULL,
     app TEXT NOT NULL,
     seq INTEGER NOT NULL,
     commit_sha TEXT NOT NULL,
     message TEXT NOT NULL,
     cause TEXT NOT NULL,
     status TEXT NOT NULL,
     functions TEXT NOT NULL,
     rollback_of INTEGER,
     error TEXT,
     build_log TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     finished_at BIGINT,
     PRIMARY KEY (namespace, app, seq)
   )`,
  `CREATE TABLE function_images (
     image TEXT PRIMARY KEY,
     namespace TEXT NOT NULL,
     app TEXT NOT NULL,
     function_path TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     pruned_at BIGINT
   )`,
  `CREATE TABLE invocations (
     id TEXT PRIMARY KEY,
     namespace TEXT NOT NULL,
     function_path TEXT NOT NULL,
     status INTEGER NOT NULL,
     start_kind TEXT NOT NULL,
     duration_ms INTEGER NOT NULL,
     stderr TEXT NOT NULL,
     time BIGINT NOT NULL
   )`,
  `CREATE INDEX invocations_by_function ON invocations (namespace, function_path, time)`,
  `CREATE TABLE registry_credentials (
     registry TEXT PRIMARY KEY,
     username TEXT NOT NULL,
     secret TEXT NOT NULL,
     updated_at BIGINT NOT NULL
   )`,
  // The runner protocol's lease token is random and kept only as its SHA-256 (lease_token stays,
  // as the lease's generation). Leases held before this migration are lost and their jobs requeued.
  `ALTER TABLE jobs ADD COLUMN lease_hash TEXT`,
  // A job's stored log is capped per attempt: bytes kept, and what passed the cap (counted only).
  `ALTER TABLE jobs ADD COLUMN log_bytes BIGINT NOT NULL DEFAULT 0`,
  `ALTER TABLE jobs ADD COLUMN log_dropped_lines BIGINT NOT NULL DEFAULT 0`,
  `ALTER TABLE jobs ADD COLUMN log_dropped_bytes BIGINT NOT NULL DEFAULT 0`,
  // GitOps: the credentials of an https repository URL, kept apart from it and sealed (AES-256-GCM).
  `ALTER TABLE apps ADD COLUMN repo_credential TEXT`,
  // Webhook deliveries already processed (by delivery id, and by signed body), for every server on the store.
  `CREATE TABLE webhook_deliveries (
     key TEXT PRIMARY KEY,
     received_at BIGINT NOT NULL
   )`,
  `CREATE INDEX webhook_deliveries_age ON webhook_deliveries (received_at)`,
  // Settings every server on the store must agree on, such as which key seals its secrets.
  `CREATE TABLE store_settings (
     name TEXT PRIMARY KEY,
     value TEXT NOT NULL
   )`,
  // Pipelines of jobs: the submitted row stands for the pipeline (pipeline_id its own id, no
  // plan_job), and each of its jobs is a row of its own with the pipeline's id, the job's name
  // in the pipeline, the names of the jobs it waits for and when it runs after them; it is
  // 'waiting' until they have ended, then 'queued' for any runner, or 'skipped'.
  `ALTER TABLE jobs ADD COLUMN pipeline_id TEXT`,
  `ALTER TABLE jobs ADD COLUMN plan_job TEXT`,
  `ALTER TABLE jobs ADD COLUMN needs TEXT`,
  `ALTER TABLE jobs ADD COLUMN run_when TEXT`,
  `CREATE INDEX jobs_pipeline ON jobs (pipeline_id)`,
  // A pipeline's concurrency group (GitHub's workflow `concurrency`), on its own row: one
  // pipeline of a group runs at a time; the row of one held back for another is 'waiting'.
  `ALTER TABLE jobs ADD COLUMN concurrency_group TEXT`,
  `CREATE INDEX jobs_concurrency ON jobs (concurrency_group)`,
  // Repositories whose own pipeline files run on each push, tag and pull request. Secrets
  // (webhook secret, forge token, https credential) are sealed (AES-256-GCM) in their columns.
  `CREATE TABLE repos (
     name TEXT PRIMARY KEY,
     url TEXT NOT NULL,
     credential TEXT,
     default_branch TEXT NOT NULL,
     config_path TEXT,
     trusted INTEGER NOT NULL,
     timeout_s INTEGER NOT NULL,
     webhook_secret TEXT NOT NULL,
     forge TEXT,
     forge_token TEXT,
     poll_interval_s INTEGER,
     next_number INTEGER NOT NULL,
     created_at BIGINT NOT NULL
   )`,
  // A repository's pipeline: its row carries the repository, its number there (#1, #2, …) and
  // the trigger (event, ref, commit, message, author) that made it.
  `ALTER TABLE jobs ADD COLUMN repo TEXT`,
  `ALTER TABLE jobs ADD COLUMN number INTEGER`,
  `ALTER TABLE jobs ADD COLUMN trigger_info TEXT`,
  `ALTER TABLE jobs ADD COLUMN trigger_event TEXT`,
  `ALTER TABLE jobs ADD COLUMN trigger_branch TEXT`,
  `CREATE INDEX jobs_repo ON jobs (repo, number)`,
  // Polling a repository's refs (for those without a webhook): when next, what was seen last, and its failures.
  `ALTER TABLE repos ADD COLUMN next_poll_at BIGINT`,
  `ALTER TABLE repos ADD COLUMN polled_refs TEXT`,
  `ALTER TABLE repos ADD COLUMN poll_failures INTEGER NOT NULL DEFAULT 0`,
  `ALTER TABLE repos ADD COLUMN poll_error TEXT`,
  `CREATE INDEX repos_poll ON repos (next_poll_at)`,
  // Cron schedules per repository: set through the API (source 'api'), or read from its files
  // on the default branch (GitHub's on.schedule: source 'file'); each runs a branch's pipeline.
  `CREATE TABLE repo_crons (
     repo TEXT NOT NULL,
     name TEXT NOT NULL,
     expr TEXT NOT NULL,
     branch TEXT NOT NULL,
     source TEXT NOT NULL,
     next_run_at BIGINT NOT NULL,
     last_run_at BIGINT,
     created_at BIGINT NOT NULL,
     PRIMARY KEY (repo, name)
   )`,
  `CREATE INDEX repo_crons_due ON repo_crons (next_run_at)`,
  // Secrets jobs are given: the server's (scope '') and each repository's (scope = its name),
  // sealed (AES-256-GCM), never returned; which events and branches may have each, and
  // whether a pull request from a fork may.
  `CREATE TABLE secrets (
     scope TEXT NOT NULL,
     name TEXT NOT NULL,
     value TEXT NOT NULL,
     events TEXT NOT NULL,
     branches TEXT NOT NULL,
     allow_forks INTEGER NOT NULL,
     updated_at BIGINT NOT NULL,
     updated_by TEXT NOT NULL,
     PRIMARY KEY (scope, name)
   )`,
  // A pipeline held until someone approves it (a pull request from a fork): 'approval' while it
  // waits, then who approved it and when.
  `ALTER TABLE jobs ADD COLUMN held_for TEXT`,
  `ALTER TABLE jobs ADD COLUMN approved_by TEXT`,
  `ALTER TABLE jobs ADD COLUMN approved_at BIGINT`,
  // Whether a repository's new pipeline cancels the older ones still running on its ref (Woodpecker's and Drone's setting).
  `ALTER TABLE repos ADD COLUMN auto_cancel INTEGER NOT NULL DEFAULT 0`,
  // Personal API tokens: an id to list and revoke them by, a label, an expiry and a scope
  // ('read': GETs only; 'write': all the user may do). Older tokens have neither: no expiry, write.
  `ALTER TABLE tokens ADD COLUMN id TEXT`,
  `ALTER TABLE tokens ADD COLUMN label TEXT`,
  `ALTER TABLE tokens ADD COLUMN expires_at BIGINT`,
  `ALTER TABLE tokens ADD COLUMN scope TEXT`,
  // Who may do what on a repository: read (see it), write (run, cancel, restart, approve),
  // maintain (its settings, secrets, schedules, members). The server's admin may do all.
  `CREATE TABLE repo_members (
     repo TEXT NOT NULL,
     user_name TEXT NOT NULL,
     role TEXT NOT NULL,
     granted_by TEXT NOT NULL,
     granted_at BIGINT NOT NULL,
     PRIMARY KEY (repo, user_name)
   )`,
  `CREATE INDEX repo_members_user ON repo_members (user_name)`,
  // Every state-changing call, by whom, when, with its outcome.
  `CREATE TABLE audit_log (
     id TEXT PRIMARY KEY,
     at BIGINT NOT NULL,
     actor TEXT NOT NULL,
     actor_kind TEXT NOT NULL,
     action TEXT NOT NULL,
     target TEXT,
     status INTEGER NOT NULL,
     ip TEXT,
     detail TEXT
   )`,
  `CREATE INDEX audit_log_at ON audit_log (at)`,
  // GitLab's resource_group, per repository: one job of a group runs at a time. The unique
  // index is the guard when two servers lease at once; the lease itself skips a busy group.
  `ALTER TABLE jobs ADD COLUMN resource_group TEXT`,
  `CREATE UNIQUE INDEX jobs_one_running_per_group ON jobs (resource_group) WHERE status = 'running' AND resource_group IS NOT NULL`,
  // An ssh:// repository's own deploy key, sealed: the server's own keys are never used for it.
  `ALTER TABLE repos ADD COLUMN ssh_key TEXT`,
  // Deploy targets: Docker engines of other machines that the admin lets steps of some
  // repositories and branches reach (ssh:// or tcp:// with TLS), their credentials sealed.
  `CREATE TABLE deploy_targets (
     name TEXT PRIMARY KEY,
     url TEXT NOT NULL,
     credentials TEXT NOT NULL,
     repos TEXT NOT NULL,
     branches TEXT NOT NULL,
     updated_at BIGINT NOT NULL,
     updated_by TEXT NOT NULL
   )`,
];

export async function migrate(db: Database): Promise<number> {
  await db.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
  return db.transaction(async (tx) => {
    if (tx.kind === 'postgres') await tx.query('LOCK TABLE schema_migrations IN EXCLUSIVE MODE'); // two servers starting at once
    const [row] = await tx.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    const current = Number(row?.v ?? 0);
    for (let v = current + 1; v <= MIGRATIONS.length; v++) {
      await tx.query(MIGRATIONS[v - 1]!);
      await tx.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [v, Date.now()]);
    }
    return MIGRATIONS.length - current;
  });
}
