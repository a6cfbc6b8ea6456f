import type { PipelineProblem, SourcePosition } from './errors.ts';
import type { PipelineConfig, StepConfig } from './model.ts';
import { didYouMean } from './suggest.ts';
import type { PathSegment } from './yaml-source.ts';

/** The checks on a pipeline's names and its step graph, for every format. */

type At = (path: PathSegment[], key?: string) => SourcePosition;

/** A format's own words for a step and its prerequisites, so messages read like its docs. */
function words(config: PipelineConfig): { step: string; key: string; verb: string } {
  return config.format === 'gitlab' ? { step: 'job', key: 'needs', verb: 'needs' } : { step: 'step', key: 'depends_on', verb: 'depends on' };
}

/**
 * Whether `name` may be a step that is written but could not be read: its problems are
 * reported already, and "unknown step" would only repeat them.
 */
export function maybeUnread(config: PipelineConfig, name: string): boolean {
  return (config.unread ?? []).some((u) => !u.service && (u.name === undefined || u.name === name));
}

export function checkNames(config: PipelineConfig, problems: PipelineProblem[], at: At): void {
  const seen = new Set<string>();
  const unread = (config.unread ?? []).flatMap((u) => (u.name === undefined ? [] : [{ name: u.name, at: u.at }]));
  // GitLab's jobs and services have names of their own kinds (a job `docker` beside a `docker:dind` service).
  // So do a GitHub job's steps, run inside its container, which no one reaches by name.
  const gitlab = config.format === 'gitlab' || config.format === 'github';
  // Woodpecker checks steps' names among steps and services' among services (its own CI has a
  // step `postgres` beside the service): a step no one reaches by name may share a service's.
  const serviceNames = new Set(config.services.map((s) => s.name));
  const apart = (item: { name: string }) => config.format === 'woodpecker' && config.steps.includes(item as StepConfig) && !(item as StepConfig).detach && serviceNames.has(item.name) && config.steps.filter((s) => s.name === item.name).length === 1;
  for (const item of [...config.services, ...config.steps, ...unread]) {
    if (gitlab && item === config.steps[0]) seen.clear();
    if (seen.has(item.name) && !apart(item)) problems.push({ position: at(item.at), message: `the name "${item.name}" is used twice (steps and services share one namespace)` });
    seen.add(item.name);
    // GitLab job names may hold any character (`test:unit`, `build image`), and so may Drone's
    // and Woodpecker's step names (`runner identification`): the runner makes container names
    // of its own from them. A name others reach by (a service, a detached step) is a hostname.
    const free = config.format === 'gitlab' || ((config.format === 'drone' || config.format === 'woodpecker' || config.format === 'github') && config.steps.includes(item as StepConfig) && !(item as StepConfig).detach);
    if (!free && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(item.name)) {
      problems.push({ position: at(item.at), message: `"${item.name}" is not a valid name: use letters, digits, '.', '_' and '-'` });
    }
  }
  if (config.steps.length === 0 && !config.unread?.length) problems.push({ position: at(config.at), message: 'the pipeline has no steps' });
}

/**
 * Each step's prerequisites. Without any `depends_on` in the file, steps run in the order
 * written; with one, the file is a graph and a step without `depends_on` starts at once.
 * Unknown names and cycles are reported at the entry that names them.
 */
export function dependencies(config: PipelineConfig, problems: PipelineProblem[], at: At): Map<string, string[]> {
  const w = words(config);
  // A set: GitLab's stages make every job depend on every job before it, n² names to look up.
  const names = new Set(config.steps.map((s) => s.name));
  const known = [...names, ...(config.unread ?? []).flatMap((u) => (u.name === undefined || u.service ? [] : [u.name]))];
  const graph = config.steps.some((s) => s.dependsOn !== undefined);
  const entryAt = (s: StepConfig, i: number) => (s.dependsOnAt?.[i] ? at(s.dependsOnAt[i]) : at(s.at, w.key));
  const order = new Map<string, string[]>();
  config.steps.forEach((s, i) => {
    const deps = graph ? (s.dependsOn ?? []) : i > 0 ? [config.steps[i - 1]!.name] : [];
    let allKnown = true;
    deps.forEach((d, j) => {
      if (names.has(d)) return;
      allKnown = false;
      if (maybeUnread(config, d)) return;
      problems.push({ position: entryAt(s, j), message: `${w.step} ${s.name} ${w.verb} unknown ${w.step} "${d}"${didYouMean(d, known)}` });
    });
    // A name used twice is reported as such; the second step's edges would only add cycles.
    if (!order.has(s.name)) order.set(s.name, allKnown ? deps : deps.filter((d) => names.has(d)));
  });
  for (const cycle of findCycles(order)) {
    const [from, to] = cycle.slice(-2) as [string, string];
    const closing = config.steps.find((s) => s.name === from)!;
    problems.push({ position: entryAt(closing, closing.dependsOn?.indexOf(to) ?? -1), message: `${w.key} makes a cycle: ${cycle.join(' → ')}` });
  }
  return order;
}

/** A cycle in `graph`, as the path that closes it (`a → b → a`), if there is one. */
export function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

/**
 * Every cycle that needs its own fix: after each one found, the edge that closes it is set
 * aside and the search goes on, so two separate cycles are both reported, and one cycle once.
 */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const rest = new Map([...graph].map(([k, v]) => [k, [...v]]));
  const cycles: string[][] = [];
  for (let cycle = findCycle(rest); cycle; cycle = findCycle(rest)) {
    cycles.push(cycle);
    const [from, to] = cycle.slice(-2) as [string, string];
    rest.set(from, rest.get(from)!.filter((d) => d !== to));
  }
  return cycles;
}
