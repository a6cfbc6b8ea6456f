import { z } from 'zod';

/**
 * The shapes of a GitHub Actions workflow (and of Gitea's and Forgejo's, which read the same
 * file), as GitHub's workflow syntax reference writes them. Strict objects, so an unknown key
 * is named with the closest known one. Wherever GitHub takes an expression in place of a
 * number or a boolean (`timeout-minutes: ${{ matrix.t }}`), a string is accepted too and
 * evaluated later.
 */

const scalar = z.union([z.string(), z.number(), z.boolean()]);
/** A value that may be written as an expression instead. */
const orExpression = <T extends z.ZodType>(t: T) => z.union([t, z.string()]);
const stringList = z.union([z.string(), z.array(z.string())]);

export const envSchema = z.union([z.record(z.string(), z.union([scalar, z.null()])), z.string()]);

const permissionLevel = z.enum(['read', 'write', 'none']);
export const permissionsSchema = z.union([
  z.enum(['read-all', 'write-all', 'read', 'write', 'none']),
  z.record(z.string(), permissionLevel),
  z.strictObject({}),
]);

export const concurrencySchema = z.union([
  z.string(),
  z.strictObject({ group: z.string(), 'cancel-in-progress': orExpression(z.boolean()).optional() }),
]);

export const defaultsSchema = z.strictObject({
  run: z.strictObject({ shell: z.string().optional(), 'working-directory': z.string().optional() }).optional(),
});

const credentialsSchema = z.strictObject({ username: z.string(), password: z.string() });

export const containerSchema = z.union([
  z.string(),
  z.strictObject({
    image: z.string(),
    credentials: credentialsSchema.optional(),
    env: envSchema.optional(),
    ports: z.array(z.union([z.string(), z.number()])).optional(),
    volumes: z.array(z.string()).optional(),
    options: z.string().optional(),
  }),
]);

export const stepSchema = z.strictObject({
  id: z.string().optional(),
  if: z.union([z.string(), z.boolean(), z.number()]).optional(),
  name: z.string().optional(),
  uses: z.string().optional(),
  run: z.string().optional(),
  'working-directory': z.string().optional(),
  shell: z.string().optional(),
  with: z.record(z.string(), z.union([scalar, z.null()])).optional(),
  env: envSchema.optional(),
  'continue-on-error': orExpression(z.boolean()).optional(),
  'timeout-minutes': orExpression(z.number().positive()).optional(),
});

const matrixValue: z.ZodType<unknown> = z.unknown();
export const strategySchema = z.union([
  z.strictObject({
    matrix: z.union([z.string(), z.record(z.string(), matrixValue)]).optional(),
    'fail-fast': orExpression(z.boolean()).optional(),
    'max-parallel': orExpression(z.number().int().positive()).optional(),
  }),
  // The whole strategy as an expression (`${{ fromJSON(needs.plan.outputs.strategy) }}`).
  z.string(),
]);

export const environmentSchema = z.union([z.string(), z.strictObject({ name: z.string(), url: z.string().optional(), deployment: orExpression(z.boolean()).optional() })]);

export const runsOnSchema = z.union([
  z.string(),
  z.array(z.string()),
  z.strictObject({ group: z.string().optional(), labels: stringList.optional() }),
]);

export const jobSchema = z.strictObject({
  name: z.string().optional(),
  permissions: permissionsSchema.optional(),
  needs: stringList.optional(),
  if: z.union([z.string(), z.boolean(), z.number()]).optional(),
  'runs-on': runsOnSchema.optional(),
  environment: environmentSchema.optional(),
  concurrency: concurrencySchema.optional(),
  outputs: z.record(z.string(), z.string()).optional(),
  env: envSchema.optional(),
  defaults: defaultsSchema.optional(),
  steps: z.array(z.unknown()).optional(),
  'timeout-minutes': orExpression(z.number().positive()).optional(),
  strategy: strategySchema.optional(),
  'continue-on-error': orExpression(z.boolean()).optional(),
  container: containerSchema.optional(),
  services: z.record(z.string(), containerSchema).optional(),
  // A job that calls a reusable workflow.
  uses: z.string().optional(),
  with: z.record(z.string(), z.union([scalar, z.null()])).optional(),
  secrets: z.union([z.literal('inherit'), z.record(z.string(), scalar)]).optional(),
  snapshot: z.unknown().optional(),
});
export type GithubJob = z.infer<typeof jobSchema>;
export type GithubStep = z.infer<typeof stepSchema>;

