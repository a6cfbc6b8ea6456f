import type { z } from 'zod';
import { CompilePool, type CheckoutCompile } from '../pipeline/compile-pool.ts';
import { DEFAULT_PIPELINE_LIMITS } from '../pipeline/limits.ts';
import type { PlannedJob } from '../pipeline/plan-graph.ts';
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
export async function compileSubmission(body: z.infer<typeof submitJobBody>): Promise<{ name: string; spec: JobSpec; jobs: PlannedJob[] }> {
  const name = body.name ?? 'job';
  const pipeline = pipelineOf(body, name);
  pool ??= new CompilePool();
  // Every refusal is a NestorError the API answers by its code (src/http-status.ts): a 422 for
  // the pipeline's problems and limits, never a 500 for what the submitter sent; 503 when busy.
  const jobs = await pool.check(pipeline);
  return { name, spec: { pipeline }, jobs };
}

function pipelineOf(body: z.infer<typeof submitJobBody>, name: string): { text: string; file: string } {
  if (body.pipeline !== undefined) return { text: body.pipeline, file: body.file };
  const steps = (body.steps ?? []).map((s) => ({ name: s.name, ...(s.image ? { image: s.image } : {}), ...(s.run !== undefined ? { run: s.run } : {}), ...(s.commands ? { commands: s.commands } : {}) }));
  return { text: JSON.stringify({ name, steps }, null, 1), file: 'request.json' };
}

/** A repository's files at one commit, compiled on a compile thread as a submission is. */
export function compileCheckout(checkout: CheckoutCompile): Promise<PlannedJob[]> {
  pool ??= new CompilePool();
  return pool.checkCheckout(checkout);
}
