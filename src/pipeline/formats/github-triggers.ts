import type { PipelineNotice, PipelineProblem } from '../errors.ts';
import type { Condition, Filter } from '../model.ts';
import { check } from '../validate.ts';
import { didYouMean } from '../suggest.ts';
import type { YamlSource } from '../yaml-source.ts';
import type { WorkflowTriggers } from '../github/job-plan.ts';
import { EVENTS, eventSchemas } from './github-schema.ts';

/**
 * A workflow's `on:` (a string, a list or a map of events), read into the conditions the run's
 * facts are checked against, and kept whole as the triggers a server's repository pipelines
 * use. GitHub's events are named in Nestor's words where Nestor has one: a push of a tag is
 * the event `tag` (GitHub's `push` with a `refs/tags/` ref), `schedule` is `cron`,
 * `workflow_dispatch` is `manual`; `nestor run --event push --ref refs/heads/main` is checked
 * as GitHub would check that push.
 */


/** GitHub's event names in Nestor's `--event` words (a tag push is `tag`, `schedule` is `cron`). */
const NESTOR_EVENT: Record<string, string[]> = { push: ['push', 'tag'], pull_request: ['pull_request'], pull_request_target: ['pull_request'], schedule: ['cron'], workflow_dispatch: ['manual', 'workflow_dispatch'] };

export function readTriggers(source: YamlSource, on: unknown, problems: PipelineProblem[], notices: PipelineNotice[]): { triggers: WorkflowTriggers; when: Condition[] } {
  const events = eventsOf(source, on, problems);
  const when: Condition[] = [];
  const triggers: WorkflowTriggers = { events: {}, schedules: [] };
  for (const [event, settings, at] of events) {
    if (!EVENTS.includes(event)) {
      problems.push({ position: source.position(at.slice(0, -1), String(at[at.length - 1])), message: `"${event}" is not an event GitHub starts workflows on${didYouMean(event, EVENTS)}` });
      continue;
    }
    const schema = eventSchemas[event];
    const read = schema ? check(source, schema, settings, at, `the ${event} event`, problems) : settings;
    triggers.events[event] = read ?? null;
    when.push(...conditionsOf(event, (read ?? {}) as Record<string, unknown>));
    if (event === 'schedule' && Array.isArray(read)) triggers.schedules = read.map((s: { cron: string }) => s.cron);
    if (event === 'workflow_dispatch' && read && typeof read === 'object') triggers.dispatchInputs = (read as { inputs?: Record<string, unknown> }).inputs ?? {};
    if (event === 'workflow_call') {
      const call = (read ?? {}) as { inputs?: Record<string, never>; secrets?: Record<string, never>; outputs?: Record<string, never> };
      triggers.call = { inputs: call.inputs ?? {}, secrets: call.secrets ?? {}, outputs: call.outputs ?? {} };
    }
    if (!schema && settings !== null && settings !== undefined && (typeof settings !== 'object' || Array.isArray(settings) || Object.keys(settings).some((k) => k !== 'types'))) {
      notices.push(source.notice(at, undefined, 'NESTOR_TRIGGER_RECORDED', `on.${event}: recorded as written; its settings other than types are the server's to match when repositories are connected`, 'info'));
    }
  }
  return { triggers, when };
}

/** The events of `on:`, each with its settings and where it is written. */
function eventsOf(source: YamlSource, on: unknown, problems: PipelineProblem[]): [string, unknown, (string | number)[]][] {
  if (typeof on === 'string') return [[on, null, ['on']]];
  if (Array.isArray(on)) {
    return on.flatMap((e, i): [string, unknown, (string | number)[]][] => {
      if (typeof e === 'string') return [[e, null, ['on', i]]];
      problems.push({ position: source.position(['on', i]), message: 'each event of the on: list is a name (push, pull_request, ...)' });
      return [];
    });
  }
  if (on && typeof on === 'object') return Object.entries(on).map(([k, v]) => [k, v, ['on', k]]);
  problems.push({ position: source.position([], 'on'), message: on === undefined ? 'required key "on" is missing: a workflow says which events start it (on: push)' : 'on: takes an event, a list of events, or a map of events to their settings' });
  return [];
}

/** The conditions under which one event of `on:` starts the workflow. */
function conditionsOf(event: string, s: Record<string, unknown>): Condition[] {
  const names = NESTOR_EVENT[event] ?? [event];
  if (event !== 'push' && event !== 'pull_request' && event !== 'pull_request_target') return [{ event: { include: names, exclude: [] } }];
  const paths = filterOf(s.paths, s['paths-ignore']);
  const branches = filterOf(s.branches, s['branches-ignore']);
  if (event !== 'push') return [{ event: { include: names, exclude: [] }, ...(branches ? { targetBranch: branches } : {}), ...(paths ? { paths } : {}) }];
  const tags = filterOf(s.tags, s['tags-ignore']);
  // GitHub: with only branch filters a tag push does not start it, with only tag filters a branch push does not.
  const out: Condition[] = [];
  if (branches || !tags) out.push({ event: { include: ['push'], exclude: [] }, ...(branches ? { branch: branches } : {}), ...(paths ? { paths } : {}) });
  if (tags || !branches) out.push({ event: { include: ['tag'], exclude: [] }, ...(tags ? { ref: prefixed(tags, 'refs/tags/') } : {}) });
  return out;
}

/** A list of patterns and its `-ignore` list; `!pattern` entries of the list exclude, as GitHub reads them. */
function filterOf(list: unknown, ignore: unknown): Filter | undefined {
  if (list === undefined && ignore === undefined) return undefined;
  const patterns = (v: unknown) => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
  const written = patterns(list);
  return {
    include: written.filter((p) => !p.startsWith('!')),
    exclude: [...written.filter((p) => p.startsWith('!')).map((p) => p.slice(1)), ...patterns(ignore)],
    syntax: 'github',
  };
}

function prefixed(f: Filter, prefix: string): Filter {
  return { ...f, include: f.include.map((p) => prefix + p), exclude: f.exclude.map((p) => prefix + p) };
}
