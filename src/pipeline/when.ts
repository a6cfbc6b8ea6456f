import { globMatches } from './glob.ts';
import { githubPatternMatches } from './github/filter-pattern.ts';
import { evaluateExpression, unsupportedIn } from './evaluate-expression.ts';
import { refOf, woodpeckerVariables } from './forge-variables.ts';
import { hostPlatform } from '../platform.ts';
import type { Condition, Filter } from './model.ts';

/** What a run is about: the facts `when` conditions are checked against. */
export interface RunFacts {
  branch?: string;
  event?: string;
  /** The Git ref; when absent, `refs/heads/BRANCH` (or `refs/tags/TAG`) is taken. */
  ref?: string;
  /** What a server knows of the run: repo (owner/name), instance (server host), target, cron (job name), action. */
  facts?: Record<string, string>;
  /** Files changed by the commit; unknown (undefined) matches every `paths` filter. */
  changedPaths?: string[];
  /** The commit's SHA, when known. */
  commit?: string;
  /** The matrix values of the job being compiled. */
  matrix?: Record<string, string>;
  /** The tag a tag event is about. */
  tag?: string;
  /** The repository's default branch (main when not known). */
  defaultBranch?: string;
  /** The project's path (`group/name`), for GitLab's CI_PROJECT_* variables. */
  project?: string;
  /** Where GitLab files' `include:` content comes from (formats/gitlab-include.ts). */
  includes?: Partial<import('./include-fetch.ts').IncludeSource>;
}

function matches(filter: Filter, value: string): boolean {
  const test = filter.syntax === 'github' ? githubPatternMatches : globMatches;
  const isMatch = (patterns: string[]) => patterns.some((p) => test(value, p));
  return (filter.include.length === 0 || isMatch(filter.include)) && !isMatch(filter.exclude);
}

/**
 * Whether a condition list lets a step (or pipeline) run, and if not, why. Conditions in a
 * list are alternatives; the keys inside one condition must all match. `status` is left to the
 * executor, which alone knows how the job is going.
 */
export function evaluate(conditions: Condition[], facts: RunFacts): { run: boolean; runOn: ('success' | 'failure')[]; reason?: string } {
  if (conditions.length === 0) return { run: true, runOn: ['success'] };
  const reasons: string[] = [];
  const runOn = new Set<'success' | 'failure'>();
  for (const c of conditions) {
    const reason = mismatch(c, facts);
    if (reason) {
      reasons.push(reason);
      continue;
    }
    for (const s of c.status ?? ['success']) runOn.add(s);
  }
  if (runOn.size === 0) return { run: false, runOn: [], reason: reasons.join('; ') };
  return { run: true, runOn: [...runOn] };
}

function mismatch(c: Condition, facts: RunFacts): string | undefined {
  if (c.branch && !matches(c.branch, facts.branch ?? '')) return `branch ${facts.branch ?? '(none)'} does not match ${describe(c.branch)}`;
  if (c.targetBranch) {
    const target = targetBranchOf(facts);
    if (!matches(c.targetBranch, target)) return `the pull request's target branch ${target} does not match ${describe(c.targetBranch)}`;
  }
  if (c.event && !matches(c.event, facts.event ?? '')) return `event ${facts.event ?? '(none)'} does not match ${describe(c.event)}`;
  if (c.ref) {
    const ref = refOf(facts);
    if (!matches(c.ref, ref)) return `ref ${ref || '(none)'} does not match ${describe(c.ref)}`;
  }
  for (const [axis, value] of Object.entries(c.matrix ?? {})) {
    if (facts.matrix?.[axis] !== value) return `matrix ${axis} is ${facts.matrix?.[axis] ?? '(not set)'}, not ${value}`;
  }
  for (const [fact, filter] of Object.entries(c.facts ?? {})) {
    // The platform is the machine's that compiles the job: the runner's, or nestor run's.
    const value = facts.facts?.[fact] ?? (fact === 'platform' ? hostPlatform() : '');
    if (!matches(filter, value)) return `${fact} ${value || '(not known here)'} does not match ${describe(filter)}`;
  }
  if (c.evaluate !== undefined) {
    const unsupported = unsupportedIn(c.evaluate);
    if (unsupported) return `its evaluate expression uses ${unsupported}, which Nestor cannot evaluate`;
    if (!evaluateExpression(c.evaluate, expressionVariables(facts))) return `evaluate ${JSON.stringify(c.evaluate)} is false`;
  }
  if (c.paths && facts.changedPaths && c.pathRule) return woodpeckerPaths(c.paths, c.pathRule, facts.changedPaths, facts.facts?.message);
  if (c.paths && facts.changedPaths && !facts.changedPaths.some((p) => matches(c.paths!, p))) {
    return `no changed file matches ${describe(c.paths)}`;
  }
  return undefined;
}

/** The branch a pull request goes into: what the server says, else the default branch. */
export function targetBranchOf(facts: RunFacts): string {
  return facts.facts?.target ?? facts.defaultBranch ?? 'main';
}

function woodpeckerPaths(filter: Filter, rule: NonNullable<Condition['pathRule']>, changed: string[], message: string | undefined): string | undefined {
  if (rule.ignoreMessage && message?.toLowerCase().includes(rule.ignoreMessage.toLowerCase())) return undefined;
  if (changed.length === 0) return rule.onEmpty ? undefined : 'no file changed, and on_empty is false';
  const isMatch = (patterns: string[], p: string) => patterns.some((g) => globMatches(p, g));
  if (filter.exclude.length && changed.every((p) => isMatch(filter.exclude, p))) return `every changed file matches ${filter.exclude.join(', ')}, which is excluded`;
  if (filter.include.length && !changed.some((p) => isMatch(filter.include, p))) return `no changed file matches ${filter.include.join(', ')}`;
  return undefined;
}

/**
 * The variables a Woodpecker expression sees: those its steps get, under Woodpecker's names
 * (the workflow's own name is not known to a condition, which may be the workflow's).
 */
function expressionVariables(facts: RunFacts): Record<string, string> {
  return woodpeckerVariables(facts, { pipeline: '', workspace: '/woodpecker/src' });
}

/** Every glob pattern of a condition list, for the checks that need them all (their length). */
export function patternsOf(conditions: Condition[]): string[] {
  return conditions.flatMap((c) => [c.branch, c.event, c.paths, c.ref, ...Object.values(c.facts ?? {})].flatMap((f) => (f ? [...f.include, ...f.exclude] : [])));
}

function describe(f: Filter): string {
  return [f.include.length ? f.include.join(', ') : '*', ...(f.exclude.length ? [`except ${f.exclude.join(', ')}`] : [])].join(' ');
}
