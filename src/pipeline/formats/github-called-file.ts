import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, resolve } from 'node:path';
import { FILE_NOT_FOUND, PipelineError, REMOTE_UNREACHABLE, type PipelineNotice, type PipelineProblem } from '../errors.ts';
import { DEFAULT_INCLUDE_SOURCE, FetchError, fetchActionTree, type FetchedAction } from '../include-fetch.ts';
import { enforce, PipelineLimitError } from '../limits.ts';
import type { RunFacts } from '../when.ts';
import { YamlSource, type PathSegment } from '../yaml-source.ts';

/**
 * The file a job's `uses:` calls, found and read as GitHub finds it: `./.github/workflows/x.yml`
 * in the repository of the workflow that calls it (the run's, or a fetched one's at the same
 * commit), `owner/repo/.github/workflows/x.yml@ref` fetched from the operator's forge. GitHub
 * connects at most four levels of workflows, and a workflow cannot call itself, by any way round.
 */

/** Where a workflow's `./` files are: the run's repository, or a repository fetched at a commit. */
export type WorkflowHome = { kind: 'repository' } | { kind: 'fetched'; owner: string; repo: string; ref: string; commit: string; dir: string };

export interface CalledFile {
  source: YamlSource;
  /** The file among the calls around it: its absolute path, or owner/repo/path@commit. */
  identity: string;
  home: WorkflowHome;
}

/** The workflows a run connects: its own and three levels of calls. */
export const MAX_WORKFLOW_LEVELS = 4;

export interface CallPlace {
  source: YamlSource;
  /** The calling job's path and id. */
  at: PathSegment[];
  jobId: string;
  uses: string;
  /** The workflows around the call, outermost first, the calling one last (by identity). */
  trail: string[];
  home: WorkflowHome;
}

/**
 * The called file, read; undefined when it cannot be, said by a problem at the call (a file
 * that is not there, a call too deep or in a circle) or by a notice (a forge that does not answer).
 */
export function calledFile(call: CallPlace, facts: RunFacts, problems: PipelineProblem[], notices: PipelineNotice[]): CalledFile | undefined {
  const { source, at, uses } = call;
  const problem = (message: string, code?: typeof FILE_NOT_FOUND) => {
    problems.push({ position: source.position(at, 'uses'), ...(code ? { code } : {}), message });
    return undefined;
  };
  const found = uses.startsWith('./') ? localFile(call, facts) : remoteFile(call, facts, notices);
  if (found === undefined || 'problem' in found) return found === undefined ? undefined : problem(found.problem, found.code);
  const chain = [...call.trail, found.identity].map(shortName).join(' → ');
  if (call.trail.includes(found.identity)) return problem(`${uses}: the workflows call each other in a circle (${chain}); GitHub refuses such a call: take one of the calls out`);
  if (call.trail.length >= MAX_WORKFLOW_LEVELS) return problem(`${uses}: GitHub connects at most ${MAX_WORKFLOW_LEVELS} levels of workflows, and this call is level ${call.trail.length + 1} (${chain}): call the jobs of the deepest one from its caller instead`);
  const text = readFileSync(found.path, 'utf8');
  enforce(source.limits, 'bytes', Buffer.byteLength(text), () => source.position(at, 'uses'), `${uses} is ${Buffer.byteLength(text)} bytes`);
  let read: YamlSource;
  try {
    read = YamlSource.parse(found.display, text, source.limits);
  } catch (err) {
    // A limit passed is thrown at once, as for the run's own file; a syntax error is a problem among the others.
    if (!(err instanceof PipelineError) || err instanceof PipelineLimitError) throw err;
    problems.push(...err.problems);
    return undefined;
  }
  // GitHub's reader refuses a key written twice in one map, in a called file as in the run's.
  for (const r of read.repeated) problems.push({ position: r.again, message: `YAML syntax: Map keys must be unique: "${r.key}" is written at line ${r.first.line} and again here` });
  return { source: read, identity: found.identity, home: found.home };
}