const branchFilters = {
  branches: stringList.optional(),
  'branches-ignore': stringList.optional(),
  tags: stringList.optional(),
  'tags-ignore': stringList.optional(),
  paths: stringList.optional(),
  'paths-ignore': stringList.optional(),
};
const typesOnly = z.union([z.null(), z.strictObject({ types: stringList.optional() })]);
const inputSchema = z.strictObject({
  description: z.string().optional(),
  required: orExpression(z.boolean()).optional(),
  default: z.union([scalar, z.null()]).optional(),
  type: z.enum(['string', 'boolean', 'choice', 'number', 'environment']).optional(),
  options: z.array(scalar).optional(),
  deprecationMessage: z.string().optional(),
});
const callInputSchema = z.strictObject({
  description: z.string().optional(),
  required: z.boolean().optional(),
  default: z.union([scalar, z.null()]).optional(),
  type: z.enum(['string', 'boolean', 'number']),
});

/** The events of `on:` whose settings Nestor reads; others are accepted as GitHub lists them and recorded. */
export const eventSchemas: Record<string, z.ZodType> = {
  push: z.union([z.null(), z.strictObject(branchFilters)]),
  pull_request: z.union([z.null(), z.strictObject({ ...branchFilters, types: stringList.optional() })]),
  pull_request_target: z.union([z.null(), z.strictObject({ ...branchFilters, types: stringList.optional() })]),
  schedule: z.array(z.strictObject({ cron: z.string() })),
  workflow_dispatch: z.union([z.null(), z.strictObject({ inputs: z.record(z.string(), inputSchema).optional() })]),
  workflow_call: z.union([
    z.null(),
    z.strictObject({
      inputs: z.record(z.string(), callInputSchema).optional(),
      secrets: z.record(z.string(), z.union([z.null(), z.strictObject({ description: z.string().optional(), required: z.boolean().optional() })])).optional(),
      outputs: z.record(z.string(), z.strictObject({ description: z.string().optional(), value: z.string() })).optional(),
    }),
  ]),
  workflow_run: z.union([z.null(), z.strictObject({ workflows: stringList.optional(), types: stringList.optional(), branches: stringList.optional(), 'branches-ignore': stringList.optional() })]),
  repository_dispatch: typesOnly,
  merge_group: typesOnly,
};

/** Every event GitHub can start a workflow on (its "Events that trigger workflows"). */
export const EVENTS = [
  'branch_protection_rule', 'check_run', 'check_suite', 'create', 'delete', 'deployment', 'deployment_status',
  'discussion', 'discussion_comment', 'fork', 'gollum', 'issue_comment', 'issues', 'label', 'merge_group',
  'milestone', 'page_build', 'public', 'pull_request', 'pull_request_review', 'pull_request_review_comment',
  'pull_request_target', 'push', 'registry_package', 'release', 'repository_dispatch', 'schedule', 'status',
  'watch', 'workflow_call', 'workflow_dispatch', 'workflow_run',
];

export const workflowSchema = z.strictObject({
  name: z.string().optional(),
  'run-name': z.string().optional(),
  on: z.unknown(),
  permissions: permissionsSchema.optional(),
  env: envSchema.optional(),
  defaults: defaultsSchema.optional(),
  concurrency: concurrencySchema.optional(),
  jobs: z.record(z.string(), z.unknown()),
});
export type Workflow = z.infer<typeof workflowSchema>;
