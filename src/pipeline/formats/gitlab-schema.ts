import { z } from 'zod';
import { scalar, stringList } from '../common.ts';

/** The shapes of `.gitlab-ci.yml` keys as GitLab's CI YAML reference documents them. */

type Nested = string | Nested[];
/** `script`, `before_script`, `after_script`: a string, or lists nested as `!reference` leaves them. */
export const script: z.ZodType<Nested> = z.lazy(() => z.union([z.string(), z.array(script)]));

const docker = z.strictObject({ platform: z.string().optional(), user: z.string().optional() });
export const imageSchema = z.union([
  z.string(),
  z.strictObject({ name: z.string(), entrypoint: z.array(z.string()).optional(), pull_policy: stringList.optional(), docker: docker.optional() }),
]);
export const serviceSchema = z.union([
  z.string(),
  z.strictObject({
    name: z.string(),
    alias: z.string().optional(),
    entrypoint: z.array(z.string()).optional(),
    command: z.array(z.string()).optional(),
    variables: z.record(z.string(), z.union([scalar, z.null()])).optional(),
    pull_policy: stringList.optional(),
    docker: docker.optional(),
  }),
]);

/** A variable: a value, null (empty), or `{value, description, options, expand}`. */
export const variableSchema = z.union([
  scalar,
  z.null(),
  z.strictObject({ value: z.union([scalar, z.null()]).optional(), description: z.string().optional(), options: z.array(scalar).optional(), expand: z.boolean().optional() }),
]);
export const variablesSchema = z.record(z.string(), variableSchema);

const exitCodes = z.union([z.number().int(), z.array(z.number().int())]);
export const allowFailureSchema = z.union([z.boolean(), z.strictObject({ exit_codes: exitCodes })]);
const globs = z.union([z.array(z.string()), z.string()]);
export const ruleSchema = z.strictObject({
  if: z.string().optional(),
  when: z.enum(['on_success', 'on_failure', 'always', 'never', 'manual', 'delayed']).optional(),
  changes: z.union([globs, z.strictObject({ paths: globs, compare_to: z.string().optional() })]).optional(),
  exists: z.union([globs, z.strictObject({ paths: globs, project: z.string().optional(), ref: z.string().optional() })]).optional(),
  allow_failure: allowFailureSchema.optional(),
  variables: variablesSchema.optional(),
  needs: z.array(z.unknown()).optional(),
  interruptible: z.boolean().optional(),
  start_in: z.string().optional(),
  auto_cancel: z.record(z.string(), z.unknown()).optional(),
});
export const refsSchema = z.union([
  z.array(z.string()),
  z.string(),
  z.strictObject({ refs: globs.optional(), changes: z.union([globs, z.strictObject({ paths: globs, compare_to: z.string().optional() })]).optional(), variables: globs.optional(), kubernetes: z.string().optional() }),
]);
export const needSchema = z.union([
  z.string(),
  z.strictObject({
    job: z.string(),
    artifacts: z.boolean().optional(),
    optional: z.boolean().optional(),
    parallel: z.strictObject({ matrix: z.array(z.record(z.string(), z.union([scalar, z.array(scalar)]))) }).optional(),
    pipeline: z.string().optional(),
    project: z.string().optional(),
    ref: z.string().optional(),
  }),
  z.strictObject({ pipeline: z.string(), job: z.string().optional(), artifacts: z.boolean().optional() }),
]);
export const parallelSchema = z.union([z.number().int().min(1).max(200), z.strictObject({ matrix: z.array(z.record(z.string(), z.union([scalar, z.array(scalar)]))) })]);
export const retrySchema = z.union([
  z.number().int().min(0).max(2),
  z.strictObject({ max: z.number().int().min(0).max(2).optional(), when: stringList.optional(), exit_codes: exitCodes.optional() }),
]);
const duration = z.union([z.string(), z.number()]);
const childInclude = z.union([
  z.string(),
  z.strictObject({ local: z.string() }),
  z.strictObject({ template: z.string() }),
  z.strictObject({ artifact: z.string(), job: z.string() }),
  z.strictObject({ project: z.string(), file: stringList, ref: z.string().optional() }),
  z.strictObject({ remote: z.string() }),
  z.strictObject({ component: z.string(), inputs: z.unknown().optional() }),
]);
export const triggerSchema = z.union([
  z.string(),
  z.strictObject({ project: z.string(), branch: z.string().optional(), strategy: z.string().optional(), forward: z.unknown().optional() }),
  z.strictObject({ include: z.union([z.string(), z.array(childInclude)]), strategy: z.string().optional(), forward: z.unknown().optional() }),
]);
const inheritList = z.union([z.boolean(), z.array(z.string())]);