interface Found {
  path: string;
  display: string;
  identity: string;
  home: WorkflowHome;
}
type Lookup = Found | { problem: string; code?: typeof FILE_NOT_FOUND } | undefined;

/** `./.github/workflows/x.yml`: a file of the repository the calling workflow is in. */
function localFile(call: CallPlace, facts: RunFacts): Lookup {
  const file = call.uses.replace(/@.*$/, '');
  const path = posix.normalize(file);
  if (path.startsWith('..')) return { problem: `${call.uses}: a reusable workflow of this repository is a file of it; ${file} leads out of it` };
  const home = call.home;
  if (home.kind === 'fetched') {
    const full = join(home.dir, path);
    if (!isFile(full)) return { problem: `${call.uses}: ${home.owner}/${home.repo} has no ${path} at ${home.ref}, where the workflow that calls it is`, code: FILE_NOT_FOUND };
    return { path: full, display: `${home.owner}/${home.repo}/${path}@${home.ref}`, identity: `${home.owner}/${home.repo}/${path}@${home.commit}`, home };
  }
  const dir = facts.includes?.repoDir;
  if (!dir || !isFile(join(dir, path))) return { problem: `${call.uses}: the repository has no ${file}: add the reusable workflow there, or name the right file`, code: FILE_NOT_FOUND };
  const full = resolve(dir, path);
  const rel = relative(process.cwd(), full);
  return { path: full, display: rel && !rel.startsWith('..') ? rel : full, identity: full, home };
}

/** `owner/repo/.github/workflows/x.yml@ref`: its folder fetched from the forge, by commit. */
function remoteFile(call: CallPlace, facts: RunFacts, notices: PipelineNotice[]): Lookup {
  const m = /^([^/@]+)\/([^/@]+)\/([^@]+)@(.+)$/.exec(call.uses);
  if (!m) return { problem: `"${call.uses}" is not owner/repo/.github/workflows/FILE.yml@ref or ./.github/workflows/FILE.yml` };
  const [, owner, repo, path, ref] = m as unknown as [string, string, string, string, string];
  if (!/^\.github\/workflows\/[^/]+\.ya?ml$/.test(path)) return { problem: `${call.uses}: a reusable workflow is a .yml file of .github/workflows, not ${path}` };
  const settings = { ...DEFAULT_INCLUDE_SOURCE, ...facts.includes };
  const where = `${settings.actionsBase}/${owner}/${repo}`;
  let fetched: FetchedAction;
  try {
    fetched = fetchActionTree(owner, repo, ref, posix.dirname(path), settings);
  } catch (err) {
    if (!(err instanceof FetchError)) throw err;
    notices.push(call.source.notice(call.at, 'uses', REMOTE_UNREACHABLE, `${call.uses}: a reusable workflow of ${where}; it could not be fetched (${err.message}), so job ${call.jobId} is not run`, 'degraded'));
    return undefined;
  }
  const full = join(fetched.dir, posix.basename(path));
  if (!isFile(full)) return { problem: `${call.uses}: ${owner}/${repo} has no ${path} at ${ref}`, code: FILE_NOT_FOUND };
  notices.push(call.source.notice(call.at, 'uses', 'NESTOR_WORKFLOW_FETCHED', `${call.uses}: fetched from ${where} at ${fetched.commit.slice(0, 12)}`, 'info'));
  // The fetched folder is .github/workflows of the repository at that commit: its `./` files are beside it.
  const root = resolve(fetched.dir, '..', '..');
  return { path: full, display: `${owner}/${repo}/${path}@${ref}`, identity: `${owner}/${repo}/${path}@${fetched.commit}`, home: { kind: 'fetched', owner, repo, ref, commit: fetched.commit, dir: root } };
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** A workflow as a chain of calls names it: its path in its repository, a fetched one's with its repository and commit. */
function shortName(identity: string): string {
  return identity.includes('@') ? identity.replace(/@([0-9a-f]{12})[0-9a-f]{28}$/, '@$1') : identity.replace(/^.*\/(?=\.(github|gitea|forgejo)\/workflows\/)/, '');
}
