import { z } from 'zod';
import { NestorError } from '../errors.ts';
import { PipelineError, formatPosition, type SourcePosition } from '../pipeline/errors.ts';
import { didYouMean } from '../pipeline/suggest.ts';
import { YamlSource, type PathSegment } from '../pipeline/yaml-source.ts';
import { DAEMON_KEYS_SET_BY_NESTOR } from '../engine/nested/daemon-args.ts';
import { givesHostRoot, ISOLATION_MODES } from '../engine/nested/isolation.ts';
import { substituteAll } from './config-vars.ts';

/**
 * `nestor runner --config runner.yaml`: the runner's settings in one file (docs/runner.md).
 * Read with positions, `${VAR}` substituted, checked with strict schemas so that every
 * mistake (a typo'd key above all) is reported at once, each at its file:line:column.
 */

export const RUNNER_LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export const RUNNER_LOG_FORMATS = ['json', 'pretty'] as const;

// Values may come from `${VAR}`, which is always text: numbers and booleans are read from it too.
const count = (min: number) =>
  z.union([z.number(), z.string().regex(/^\s*\d+\s*$/, 'expected a whole number').transform(Number)]).pipe(z.number().int(`expected a whole number of at least ${min}`).min(min, `expected a whole number of at least ${min}`));
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'expected true or false' });
const text = z.string({ error: 'expected text' }).trim().min(1, 'expected text, not an empty string');
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt])(?:i?b)?$/i;
const UNIT_MB: Record<string, number> = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 };
/** "4g", "512m", "1.5GiB": whole MiB, the unit provision takes. A bare number is refused (bytes? MB?). */
const memory = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const m = SIZE.exec(String(v).trim());
    const mb = m ? Math.floor(Number(m[1]) * UNIT_MB[m[2]!.toLowerCase()]!) : NaN;
    if (!m || mb < 256) ctx.addIssue({ code: 'custom', message: m ? 'a job engine needs at least 256m' : `expected a size with its unit, like "4g" or "512m", not ${JSON.stringify(v)}` });
    return mb;
  });
const cpus = z.union([z.number(), z.string().regex(/^\s*\d+(\.\d+)?\s*$/, 'expected a number of CPUs').transform(Number)]).pipe(z.number().min(0.01, 'expected at least 0.01 CPUs'));

/** `/host/path[:/in/job][:ro|:rw]`, as `docker run -v` writes a bind; one path mounts at the same place. */
const volume = z.string().transform((v, ctx) => {
  const parts = v.split(':');
  const mode = parts.length > 1 && ['ro', 'rw'].includes(parts.at(-1)!) ? parts.pop() : undefined;
  const [source = '', target = source, ...rest] = parts;
  if (rest.length || !source.startsWith('/') || !target.startsWith('/')) {
    ctx.addIssue({ code: 'custom', message: `expected /host/path or /host/path:/path/in/job (with :ro for read-only), not ${JSON.stringify(v)}` });
  }
  return { source, target, readOnly: mode === 'ro' };
});

const server = z.strictObject({ url: httpUrl.optional(), token: text.optional() });
const runner = z.strictObject({
  name: text.optional(),
  labels: z.array(text).optional(),
  max_concurrent_jobs: count(1).optional(),
  warm: count(0).optional(),
  trusted: flag.optional(),
});
const log = z.strictObject({
  // The drivers whose files the daemon rotates by max_size and max_file.
  driver: z.enum(['json-file', 'local']).optional(),
  max_size: z.string().regex(/^\d+[kmg]$/i, 'expected a size like "10m"').optional(),
  max_file: count(1).optional(),
});
const daemon = z.record(z.string(), z.json({ error: 'expected JSON values (text, numbers, true/false, lists and maps)' }), { error: 'expected a map of daemon.json settings' });
const engine = z.strictObject({
  isolation: z.enum(ISOLATION_MODES).optional(),
  network: text.optional(),
  memory: memory.optional(),
  cpus: cpus.optional(),
  volumes: z.array(volume).optional(),
  registry_mirrors: z.array(httpUrl).optional(),
  insecure_registries: z.array(text.refine((r) => !r.includes('://'), 'expected host:port, without a scheme')).optional(),
  log: log.optional(),
  daemon: daemon.optional(),
});
const images = z.strictObject({ default: text.optional(), platforms: z.record(text, text).optional() });
const logging = z.strictObject({ level: z.enum(RUNNER_LOG_LEVELS).optional(), format: z.enum(RUNNER_LOG_FORMATS).optional() });
const schema = z.strictObject({
  server: server.optional(),
  runner: runner.optional(),
  engine: engine.optional(),
  images: images.optional(),
  logging: logging.optional(),
}, { error: 'expected a map of the sections server, runner, engine, images and logging' });

export type RunnerConfig = z.output<typeof schema>;

/** The keys each map may have, for "did you mean" on one that it may not. */
const KNOWN: Record<string, readonly string[]> = {
  '': Object.keys(schema.shape),
  server: Object.keys(server.shape),
  runner: Object.keys(runner.shape),
  engine: Object.keys(engine.shape),
  'engine.log': Object.keys(log.shape),
  images: Object.keys(images.shape),
  logging: Object.keys(logging.shape),
};
/** Names the design notes' runner-config.yaml and `nestor runner`'s flags use for these keys. */
const RENAMED: Record<string, string> = { docker: 'engine', max_jobs: 'max_concurrent_jobs', mode: 'isolation' };

