import type { z } from 'zod';
import { jobPlansOf } from '../pipeline/load.ts';
import type { submitJobBody } from './schemas.ts';
import type { JobSpec } from './store/store.ts';


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
  jobPlansOf(pipeline);
  return { name, spec: { pipeline } };
}
