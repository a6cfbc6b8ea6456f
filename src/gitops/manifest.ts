import { z } from 'zod';
import { environmentSchema, scalar, toEnvironment, toSeconds, durationSchema } from '../pipeline/common.ts';
import { PipelineError, type PipelineProblem } from '../pipeline/errors.ts';
import { check } from '../pipeline/validate.ts';
import { YamlSource } from '../pipeline/yaml-source.ts';
import type { FunctionSettings } from '../functions/gateway.ts';

export const MANIFEST_FILE = 'nestor.yaml';
export const API_VERSION = 'nestor.dev/v1';
/**
 * The Zerverless form of the same manifest, read as it is written (the design notes' example):
 * the keys mean what Nestor's mean, so only the file name and apiVersion differ.
 */
export const ZERVERLESS_FILE = 'zerverless.yaml';
export const ZERVERLESS_API_VERSION = 'zerverless.io/v1';
/** The names a manifest may have in a repository, in the order they are looked for. */
export const MANIFEST_FILES = [MANIFEST_FILE, ZERVERLESS_FILE] as const;

/** DNS-label-like names: they become image repository parts and URL segments. */
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** A function's URL path under /fn/NAMESPACE/: lower-case segments separated by slashes. */
const FUNCTION_PATH = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$/;
const MEMORY = /^\s*(\d+(?:\.\d+)?)\s*([kmg])?i?b?\s*$/i;

const memorySchema = z.union([z.number().positive(), z.string().regex(MEMORY, 'expected a size like 256m or 1g')]);

/** `/api` (the Zerverless form, a URL path) is `api`: the path is always under its namespace. */
const functionPath = z
  .string()
  .transform((p) => p.replace(/^\//, ''))
  .pipe(z.string().regex(FUNCTION_PATH, 'expected lower-case URL segments such as "hello", "/api" or "api/echo"'));

const functionSchema = z.strictObject({
  path: functionPath,
  // Zerverless also names lua, python and js runtimes; Nestor builds every function from a Dockerfile.
  runtime: z.literal('docker', { error: (iss) => `runtime ${JSON.stringify(iss.input)} is not supported: every function is built from a Dockerfile (runtime: docker)` }).default('docker'),
  dockerfile: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
  env: environmentSchema.optional(),
  memory: memorySchema.optional(),
  cpus: z.number().positive().max(64).optional(),
  timeout: durationSchema.optional(),
  concurrency: z.number().int().min(1).max(1000).optional(),
  warm: z.number().int().min(0).max(100).optional(),
  idleTimeout: z.union([z.literal(0), durationSchema]).optional(),
  network: z.enum(['none', 'bridge']).optional(),
});

const manifestSchema = z.strictObject({
  apiVersion: z.enum([API_VERSION, ZERVERLESS_API_VERSION], { error: (iss) => `apiVersion ${JSON.stringify(iss.input)} is not known: expected "${API_VERSION}" (or the compatible "${ZERVERLESS_API_VERSION}")` }),
  kind: z.literal('Application'),
  metadata: z.strictObject({
    name: z.string().regex(NAME, 'expected a lower-case name of letters, digits and dashes'),
    namespace: z.string().regex(NAME, 'expected a lower-case name of letters, digits and dashes').default('default'),
    labels: z.record(z.string(), scalar).optional(),
  }),
  spec: z.strictObject({
    source: z.strictObject({
      repoURL: z.string().min(1),
      branch: z.string().min(1).default('main'),
      path: z.string().optional(),
    }),
    /** Images kept per function; older ones are pruned. Deployment records are all kept. */
    keepImages: z.number().int().min(1).max(1000).optional(),
    functions: z.array(functionSchema).default([]),
  }),
});

/** A function as the manifest describes it: where to build it, and how to run it. */
export interface FunctionSpec extends FunctionSettings {
  path: string;
  runtime: 'docker';
  /** Relative to the context, as in Compose; else (Zerverless's reading) to the source path. */
  dockerfile: string;
  /** Relative to the source path in the repository. */
  context: string;
  idleTimeoutMs: number;
}

export interface Manifest {
  name: string;
  namespace: string;
  source: { repoURL: string; branch: string; path: string };
  keepImages: number;
  functions: FunctionSpec[];
}

export const FUNCTION_DEFAULTS = { memoryMb: 256, cpus: 1, timeoutMs: 10_000, concurrency: 10, warm: 1, idleTimeoutMs: 30_000, keepImages: 5 } as const;

export class ManifestError extends PipelineError {
  constructor(problems: PipelineProblem[], file = MANIFEST_FILE) {
    super(problems, `Fix ${file} at the places named; docs/gitops.md describes every key.`, 'NESTOR_MANIFEST_INVALID');
  }
}

/** Parses and checks a `nestor.yaml` (or `zerverless.yaml`); every problem carries file:line:column. */
export function parseManifest(file: string, text: string): Manifest {
  let source: YamlSource;
  try {
    source = YamlSource.parse(file, text);
  } catch (err) {
    if (err instanceof PipelineError) throw new ManifestError(err.problems, file);
    throw err;
  }
  const problems: PipelineProblem[] = [];
  const parsed = check(source, manifestSchema, source.value, [], 'the application manifest', problems);
  if (!parsed) throw new ManifestError(problems, file);
  const seen = new Set<string>();
  parsed.spec.functions.forEach((f, i) => {
    if (seen.has(f.path)) problems.push({ position: source.position(['spec', 'functions', i, 'path']), message: `function path "${f.path}" is used twice` });
    seen.add(f.path);
  });
  if (problems.length) throw new ManifestError(problems, file);
  return {
    name: parsed.metadata.name,
    namespace: parsed.metadata.namespace,
    source: { repoURL: parsed.spec.source.repoURL, branch: parsed.spec.source.branch, path: parsed.spec.source.path ?? '.' },
    keepImages: parsed.spec.keepImages ?? FUNCTION_DEFAULTS.keepImages,
    functions: parsed.spec.functions.map((f) => ({
      path: f.path,
      runtime: f.runtime,
      dockerfile: f.dockerfile ?? 'Dockerfile',
      context: f.context ?? f.path,
      env: toEnvironment(f.env),
      memoryMb: f.memory === undefined ? FUNCTION_DEFAULTS.memoryMb : toMegabytes(f.memory),
      cpus: f.cpus ?? FUNCTION_DEFAULTS.cpus,
      timeoutMs: f.timeout === undefined ? FUNCTION_DEFAULTS.timeoutMs : Math.round((toSeconds(f.timeout) ?? 0) * 1000),
      concurrency: f.concurrency ?? FUNCTION_DEFAULTS.concurrency,
      warm: f.warm ?? FUNCTION_DEFAULTS.warm,
      idleTimeoutMs: f.idleTimeout === undefined ? FUNCTION_DEFAULTS.idleTimeoutMs : Math.round((toSeconds(f.idleTimeout) ?? 0) * 1000),
      network: f.network ?? 'none',
    })),
  };
}

export function toMegabytes(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = MEMORY.exec(value)!;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mb = unit === 'g' ? n * 1024 : unit === 'm' ? n : unit === 'k' ? n / 1024 : n / (1024 * 1024);
  return Math.max(4, Math.round(mb));
}
