import type { PipelineNotice, PipelineProblem } from '../errors.ts';
import type { Value } from '../github/expression.ts';
import type { NeededJob } from '../github/step-runtime.ts';
import { fillValue } from '../github/templates.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';
import { expandMatrix, MatrixError, type Combination } from './github-matrix.ts';
import type { GithubJob } from './github-schema.ts';

/** A job's combinations, and the expression they wait for when the jobs it needs make its matrix. */
export interface JobMatrix {
  combos: Combination[];
  /** Written over `needs`, not known yet: the run expands it once those jobs have ended. */
  fromNeeds?: string;
}

export interface MatrixRun {
  /** How the jobs the file's jobs need have ended, where known (a run compiling one whose needs ran). */
  needs?: Record<string, NeededJob>;
  /** The `inputs` context as far as it is known now (a late input throws when read). */
  inputs?: Record<string, Value>;
  /** Whether the run expands a matrix over needs once they have ended (a job of the run's own workflow). */
  expandsLater: boolean;
}

/**
 * A job's `strategy.matrix` as combinations. A matrix written as an expression over the
 * outputs of the jobs it needs (`fromJSON(needs.plan.outputs.matrix)`, the usual way to make a
 * job per changed package) is expanded when those outputs are given; before, the job stands as
 * one, and the run expands it once they have ended (`JobPlan.github.matrixFromNeeds`).
 */
export function jobMatrix(source: YamlSource, job: GithubJob, at: PathSegment[], problems: PipelineProblem[], notices: PipelineNotice[], run: MatrixRun = { expandsLater: false }): JobMatrix {
  const mat = [...at, 'strategy', 'matrix'];
  if (typeof job.strategy === 'string') {
    const strategy = known(job.strategy, run);
    const matrix = strategy && typeof strategy === 'object' && !Array.isArray(strategy) ? (strategy as Record<string, unknown>).matrix : undefined;
    if (matrix && typeof matrix === 'object' && !Array.isArray(matrix)) return fromValue(source, job.strategy, matrix as Record<string, unknown>, at, 'strategy', problems, notices);
    return pending(source, job.strategy, at, 'strategy', `the strategy is the expression ${job.strategy}`, run, notices, [{}]);
  }
  const matrix = job.strategy?.matrix;
  if (matrix === undefined) return { combos: [{}] };
  if (typeof matrix === 'string') {
    const value = known(matrix, run);
    if (value && typeof value === 'object' && !Array.isArray(value)) return fromValue(source, matrix, value as Record<string, unknown>, mat.slice(0, -1), 'matrix', problems, notices);
    return pending(source, matrix, mat.slice(0, -1), 'matrix', `the matrix is the expression ${matrix}`, run, notices, [{}]);
  }
  // Axes written as expressions (include/exclude too): each known now, or the job waits for all of them.
  const dynamic = Object.entries(matrix).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].includes('${{'));
  if (dynamic.length) {
    const values = dynamic.map(([axis, text]) => [axis, known(text, run)] as const);
    if (values.every(([, v]) => Array.isArray(v))) {
      return fromValue(source, dynamic.map(([, t]) => t).join(', '), { ...matrix, ...Object.fromEntries(values) }, mat, dynamic[0]![0], problems, notices);
    }
    const rest = Object.fromEntries(Object.entries(matrix).filter(([k]) => !dynamic.some(([axis]) => axis === k)));
    const others = Object.keys(rest).some((k) => k !== 'include' && k !== 'exclude') ? safeExpand(source, rest, mat, problems) : [{}];
    const text = dynamic.map(([, t]) => t).join(', ');
    const names = dynamic.map(([axis]) => axis).join(', ');
    return pending(source, text, mat, dynamic[0]![0], `matrix ${names} ${dynamic.length > 1 ? 'are the expressions' : 'is the expression'} ${text}`, run, notices, others);
  }
  return { combos: safeExpand(source, matrix, mat, problems) };
}

/**
 * The expression's value now: over the inputs known when the file is read (a reusable
 * workflow's defaults), or the needs given; undefined when it reads anything else.
 */
function known(text: string, run: MatrixRun): Value | undefined {
  if (readsNeeds(text) && !run.needs) return undefined;
  const contexts: Record<string, Value> = { ...(run.inputs ? { inputs: run.inputs as Value } : {}), ...(run.needs ? { needs: run.needs as unknown as Value } : {}) };
  try {
    return fillValue(text, { contexts });
  } catch {
    return undefined;
  }
}

function readsNeeds(text: string): boolean {
  return /\bneeds\.[A-Za-z_]/.test(text);
}

function fromValue(source: YamlSource, text: string, matrix: Record<string, unknown>, at: PathSegment[], key: string, problems: PipelineProblem[], notices: PipelineNotice[]): JobMatrix {
  const combos = safeExpand(source, matrix, at, problems);
  const from = readsNeeds(text) ? 'the outputs of the jobs it needs' : 'what is known when the file is read (its inputs)';
  notices.push(source.notice(at, key, 'NESTOR_MATRIX_FROM_NEEDS', `${text} is expanded from ${from}: ${combos.length} combination${combos.length === 1 ? '' : 's'}, each in its own engine`, 'info'));
  return { combos };
}

/**
 * Not known yet. Over needs, in the run's own workflow: the run expands it (each combination in
 * its own engine; on a server, all of them by the runner that takes the job). Anything else
 * (a called workflow's, an expression over what the run never tells) runs once.
 */
function pending(source: YamlSource, text: string, at: PathSegment[], key: string, what: string, run: MatrixRun, notices: PipelineNotice[], combos: Combination[]): JobMatrix {
  if (run.expandsLater && readsNeeds(text)) {
    notices.push(source.notice(at, key, 'NESTOR_MATRIX_DYNAMIC', `${what}, known once the jobs it needs have ended: the job is expanded then, each combination in its own engine (on a server, all of them by the runner that takes the job)`, 'info'));
    return { combos, fromNeeds: text };
  }
  const once = combos.length === 1 && Object.keys(combos[0]!).length === 0 ? 'the job runs once, with an empty matrix' : 'the job runs once per combination of the other axes';
  notices.push(source.notice(at, key, 'NESTOR_MATRIX_DYNAMIC', `${what}, known only when the run starts; Nestor expands only a matrix over the outputs of the jobs it needs (in the run's own workflow): ${once}`, 'degraded'));
  return { combos };
}

function safeExpand(source: YamlSource, matrix: Record<string, unknown>, at: PathSegment[], problems: PipelineProblem[]): Combination[] {
  try {
    const combos = expandMatrix(matrix);
    return combos.length ? combos : [{}];
  } catch (err) {
    if (!(err instanceof MatrixError)) throw err;
    const path = [...at, ...err.path];
    problems.push({ position: err.path.length ? source.position(path.slice(0, -1), path[path.length - 1] as string) : source.position(at), message: err.message });
    return [{}];
  }
}
