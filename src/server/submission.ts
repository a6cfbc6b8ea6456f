import type { z } from 'zod';
import { NestorError } from '../errors.ts';
import { CompilePool, CompilerBusyError } from '../pipeline/compile-pool.ts';
import { PipelineError } from '../pipeline/errors.ts';
import { DEFAULT_PIPELINE_LIMITS, PipelineLimitError } from '../pipeline/limits.ts';
import { HttpProblem } from './problem.ts';
import type { submitJobBody } from './schemas.ts';
import type { JobSpec } from './store/store.ts';

/**
 * The body POST /api/jobs may have: room for a pipeline at the size limit written as a JSON
 * string (escaped newlines and quotes make it longer), so that one just over the limit is
 * answered 422 naming the limit, while a body of megabytes is still refused unread (413).
 */
export const SUBMISSION_BODY_LIMIT = Math.ceil(DEFAULT_PIPELINE_LIMITS.bytes * 1.25) + 64 * 1024;

let pool: CompilePool | undefined;
let holders = 0;

/**
 * A server holds the compile pool while it serves; when the last one lets go, its threads end.
 * (Its idle threads never keep a process alive, so a caller that never holds it is fine too.)
 */
export function holdCompiler(): () => Promise<void> {
  holders++;
  let held = true;
  return async () => {
    if (!held) return;
    held = false;
    if (--holders > 0 || !pool) return;
    const closing = pool;
    pool = undefined;
    await closing.close();
  };
}

/**
 * A submitted job becomes a pipeline text either way (steps given to the API are written as
 * Nestor's own format, which YAML reads as JSON), and is compiled now, on a compile thread: a
 * bad job is refused with file:line:column at submission, not discovered by a runner later,
 * and compiling it never holds up the requests of others.
 */
export async function compileSubmission(body: z.infer<typeof submitJobBody>): Promise<{ name: string; spec: JobSpec }> {
  const name = body.name ?? 'job';
  const pipeline = pipelineOf(body, name);
  pool ??= new CompilePool();
  try {
    await pool.check(pipeline);
  } catch (err) {
    throw answerFor(err);
  }
  return { name, spec: { pipeline } };
}

function pipelineOf(body: z.infer<typeof submitJobBody>, name: string): { text: string; file: string } {
  if (body.pipeline !== undefined) return { text: body.pipeline, file: body.file };
  const steps = (body.steps ?? []).map((s) => ({ name: s.name, ...(s.image ? { image: s.image } : {}), ...(s.run !== undefined ? { run: s.run } : {}), ...(s.commands ? { commands: s.commands } : {}) }));
  return { text: JSON.stringify({ name, steps }, null, 1), file: 'request.json' };
}

/** Every compile error as the API answers it: the limit named in the body, never a 500 for what the submitter sent. */
function answerFor(err: unknown): unknown {
  if (err instanceof PipelineLimitError) return new HttpProblem(422, err.code, err.message, err.hint, { problems: err.problems, limit: err.limit });
  if (err instanceof PipelineError) return err;
  if (err instanceof CompilerBusyError) return new HttpProblem(503, err.code, err.message, err.hint);
  if (err instanceof NestorError && err.code === 'NESTOR_SERVER_CLOSING') return new HttpProblem(503, err.code, err.message, err.hint);
  if (err instanceof NestorError) return new HttpProblem(422, err.code, err.message, err.hint);
  return err;
}
