import { z } from 'zod';
import { pipelineSchema, serviceSchema, stepSchema } from './formats/nestor.ts';

/**
 * The JSON Schema editors use for `.nestor.yml` (completion, hover, red squiggles). It is made
 * from the same zod schemas the loader checks with, so the two never disagree.
 */
export function pipelineJsonSchema(): Record<string, unknown> {
  const editor = pipelineSchema.extend({
    steps: z.union([z.array(stepSchema), z.record(z.string(), stepSchema)]),
    services: z.union([z.array(serviceSchema), z.record(z.string(), serviceSchema)]).optional(),
  });
  return {
    $id: 'https://nestor.dev/schemas/pipeline.json',
    title: 'Nestor pipeline (.nestor.yml)',
    ...z.toJSONSchema(editor, { target: 'draft-2020-12', unrepresentable: 'any' }),
  };
}

/** Where the committed copy lives, for editors that read it from the repository. */
export const SCHEMA_FILE = 'docs/nestor-pipeline.schema.json';
