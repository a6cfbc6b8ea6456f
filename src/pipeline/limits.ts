import { formatPosition, PipelineError, type PipelineProblem, type SourcePosition } from './errors.ts';

/**
 * How much of anything one pipeline may ask for. Past a limit the file is refused at once,
 * naming the limit, instead of costing the server (or a runner) time and memory in proportion
 * to whatever a submitter sent. docs/pipeline.md ("Limits") explains each.
 */
export interface PipelineLimits {
  /** Bytes of pipeline text: one file, one API submission. */
  bytes: number;
  /** Steps and services over every job the file makes (a matrix multiplies them). */
  steps: number;
  /** How deeply maps and lists nest. */
  depth: number;
  /** YAML alias expansions (`*name`, `<<: *name`); passed to the `yaml` package as maxAliasCount. */
  aliases: number;
  /** How long a chain of GitLab `extends` may be (GitLab's own limit is 11). */
  extendsDepth: number;
  /** Characters in one regular expression or glob pattern. */
  regexLength: number;
  /** Instructions in one compiled RE2 program: matching costs input length × this, at worst. */
  regexSize: number;
  /** On the server: how long compiling one submission may take before it is refused. */
  compileMs: number;
  /** On the server: the heap a compiling thread may use before it is stopped. */
  compileMemoryMb: number;
}

export const DEFAULT_PIPELINE_LIMITS: Readonly<PipelineLimits> = Object.freeze({
  bytes: 1024 * 1024,
  steps: 5000,
  depth: 64,
  aliases: 100,
  extendsDepth: 11,
  regexLength: 1024,
  regexSize: 10_000,
  compileMs: 10_000,
  compileMemoryMb: 512,
});

export function pipelineLimits(overrides: Partial<PipelineLimits> = {}): PipelineLimits {
  return { ...DEFAULT_PIPELINE_LIMITS, ...overrides };
}

export type LimitName = keyof PipelineLimits;

/**
 * A pipeline over one of its limits: a 422 whose message and `limit` name the limit, its value
 * and how far over the file went. It is thrown at once, never collected with other problems:
 * going on would cost what the limit is there to prevent.
 */
export class PipelineLimitError extends PipelineError {
  readonly limit: { name: LimitName; max: number; actual?: number };

  constructor(name: LimitName, max: number, position: SourcePosition, what: string, actual?: number) {
    super(
      [{ position, message: `${what}: over the pipeline limit ${name} = ${max.toLocaleString('en')}` }],
      `Make the pipeline smaller or simpler at ${formatPosition(position)}; the limits are listed in docs/pipeline.md ("Limits").`,
      'NESTOR_PIPELINE_LIMIT',
    );
    this.limit = { name, max, ...(actual !== undefined ? { actual } : {}) };
  }

  override details(): Record<string, unknown> {
    return { ...super.details(), limit: this.limit };
  }

  /** The error again from its toJSON() (it crossed a thread as plain data). */
  static revive(json: { problems: PipelineProblem[]; limit: PipelineLimitError['limit'] }): PipelineLimitError {
    const problem = json.problems[0]!;
    const what = problem.message.slice(0, problem.message.lastIndexOf(': over the pipeline limit'));
    return new PipelineLimitError(json.limit.name, json.limit.max, problem.position, what, json.limit.actual);
  }
}

/** Throws when `actual` is over the limit `name`. */
export function enforce(limits: PipelineLimits, name: LimitName, actual: number, position: () => SourcePosition, what: string): void {
  if (actual > limits[name]) throw new PipelineLimitError(name, limits[name], position(), what, actual);
}
