import type { RunFacts } from './when.ts';

/**
 * The variables Drone's and Woodpecker's runners give every step, from what Nestor knows of
 * the run: real files build image tags from `${DRONE_COMMIT_SHA:0:8}` or `${CI_COMMIT_SHA}`,
 * name releases after `DRONE_TAG`, and branch on `CI_PIPELINE_EVENT` inside scripts. What the
 * run does not know here (a build number, a pull request) is given as those systems give it
 * when it does not apply: a number starting at 1, or nothing.
 */

interface RunOf {
  /** The pipeline's (Drone) or workflow's (Woodpecker) name. */
  pipeline: string;
  step?: string;
  workspace: string;
}

const NO_COMMIT = '0000000000000000000000000000000000000000';

/** The run's Git ref, as given or as its branch or tag name it. */
export function refOf(facts: RunFacts): string {
  return facts.ref ?? (facts.tag ? `refs/tags/${facts.tag}` : facts.branch ? `refs/heads/${facts.branch}` : '');
}

function refParts(facts: RunFacts) {
  const event = facts.event ?? 'push';
  const tag = event === 'tag' ? (facts.tag ?? '') : '';
  const branch = facts.branch ?? '';
  const ref = refOf(facts);
  const repo = facts.facts?.repo ?? facts.project ?? 'nestor/project';
  const [owner, ...rest] = repo.split('/');
  return { event, tag, branch, ref, repo, owner: rest.length ? owner! : '', name: rest.length ? rest.join('/') : repo, sha: facts.commit ?? NO_COMMIT, defaultBranch: facts.defaultBranch ?? 'main' };
}

export function droneVariables(facts: RunFacts, run: RunOf): Record<string, string> {
  const r = refParts(facts);
  return {
    DRONE: 'true',
    DRONE_BRANCH: r.branch,
    DRONE_COMMIT_BRANCH: r.branch,
    DRONE_SOURCE_BRANCH: r.branch,
    DRONE_TARGET_BRANCH: r.event === 'pull_request' ? r.defaultBranch : r.branch,
    DRONE_BUILD_EVENT: r.event,
    DRONE_BUILD_NUMBER: '1',
    DRONE_COMMIT: r.sha,
    DRONE_COMMIT_SHA: r.sha,
    DRONE_COMMIT_BEFORE: NO_COMMIT,
    DRONE_COMMIT_AFTER: r.sha,
    DRONE_COMMIT_REF: r.ref,
    DRONE_REPO: r.repo,
    DRONE_REPO_OWNER: r.owner,
    DRONE_REPO_NAMESPACE: r.owner,
    DRONE_REPO_NAME: r.name,
    DRONE_REPO_BRANCH: r.defaultBranch,
    DRONE_STAGE_NAME: run.pipeline,
    DRONE_STAGE_KIND: 'pipeline',
    DRONE_STAGE_TYPE: 'docker',
    DRONE_STAGE_NUMBER: '1',
    DRONE_WORKSPACE: run.workspace,
    DRONE_WORKSPACE_PATH: run.workspace,
    ...(r.tag ? { DRONE_TAG: r.tag } : {}),
    ...(facts.facts?.target ? { DRONE_DEPLOY_TO: facts.facts.target } : {}),
    ...(facts.facts?.cron ? { DRONE_CRON: facts.facts.cron } : {}),
    ...(run.step ? { DRONE_STEP_NAME: run.step, DRONE_STEP_NUMBER: '1' } : {}),
  };
}

export function woodpeckerVariables(facts: RunFacts, run: RunOf): Record<string, string> {
  const r = refParts(facts);
  return {
    CI_COMMIT_SHA: r.sha,
    CI_COMMIT_REF: r.ref,
    CI_COMMIT_BRANCH: r.event === 'pull_request' ? r.defaultBranch : r.branch,
    ...(r.event === 'pull_request' ? { CI_COMMIT_SOURCE_BRANCH: r.branch, CI_COMMIT_TARGET_BRANCH: r.defaultBranch } : {}),
    ...(r.tag ? { CI_COMMIT_TAG: r.tag } : {}),
    CI_PIPELINE_EVENT: r.event,
    CI_PIPELINE_NUMBER: '1',
    ...(facts.facts?.target ? { CI_PIPELINE_DEPLOY_TARGET: facts.facts.target } : {}),
    ...(facts.facts?.cron ? { CI_PIPELINE_CRON: facts.facts.cron } : {}),
    ...(facts.changedPaths && facts.changedPaths.length <= 500 ? { CI_PIPELINE_FILES: JSON.stringify(facts.changedPaths) } : {}),
    CI_REPO: r.repo,
    CI_REPO_OWNER: r.owner,
    CI_REPO_NAME: r.name,
    CI_REPO_DEFAULT_BRANCH: r.defaultBranch,
    CI_WORKFLOW_NAME: run.pipeline,
    CI_WORKFLOW_NUMBER: '1',
    CI_WORKSPACE: run.workspace,
    ...(run.step ? { CI_STEP_NAME: run.step, CI_STEP_NUMBER: '1' } : {}),
  };
}
