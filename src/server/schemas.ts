import { z } from 'zod';

/** Request bodies, checked with zod; the OpenAPI document is generated from the same schemas. */

const name = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'letters, digits, ".", "_" and "-", at most 63');

export const registerRunnerBody = z.strictObject({
  name,
  type: z.string().default('docker'),
  host: z.string().default('localhost'),
  port: z.number().int().min(0).max(65535).default(0),
  capabilities: z.array(z.string()).default([]),
  labels: z.array(z.string()).default([]),
  metadata: z.record(z.string(), z.unknown()).default({}),
  max_jobs: z.number().int().min(1).max(256).default(3),
});

const step = z.strictObject({
  name,
  run: z.string().optional(),
  commands: z.array(z.string()).optional(),
  image: z.string().optional(),
});

export const submitJobBody = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  runner: name.optional(),
  labels: z.array(z.string()).default([]),
  steps: z.array(step).min(1).max(200).optional(),
  // Its size is the pipeline limit `bytes`, checked when it is compiled (a 422 naming the limit).
  pipeline: z.string().optional(),
  file: z.string().max(200).default('.nestor.yml'),
  retry: z.strictObject({ policy: z.enum(['retry', 'fail']).default('retry'), max_attempts: z.number().int().min(1).max(20).default(3) }).default({ policy: 'retry', max_attempts: 3 }),
});

export const leaseBody = z.strictObject({ wait_ms: z.number().int().min(0).max(60_000).default(25_000) });
/** The lease token the lease answered: random, so a runner cannot guess another's. */
const leaseToken = z.string().min(16).max(128);
export const heartbeatBody = z.strictObject({ lease: leaseToken });
export const logsBody = z.strictObject({
  lease: leaseToken,
  // A runner cuts lines at 64 KiB (65,536 characters at most) and sends batches well under the body limit.
  lines: z
    .array(z.strictObject({ source: z.string().max(200), stream: z.enum(['stdout', 'stderr']), time: z.number().int().nonnegative(), text: z.string().max(70_000) }))
    .max(5000),
});
export const completeBody = z.strictObject({
  lease: leaseToken,
  status: z.enum(['succeeded', 'failed', 'cancelled']),
  result: z.unknown().optional(),
  error: z.string().max(10_000).optional(),
  engine_ms: z.number().optional(),
  /** Lines the runner counted and did not send once the server had said the log's cap was reached. */
  log_not_kept: z.strictObject({ lines: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() }).optional(),
});

export function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-07', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}