/** Keys recorded as data (later parts of Nestor act on them), each checked only for its outline. */
const recordedKeys = {
  artifacts: z.union([z.record(z.string(), z.unknown()), z.null()]),
  // A list may hold lists (an anchor of several caches used inside another list): GitLab flattens them.
  cache: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown()).transform((l) => l.flat(Infinity)).pipe(z.array(z.record(z.string(), z.unknown()))), z.null()]),
  environment: z.union([z.string(), z.record(z.string(), z.unknown())]),
  resource_group: z.string(),
  interruptible: z.boolean(),
  coverage: z.string(),
  tags: z.union([z.array(z.string()), z.string()]),
  dependencies: z.array(z.string()),
};
/** Keys read and named in a notice: what they ask for does not happen here. */
const notedKeys = ['secrets', 'id_tokens', 'release', 'hooks', 'identity', 'pages', 'publish', 'manual_confirmation', 'dast_configuration', 'run'] as const;

export const jobSchema = z.strictObject({
  ...Object.fromEntries(Object.entries(recordedKeys).map(([k, v]) => [k, v.optional()])),
  ...Object.fromEntries(notedKeys.map((k) => [k, z.unknown().optional()])),
  stage: z.string().optional(),
  /** The old name of `stage`. */
  type: z.string().optional(),
  image: imageSchema.optional(),
  services: z.array(serviceSchema).optional(),
  variables: variablesSchema.optional(),
  before_script: script.optional(),
  script: script.optional(),
  after_script: script.optional(),
  needs: z.array(needSchema).optional(),
  rules: z.array(ruleSchema).optional(),
  only: refsSchema.optional(),
  except: refsSchema.optional(),
  allow_failure: allowFailureSchema.optional(),
  timeout: duration.optional(),
  when: z.enum(['on_success', 'on_failure', 'always', 'manual', 'delayed', 'never']).optional(),
  start_in: z.string().optional(),
  extends: stringList.optional(),
  parallel: parallelSchema.optional(),
  retry: retrySchema.optional(),
  trigger: triggerSchema.optional(),
  inherit: z.strictObject({ default: inheritList.optional(), variables: inheritList.optional() }).optional(),
}) as unknown as z.ZodType<Job>;

export interface Job {
  stage?: string;
  type?: string;
  image?: z.infer<typeof imageSchema>;
  services?: z.infer<typeof serviceSchema>[];
  variables?: z.infer<typeof variablesSchema>;
  before_script?: Nested;
  script?: Nested;
  after_script?: Nested;
  needs?: z.infer<typeof needSchema>[];
  rules?: z.infer<typeof ruleSchema>[];
  only?: z.infer<typeof refsSchema>;
  except?: z.infer<typeof refsSchema>;
  allow_failure?: z.infer<typeof allowFailureSchema>;
  timeout?: string | number;
  when?: 'on_success' | 'on_failure' | 'always' | 'manual' | 'delayed' | 'never';
  start_in?: string;
  parallel?: z.infer<typeof parallelSchema>;
  retry?: z.infer<typeof retrySchema>;
  trigger?: z.infer<typeof triggerSchema>;
  inherit?: { default?: boolean | string[]; variables?: boolean | string[] };
  artifacts?: Record<string, unknown> | null;
  cache?: unknown;
  environment?: string | Record<string, unknown>;
  resource_group?: string;
  interruptible?: boolean;
  coverage?: string;
  tags?: string[] | string;
  dependencies?: string[];
  secrets?: unknown;
  id_tokens?: unknown;
  release?: unknown;
  hooks?: unknown;
  identity?: unknown;
  pages?: unknown;
  publish?: unknown;
  manual_confirmation?: unknown;
  dast_configuration?: unknown;
  run?: unknown;
}

/** The keys of `default:`, inherited by every job that does not set them. */
export const DEFAULT_KEYS = ['image', 'services', 'before_script', 'after_script', 'cache', 'artifacts', 'retry', 'tags', 'timeout', 'interruptible', 'hooks', 'id_tokens'] as const;
export const defaultSchema = z.strictObject(Object.fromEntries(DEFAULT_KEYS.map((k) => [k, (jobSchema as unknown as z.ZodObject).shape[k]!])));

/** Every key of a job the reader reads (the key-walk test checks each key of a file is among these or noticed). */
export const JOB_KEYS = Object.keys((jobSchema as unknown as z.ZodObject).shape);
/** Top-level keywords; every other top-level key is a job (or a hidden one, `.name`). */
export const KEYWORDS = ['stages', 'variables', 'image', 'services', 'before_script', 'after_script', 'default', 'workflow', 'include', 'cache', 'spec', 'types'];
