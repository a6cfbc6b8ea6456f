import { refOf } from '../forge-variables.ts';
import { targetBranchOf, type RunFacts } from '../when.ts';
import type { Value } from './expression.ts';

/**
 * The `github` context and the GITHUB_* variables a workflow sees, from what Nestor knows of
 * the run. Nestor's events are named as GitHub names them (a tag push is a `push` of a
 * `refs/tags/` ref, `cron` is `schedule`, `manual` is `workflow_dispatch`); what the run does
 * not know here (a run number, an event payload) is what GitHub gives when it does not apply.
 */

export const GITHUB_WORKSPACE = '/github/workspace';
const NO_COMMIT = '0000000000000000000000000000000000000000';

const GITHUB_EVENT: Record<string, string> = { tag: 'push', cron: 'schedule', manual: 'workflow_dispatch' };

export function githubEventName(facts: RunFacts): string {
  const event = facts.event ?? 'push';
  return GITHUB_EVENT[event] ?? event;
}

export interface RunIdentity {
  workflow: string;
  job: string;
  /** The server's run number and id, when there is one. */
  runNumber?: number;
  runId?: string;
  serverUrl?: string;
}

export function githubContext(facts: RunFacts, run: RunIdentity, inputs: Record<string, Value> = {}): Record<string, Value> {
  const ref = refOf(facts) || `refs/heads/${facts.defaultBranch ?? 'main'}`;
  const isTag = ref.startsWith('refs/tags/');
  const isPull = (facts.event ?? 'push') === 'pull_request';
  const refName = ref.replace(/^refs\/(heads|tags)\//, '');
  const repository = facts.facts?.repo ?? facts.project ?? 'nestor/project';
  const owner = repository.includes('/') ? repository.split('/')[0]! : repository;
  const serverUrl = run.serverUrl ?? 'https://github.com';
  const sha = facts.commit ?? NO_COMMIT;
  const actor = facts.facts?.author ?? 'nestor';
  const message = facts.facts?.message ?? '';
  const event: Record<string, Value> = isPull
    ? { pull_request: { head: { ref: facts.branch ?? '', sha }, base: { ref: facts.defaultBranch ?? 'main' }, number: 0, draft: false, labels: [] }, action: 'opened' }
    : { ref, after: sha, head_commit: { id: sha, message, author: { name: actor } }, commits: message ? [{ id: sha, message }] : [], inputs, repository: { default_branch: facts.defaultBranch ?? 'main', full_name: repository } };
  return {
    action: '',
    actor,
    triggering_actor: actor,
    api_url: serverUrl === 'https://github.com' ? 'https://api.github.com' : `${serverUrl}/api/v3`,
    base_ref: isPull ? targetBranchOf(facts) : '',
    head_ref: isPull ? (facts.branch ?? '') : '',
    event,
    event_name: githubEventName(facts),
    event_path: '/github/workflow/event.json',
    job: run.job,
    ref,
    ref_name: refName,
    ref_type: isTag ? 'tag' : 'branch',
    ref_protected: false,
    repository,
    repository_owner: owner,
    repositoryUrl: `${serverUrl}/${repository}.git`,
    retention_days: 90,
    run_id: run.runId ?? '1',
    run_number: run.runNumber ?? 1,
    run_attempt: 1,
    server_url: serverUrl,
    sha,
    token: '',
    workflow: run.workflow,
    workspace: GITHUB_WORKSPACE,
  };
}

/** The GITHUB_* variables every step gets, from the `github` context. */
export function githubVariables(github: Record<string, Value>): Record<string, string> {
  const text = (v: Value | undefined) => (v === undefined || v === null ? '' : String(v));
  return {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_ACTOR: text(github.actor),
    GITHUB_TRIGGERING_ACTOR: text(github.triggering_actor),
    GITHUB_API_URL: text(github.api_url),
    GITHUB_BASE_REF: text(github.base_ref),
    GITHUB_HEAD_REF: text(github.head_ref),
    GITHUB_EVENT_NAME: text(github.event_name),
    GITHUB_EVENT_PATH: text(github.event_path),
    GITHUB_JOB: text(github.job),
    GITHUB_REF: text(github.ref),
    GITHUB_REF_NAME: text(github.ref_name),
    GITHUB_REF_TYPE: text(github.ref_type),
    GITHUB_REPOSITORY: text(github.repository),
    GITHUB_REPOSITORY_OWNER: text(github.repository_owner),
    GITHUB_RETENTION_DAYS: text(github.retention_days),
    GITHUB_RUN_ID: text(github.run_id),
    GITHUB_RUN_NUMBER: text(github.run_number),
    GITHUB_RUN_ATTEMPT: text(github.run_attempt),
    GITHUB_SERVER_URL: text(github.server_url),
    GITHUB_SHA: text(github.sha),
    GITHUB_WORKFLOW: text(github.workflow),
    GITHUB_WORKSPACE: text(github.workspace),
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: process.arch === 'arm64' ? 'ARM64' : 'X64',
    RUNNER_NAME: 'nestor',
    RUNNER_TEMP: '/github/runner_temp',
    RUNNER_TOOL_CACHE: '/opt/hostedtoolcache',
    RUNNER_ENVIRONMENT: 'self-hosted',
  };
}

/** The `runner` context. */
export function runnerContext(): Record<string, Value> {
  return { os: 'Linux', arch: process.arch === 'arm64' ? 'ARM64' : 'X64', name: 'nestor', temp: '/github/runner_temp', tool_cache: '/opt/hostedtoolcache', environment: 'self-hosted', debug: '' };
}