export interface RunnerConfigProblem {
  position: SourcePosition;
  message: string;
}

/** Every problem of a runner configuration file, each at its place. */
export class RunnerConfigError extends NestorError {
  readonly problems: RunnerConfigProblem[];
  constructor(problems: RunnerConfigProblem[]) {
    super('NESTOR_RUNNER_CONFIG_INVALID', problems.map((p) => `${formatPosition(p.position)}: ${p.message}`).join('\n'), 'Fix the file at the places named (docs/runner.md describes every key), then check it with `nestor runner --config FILE --check`.');
    this.problems = problems;
  }

  override details(): Record<string, unknown> {
    return { problems: this.problems };
  }
}

export interface ParseOptions {
  /** `--trusted` given on the command line: the file's extra volumes and host-root modes are allowed as if it said so. */
  trusted?: boolean;
}

/** Reads a runner configuration file's text (`file` names it in problems); throws RunnerConfigError with every problem. */
export function parseRunnerConfig(file: string, textOf: string, env: NodeJS.ProcessEnv, opts: ParseOptions = {}): RunnerConfig {
  let source: YamlSource;
  try {
    source = YamlSource.parse(file, textOf);
  } catch (err) {
    if (err instanceof PipelineError) throw new RunnerConfigError(err.problems);
    throw err;
  }
  const problems: RunnerConfigProblem[] = [];
  const at = (path: readonly PathSegment[], key?: string) => source.position(path, key);
  for (const r of source.repeated) problems.push({ position: r.again, message: `"${r.key}" is written twice in one map (also at line ${r.first.line})` });

  const { value, problems: unset } = substituteAll(source.value, env);
  for (const p of unset) problems.push({ position: at(p.path), message: p.message });

  const parsed = schema.safeParse(value);
  for (const issue of parsed.error?.issues ?? []) {
    const path = issue.path.filter((s): s is PathSegment => typeof s !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = KNOWN[path.join('.')] ?? [];
      for (const key of issue.keys) {
        const suggestion = RENAMED[key] && known.includes(RENAMED[key]) ? ` (did you mean "${RENAMED[key]}"?)` : didYouMean(key, known);
        problems.push({ position: at(path, key), message: `unknown key "${dotted([...path, key])}"${suggestion}; ${where(path)} takes ${known.join(', ')}` });
      }
    } else {
      problems.push({ position: at(path), message: `${path.length ? `${dotted(path)}: ` : ''}${issue.message}` });
    }
  }
  problems.push(...trustProblems(value, opts, at));
  if (problems.length) throw new RunnerConfigError(sorted(problems));
  return parsed.data!;
}

function where(path: readonly PathSegment[]): string {
  return path.length ? `"${dotted(path)}"` : 'the file';
}

/** `engine.registry_mirrors[0]`, as the file's reader would name the place. */
function dotted(path: readonly PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');
}

/**
 * What only a trusted runner may do, checked on the file as written (the schema's own problems
 * are reported besides): mount host folders into every job, run jobs in a mode that gives them
 * root on the host, and set daemon.json keys Nestor passes as flags.
 */
function trustProblems(value: unknown, opts: ParseOptions, at: (path: readonly PathSegment[], key?: string) => SourcePosition): RunnerConfigProblem[] {
  const doc = (value ?? {}) as { runner?: { trusted?: unknown }; engine?: { volumes?: unknown; isolation?: unknown; daemon?: unknown } };
  const trusted = opts.trusted === true || doc.runner?.trusted === true || doc.runner?.trusted === 'true';
  const problems: RunnerConfigProblem[] = [];
  const eng = typeof doc.engine === 'object' && doc.engine !== null ? doc.engine : {};
  if (!trusted && Array.isArray(eng.volumes) && eng.volumes.length) {
    problems.push({ position: at(['engine'], 'volumes'), message: 'engine.volumes mounts host folders into every job, which only a trusted runner may do: set runner.trusted: true (only if no untrusted work reaches this runner), or remove engine.volumes' });
  }
  if (!trusted && typeof eng.isolation === 'string' && givesHostRoot(eng.isolation as never)) {
    problems.push({ position: at(['engine', 'isolation']), message: `engine.isolation ${eng.isolation} gives every job root on this host, and runner.trusted is not true: use auto (a rootless engine per job), or set runner.trusted: true if only work you trust reaches this runner` });
  }
  if (typeof eng.daemon === 'object' && eng.daemon !== null && !Array.isArray(eng.daemon)) {
    for (const key of Object.keys(eng.daemon)) {
      const instead = DAEMON_KEYS_SET_BY_NESTOR[key];
      if (instead) problems.push({ position: at(['engine', 'daemon'], key), message: `engine.daemon."${key}" cannot be set here: ${instead}` });
    }
  }
  return problems;
}

function sorted(problems: RunnerConfigProblem[]): RunnerConfigProblem[] {
  return problems.sort((a, b) => a.position.line - b.position.line || a.position.column - b.position.column);
}
