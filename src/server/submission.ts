import type { z } from 'zod';
import { compileText } from '../pipeline/load.ts';
import type { submitJobBody } from './schemas.ts';
import type { JobSpec } from './store/store.ts';

export const SERVER_DEFAULT_IMAGE = process.env.NESTOR_DEFAULT_IMAGE ?? 'busybox:latest';

/**
 * A submitted job becomes a pipeline text either way (steps given to the API are written as
 * Nestor's own format, which YAML reads as JSON), and is compiled now: a bad job is refused
 * with file:line:column at submission, not discovered by a runner later.
 */
export function compileSubmission(body: z.infer<typeof submitJobBody>): { name: string; spec: JobSpec } {
  const name = body.name ?? 'job';
  let pipeline: { text: string; file: string };
  if (body.pipeline !== undefined) {
    pipeline = { text: body.pipeline, file: body.file };
  } else {
    const steps = (body.steps ?? []).map((s) => ({ name: s.name, ...(s.image ? { image: s.image } : {}), ...(s.run !== undefined ? { run: s.run } : {}), ...(s.commands ? { commands: s.commands } : {}) }));
    pipeline = { text: JSON.stringify({ name, steps }, null, 1), file: 'request.json' };
  }
  plansOf(pipeline);
  return { name, spec: { pipeline } };
}

/** The job plans of a stored spec, as the runner compiles them (the same code as `nestor run`). */
export function plansOf(pipeline: { text: string; file: string }, facts: { branch?: string; event?: string } = {}) {
  const opts = { defaultImage: SERVER_DEFAULT_IMAGE, event: facts.event ?? 'push', ...(facts.branch ? { branch: facts.branch } : {}) };
  return compileText(pipeline, opts);
}
